//! `kasa-decode --json` on the recorded cloud-link captures (fixtures/recorded/cloud-*.pcapng)
//! against their expected files, whose facts come from the recording (the peers' logs, frames
//! read with tshark's built-in dissectors; fixtures/record/README.md): one `cloud` object per
//! expected link, with its endpoints, server name and where it came from, SNI, issuer, whether
//! it was answered, its frames, and its application-data records counted and summed per role.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/recorded")
}

fn cloud_objects(capture: &Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .arg("--json")
        .arg(capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "cloud")
        .map(|v| v["data"].clone())
        .collect()
}

#[test]
fn recorded_cloud_links_as_the_recordings_say() {
    let mut compared = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(recorded())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cloud-") && n.ends_with(".expected.json"))
        })
        .collect();
    entries.sort();
    assert!(entries.len() >= 4, "the cloud fixtures are missing");
    for exp_path in entries {
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&exp_path).unwrap()).unwrap();
        let name = exp_path.file_name().unwrap().to_string_lossy().into_owned();
        let capture = exp_path.with_file_name(name.replace(".expected.json", ".pcapng"));
        let got = cloud_objects(&capture);
        let want = expected["cloud"].as_array().unwrap();
        if got.len() != want.len() {
            failures.push(format!(
                "{name}: {} cloud links, {} expected: {got:#?}",
                got.len(),
                want.len()
            ));
            continue;
        }
        for (g, w) in got.iter().zip(want) {
            let mut check = |what: &str, ok: bool| {
                if !ok {
                    failures.push(format!("{name}: {what}: got {g}, expected {w}"));
                }
            };
            check("client", g["src"] == w["client"]);
            check("server", g["dst"] == w["server"]);
            check("server name", g["server_name"] == w["server_name"]);
            check("name source", g["name_source"] == w["name_from"]);
            check("answered", g["answered"] == w["answered"]);
            if w["answered"] == true {
                check(
                    "sni absent",
                    g["sni_absent"].as_bool() == w["sni"].as_bool().map(|s| !s),
                );
            }
            check("issuer", g["issuer"] == w["issuer"]);
            let frames: Vec<u64> = w["frames"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            check(
                "first frame",
                g["first_frame"].as_u64() == frames.first().copied(),
            );
            check(
                "last frame",
                g["last_frame"].as_u64() == frames.last().copied(),
            );
            check("frames", g["frames"].as_u64() == Some(frames.len() as u64));
            for role in ["push", "report"] {
                let recs: Vec<&Value> = w["records"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["role"] == role)
                    .collect();
                check(
                    &format!("{role} records"),
                    g["records"][role].as_u64() == Some(recs.len() as u64),
                );
                // The expected file gives each record's length field (ciphertext); kasa-decode
                // sums the same length fields.
                let sum: u64 = recs.iter().filter_map(|r| r["len"].as_u64()).sum();
                check(
                    &format!("{role} bytes"),
                    g["bytes"][role].as_u64() == Some(sum),
                );
            }
            compared += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 6, "{compared} links compared");
}
