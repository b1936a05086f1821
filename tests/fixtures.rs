//! Replays every capture under `fixtures/` through `kasa-decode --json` and compares the result
//! with the fixture's `<name>.expected.json`, whose content comes from an independent source
//! (the peers' own logs for `fixtures/recorded`, the generator's input for `fixtures/synthetic`
//! and `fixtures/adversarial`). Every run has a time bound and an address-space limit: the
//! adversarial captures (a 4 GiB length header, 10,000 one-byte segments, JSON nested 100,000
//! deep, ...) must decode in bounded time and memory, flagged, like every other.
//!
//! Compared per message, in order: transport, direction, exact plaintext, pairing (a response's
//! `response_to` must be the frame of the expected request), and where the expectation gives
//! them, the frames and the set of problems; then the problems outside messages and the exit
//! status.

#[path = "common/expected.rs"]
mod expected;

use expected::shown_messages;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Wall time per capture; a debug build decodes the largest (a 1 MiB message) in under 1 s.
const TIME_BOUND: Duration = Duration::from_secs(30);
/// Address space per run (`ulimit -v`, KiB): the largest fixture needs about 20 MB resident.
const MEMORY_BOUND_KIB: u64 = 512 * 1024;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every `<name>.expected.json` with its capture beside it.
fn fixtures() -> Vec<(PathBuf, PathBuf)> {
    let mut found = Vec::new();
    for group in ["recorded", "synthetic", "adversarial"] {
        let Ok(dir) = std::fs::read_dir(fixtures_dir().join(group)) else {
            continue;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".expected.json") else {
                continue;
            };
            let capture = ["pcapng", "pcap"]
                .iter()
                .map(|ext| path.with_file_name(format!("{stem}.{ext}")))
                .find(|p| p.exists());
            let text = std::fs::read_to_string(&path).expect("read expected file");
            let json: Value = serde_json::from_str(&text).expect("expected file is JSON");
            if expected::inside_tls(&json) {
                continue;
            }
            match capture {
                Some(c) => found.push((c, path)),
                None => panic!("{} has no capture beside it", path.display()),
            }
        }
    }
    found.sort();
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64 from kasa-decode")
}

fn problem_keys(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|p| match p {
            Value::String(s) => s.trim_start_matches("kasa.").to_owned(),
            other => other["expert"]
                .as_str()
                .unwrap_or("?")
                .trim_start_matches("kasa.")
                .to_owned(),
        })
        .collect()
}

/// The keys of the expected file that say what a dissector shows (`info`, `method`, `err_code`,
/// `err_msg`, `len`, `frame`, `context`, `device`, `time`, `response_in`), where the file has
/// them, against `kasa-decode --json`: the decoder is judged by the same independent files as
/// the plugin (tests/tshark.rs). A request's `response_in` is read from its responses' links.
fn check_shown(d: &mut dyn FnMut(String), g: &Value, w: &Value, got: &[&Value]) {
    let absent = Value::Null;
    let mut same = |key: &str, got_v: &Value, want: &Value| {
        if got_v != want {
            d(format!("{key} {got_v} != expected {want}"));
        }
    };
    for key in ["frame", "info", "method", "err_code", "err_msg"] {
        if let Some(want) = w.get(key) {
            same(key, &g[key], want);
        }
    }
    if w.get("info").is_none() {
        return;
    }
    // Present in the expected file exactly when the message has one (omitted by the CLI too).
    same("len", &g["len"], w.get("len").unwrap_or(&absent));
    same(
        "context",
        g.get("context").unwrap_or(&absent),
        w.get("context").unwrap_or(&absent),
    );
    same(
        "device",
        g.get("device").unwrap_or(&absent),
        w.get("device").unwrap_or(&absent),
    );
    match (g["time"].as_f64(), w.get("time").and_then(Value::as_f64)) {
        (None, None) => {}
        (Some(a), Some(b)) if (a - b).abs() < 1e-6 => {}
        (a, b) => same("time", &json!(a), &json!(b)),
    }
    if let Some(want) = w.get("response_in") {
        let want: Vec<Value> = want
            .as_array()
            .into_iter()
            .flatten()
            .map(|j| {
                j.as_u64()
                    .and_then(|j| got.get(j as usize))
                    .map_or(Value::Null, |r| r["frame"].clone())
            })
            .collect();
        same("response_in", &response_in(got, g), &Value::Array(want));
    }
}

/// The frames of the responses to the request `g`: `kasa-decode` prints the link on the
/// responses only (`response_to` and `response_to_index` name the request's `frame` and
/// `index`), so a request's `response_in` is read back from them.
fn response_in(got: &[&Value], g: &Value) -> Value {
    assert!(
        g.get("response_in").is_none(),
        "a request line lists its responses again: {g}"
    );
    let (frame, index) = (&g["frame"], &g["index"]);
    assert!(index.is_u64(), "message without an index: {g}");
    got.iter()
        .filter(|r| r["response_to"] == *frame && r["response_to_index"] == *index)
        .map(|r| r["frame"].clone())
        .collect()
}

/// What the transport said (`klap`, `aes`, `tdp` objects of the expected file) against the
/// same objects of `kasa-decode --json`. A handshake1 request cannot know its session's cookie,
/// version or account yet (they come with its reply): those are compared from the reply on.
fn check_transport(d: &mut dyn FnMut(String), g: &Value, w: &Value) {
    let mut cmp = |obj: &str, keys: &[&str]| {
        let (Some(want), Some(got)) = (w.get(obj), g.get(obj)) else {
            if w.get(obj).is_some() {
                d(format!("no `{obj}` object in the output"));
            }
            return;
        };
        for key in keys {
            if let Some(wv) = want.get(*key)
                && got.get(*key).unwrap_or(&Value::Null) != wv
            {
                d(format!("{obj}.{key} {} != expected {wv}", got[*key]));
            }
        }
    };
    let hs1 = w["klap"]["step"] == "handshake1";
    let klap: &[&str] = if hs1 {
        &["step", "local_seed"]
    } else {
        &[
            "step",
            "seq",
            "version",
            "auth",
            "session",
            "remote_seed",
            "server_hash",
            "client_hash",
        ]
    };
    cmp("klap", klap);
    cmp("aes", &["envelope_method", "session"]);
    cmp(
        "tdp",
        &[
            "version",
            "msg_type",
            "op_code",
            "size",
            "flags",
            "serial",
            "crc",
            "crc_ok",
            "encrypt_type",
            "http_port",
            "login_version",
        ],
    );
    if let (Some(want), Some(got)) = (w["tdp"].get("tpap"), g["tdp"].get("tpap")) {
        for key in ["port", "tls", "pake", "user_hash_type"] {
            if want[key] != got[key] {
                d(format!(
                    "tdp.tpap.{key} {} != expected {}",
                    got[key], want[key]
                ));
            }
        }
    }
}

/// Compares one fixture; returns the differences found.
fn check(capture: &Path, expected_path: &Path) -> Vec<String> {
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(expected_path).unwrap())
        .unwrap_or_else(|e| {
            panic!("{}: {e}", expected_path.display());
        });
    let args: Vec<String> = expected["args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let start = Instant::now();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_BOUND_KIB} && exec \"$0\" --json \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(&args)
        .arg(capture)
        // Paths in `args` (a key file) are relative to the repository.
        .current_dir(fixtures_dir().join(".."))
        .output()
        .unwrap();
    let took = start.elapsed();
    let mut diffs = Vec::new();
    if took > TIME_BOUND {
        diffs.push(format!("took {took:?}, bound {TIME_BOUND:?}"));
    }
    let want_exit = expected["exit"].as_i64().unwrap_or(0);
    if output.status.code() != Some(want_exit as i32) {
        diffs.push(format!(
            "exit status {:?}, expected {want_exit}; stderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| &l["data"])
        .collect();
    let want = shown_messages(&expected);
    if got.len() != want.len() {
        diffs.push(format!(
            "{} messages decoded, {} expected",
            got.len(),
            want.len()
        ));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let mut d =
            |what: String| diffs.push(format!("message {i} (frame {}): {what}", g["frame"]));
        if g["transport"] != w["transport"] {
            d(format!(
                "transport {} != expected {}",
                g["transport"], w["transport"]
            ));
        }
        if g["direction"] != w["direction"] {
            d(format!(
                "direction {} != expected {}",
                g["direction"], w["direction"]
            ));
        }
        let got_bytes = match g["plaintext"]["text"].as_str() {
            Some(t) => t.as_bytes().to_vec(),
            None => b64_decode(g["plaintext"]["bytes"].as_str().unwrap_or("")),
        };
        match (w["text"].as_str(), w["hex"].as_str()) {
            // Nothing readable (a KLAP handshake, a session without its key).
            (None, None) if w.get("text").is_some_and(Value::is_null) => {
                if !got_bytes.is_empty() {
                    d(format!(
                        "plaintext {} shown, expected none",
                        String::from_utf8_lossy(&got_bytes)
                    ));
                }
            }
            (Some(t), _) if t.as_bytes() != got_bytes.as_slice() => d(format!(
                "text differs:\n   got: {}\n  want: {t}",
                String::from_utf8_lossy(&got_bytes)
            )),
            (None, Some(h)) if hex(&got_bytes) != h.to_ascii_lowercase() => d(format!(
                "bytes differ:\n   got: {}\n  want: {h}",
                hex(&got_bytes)
            )),
            (Some(_), _) => {
                if g["plaintext"]["text"].is_null() {
                    d("plaintext not reported as text".into());
                }
            }
            (None, Some(_)) => {
                if !g["plaintext"]["text"].is_null() {
                    d("plaintext reported as text, expected bytes".into());
                }
            }
            (None, None) => d("expected message has neither text nor hex".into()),
        }
        if g["response_to"].is_null() != g["response_to_index"].is_null() {
            d(format!(
                "response_to {} with response_to_index {}",
                g["response_to"], g["response_to_index"]
            ));
        }
        let want_to = w["response_to"]
            .as_u64()
            .map(|j| got.get(j as usize).map(|r| r["frame"].clone()));
        match want_to {
            None if !g["response_to"].is_null() => d(format!(
                "paired to frame {}, expected unpaired",
                g["response_to"]
            )),
            Some(Some(frame)) if g["response_to"] != frame => d(format!(
                "response_to {} != expected frame {frame}",
                g["response_to"]
            )),
            Some(None) => d("expected request index out of range".into()),
            _ => {}
        }
        if let Some(frames) = w.get("frames")
            && g["frames"] != *frames
        {
            d(format!("frames {} != expected {frames}", g["frames"]));
        }
        check_shown(&mut d, g, w, &got);
        check_transport(&mut d, g, w);
        if let Some(problems) = w.get("problems") {
            let (gp, wp) = (problem_keys(&g["problems"]), problem_keys(problems));
            if gp != wp {
                d(format!("problems {gp:?} != expected {wp:?}"));
            }
        }
    }
    if let Some(orphans) = expected.get("orphan_problems") {
        let mut gp: Vec<(u64, String)> = lines
            .iter()
            .filter(|l| l["type"] == "problem")
            .map(|l| {
                (
                    l["data"]["frame"].as_u64().unwrap(),
                    l["data"]["expert"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("kasa.")
                        .to_owned(),
                )
            })
            .collect();
        let mut wp: Vec<(u64, String)> = orphans
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                (
                    o["frame"].as_u64().unwrap(),
                    o["problem"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("kasa.")
                        .to_owned(),
                )
            })
            .collect();
        gp.sort();
        wp.sort();
        if gp != wp {
            diffs.push(format!(
                "problems outside messages {gp:?} != expected {wp:?}"
            ));
        }
    }
    diffs
}

#[test]
fn every_fixture_decodes_as_expected() {
    let all = fixtures();
    let count = |group: &str| {
        all.iter()
            .filter(|(c, _)| c.to_string_lossy().contains(&format!("/{group}/")))
            .count()
    };
    let (recorded, synthetic, adversarial) =
        (count("recorded"), count("synthetic"), count("adversarial"));
    // As many as are committed: a fixture folder that goes missing must fail the test.
    assert!(
        recorded >= 8 && synthetic >= 24 && adversarial >= 8,
        "fixtures missing: {recorded} recorded, {synthetic} synthetic, {adversarial} adversarial"
    );
    let mut failures = Vec::new();
    for (capture, expected) in &all {
        let diffs = check(capture, expected);
        if !diffs.is_empty() {
            failures.push(format!("{}:\n  {}", capture.display(), diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    eprintln!("{} fixtures decoded as expected", all.len());
}

/// Unreadable input: a clear message naming the problem on stderr, nothing on stdout, exit 2.
#[test]
fn unreadable_captures_exit_2_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("kasa-decode-unreadable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A pcap header for Bluetooth HCI H4 (link type 187) and one 4-byte record.
    let mut bluetooth = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 187, 0, 0, 4, 4] {
        bluetooth.extend_from_slice(&word.to_le_bytes());
    }
    bluetooth.extend_from_slice(b"abcd");
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "bluetooth.pcap",
            &bluetooth,
            "unsupported link type 187 (Bluetooth HCI H4)",
        ),
        ("text.pcap", b"hello, world", "not a pcap or pcapng file"),
        ("empty.pcap", b"", "not a pcap or pcapng file"),
    ];
    for (name, bytes, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
    }
    let missing = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .arg(dir.join("missing.pcap"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such file"));
    std::fs::remove_dir_all(&dir).unwrap();
}
