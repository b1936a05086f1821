//! The capture setups of real users: the same recorded exchanges (fixtures/recorded/hs110-kasa
//! and hs110-audit-kasa)
//! rewritten frame for frame by `fixtures/links/relink.py` into pflog (a router's pf log),
//! bare 802.11, radiotap + 802.11 (monitor-mode WiFi) and PPI + 802.11, and a copy whose
//! 802.11 frames are all protected (WPA without the passphrase).
//!
//! Each readable copy must give the messages the peers' log gives (the original's
//! `.expected.json`: direction, plaintext, frame, in order) and the very same message lines as
//! the Ethernet original. The protected copy gives no message and says why.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The recordings with link-layer copies (fixtures/links/README.md).
const SOURCES: [&str; 2] = ["hs110-kasa", "hs110-audit-kasa"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn decode(args: &[&str], capture: &Path) -> (Vec<Value>, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(args)
        .arg(capture)
        .output()
        .expect("run kasa-decode");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let lines = if args.contains(&"--json") {
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    } else {
        Vec::new()
    };
    (lines, stdout, out.status.code().unwrap_or(-1))
}

fn messages(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| &l["data"])
        .collect()
}

fn summary(lines: &[Value]) -> &Value {
    &lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary line")["data"]
}

#[test]
fn every_link_layer_gives_the_peers_messages() {
    for source in SOURCES {
        same_messages(source);
    }
}

fn same_messages(source: &str) {
    let original = root().join(format!("fixtures/recorded/{source}.pcapng"));
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("fixtures/recorded/{source}.expected.json")))
            .unwrap(),
    )
    .unwrap();
    let want = expected["messages"].as_array().unwrap();
    assert!(want.len() >= 10, "the exchange has its messages");
    let (orig_lines, _, rc) = decode(&["--json"], &original);
    assert_eq!(rc, 0);
    for kind in ["pflog", "dot11", "radiotap", "ppi"] {
        let copy = root().join(format!("fixtures/links/{source}.{kind}.pcap"));
        let (lines, _, rc) = decode(&["--json"], &copy);
        assert_eq!(rc, 0, "{source} {kind}");
        let got = messages(&lines);
        assert_eq!(got.len(), want.len(), "{source} {kind}: message count");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["direction"], w["direction"], "{source} {kind}");
            assert_eq!(g["plaintext"]["text"], w["text"], "{source} {kind}");
            assert_eq!(g["frame"], w["frame"], "{source} {kind}");
            assert_eq!(g["transport"], w["transport"], "{source} {kind}");
        }
        assert_eq!(
            got,
            messages(&orig_lines),
            "{source} {kind}: same lines as Ethernet"
        );
        assert_eq!(
            summary(&lines)["protected_80211"],
            Value::Null,
            "{source} {kind}"
        );
    }
}

#[test]
fn protected_wifi_is_counted_and_explained() {
    let copy = root().join("fixtures/links/hs110-kasa.protected.pcap");
    let (lines, _, rc) = decode(&["--json"], &copy);
    assert_eq!(rc, 0);
    assert!(messages(&lines).is_empty());
    let s = summary(&lines);
    // relink.py protects every frame of the original: 52 (capinfos of hs110-kasa.pcapng).
    assert_eq!(s["protected_80211"], 52);
    assert_eq!(s["frames"], 52);
    let (_, text, rc) = decode(&[], &copy);
    assert_eq!(rc, 0);
    assert!(
        text.contains("52 protected 802.11 data frames were not readable here")
            && text.contains("WPA passphrase"),
        "{text}"
    );
}

#[test]
fn one_sided_copy_keeps_the_answers_and_says_so() {
    // Connections per recording (fixtures/record/README.md): hs110-kasa's client opens one
    // per command, 4 in all; the audit session keeps one open.
    for (source, connections) in [("hs110-kasa", 4), ("hs110-audit-kasa", 1)] {
        one_sided(source, connections);
    }
}

fn one_sided(source: &str, connections: usize) {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("fixtures/recorded/{source}.expected.json")))
            .unwrap(),
    )
    .unwrap();
    let answers: Vec<&Value> = expected["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "response")
        .collect();
    let copy = root().join(format!("fixtures/links/{source}.one-sided.pcap"));
    let (lines, _, rc) = decode(&["--json"], &copy);
    assert_eq!(rc, 0);
    let got = messages(&lines);
    assert_eq!(got.len(), answers.len());
    for (g, w) in got.iter().zip(&answers) {
        assert_eq!(g["direction"], "response");
        assert_eq!(g["plaintext"]["text"], w["text"]);
        assert_eq!(g["response_to"], Value::Null);
    }
    let noted: Vec<&Value> = got
        .iter()
        .copied()
        .filter(|m| {
            m["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["expert"] == "kasa.one_sided" && p["severity"] == "note")
        })
        .collect();
    // One note per connection, at its second lone answer.
    assert_eq!(noted.len(), connections, "{source}");
    let conversations: std::collections::BTreeSet<_> =
        noted.iter().map(|m| m["conversation"].as_u64()).collect();
    assert_eq!(conversations.len(), connections, "{source}");
    // At the second answer of its connection (a capture that starts mid-exchange may show
    // one lone answer; two are a one-sided capture).
    for m in &noted {
        let before = got
            .iter()
            .take_while(|x| !std::ptr::eq(**x, *m))
            .filter(|x| x["conversation"] == m["conversation"])
            .count();
        assert_eq!(before, 1, "{m}");
    }
    // The Ethernet original, with both sides, has none.
    let (orig, _, _) = decode(
        &["--json"],
        &root().join(format!("fixtures/recorded/{source}.pcapng")),
    );
    assert!(
        !orig
            .iter()
            .any(|l| l.to_string().contains("kasa.one_sided"))
    );
}
