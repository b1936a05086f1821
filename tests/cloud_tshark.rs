//! The cloud link and the transports inside TLS, judged in tshark against the recordings' own
//! facts (`fixtures/recorded/cloud-*.expected.json`: texts from the fake peers' logs, frames
//! and record roles from the capture read with Wireshark's built-in dissectors; see
//! fixtures/record/README.md), never against the decoder crate.
//!
//! * Without secrets (the capture as recorded): every frame of each cloud connection, and no
//!   other frame, carries `kasa.cloud` with the server's name, where that name came from, the
//!   missing SNI, the certificate's issuer, whether the server answered, and each
//!   application-data record's role (push / report).
//! * With the TLS secrets embedded in the pcapng (`editcap --inject-secrets`): every message
//!   inside, with its framing, direction, text, methods, error codes and pairing.

mod common;

use common::{Run, Shown, decode, stage, tshark};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The fixtures that describe cloud connections (`fixtures/recorded/*.expected.json` with a
/// `cloud` section; the generic fixture list leaves TLS recordings out).
fn cloud_fixtures() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recorded");
    let mut all: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let name = p.file_name()?.to_str()?.to_owned();
            let stem = name.strip_suffix(".expected.json")?;
            let expected: Value = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            expected.get("cloud")?.as_array()?;
            Some((p.with_file_name(format!("{stem}.pcapng")), expected))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        all.len() >= 4,
        "the cloud fixtures (50443 xor/json, 443 after DNS, boot blocked) are missing: {:?}",
        all.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    all
}

/// What tshark showed of the cloud annotation on one frame.
#[derive(Debug, Default, Clone, PartialEq)]
struct Mark {
    name: String,
    name_source: String,
    sni_absent: String,
    issuer: String,
    answered: String,
    roles: Vec<String>,
    server: String,
    device: String,
}

const MARK_FIELDS: [&str; 8] = [
    "kasa.cloud",
    "kasa.cloud.name_source",
    "kasa.cloud.sni_absent",
    "kasa.cloud.issuer",
    "kasa.cloud.answered",
    "kasa.cloud.direction",
    "kasa.cloud.server",
    "kasa.cloud.device",
];

/// `kasa.cloud` and its fields per frame (frames without it are left out).
fn marks(capture: &Path, two_pass: bool) -> BTreeMap<u64, Mark> {
    let staged = stage(capture);
    let mut args = vec!["-r", staged.to_str().unwrap()];
    if two_pass {
        args.push("-2");
    }
    args.extend(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]);
    args.extend(["-e", "frame.number"]);
    for f in MARK_FIELDS {
        args.extend(["-e", f]);
    }
    let out = tshark(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_frame = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 9 || cols[1].is_empty() {
            continue;
        }
        let first = |s: &str| s.split('|').next().unwrap_or("").to_owned();
        by_frame.insert(
            cols[0].parse().unwrap(),
            Mark {
                name: first(cols[1]),
                name_source: first(cols[2]),
                sni_absent: first(cols[3]),
                issuer: first(cols[4]),
                answered: first(cols[5]),
                roles: cols[6]
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                server: first(cols[7]),
                device: first(cols[8]),
            },
        );
    }
    by_frame
}

fn frames_of(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// tshark prints booleans as 1/0 in `-T fields` in 4.0 and True/False later.
fn boolean(s: &str) -> Option<bool> {
    match s {
        "1" | "True" | "true" => Some(true),
        "0" | "False" | "false" => Some(false),
        _ => None,
    }
}

/// The annotation of every frame against the expected file's `cloud` and `not_cloud_frames`.
fn check_marks(name: &str, expected: &Value, got: &BTreeMap<u64, Mark>, full: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let mut cloud_frames = Vec::new();
    for link in expected["cloud"].as_array().unwrap() {
        let frames = frames_of(&link["frames"]);
        assert!(!frames.is_empty(), "{name}: a cloud link without frames");
        cloud_frames.extend(&frames);
        let want_name = link["server_name"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| link["server"].as_str().unwrap().to_owned());
        let mut roles: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for r in link["records"].as_array().into_iter().flatten() {
            roles
                .entry(r["frame"].as_u64().unwrap())
                .or_default()
                .push(r["role"].as_str().unwrap().to_owned());
        }
        for f in &frames {
            let Some(m) = got.get(f) else {
                failures.push(format!(
                    "{name}: frame {f} of {want_name} has no kasa.cloud"
                ));
                continue;
            };
            let mut check = |what: &str, ok: bool, shown: &dyn std::fmt::Debug| {
                if !ok {
                    failures.push(format!("{name}: frame {f}: {what} is {shown:?}"));
                }
            };
            // In one pass a name from the certificate is known from the certificate's frame on;
            // a DNS name (earlier in the capture) from the first SYN.
            if full || link["name_from"] == "dns" {
                check("kasa.cloud", m.name == want_name, &m.name);
            }
            check(
                "kasa.cloud.server",
                m.server == link["server"].as_str().unwrap(),
                &m.server,
            );
            check(
                "kasa.cloud.device",
                m.device == link["client"].as_str().unwrap(),
                &m.device,
            );
            let want_roles = roles.get(f).cloned().unwrap_or_default();
            check("kasa.cloud.direction", m.roles == want_roles, &m.roles);
            if !full {
                continue;
            }
            check(
                "kasa.cloud.name_source",
                m.name_source == link["name_from"].as_str().unwrap_or(""),
                &m.name_source,
            );
            check(
                "kasa.cloud.answered",
                boolean(&m.answered) == link["answered"].as_bool(),
                &m.answered,
            );
            // The SNI is known once the ClientHello is in the capture (two-pass: on every
            // frame); a connection never answered has none.
            let want_sni_absent = link["sni"].as_bool().map(|sni| !sni);
            if link["answered"].as_bool() == Some(true) {
                check(
                    "kasa.cloud.sni_absent",
                    boolean(&m.sni_absent) == want_sni_absent,
                    &m.sni_absent,
                );
            }
            let want_issuer = link["issuer"].as_str().unwrap_or("");
            check("kasa.cloud.issuer", m.issuer == want_issuer, &m.issuer);
        }
    }
    for f in frames_of(&expected["not_cloud_frames"]) {
        if let Some(m) = got.get(&f) {
            failures.push(format!(
                "{name}: frame {f} is not a cloud frame but shows {m:?}"
            ));
        }
    }
    for f in got.keys() {
        if !cloud_frames.contains(f) {
            failures.push(format!(
                "{name}: frame {f} shows kasa.cloud but is in no cloud link"
            ));
        }
    }
    failures
}

/// Without secrets, two passes: every fact on every frame of each link, nothing elsewhere.
#[test]
fn cloud_links_are_annotated_without_secrets() {
    let mut failures = Vec::new();
    let mut links = 0;
    for (path, expected) in cloud_fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let got = marks(&path, true);
        failures.extend(check_marks(&name, &expected, &got, true));
        links += expected["cloud"].as_array().unwrap().len();
    }
    common::assert_no_differences(&failures);
    eprintln!("{links} cloud links annotated");
}

/// In one pass (tshark's default, as a live capture is read): a link known from its port or
/// from an earlier DNS answer is marked from its first SYN, with its endpoints and record roles
/// (and its name, when a DNS answer gave it).
#[test]
fn cloud_links_are_marked_from_the_first_syn_in_one_pass() {
    let mut failures = Vec::new();
    for (path, expected) in cloud_fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let got = marks(&path, false);
        failures.extend(check_marks(&name, &expected, &got, false));
    }
    common::assert_no_differences(&failures);
}

/// The capture with its TLS secrets embedded, beside the recorded one.
fn with_secrets(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap().to_string_lossy();
    path.with_file_name(format!("{stem}.secrets.pcapng"))
}

/// With the embedded secrets: every message inside, as the peers' logs say.
#[test]
fn cloud_messages_are_decoded_with_the_embedded_secrets() {
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut framings = std::collections::BTreeSet::new();
    for (path, expected) in cloud_fixtures() {
        let want: Vec<&Value> = expected["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["transport"] == "cloud")
            .collect();
        if want.is_empty() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let secrets = with_secrets(&path);
        assert!(secrets.exists(), "{} is missing", secrets.display());
        let (out, run): (_, Run) = decode(&secrets, &[], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown: Vec<&Shown> = run
            .messages
            .iter()
            .filter(|m| m.transport == "cloud")
            .collect();
        if shown.len() != want.len() {
            failures.push(format!(
                "{name}: {} cloud messages shown, {} expected: {:#?}",
                shown.len(),
                want.len(),
                shown
                    .iter()
                    .map(|s| (s.frame, &s.plaintext))
                    .collect::<Vec<_>>()
            ));
            continue;
        }
        let all = expected["messages"].as_array().unwrap();
        for (i, (s, w)) in shown.iter().zip(&want).enumerate() {
            let mut check = |what: &str, ok: bool, shown: &dyn std::fmt::Debug| {
                if !ok {
                    failures.push(format!(
                        "{name}: message {i} (frame {}): {what} is {shown:?}",
                        s.frame
                    ));
                }
            };
            check("frame", s.frame == w["frame"].as_u64().unwrap(), &s.frame);
            check(
                "text",
                s.plaintext == w["text"].as_str().unwrap(),
                &s.plaintext,
            );
            check(
                "direction",
                s.direction == w["direction"].as_str().unwrap(),
                &s.direction,
            );
            let methods: Vec<String> = w["method"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect();
            check("methods", s.methods == methods, &s.methods);
            let codes: Vec<i64> = w["err_code"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_i64)
                .collect();
            check("err_codes", s.err_codes == codes, &s.err_codes);
            let want_to = w["response_to"]
                .as_u64()
                .map(|k| all[k as usize]["frame"].as_u64().unwrap());
            check("response_to", s.response_to == want_to, &s.response_to);
            let framing = s
                .wire
                .get("kasa.cloud.framing")
                .cloned()
                .unwrap_or_default();
            let want_framing = w["framing"].as_str().unwrap().to_owned();
            check("framing", framing == vec![want_framing.clone()], &framing);
            framings.insert(want_framing);
            compared += 1;
        }
    }
    common::assert_no_differences(&failures);
    assert!(
        framings.contains("xor-length") && framings.contains("json"),
        "both recorded framings are compared: {framings:?}"
    );
    eprintln!("{compared} cloud messages compared ({framings:?})");
}

/// Decrypted data in no known framing stays data, with the `kasa.cloud.unknown` note, and is
/// never decoded as a message: the XOR recording read with a maximum message size below its
/// messages' length prefixes (which then frame nothing), where every application-data record
/// of the device and of the cloud is such data.
#[test]
fn cloud_data_in_no_known_framing_is_flagged_not_decoded() {
    let (path, expected) = cloud_fixtures()
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().ends_with("cloud-50443-xor.pcapng"))
        .expect("the cloud-50443-xor fixture");
    let extra = vec!["-o".to_owned(), "kasa.max_message_size:16".to_owned()];
    let (out, run) = decode(&with_secrets(&path), &extra, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages: Vec<u64> = run
        .messages
        .iter()
        .filter(|m| m.transport == "cloud")
        .map(|m| m.frame)
        .collect();
    assert!(messages.is_empty(), "decoded anyway in frames {messages:?}");
    let flagged: std::collections::BTreeSet<u64> = run
        .experts
        .iter()
        .filter(|(_, e)| e == "kasa.cloud.unknown")
        .map(|(f, _)| *f)
        .collect();
    // Every frame that completes a message when the size allows it holds unknown data now.
    let want: std::collections::BTreeSet<u64> = expected["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["frame"].as_u64())
        .collect();
    assert!(
        want.is_subset(&flagged),
        "kasa.cloud.unknown in frames {flagged:?}, expected at least {want:?}"
    );
}

/// A capture in which every frame appears twice (a mirror port, an `any` capture): TCP flags
/// the copies as retransmissions and does not hand their bytes to TLS again, so each expected
/// record's role shows once, and every frame, copies included, is marked.
#[test]
fn duplicated_frames_do_not_count_records_twice() {
    let (path, expected) = cloud_fixtures()
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().ends_with("cloud-50443-xor.pcapng"))
        .expect("the cloud-50443-xor fixture");
    let staged = stage(&path);
    let doubled = staged.with_file_name("cloud-50443-xor.doubled.pcapng");
    let out = std::process::Command::new("mergecap")
        .arg("-w")
        .arg(&doubled)
        .arg(&staged)
        .arg(&staged)
        .output()
        .expect("mergecap (wireshark-common, beside tshark)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&doubled, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let got = marks(&doubled, true);
    let shown: Vec<String> = got.values().flat_map(|m| m.roles.clone()).collect();
    let want: Vec<String> = expected["cloud"][0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, want);
    // Every frame of the doubled connection is still marked.
    assert_eq!(
        got.len(),
        2 * frames_of(&expected["cloud"][0]["frames"]).len()
    );
}
