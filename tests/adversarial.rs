//! The adversarial fixtures (`fixtures/adversarial`, issue 5) through `kasa-decode --json`:
//! each must finish within a generous time bound and under an address-space limit, exit as its
//! expected file says, and report exactly the expected messages and problems (the schema of
//! `fixtures/synthetic`). No Wireshark needed; `tests/adversarial_tshark.rs` is the tshark side.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Wall time per capture; a debug build decodes the largest (1 MiB message) in well under 1 s.
const TIME_BOUND: Duration = Duration::from_secs(30);
/// Address space per run (`ulimit -v`, KiB): the largest fixture needs ~20 MB resident.
const MEMORY_BOUND_KIB: u64 = 512 * 1024;

fn adversarial() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/adversarial");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let Some(stem) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".expected.json"))
        else {
            continue;
        };
        let capture = ["pcap", "pcapng"]
            .iter()
            .map(|x| p.with_file_name(format!("{stem}.{x}")))
            .find(|c| c.exists())
            .unwrap_or_else(|| panic!("{} has no capture", p.display()));
        out.push((
            capture,
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn keys(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            p.as_str().map_or_else(
                || p["expert"].as_str().unwrap_or("?").to_owned(),
                str::to_owned,
            )
        })
        .map(|k| k.trim_start_matches("kasa.").to_owned())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn plaintext(m: &Value) -> Vec<u8> {
    use base64::Engine;
    match m["plaintext"]["text"].as_str() {
        Some(t) => t.as_bytes().to_vec(),
        None => base64::engine::general_purpose::STANDARD
            .decode(m["plaintext"]["bytes"].as_str().unwrap_or(""))
            .unwrap(),
    }
}

/// Runs one fixture; returns its differences from the expected file.
fn check(capture: &Path, expected: &Value) -> Vec<String> {
    let args: Vec<&str> = expected["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let start = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_BOUND_KIB} && exec \"$0\" --json \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(&args)
        .arg(capture)
        .output()
        .expect("run kasa-decode");
    let took = start.elapsed();
    let mut diffs = Vec::new();
    if took > TIME_BOUND {
        diffs.push(format!("took {took:?}, bound {TIME_BOUND:?}"));
    }
    let want_exit = expected["exit"].as_i64().unwrap_or(0) as i32;
    if out.status.code() != Some(want_exit) {
        diffs.push(format!(
            "exit {:?}, expected {want_exit}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let got: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| &l["data"])
        .collect();
    let want = expected["messages"].as_array().cloned().unwrap_or_default();
    if got.len() != want.len() {
        diffs.push(format!("{} messages, expected {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let mut d = |what: &str, a: String, b: String| {
            if a != b {
                let cut = |s: String| {
                    if s.len() > 200 {
                        format!("{}…", &s[..200])
                    } else {
                        s
                    }
                };
                diffs.push(format!(
                    "message {i} (frame {}): {what}: {} != expected {}",
                    g["frame"],
                    cut(a),
                    cut(b)
                ));
            }
        };
        d(
            "transport",
            g["transport"].to_string(),
            w["transport"].to_string(),
        );
        d(
            "direction",
            g["direction"].to_string(),
            w["direction"].to_string(),
        );
        let bytes = plaintext(g);
        match (w["text"].as_str(), w["hex"].as_str()) {
            (Some(t), _) => d(
                "text",
                String::from_utf8_lossy(&bytes).into_owned(),
                t.to_owned(),
            ),
            (None, Some(h)) => d("bytes", hex(&bytes), h.to_owned()),
            _ => d("expected", "text or hex".into(), "neither".into()),
        }
        d("frames", g["frames"].to_string(), w["frames"].to_string());
        d(
            "problems",
            format!("{:?}", keys(&g["problems"])),
            format!("{:?}", keys(&w["problems"])),
        );
    }
    let mut got_orphans: Vec<(u64, String)> = lines
        .iter()
        .filter(|l| l["type"] == "problem")
        .map(|l| {
            (
                l["data"]["frame"].as_u64().unwrap_or(0),
                l["data"]["expert"]
                    .as_str()
                    .unwrap_or("?")
                    .trim_start_matches("kasa.")
                    .to_owned(),
            )
        })
        .collect();
    let mut want_orphans: Vec<(u64, String)> = expected["orphan_problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["frame"].as_u64().unwrap(),
                o["problem"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got_orphans.sort();
    want_orphans.sort();
    if got_orphans != want_orphans {
        diffs.push(format!(
            "problems outside messages {got_orphans:?} != expected {want_orphans:?}"
        ));
    }
    // Every adversarial fixture is flagged somewhere (the 1 MiB message by the exchange after it
    // still framing, which the message comparison above checks).
    eprintln!(
        "{}: {took:?}, exit {:?}",
        capture.file_name().unwrap().to_string_lossy(),
        out.status.code()
    );
    diffs
}

#[test]
fn adversarial_fixtures_decode_in_bounded_time_and_memory_and_are_flagged() {
    let all = adversarial();
    assert!(
        all.len() >= 8,
        "adversarial fixtures missing: {}",
        all.len()
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
        "{} of {} adversarial fixtures fail:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
