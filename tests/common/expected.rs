//! Reading an expected file the way both front ends show it. Shared by `tests/fixtures.rs`
//! (the `cli` crate's test, `#[path = "common/expected.rs"]`) and `tests/common/mod.rs` (the
//! root package's tshark tests): no dependency on either crate, only `serde_json`.

use serde_json::Value;

/// Whether the expected file's messages travel inside TLS (it names a key log, `tls_keys`, as
/// the TLS recordings of `fixtures/record/record_cloud.sh` do): `kasa-decode` reads no TLS and
/// tshark needs the keys, so the fixture comparisons leave them to their own tests
/// (`tests/tls_tshark.rs`).
pub fn inside_tls(expected: &Value) -> bool {
    expected.get("tls_keys").is_some()
}

/// The expected messages a front end shows: all but the HTTP responses without a body, which
/// Wireshark's HTTP never hands to a subdissector (so neither front end shows them); the
/// indexes in `response_to` and `response_in` are renumbered accordingly.
pub fn shown_messages(expected: &Value) -> Vec<Value> {
    let all = expected["messages"].as_array().cloned().unwrap_or_default();
    let keep: Vec<bool> = all
        .iter()
        .map(|m| m.get("empty_body") != Some(&Value::Bool(true)))
        .collect();
    let mut new_index = Vec::with_capacity(all.len());
    let mut n = 0u64;
    for &k in &keep {
        new_index.push(k.then_some(n));
        n += u64::from(k);
    }
    let map = |v: &Value| {
        v.as_u64()
            .and_then(|i| new_index.get(i as usize).copied().flatten())
    };
    all.into_iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(mut m, _)| {
            if let Some(to) = m.get("response_to").cloned() {
                m["response_to"] = map(&to).map_or(Value::Null, Value::from);
            }
            if let Some(list) = m.get("response_in").and_then(Value::as_array).cloned() {
                m["response_in"] = list.iter().filter_map(map).map(Value::from).collect();
            }
            m
        })
        .collect()
}
