//! The link-layer copies of `fixtures/recorded/hs110-kasa` (`fixtures/links/`, made by
//! `relink.py`) in tshark with the plugin: pflog, 802.11 bare, radiotap and PPI show the very
//! messages the peers' log gives for the Ethernet original (frame, direction, methods), and
//! the copy with only the device's frames gets `kasa.one_sided` once per connection.

mod common;

use common::{stage, tshark};
use serde_json::Value;
use std::path::Path;

fn fields(capture: &Path, filter: &str) -> Vec<String> {
    let staged = stage(capture);
    let out = tshark(
        &[
            "-r",
            staged.to_str().unwrap(),
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "kasa.method",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", capture.display());
    assert!(
        !stderr.contains("Dissector bug") && !stderr.contains("panic"),
        "{stderr}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_link_layer_shows_the_peers_messages() {
    for (source, count) in [("hs110-kasa", 20), ("hs110-audit-kasa", 138)] {
        same_messages(source, count);
    }
}

fn same_messages(source: &str, count: usize) {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("fixtures/recorded/{source}.expected.json")))
            .unwrap(),
    )
    .unwrap();
    let want: Vec<String> = expected["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let methods: Vec<&str> = m["method"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            format!("{}\t{}", m["frame"], methods.join(","))
        })
        .collect();
    assert_eq!(want.len(), count, "{source}");
    for kind in ["pflog", "dot11", "radiotap", "ppi"] {
        let got = fields(
            &root().join(format!("fixtures/links/{source}.{kind}.pcap")),
            "kasa",
        );
        assert_eq!(got, want, "{source} {kind}");
    }
}

#[test]
fn one_sided_connections_are_noted() {
    // The audit session: one connection, 69 answers (fixtures/record/README.md).
    let copy = root().join("fixtures/links/hs110-audit-kasa.one-sided.pcap");
    assert_eq!(fields(&copy, "kasa.response").len(), 69);
    assert!(fields(&copy, "kasa.request").is_empty());
    assert_eq!(fields(&copy, "kasa.one_sided").len(), 1);
    let copy = root().join("fixtures/links/hs110-kasa.one-sided.pcap");
    // Every frame of the copy is the device's; its answers are all shown.
    assert_eq!(fields(&copy, "kasa.response").len(), 10);
    assert!(fields(&copy, "kasa.request").is_empty());
    // One note per connection (4: fixtures/record/README.md), none on the original.
    assert_eq!(fields(&copy, "kasa.one_sided").len(), 4);
    assert_eq!(fields(&copy, "tcp.stream and kasa.one_sided").len(), 4);
    let original = root().join("fixtures/recorded/hs110-kasa.pcapng");
    assert!(fields(&original, "kasa.one_sided").is_empty());
}
