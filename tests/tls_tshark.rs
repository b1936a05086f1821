//! SslAes and Linkie inside TLS (PROTOCOL.md §6), judged in tshark against the recordings of
//! `fixtures/record/record_cloud.sh`: python-kasa 0.12.0 (`SslAesTransport`,
//! `LinkieTransportV2`) against the fake TLS devices, with the TLS key log. Wireshark's TLS and
//! HTTP open the connection; the plugin gets the HTTP bodies as for plain HTTP.
//!
//! Per message of the expected file (texts from the fake device's log, frames from the
//! recorder's own TLS reading, never from this project's decoder): transport, direction, text,
//! methods, error codes, `kasa.response_to` / `kasa.response_in` and `kasa.time`, and the
//! transport fields the expected file's `aes` / `linkie` object and the HTTP request say
//! (`kasa.aes.*`, `kasa.ssl_aes.*`, `kasa.linkie.*`); the expert infos of the whole run are
//! exactly the non-zero error codes the expected file lists. SslAes is opened both ways: with
//! the key and IV of the fixture's `args`, and with the account the fake device was given
//! (`admin` / `secret`, `record_cloud.sh`), from which the plugin derives key and IV itself and
//! checks every `Tapo_tag`.

mod common;

use common::Want;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn recorded(name: &str) -> (PathBuf, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recorded");
    let expected = dir.join(format!("{name}.expected.json"));
    let text = std::fs::read_to_string(&expected)
        .unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
    let json: Value = serde_json::from_str(&text).expect("expected file is JSON");
    assert!(
        common::expected::inside_tls(&json),
        "{name}: no tls_keys in its expected file"
    );
    (dir, json)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn json_text(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        v => vec![v.to_string()],
    }
}

fn percent_decoded_len(s: &str) -> usize {
    // Every `%XY` is one character; the rest one each.
    s.len() - 2 * s.matches('%').count()
}

/// A message's transport fields: the values each must show (empty: absent), and those not
/// judged.
type Wire = (BTreeMap<&'static str, Vec<String>>, BTreeSet<&'static str>);

/// How the SslAes session was opened in a run.
#[derive(Clone, Copy, PartialEq)]
enum Opened {
    /// With the key and IV of the fixture's args: the password stays unknown.
    Key,
    /// With the account: the plugin knows the password (`kasa.ssl_aes.auth`, tags checked).
    Account,
}

/// The SslAes fields a message must show, from the expected file alone.
fn ssl_aes_wire(msgs: &[Value], opened: Opened) -> Vec<Wire> {
    let params = |m: &Value| -> Value {
        serde_json::from_str::<Value>(m["text"].as_str().unwrap()).unwrap()["params"].clone()
    };
    let cnonce = params(&msgs[0])["cnonce"]
        .as_str()
        .expect("the first message is the nonce login")
        .to_owned();
    let mut nonce: Option<String> = None;
    msgs.iter()
        .map(|m| {
            let a = &m["aes"];
            let step = a["step"].as_str().unwrap();
            let request = m["direction"] == "request";
            let envelope: Value = serde_json::from_str(a["envelope"].as_str().unwrap()).unwrap();
            let login = step.starts_with("login");
            let encrypted = envelope["params"]["request"].is_string()
                || envelope["result"]["response"].is_string();
            if let Some(n) = a["nonce"].as_str() {
                nonce = Some(n.to_owned());
            }
            let mut w: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
            let mut unjudged = BTreeSet::new();
            w.insert(
                "kasa.aes.method",
                strings(&[if login { "login" } else { "securePassthrough" }]),
            );
            w.insert("kasa.aes.session", Vec::new());
            if request {
                let uri = m["http"]["uri"].as_str().unwrap();
                let token = uri.starts_with("/stok=");
                w.insert(
                    "kasa.aes.token",
                    if token { strings(&["1"]) } else { vec![] },
                );
                w.insert("kasa.aes.error_code", Vec::new());
            } else {
                unjudged.insert("kasa.aes.token");
                w.insert("kasa.aes.error_code", json_text(&envelope["error_code"]));
            }
            w.insert(
                "kasa.aes.encrypted",
                strings(&[if encrypted { "1" } else { "0" }]),
            );
            w.insert("kasa.aes.clear_response", Vec::new());
            let login_step = match (step, request) {
                ("login", true) if params(m)["digest_passwd"].is_string() => vec!["digest"],
                ("login", true) => vec!["nonce"],
                ("login_nonce", false) => vec!["nonce"],
                ("login_digest", false) => vec!["digest"],
                _ => vec![],
            };
            w.insert("kasa.ssl_aes.login", strings(&login_step));
            w.insert("kasa.ssl_aes.cnonce", vec![cnonce.clone()]);
            w.insert("kasa.ssl_aes.nonce", nonce.clone().into_iter().collect());
            let auth = nonce.is_some() && opened == Opened::Account;
            w.insert(
                "kasa.ssl_aes.auth",
                if auth { strings(&["admin"]) } else { vec![] },
            );
            w.insert("kasa.ssl_aes.start_seq", json_text(&a["start_seq"]));
            w.insert("kasa.ssl_aes.seq", json_text(&a["seq"]));
            let tag = json_text(&a["tag"]);
            // FT_CHECKSUM's status: 1 Good, 2 Unverified.
            let status = match (tag.is_empty(), opened) {
                (true, _) => vec![],
                (false, Opened::Account) => strings(&["1"]),
                (false, Opened::Key) => strings(&["2"]),
            };
            w.insert("kasa.ssl_aes.tag", tag);
            w.insert("kasa.ssl_aes.tag.status", status);
            (w, unjudged)
        })
        .collect()
}

/// The Linkie fields a message must show, from the expected file alone.
fn linkie_wire(msgs: &[Value]) -> Vec<Wire> {
    let mut uri = String::new();
    msgs.iter()
        .map(|m| {
            let body = m["linkie"]["body"].as_str().expect("linkie.body");
            let request = m["direction"] == "request";
            if request {
                uri = m["http"]["uri"].as_str().unwrap().to_owned();
            }
            let mut w: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
            let version = match uri.as_str() {
                "/data/LINKIE2.json" => "2",
                "/data/LINKIE.json" => "1",
                other => panic!("not a Linkie URI: {other}"),
            };
            w.insert("kasa.linkie.version", strings(&[version]));
            if request {
                let value = body.strip_prefix("content=").expect("a content= form");
                w.insert("kasa.linkie.field", strings(&["content"]));
                w.insert(
                    "kasa.linkie.b64_len",
                    vec![percent_decoded_len(value).to_string()],
                );
                w.insert("kasa.linkie.clear", Vec::new());
            } else {
                let text = body.trim();
                let clear = text.starts_with('{');
                w.insert("kasa.linkie.field", Vec::new());
                w.insert(
                    "kasa.linkie.b64_len",
                    if clear {
                        vec![]
                    } else {
                        vec![text.len().to_string()]
                    },
                );
                w.insert(
                    "kasa.linkie.clear",
                    if clear { strings(&["1"]) } else { vec![] },
                );
            }
            (w, BTreeSet::new())
        })
        .collect()
}

/// Runs tshark on `capture` with `extra`, compares with `want`; the whole run's experts must be
/// `kasa.err_code.nonzero` on exactly the frames whose expected `err_code` has a non-zero value.
fn check(what: &str, capture: &Path, extra: &[String], expected: &Value, want: &[Want]) {
    let (out, run) = common::decode(capture, extra, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: tshark failed: {stderr}");
    for bad in ["Dissector bug", "panicked", "aborting", "assertion"] {
        assert!(
            !stderr.contains(bad),
            "{what}: stderr has {bad:?}: {stderr}"
        );
    }
    let mut cov = common::Coverage::default();
    let mut diffs: Vec<String> = common::compare_messages(&run.messages, want, &mut cov)
        .into_iter()
        .map(|d| format!("{what}: {d}"))
        .collect();
    let want_experts: BTreeSet<(u64, String)> = common::expected::shown_messages(expected)
        .iter()
        .filter(|m| {
            m["err_code"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c.as_i64().is_some_and(|c| c != 0))
        })
        .map(|m| {
            (
                m["frame"].as_u64().unwrap(),
                "kasa.err_code.nonzero".to_owned(),
            )
        })
        .collect();
    let experts: BTreeSet<(u64, String)> = run.experts.iter().cloned().collect();
    if experts != want_experts {
        diffs.push(format!(
            "{what}: experts {experts:?} != expected {want_experts:?}"
        ));
    }
    common::assert_no_differences(&diffs);
    eprintln!(
        "{what}: {} messages compared, fields {:?}",
        run.messages.len(),
        cov.0.keys().collect::<Vec<_>>()
    );
}

/// Each frame's capture time (seconds), as tshark reads the file (no dissection needed).
fn frame_times(capture: &Path) -> BTreeMap<u64, f64> {
    let staged = common::stage(capture);
    let out = common::tshark_raw(
        &[
            "-r",
            staged.to_str().unwrap(),
            "--disable-protocol",
            "kasa",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
        ],
        &[],
    );
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (n, t) = l.split_once('\t')?;
            Some((n.parse().ok()?, t.parse().ok()?))
        })
        .collect()
}

/// The expected messages with the transport fields of this run; a response's `kasa.time` is its
/// frame's capture time minus its request's (the expected file gives the frames, not times).
fn wants(expected: &Value, capture: &Path, wire: Vec<Wire>) -> Vec<Want> {
    let (mut want, orphans) = common::wants(expected);
    assert!(orphans.is_empty());
    assert_eq!(want.len(), wire.len());
    assert!(!want.is_empty());
    let times = frame_times(capture);
    for (w, (fields, unjudged)) in want.iter_mut().zip(wire) {
        w.wire = fields;
        w.wire_unjudged = unjudged;
        if w.time.is_none()
            && let Some(request) = w.response_to
        {
            w.time = Some(times[&w.frame] - times[&request]);
        }
    }
    want
}

#[test]
fn ssl_aes_inside_tls_with_the_recorded_key_and_iv() {
    let (dir, expected) = recorded("sslaes-tls");
    let msgs = common::expected::shown_messages(&expected);
    let capture = dir.join("sslaes-tls.secrets.pcapng");
    let want = wants(&expected, &capture, ssl_aes_wire(&msgs, Opened::Key));
    let args = common::fixture_args(&expected);
    assert_eq!(args.first().map(String::as_str), Some("--aes-key"));
    let extra = common::tshark_args_for(&args);
    check(
        "sslaes-tls.secrets.pcapng, --aes-key",
        &capture,
        &extra,
        &expected,
        &want,
    );
    // The capture as recorded, with the key log as a file.
    let keylog = common::stage(&dir.join("sslaes-tls.tls-keys.log"));
    let mut extra = extra;
    extra.extend([
        "-o".to_owned(),
        format!("tls.keylog_file:{}", keylog.display()),
    ]);
    check(
        "sslaes-tls.pcapng, key log file, --aes-key",
        &dir.join("sslaes-tls.pcapng"),
        &extra,
        &expected,
        &want,
    );
}

#[test]
fn ssl_aes_inside_tls_with_the_account() {
    let (dir, expected) = recorded("sslaes-tls");
    let msgs = common::expected::shown_messages(&expected);
    let capture = dir.join("sslaes-tls.secrets.pcapng");
    let want = wants(&expected, &capture, ssl_aes_wire(&msgs, Opened::Account));
    let extra = common::tshark_args_for(&strings(&["--credential", "admin:secret"]));
    check(
        "sslaes-tls.secrets.pcapng, --credential",
        &capture,
        &extra,
        &expected,
        &want,
    );
}

#[test]
fn linkie_inside_tls() {
    let (dir, expected) = recorded("linkie-tls");
    let msgs = common::expected::shown_messages(&expected);
    let capture = dir.join("linkie-tls.secrets.pcapng");
    let want = wants(&expected, &capture, linkie_wire(&msgs));
    let extra = common::tshark_args_for(&common::fixture_args(&expected));
    check(
        "linkie-tls.secrets.pcapng",
        &capture,
        &extra,
        &expected,
        &want,
    );
}

/// Without the TLS secrets nothing inside is shown (the connections are TLS's).
#[test]
fn nothing_inside_tls_without_its_keys() {
    for name in ["sslaes-tls", "linkie-tls"] {
        let (dir, expected) = recorded(name);
        let extra = common::tshark_args_for(&common::fixture_args(&expected));
        let (out, run) = common::decode(&dir.join(format!("{name}.pcapng")), &extra, &[]);
        assert!(out.status.success());
        assert!(run.messages.is_empty(), "{name}: {:#?}", run.messages);
    }
}
