//! When the plugin hands a message to Wireshark's JSON dissector: only when someone looks at
//! the result (issue 12: no work that nobody sees). The JSON dissector was half of the plugin's
//! time in tshark's summary mode, where nobody sees a JSON tree.
//!
//! * Summary mode (no tree): no JSON. Seen through the protocol hierarchy tap, which counts the
//!   protocol items at the root of a tree nobody shows: `kasa` is there, `json` is not (up to
//!   4.4; from 4.6 the tap refers to every protocol, so there the JSON tree is built for it).
//! * A shown tree (`-V`; `-T fields`, which tshark 4.0 dissects with a shown tree too): JSON
//!   under every message, with the keys the peer sent.
//! * A display filter on a `json` field, in summary mode: JSON runs, and the filter selects the
//!   frames whose message has that key.
//! * The plugin's own fields in a tree that is not shown (a filter on them): present.
//!
//! Expected values come from the fixture's `.expected.json` (the peer's log), not from the
//! decoder.

mod common;

use common::{stage, tshark};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn hs110() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/recorded/hs110-kasa.pcapng")
}

/// (frame, JSON text) of every message the peer sent, from the expected file.
fn expected_messages() -> Vec<(u64, Value)> {
    let path = hs110().with_file_name("hs110-kasa.expected.json");
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    expected["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = m["text"].as_str().unwrap();
            (
                m["frame"].as_u64().unwrap(),
                serde_json::from_str(text).expect("every hs110 message is JSON"),
            )
        })
        .collect()
}

/// Every key of a JSON value, nested ones included, sorted.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn stdout(args: &[&str]) -> String {
    let staged = stage(&hs110());
    let mut all = vec!["-r", staged.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = tshark(&all, &[]);
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `frame<TAB>value` lines of `-T fields -e frame.number -e FIELD`, frames with a value only.
fn field_by_frame(field: &str, extra: &[&str]) -> BTreeMap<u64, String> {
    let mut args = vec!["-T", "fields", "-e", "frame.number", "-e", field];
    args.extend_from_slice(extra);
    stdout(&args)
        .lines()
        .filter_map(|l| {
            let (f, v) = l.split_once('\t')?;
            (!v.is_empty()).then(|| (f.parse().unwrap(), v.to_owned()))
        })
        .collect()
}

/// `name frames:N` of the protocol hierarchy, by protocol.
fn hierarchy(extra: &[&str]) -> BTreeMap<String, u64> {
    let mut args = vec!["-q", "-z", "io,phs"];
    args.extend_from_slice(extra);
    stdout(&args)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?;
            let frames = parts.next()?.strip_prefix("frames:")?.parse().ok()?;
            Some((name.to_owned(), frames))
        })
        .collect()
}

#[test]
fn summary_mode_does_not_run_json() {
    let frames: std::collections::BTreeSet<u64> =
        expected_messages().iter().map(|(f, _)| *f).collect();
    let phs = hierarchy(&[]);
    assert_eq!(
        phs.get("kasa"),
        Some(&(frames.len() as u64)),
        "the Kasa layer on every message's frame: {phs:?}"
    );
    // The JSON tree sits inside the Kasa layer (issue 13), where the protocol hierarchy, which
    // counts the top-level protocols, does not list it; whether it ran shows in the frame's
    // list of protocols (`frame.protocols`, from the layers the JSON tree adds itself to),
    // which a filter on it reads without referring to `json`.
    let ran = |filter: &str| stdout(&["-Y", filter]).lines().count();
    assert_eq!(
        ran(r#"frame.protocols contains "json""#),
        0,
        "no JSON nobody sees"
    );
    // A filter on a JSON field makes it wanted: it runs again, under the Kasa layer.
    assert_eq!(
        ran(r#"frame.protocols contains "kasa:json" && json.key"#),
        frames.len()
    );
}

#[test]
fn a_shown_tree_has_json_with_the_peers_keys() {
    let want: BTreeMap<u64, Vec<String>> = expected_messages()
        .into_iter()
        .map(|(f, v)| {
            let mut k = Vec::new();
            keys(&v, &mut k);
            k.sort();
            (f, k)
        })
        .collect();
    let got: BTreeMap<u64, Vec<String>> = field_by_frame("json.key", &[])
        .into_iter()
        .map(|(f, v)| {
            let mut k: Vec<String> = v.split(',').map(str::to_owned).collect();
            k.sort();
            (f, k)
        })
        .collect();
    assert_eq!(got, want, "json.key per frame");
    let verbose = stdout(&["-V"]);
    assert_eq!(
        verbose.matches("\nJavaScript Object Notation").count()
            + verbose.matches("    JavaScript Object Notation").count(),
        want.len(),
        "one JSON tree per message in -V"
    );
    // The preference that turns the hand-off off.
    assert!(field_by_frame("json.key", &["-o", "kasa.json_tree:FALSE"]).is_empty());
}

#[test]
fn a_json_filter_in_summary_mode_selects_the_frames_with_the_key() {
    let want: Vec<u64> = expected_messages()
        .into_iter()
        .filter(|(_, v)| {
            let mut k = Vec::new();
            keys(v, &mut k);
            k.iter().any(|k| k == "relay_state")
        })
        .map(|(f, _)| f)
        .collect();
    assert!(!want.is_empty());
    let got: Vec<u64> = stdout(&["-Y", r#"json.key == "relay_state""#, "-T", "tabs"])
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(got, want);
}

#[test]
fn the_plugins_fields_in_a_tree_nobody_shows() {
    // Every `module.method` of each message's JSON text, in order.
    let want: BTreeMap<u64, String> = expected_messages()
        .into_iter()
        .map(|(f, v)| {
            let methods: Vec<String> = v
                .as_object()
                .unwrap()
                .iter()
                .flat_map(|(module, methods)| {
                    methods
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(move |method| format!("{module}.{method}"))
                })
                .collect();
            (f, methods.join(","))
        })
        .collect();
    // A display filter on a plugin field, summary output: the tree is built but not shown.
    let got: Vec<u64> = stdout(&["-Y", "kasa.method", "-T", "tabs"])
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(got, want.keys().copied().collect::<Vec<_>>());
    let got = field_by_frame("kasa.method", &[]);
    assert_eq!(got, want);
}
