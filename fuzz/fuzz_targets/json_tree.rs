//! Any bytes to `wire::json_tree::nodes` and every string token to `unescape`. Asserts: no
//! panic; a text it accepts is valid JSON for serde_json too (one object or array, nothing
//! around it; numbers beyond f64 aside), every node lies within the text and nests (pre-order: `next` after the node,
//! never past its parent's), a member's key is a string token inside it; one node per at most
//! two bytes of text, so memory stays bounded by the input.
#![no_main]

use kasa_decoder::wire::json_tree::{self, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(nodes) = json_tree::nodes(data, 64) else {
        return;
    };
    // Valid for serde_json too, except that it refuses numbers beyond f64 (`1e400`), which the
    // grammar allows (such a message is malformed for the plugin before any tree is built).
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(data) {
        assert!(e.to_string().starts_with("number out of range"), "{e}");
    }
    assert!(!nodes.is_empty() && nodes.len() <= data.len() / 2 + 1);
    assert_eq!((nodes[0].start, nodes[0].end, nodes[0].next), (0, data.len(), nodes.len()));
    for (i, n) in nodes.iter().enumerate() {
        assert!(n.start < n.end && n.end <= data.len(), "{n:?}");
        assert!(n.next > i && n.next <= nodes.len(), "{n:?}");
        for child in &nodes[i + 1..n.next] {
            assert!(child.start >= n.start && child.end <= n.end, "{child:?} in {n:?}");
            assert!(child.next <= n.next);
        }
        if n.kind == Kind::Member {
            assert_eq!(n.key.0, n.start);
            assert!(data[n.key.0] == b'"' && data[n.key.1 - 1] == b'"');
            let key = &data[n.key.0 + 1..n.key.1 - 1];
            let _ = json_tree::unescape(key, |c| !c.is_control());
        }
        if n.kind == Kind::String {
            let text = json_tree::unescape(&data[n.start + 1..n.end - 1], |_| true);
            let serde: String = serde_json::from_slice(&data[n.start..n.end]).unwrap();
            // (A string token on its own is valid JSON whatever numbers are elsewhere.)
            assert_eq!(text, serde, "every escape decoded as serde_json decodes it");
        }
    }
});
