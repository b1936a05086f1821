//! The tree of a first-class dissector (issue 13, point 1), held to independent sources: the
//! recorded captures' expected files (the peers' logs) and the inputs of the captures built
//! here.
//!
//! * One subtree per method: each `kasa.method` item carries its own `kasa.err_code`,
//!   `kasa.err_msg` and, for the method whose result they are read from (`system.get_sysinfo`),
//!   the device fields.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn expected(name: &str) -> Value {
    let p = fixture(&format!("{name}.expected.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

/// `tshark -2 -T json -J "frame kasa"` on a capture: the kasa layers (not flattened) by frame.
fn kasa_layers(capture: &Path, extra: &[&str]) -> BTreeMap<u64, Vec<Value>> {
    let staged = common::stage(capture);
    let mut args = vec![
        "-r",
        staged.to_str().unwrap(),
        "-2",
        "-T",
        "json",
        "--no-duplicate-keys",
        "-J",
        "frame kasa",
    ];
    args.extend_from_slice(extra);
    let out = common::tshark(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_frame = BTreeMap::new();
    for f in frames.as_array().unwrap() {
        let layers = &f["_source"]["layers"];
        let n: u64 = layers["frame"]["frame.number"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let k: Vec<Value> = list(layers.get("kasa")).into_iter().cloned().collect();
        if !k.is_empty() {
            by_frame.insert(n, k);
        }
    }
    by_frame
}

const DEVICE_KEYS: [(&str, &str); 7] = [
    ("model", "kasa.device.model"),
    ("alias", "kasa.device.alias"),
    ("mac", "kasa.device.mac"),
    ("id", "kasa.device.id"),
    ("sw_ver", "kasa.device.sw_ver"),
    ("hw_ver", "kasa.device.hw_ver"),
    ("type", "kasa.device.type"),
];

/// Every message of a recorded capture: its methods, each with its own subtree holding its
/// err_code and err_msg from the peer's log, and the device fields only under
/// `system.get_sysinfo`.
fn check_method_subtrees(name: &str) -> usize {
    let want = expected(name);
    let got = kasa_layers(&fixture(&format!("{name}.pcapng")), &[]);
    let mut multi = 0;
    for m in want["messages"].as_array().unwrap() {
        let frame = m["frame"].as_u64().unwrap();
        let methods: Vec<String> = list(m.get("method")).into_iter().map(text).collect();
        if methods.is_empty() {
            continue;
        }
        let layers = &got[&frame];
        // The message's layer: the one whose methods are these (one message per frame here).
        let k = layers
            .iter()
            .find(|k| {
                list(k.get("kasa.method"))
                    .into_iter()
                    .map(text)
                    .collect::<Vec<_>>()
                    == methods
            })
            .unwrap_or_else(|| panic!("{name} frame {frame}: methods {methods:?} in {layers:?}"));
        let trees = list(k.get("kasa.method_tree"));
        let codes = list(m.get("err_code"));
        let msgs = list(m.get("err_msg"));
        let response = m["direction"] == "response";
        if response {
            assert_eq!(
                trees.len(),
                methods.len(),
                "{name} frame {frame}: one subtree per method"
            );
        }
        assert!(
            k.get("kasa.err_code").is_none() && k.get("kasa.err_msg").is_none(),
            "{name} frame {frame}: no result outside its method's subtree: {k}"
        );
        for (i, t) in trees.iter().enumerate() {
            let code = codes.get(i).copied().filter(|c| !c.is_null());
            assert_eq!(
                t.get("kasa.err_code").map(text),
                code.map(text),
                "{name} frame {frame} method {}",
                methods[i]
            );
            let msg = msgs.get(i).copied().filter(|c| !c.is_null());
            assert_eq!(
                t.get("kasa.err_msg").map(text),
                msg.map(text),
                "{name} frame {frame} method {}",
                methods[i]
            );
            let device = m.get("device").filter(|d| d.is_object());
            let own = device.is_some_and(|d| d["generated"] != Value::Bool(true))
                && methods[i] == "system.get_sysinfo";
            for (key, field) in DEVICE_KEYS {
                let want = own
                    .then(|| device.and_then(|d| d.get(key)).filter(|v| !v.is_null()))
                    .flatten()
                    .map(text);
                assert_eq!(
                    t.get(field).map(text),
                    want,
                    "{name} frame {frame} method {}: {field}",
                    methods[i]
                );
            }
        }
        if trees.len() >= 3 {
            multi += 1;
        }
    }
    multi
}

#[test]
fn one_subtree_per_method() {
    // hs100-node: four methods per answer, the first one failing ("module not support").
    assert!(check_method_subtrees("fixtures/recorded/hs100-node") >= 1);
    // hs110-kasa: fourteen methods per answer, two failing ("member not support").
    assert!(check_method_subtrees("fixtures/recorded/hs110-kasa") >= 1);
}
