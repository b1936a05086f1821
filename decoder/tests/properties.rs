//! Property tests: the cipher round-trips; however a stream is cut into segments (and
//! whatever order they arrive in, with duplicates), the same messages come out; SMART-shaped
//! JSON (and one-byte damage to it) never panics the message model and agrees with
//! `serde_json::Value`.

use kasa_decoder::conv::stream::{End, Event};
use kasa_decoder::conv::{Chunk, Framer, Reassembler};
use kasa_decoder::wire::xor::{self, XorRepr};
use proptest::prelude::*;
use std::time::Duration;

proptest! {
    #[test]
    fn decrypt_inverts_encrypt(plain in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let cipher = xor::encrypt(&plain);
        prop_assert_eq!(xor::decrypt(&cipher), plain.clone());
        let mut in_place = cipher;
        xor::decrypt_in_place(&mut in_place);
        prop_assert_eq!(in_place, plain);
    }

    #[test]
    fn segmentation_does_not_change_messages(
        texts in proptest::collection::vec("[a-z0-9 äöü☃😽]{0,40}", 1..6),
        cuts in proptest::collection::vec(1usize..64, 1..40),
        order in proptest::collection::vec(any::<u16>(), 0..40),
        dup in proptest::collection::vec(any::<bool>(), 0..40),
        isn in any::<u32>(),
    ) {
        let messages: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| format!(r#"{{"m{i}":{{"set":{{"alias":"{t}"}}}}}}"#))
            .collect();
        let stream: Vec<u8> = messages.iter().flat_map(|m| XorRepr { plaintext: m.as_bytes() }.to_tcp()).collect();
        // Cut the stream at the given widths.
        let mut segments = Vec::new();
        let mut at = 0;
        for w in cuts.iter().cycle() {
            if at >= stream.len() { break; }
            let end = (at + w).min(stream.len());
            segments.push((at, end));
            at = end;
        }
        // Reorder locally (each segment may swap with a later one) and duplicate some.
        let mut arrival: Vec<(usize, usize)> = segments.clone();
        for (i, o) in order.iter().enumerate() {
            if arrival.len() > 1 && i < arrival.len() {
                let j = (i + usize::from(*o) % 3).min(arrival.len() - 1);
                arrival.swap(i, j);
            }
        }
        for (i, d) in dup.iter().enumerate() {
            if *d && i < segments.len() { arrival.push(segments[i]); }
        }
        let mut reasm = Reassembler::default();
        reasm.syn(isn);
        let mut framer = Framer::new(1 << 20);
        let mut got = Vec::new();
        let mut problems = Vec::new();
        let mut sink = |e: Event| match e {
            Event::Message(m) => got.push(m),
            Event::Problem { problem, .. } => problems.push(problem),
            Event::Http(_) => unreachable!("the XOR framer hands out no HTTP"),
        };
        for (frame, &(a, b)) in arrival.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(a as u32);
            reasm.segment(seq, &stream[a..b], 0, frame as u64 + 1, Duration::ZERO, &mut |c: Chunk<'_>| framer.push(c, &mut sink));
        }
        reasm.close(0, Duration::ZERO, &mut |c: Chunk<'_>| framer.push(c, &mut sink));
        framer.close(End::Capture, &mut sink);
        prop_assert!(problems.is_empty(), "{:?}", problems);
        let texts: Vec<String> = got.iter().map(|m| String::from_utf8(m.plaintext.clone()).unwrap()).collect();
        prop_assert_eq!(texts, messages);
        for m in &got {
            prop_assert!(m.problems.is_empty(), "{:?}", m.problems);
        }
    }
}

/// A JSON text built from SMART's and IOT's keys, with duplicate keys allowed (which
/// `serde_json::Value` cannot hold, so the tree is rendered by hand).
#[derive(Debug, Clone)]
enum Json {
    Leaf(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    fn render(&self, out: &mut String) {
        match self {
            Json::Leaf(text) => out.push_str(text),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push(':');
                    value.render(out);
                }
                out.push('}');
            }
        }
    }
}

const KEYS: &[&str] = &[
    "method",
    "params",
    "result",
    "error_code",
    "msg",
    "requests",
    "responses",
    "nickname",
    "device_id",
    "model",
    "device_model",
    "type",
    "fw_ver",
    "system",
    "get_sysinfo",
    "err_code",
    "err_msg",
    "context",
    "request_time_milis",
    "x",
];

fn smart_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        2 => Just("null".to_owned()),
        2 => any::<bool>().prop_map(|b| b.to_string()),
        4 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        4 => Just("0".to_owned()),
        1 => Just("1e400".to_owned()),
        1 => Just("-0.5".to_owned()),
        1 => Just(r#""\ud800""#.to_owned()),
        1 => Just(r#""\ud83d\ude00""#.to_owned()),
        8 => proptest::sample::select(vec![
            "get_device_info", "multipleRequest", "get_energy_usage", "TGl2aW5nIHJvb20=",
            "P110(EU)", "", "=",
        ])
        .prop_map(|s| serde_json::to_string(s).unwrap()),
        4 => "[a-zA-Z0-9+/=é☃\"\\\\]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ]
    .prop_map(Json::Leaf);
    let key = proptest::sample::select(KEYS);
    let value = leaf.prop_recursive(6, 96, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::vec((key.clone(), inner), 0..6).prop_map(Json::Object),
        ]
    });
    let name = proptest::sample::select(vec!["get_device_info", "multipleRequest", "a"])
        .prop_map(|s| Json::Leaf(serde_json::to_string(s).unwrap()));
    let code = prop_oneof![Just(0i64), -2000i64..2000].prop_map(|c| Json::Leaf(c.to_string()));
    // One inner request or response: its keys in any order, some missing, some repeated.
    let inner = proptest::collection::vec(
        prop_oneof![
            name.clone().prop_map(|v| ("method", v)),
            code.clone().prop_map(|v| ("error_code", v)),
            value.clone().prop_map(|v| ("params", v)),
            value.clone().prop_map(|v| ("result", v)),
            value.clone().prop_map(|v| ("msg", v)),
        ],
        0..5,
    )
    .prop_map(Json::Object);
    let list = proptest::collection::vec(inner, 0..4).prop_map(Json::Array);
    // A top-level entry: a SMART envelope key with a plausible value, or anything.
    let entry = prop_oneof![
        2 => name.prop_map(|v| ("method", v)),
        2 => code.prop_map(|v| ("error_code", v)),
        1 => list.clone().prop_map(|l| ("params", Json::Object(vec![("requests", l)]))),
        1 => list.prop_map(|l| ("result", Json::Object(vec![("responses", l)]))),
        2 => (proptest::sample::select(KEYS), value),
    ];
    proptest::collection::vec(entry, 0..6).prop_map(Json::Object)
}

proptest! {
    /// SMART-shaped inputs, intact or with one byte changed, inserted or cut: analyse never
    /// panics, accepts exactly what `serde_json::Value` accepts as an object, and reads the
    /// dialect, the top-level code and a named method as the top level says (last key wins).
    #[test]
    fn smart_bodies_never_panic_and_agree_with_value(
        doc in smart_json(),
        edit in proptest::option::weighted(0.3, (any::<prop::sample::Index>(), any::<u8>(), 0u8..3)),
    ) {
        use kasa_decoder::msg::{self, Body, Dialect, Direction, Problem};
        let mut text = String::new();
        doc.render(&mut text);
        let mut bytes = text.into_bytes();
        if let Some((at, byte, op)) = edit {
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => bytes.truncate(i),
            }
        }
        let mut problems = Vec::new();
        let body = Body::analyse(&bytes, &mut problems);
        let mut line = String::new();
        for d in [Direction::Request, Direction::Response] {
            msg::summary(&mut line, d, &body).unwrap();
        }
        for p in &problems {
            line.push_str(&p.to_string());
            if let Problem::ErrCode { code, .. } = p {
                prop_assert_ne!(*code, 0);
            }
        }
        let lossy = String::from_utf8_lossy(&bytes);
        let oracle = serde_json::from_str::<serde_json::Value>(&lossy);
        let Ok(serde_json::Value::Object(top)) = oracle else {
            prop_assert!(!body.json_ok && body.dialect.is_none() && body.methods.is_empty());
            return Ok(());
        };
        prop_assert!(body.json_ok);
        let method = top.get("method").and_then(serde_json::Value::as_str);
        let smart = method.is_some()
            || ["error_code", "result", "params"].iter().any(|k| top.contains_key(*k));
        prop_assert_eq!(body.dialect, Some(if smart { Dialect::Smart } else { Dialect::Iot }));
        if smart {
            prop_assert_eq!(body.error_code, top.get("error_code").and_then(serde_json::Value::as_i64));
            prop_assert_eq!(body.looks_like_response(), top.contains_key("error_code") || top.contains_key("result") || body.has_err_code);
            if let Some(name) = method.filter(|m| *m != "multipleRequest") {
                let names: Vec<String> = body.methods.iter().map(|m| m.name()).collect();
                prop_assert_eq!(names, [name]);
            }
        }
    }
}
