//! Security findings (`kasa.security.*`, README "Device report and security findings") in
//! tshark with the plugin and in `kasa-decode`, judged against what the peers were told to
//! send: the expected files' texts, read here by the rules the README states, never by the
//! decoder's code.
//!
//! * every finding at the frame where the expected file says its message is, with the method,
//!   key, server or account it names, and no other finding;
//! * the same findings, with the same texts, in `kasa-decode --json`;
//! * in `tshark -z expert` the security group with one line per finding kind;
//! * no secret value (the expected texts' values under secret-named keys) in any expert text,
//!   finding field, `kasa-decode` finding or device report.

mod common;

use common::{fixture_args, kasa_decode_ok, stage, tshark, tshark_args_for};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const KINDS: [&str; 5] = [
    "clear_secret",
    "cloud_redirect",
    "unauthenticated_control",
    "default_account",
    "weak_protocol_open",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// (frame, kind) → the words each finding there must contain, one entry per finding.
type Want = BTreeMap<(u64, String), Vec<Vec<String>>>;

/// The README's rule for a command that changes state.
fn writes(method: &str) -> bool {
    [
        "reboot",
        "reset",
        "download_firmware",
        "flash_firmware",
        "bind",
        "unbind",
        "device_reboot",
        "device_reset",
    ]
    .contains(&method)
        || [
            "set_",
            "add_",
            "edit_",
            "delete_",
            "erase_",
            "transition_",
            "fw_download",
        ]
        .iter()
        .any(|p| method.starts_with(p))
}

/// The README's rule for a secret-named key: its last word (split at `_`, `-`, `.` and
/// lower-to-upper case changes, digits dropped) is password, passwd, pwd, pass, passphrase,
/// psk, secret or key.
fn secret_key(key: &str) -> bool {
    let mut words = vec![String::new()];
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '_' || c == '-' || c == '.' || (c.is_uppercase() && prev_lower) {
            words.push(String::new());
        }
        prev_lower = c.is_lowercase();
        if c.is_alphabetic() {
            words.last_mut().unwrap().extend(c.to_lowercase());
        }
    }
    let last = words.iter().rev().find(|w| !w.is_empty());
    last.is_some_and(|w| {
        [
            "password",
            "passwd",
            "pwd",
            "pass",
            "passphrase",
            "psk",
            "secret",
            "key",
        ]
        .contains(&w.as_str())
    })
}

/// Secret-named keys with a non-empty string or number value: (key, value).
fn secrets_in(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let value = match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                if let Some(value) = value
                    && secret_key(k)
                {
                    out.push((k.clone(), value));
                }
                secrets_in(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| secrets_in(v, out)),
        _ => {}
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The findings one expected file's messages call for, and the secret values they carry.
fn wanted(expected: &Value, want: &mut Want, frame_offset: u64) -> Vec<String> {
    let mut values = Vec::new();
    let mut push = |frame: u64, kind: &str, words: Vec<String>| {
        want.entry((frame + frame_offset, kind.to_owned()))
            .or_default()
            .push(words)
    };
    for m in expected["messages"].as_array().unwrap() {
        let frame = m["frame"].as_u64().unwrap();
        let transport = text(&m["transport"]);
        let request = m["direction"] == "request";
        let xor = transport == "xor-tcp" || transport == "xor-udp";
        let doc: Option<Value> = m["text"]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok());
        if let (true, true, Some(Value::Object(top))) = (request, xor, &doc) {
            let mut found = Vec::new();
            secrets_in(doc.as_ref().unwrap(), &mut found);
            for (module, methods) in top {
                let Some(methods) = methods.as_object() else {
                    continue;
                };
                for (name, params) in methods {
                    let full = format!("{module}.{name}");
                    let mut keys = Vec::new();
                    secrets_in(params, &mut keys);
                    for (key, _) in keys {
                        let kind = match (module.as_str(), name.as_str()) {
                            ("netif", "set_stainfo") if key.contains("pass") => "Wi-Fi passphrase",
                            ("cnCloud", "bind") if key.contains("pass") => "cloud account password",
                            _ => "secret",
                        };
                        push(
                            frame,
                            "clear_secret",
                            vec![kind.into(), full.clone(), format!("\"{key}\"")],
                        );
                    }
                    if name == "set_server_url"
                        && (module == "cnCloud" || module.ends_with(".cloud"))
                    {
                        push(
                            frame,
                            "cloud_redirect",
                            vec![full.clone(), text(&params["server"])],
                        );
                    }
                    if writes(name) {
                        push(frame, "unauthenticated_control", vec![full.clone()]);
                    }
                }
            }
            values.extend(found.into_iter().map(|(_, v)| v));
        }
        let auth = text(&m["klap"]["auth"]);
        if !request
            && m["klap"]["step"] == "handshake1_reply"
            && let Some(account) = auth.strip_prefix("default:")
        {
            push(
                frame,
                "default_account",
                vec!["klap".into(), format!("\"{account}\"")],
            );
        }
    }
    values
}

/// The captures with findings, their tshark/kasa-decode arguments, and what they call for.
struct Case {
    capture: PathBuf,
    args: Vec<String>,
    want: Want,
    secrets: Vec<String>,
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (capture, expected) in common::fixtures() {
        let mut want = Want::new();
        let secrets = wanted(&expected, &mut want, 0);
        out.push(Case {
            capture,
            args: fixture_args(&expected),
            want,
            secrets,
        });
    }
    // fixtures/audit/xor-and-klap: hs110-kasa, then tdp-discovery 52 frames later.
    let first = load(&root().join("fixtures/recorded/hs110-kasa.expected.json"));
    let second = load(&root().join("fixtures/recorded/tdp-discovery.expected.json"));
    let mut want = Want::new();
    let mut secrets = wanted(&first, &mut want, 0);
    secrets.extend(wanted(&second, &mut want, 52));
    let xor_answer = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "response" && m["transport"] == "xor-tcp")
        .unwrap()["frame"]
        .as_u64()
        .unwrap();
    let klap_reply = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["direction"] == "response"
                && m["transport"] == "tdp"
                && m["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("\"encrypt_type\":\"KLAP\""))
        })
        .unwrap()["frame"]
        .as_u64()
        .unwrap()
        + 52;
    want.entry((klap_reply, "weak_protocol_open".into()))
        .or_default()
        .push(vec![
            format!("frame {xor_answer})"),
            format!("frame {klap_reply})"),
        ]);
    out.push(Case {
        capture: root().join("fixtures/audit/xor-and-klap.pcapng"),
        args: fixture_args(&second),
        want,
        secrets,
    });
    out
}

/// (frame, kind) → the finding texts there.
type Got = BTreeMap<(u64, String), Vec<String>>;

fn tshark_findings(case: &Case) -> Got {
    let staged = stage(&case.capture);
    let mut args: Vec<String> = vec!["-r".into(), staged.to_str().unwrap().into()];
    args.extend(tshark_args_for(&case.args));
    let any: Vec<String> = KINDS.iter().map(|k| format!("kasa.security.{k}")).collect();
    args.extend(["-Y".into(), any.join(" or ")]);
    args.extend(["-T", "fields", "-e", "frame.number"].map(String::from));
    for k in KINDS {
        args.push("-e".into());
        args.push(format!("kasa.security.{k}"));
    }
    args.extend(["-E", "occurrence=a", "-E", "aggregator=\u{1f}"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tshark(&args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", case.capture.display());
    let mut got = Got::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame: u64 = cols[0].parse().unwrap();
        for (k, col) in KINDS.iter().zip(&cols[1..]) {
            for v in col.split('\u{1f}').filter(|v| !v.is_empty()) {
                got.entry((frame, (*k).to_owned()))
                    .or_default()
                    .push(v.to_owned());
            }
        }
    }
    got
}

fn cli_findings(case: &Case) -> Got {
    let mut args = vec![PathBuf::from("--json")];
    args.extend(case.args.iter().map(PathBuf::from));
    args.push(case.capture.clone());
    let mut got = Got::new();
    for line in kasa_decode_ok(args).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "message" {
            continue;
        }
        let frame = v["data"]["frame"].as_u64().unwrap();
        for f in v["data"]["findings"].as_array().into_iter().flatten() {
            let kind = text(&f["finding"]);
            let kind = kind
                .strip_prefix("kasa.security.")
                .unwrap_or(&kind)
                .to_owned();
            got.entry((frame, kind)).or_default().push(text(&f["text"]));
        }
    }
    got
}

/// Whether `text` holds every word, ignoring case.
fn has_all(text: &str, words: &[String]) -> bool {
    let text = text.to_lowercase();
    words.iter().all(|w| text.contains(&w.to_lowercase()))
}

/// Whether the texts at each (frame, kind) are as many as wanted and each holds its words.
fn check(case: &Case, tool: &str, got: &Got) {
    let name = case.capture.display();
    let want_keys: BTreeSet<_> = case.want.keys().collect();
    let got_keys: BTreeSet<_> = got.keys().collect();
    assert_eq!(
        got_keys, want_keys,
        "{tool} on {name}: findings at other frames than the peers' messages call for"
    );
    for (key, words) in &case.want {
        let texts = &got[key];
        assert_eq!(
            texts.len(),
            words.len(),
            "{tool} on {name} at {key:?}: {texts:?}"
        );
        for w in words {
            assert!(
                texts.iter().any(|t| has_all(t, w)),
                "{tool} on {name} at {key:?}: no finding with {w:?} among {texts:?}"
            );
        }
        for t in texts {
            for s in &case.secrets {
                assert!(
                    !t.contains(s.as_str()),
                    "{tool} on {name}: a secret in {t:?}"
                );
            }
        }
    }
}

#[test]
fn findings_at_the_peers_frames_in_both_tools() {
    let cases = cases();
    let with_findings = cases.iter().filter(|c| !c.want.is_empty()).count();
    assert!(
        with_findings >= 6,
        "only {with_findings} fixtures call for findings"
    );
    let kinds: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.want.keys().map(|(_, k)| k.as_str()))
        .collect();
    assert_eq!(
        kinds.len(),
        KINDS.len(),
        "some kind never exercised: {kinds:?}"
    );
    for case in &cases {
        let shown = tshark_findings(case);
        check(case, "tshark", &shown);
        let cli = cli_findings(case);
        check(case, "kasa-decode", &cli);
        assert_eq!(
            shown,
            cli,
            "{}: the two tools' texts differ",
            case.capture.display()
        );
    }
}

/// `tshark -z expert`: the Security group, no secret in any expert text.
#[test]
fn expert_summary_lists_security_and_no_secret() {
    let capture = root().join("fixtures/recorded/hs110-audit-kasa.pcapng");
    let expected = load(&root().join("fixtures/recorded/hs110-audit-kasa.expected.json"));
    let mut want = Want::new();
    let secrets = wanted(&expected, &mut want, 0);
    assert!(
        secrets.len() >= 2,
        "the audit fixture carries the Wi-Fi and cloud passwords: {secrets:?}"
    );
    let staged = stage(&capture);
    let out = tshark(
        &["-r", staged.to_str().unwrap(), "-q", "-z", "expert,note"],
        &[],
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "secret in -z expert:\n{text}");
    }
    // Per severity section, the Security lines' frequencies add up to the findings of that
    // level, and each finding's words are on one of them.
    let mut sums: BTreeMap<&str, usize> = BTreeMap::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut section = "";
    for l in text.lines() {
        if l.starts_with("Warns") {
            section = "warn";
        } else if l.starts_with("Notes") {
            section = "note";
        } else if l.starts_with(char::is_alphabetic) {
            section = "other";
        }
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() > 3 && cols[1] == "Security" && cols[2] == "KASA" {
            *sums.entry(section).or_default() += cols[0].parse::<usize>().unwrap();
            lines.push(l);
        }
    }
    let mut want_sums: BTreeMap<&str, usize> = BTreeMap::new();
    for ((_, kind), words) in &want {
        let level = match kind.as_str() {
            "clear_secret" | "cloud_redirect" | "default_account" => "warn",
            _ => "note",
        };
        *want_sums.entry(level).or_default() += words.len();
        for w in words {
            assert!(
                lines.iter().any(|l| has_all(l, w)),
                "{kind}: no Security line with {w:?} in -z expert:\n{text}"
            );
        }
    }
    assert_eq!(sums, want_sums, "-z expert:\n{text}");
    // And the device report of the same capture, Markdown and HTML.
    let html = std::env::temp_dir().join(format!("kasa-security-{}.html", std::process::id()));
    for target in ["-", html.to_str().unwrap()] {
        let report = kasa_decode_ok([Path::new("--report"), Path::new(target), capture.as_path()]);
        let body = if target == "-" {
            report
        } else {
            std::fs::read_to_string(&html).unwrap()
        };
        assert!(body.contains("clear_secret"), "{target}: no finding listed");
        for s in &secrets {
            assert!(
                !body.contains(s.as_str()),
                "secret in the report ({target})"
            );
        }
    }
    let _ = std::fs::remove_file(&html);
}
