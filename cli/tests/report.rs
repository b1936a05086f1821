//! `kasa-decode --report` on a recorded exchange, judged against the peers' log
//! (`fixtures/recorded/hs110-kasa.expected.json`): the device's identity as its answer gave
//! it, a finding at each frame where a client switched the relay, the energy meter's readings,
//! and an HTML page that needs nothing from the network.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(args)
        .output()
        .expect("run kasa-decode");
    (
        String::from_utf8(out.stdout).expect("UTF-8"),
        out.status.code().unwrap_or(-1),
    )
}

struct Known {
    device: Value,
    /// Frames of requests that set the relay.
    switches: Vec<u64>,
    /// Power readings of the emeter.get_realtime answers, in W.
    powers: Vec<f64>,
}

fn known() -> Known {
    let e: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/recorded/hs110-kasa.expected.json"))
            .unwrap(),
    )
    .unwrap();
    let messages = e["messages"].as_array().unwrap();
    let device = messages
        .iter()
        .find_map(|m| (m["device"]["generated"] == false).then(|| m["device"].clone()))
        .unwrap();
    let switches = messages
        .iter()
        .filter(|m| m["direction"] == "request")
        .filter(|m| {
            m["method"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "system.set_relay_state")
        })
        .map(|m| m["frame"].as_u64().unwrap())
        .collect();
    let powers = messages
        .iter()
        .filter(|m| m["direction"] == "response")
        .filter_map(|m| {
            let v: Value = serde_json::from_str(m["text"].as_str()?).ok()?;
            v["emeter"]["get_realtime"]["power"].as_f64()
        })
        .collect();
    Known {
        device,
        switches,
        powers,
    }
}

#[test]
fn markdown_report_of_a_recorded_exchange() {
    let k = known();
    assert_eq!(k.switches.len(), 2, "the client switched off and on");
    assert!(!k.powers.is_empty());
    let capture = root().join("fixtures/recorded/hs110-kasa.pcapng");
    let (md, rc) = run(&["--report", "-", capture.to_str().unwrap()]);
    assert_eq!(rc, 0, "{md}");
    assert!(
        md.contains(": 1 device."),
        "one device, the request before its answer folded in:\n{md}"
    );
    let d = &k.device;
    for (label, key) in [
        ("Model", "model"),
        ("Alias", "alias"),
        ("MAC", "mac"),
        ("Device ID", "id"),
        ("Firmware", "sw_ver"),
        ("Hardware", "hw_ver"),
    ] {
        let row = format!("| {label} | {} |", d[key].as_str().unwrap());
        assert!(md.contains(&row), "missing {row}:\n{md}");
    }
    for frame in &k.switches {
        let line = format!(
            "(frame {frame}, `kasa.security.unauthenticated_control`): Unauthenticated command system.set_relay_state from "
        );
        assert!(md.contains(&line), "missing {line}:\n{md}");
    }
    assert_eq!(
        md.matches("Unauthenticated command").count(),
        k.switches.len()
    );
    let (min, max) = k
        .powers
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &p| (a.min(p), b.max(p)));
    let energy = format!(
        "Energy meter: {} readings, power {min:.1}–{max:.1} W",
        k.powers.len()
    );
    assert!(md.contains(&energy), "missing {energy}:\n{md}");
}

#[test]
fn html_report_is_self_contained() {
    let k = known();
    let capture = root().join("fixtures/recorded/hs110-kasa.pcapng");
    let out = std::env::temp_dir().join(format!("kasa-report-{}.html", std::process::id()));
    let (stdout, rc) = run(&["--report", out.to_str().unwrap(), capture.to_str().unwrap()]);
    assert_eq!(rc, 0);
    assert!(stdout.is_empty());
    let html = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(&format!("<td>{}</td>", k.device["mac"].as_str().unwrap())));
    for plot in ["Power (W)", "Voltage (V)", "Current (A)"] {
        assert!(html.contains(plot), "{plot}");
    }
    assert!(html.matches("<svg").count() >= 3);
    // Nothing to fetch: no scripts, style sheets, images or frames from elsewhere.
    for tag in [
        "<script", "<link", "<img", "<iframe", " src=", "@import", "url(",
    ] {
        assert!(!html.contains(tag), "{tag}");
    }
}

#[test]
fn unreadable_capture_is_reported() {
    let (_, rc) = run(&["--report", "-", "/nonexistent/capture.pcap"]);
    assert_eq!(rc, 2);
}

#[test]
fn findings_on_the_json_lines_of_the_switching_requests() {
    let k = known();
    let capture = root().join("fixtures/recorded/hs110-kasa.pcapng");
    let (out, rc) = run(&["--json", capture.to_str().unwrap()]);
    assert_eq!(rc, 0);
    let mut flagged = Vec::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let Some(findings) = v["data"]["findings"].as_array() else {
            continue;
        };
        assert_eq!(findings.len(), 1, "{line}");
        assert_eq!(
            findings[0]["finding"],
            "kasa.security.unauthenticated_control"
        );
        assert_eq!(findings[0]["severity"], "note");
        let src = v["data"]["src"].as_str().unwrap();
        assert!(findings[0]["text"].as_str().unwrap().contains(src));
        flagged.push(v["data"]["frame"].as_u64().unwrap());
    }
    assert_eq!(flagged, k.switches);
}
