//! `kasa-decode --json` against its committed schema, `schema/kasa-decode.schema.json` (JSON
//! Schema draft 2020-12, every object closed with `additionalProperties: false`): every line
//! of the output of every capture under `fixtures/` (recorded, links, synthetic, adversarial,
//! http), read with the arguments its expected file names, must validate; so must a run over
//! several captures (the `file` key). A key renamed or added in the printer without the schema
//! fails here, and so does a key the schema lists as required that the printer stops writing.
//!
//! The test also checks that it saw what it claims to check (each line type, each transport
//! object, findings, context, device, 802.11 counts), and that the validator rejects an
//! unknown key, so a schema that accepted anything could not pass.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn schema() -> Value {
    let path = root().join("schema/kasa-decode.schema.json");
    serde_json::from_slice(&std::fs::read(&path).expect("schema file")).expect("schema is JSON")
}

fn validator() -> jsonschema::Validator {
    let schema = schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "draft 2020-12"
    );
    jsonschema::meta::validate(&schema).expect("the schema is a valid 2020-12 schema");
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// Every capture under fixtures/, sorted.
fn captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("fixtures")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The arguments of the capture's expected file: its own, or for a copy (`.secrets`, the
/// link-layer copies of fixtures/links) the original's; none when there is none.
fn args_for(capture: &Path) -> Vec<String> {
    let name = capture.file_name().unwrap().to_str().unwrap();
    let stem = name.split('.').next().unwrap();
    let dir = if capture.parent().unwrap().ends_with("links") {
        root().join("fixtures/recorded")
    } else {
        capture.parent().unwrap().to_path_buf()
    };
    let Ok(bytes) = std::fs::read(dir.join(format!("{stem}.expected.json"))) else {
        return Vec::new();
    };
    let expected: Value = serde_json::from_slice(&bytes).unwrap();
    expected["args"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn decode(args: &[String], captures: &[&Path]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .arg("--json")
        .args(args)
        .args(captures)
        .current_dir(root())
        .output()
        .expect("run kasa-decode");
    // 2: a capture cut short or of an unsupported link type, after printing what it read.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{captures:?}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Which parts of the schema the output exercised.
fn note_coverage(line: &Value, seen: &mut BTreeSet<String>) {
    let kind = line["type"].as_str().unwrap_or("?");
    seen.insert(kind.to_owned());
    if line.get("file").is_some() {
        seen.insert("file".into());
    }
    if let Some(data) = line["data"].as_object() {
        for key in data.keys() {
            seen.insert(format!("{kind}.{key}"));
        }
    }
}

#[test]
fn every_fixture_output_follows_the_schema() {
    let validator = validator();
    let all = captures();
    assert!(all.len() >= 60, "only {} captures found", all.len());
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    let mut lines = 0;
    let mut check = |label: &str, output: Vec<String>, seen: &mut BTreeSet<String>| {
        for (i, text) in output.iter().enumerate() {
            let line: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{label}:{}: not JSON: {e}", i + 1));
                    continue;
                }
            };
            lines += 1;
            note_coverage(&line, seen);
            for error in validator.iter_errors(&line) {
                // The error's text quotes the instance, which may be a 1 MiB message.
                let mut what = error.to_string();
                if what.len() > 300 {
                    let cut = (0..=300).rev().find(|&i| what.is_char_boundary(i)).unwrap();
                    what = format!("{}… ({:?})", &what[..cut], error.kind().keyword());
                }
                failures.push(format!(
                    "{label}:{}: at {}: {what}",
                    i + 1,
                    error.instance_path()
                ));
            }
        }
    };
    for capture in &all {
        let label = capture.strip_prefix(root()).unwrap().display().to_string();
        check(&label, decode(&args_for(capture), &[capture]), &mut seen);
    }
    // Several captures: every line carries `file`.
    let two = [
        root().join("fixtures/recorded/hs110-kasa.pcapng"),
        root().join("fixtures/synthetic/err_code.pcap"),
    ];
    let refs: Vec<&Path> = two.iter().map(PathBuf::as_path).collect();
    check("two captures", decode(&[], &refs), &mut seen);

    for f in failures.iter().take(40) {
        eprintln!("schema: {f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {lines} lines do not follow schema/kasa-decode.schema.json (first: {})",
        failures.len(),
        failures[0]
    );
    for want in [
        "message",
        "problem",
        "connection",
        "cloud",
        "summary",
        "file",
        "message.tdp",
        "message.klap",
        "message.aes",
        "message.findings",
        "message.context",
        "message.device",
        "summary.schema_version",
        "summary.protected_80211",
    ] {
        assert!(seen.contains(want), "no output line exercised {want}");
    }
    eprintln!(
        "schema: {lines} lines from {} captures validated",
        all.len() + 1
    );
}

/// The schema is closed and typed: an unknown key, a missing key or a wrong type is refused.
#[test]
fn the_schema_refuses_what_the_printer_does_not_write() {
    let validator = validator();
    let out = decode(&[], &[&root().join("fixtures/recorded/hs110-kasa.pcapng")]);
    let message: Value = serde_json::from_str(&out[1]).unwrap();
    assert_eq!(message["type"], "message");
    assert!(validator.is_valid(&message));
    let mut extra = message.clone();
    extra["data"]["bogus"] = Value::from(1);
    assert!(!validator.is_valid(&extra), "an unknown key was accepted");
    let mut device_extra = message.clone();
    device_extra["data"]["device"]["colour"] = Value::from("red");
    assert!(
        !validator.is_valid(&device_extra),
        "an unknown device key was accepted"
    );
    let mut missing = message.clone();
    missing["data"].as_object_mut().unwrap().remove("err_code");
    assert!(!validator.is_valid(&missing), "a missing key was accepted");
    let mut retyped = message;
    retyped["data"]["frame"] = Value::from("6");
    assert!(!validator.is_valid(&retyped), "a string frame was accepted");
    let summary: Value = serde_json::from_str(out.last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        summary["data"]["schema_version"],
        schema()["schema_version"],
        "the output names the schema version the file declares"
    );
}
