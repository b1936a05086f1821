//! JSON summarisation (`msg::Body::analyse`) of arbitrary plaintexts, the one-line summary that
//! feeds the Info column, and the problem texts. Asserts: no panic; the streaming analysis
//! accepts exactly what `serde_json::Value` accepts as an object (an independent oracle: depth
//! 128, escapes, number range, also inside values the model skips); JSON that parsed is never
//! also flagged as malformed; a dialect exactly when it parsed, SMART exactly when the
//! object's top level has a string `method` or an `error_code`, `result` or `params` key (last
//! key wins, as in the oracle); heap growth bounded by the input.
#![no_main]

use kasa_decoder::msg::{self, Body, Dialect, Direction, Problem};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;
use std::fmt::Write;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        let mut problems = Vec::new();
        let body = Body::analyse(data, &mut problems);
        let json_flagged = problems.iter().any(|p| matches!(p, Problem::Json { .. }));
        assert!(
            !(body.json_ok && json_flagged),
            "parsed and flagged: {problems:?}"
        );
        assert!(body.json_ok || body.methods.is_empty());
        let lossy = String::from_utf8_lossy(data);
        let top = match serde_json::from_str::<serde_json::Value>(&lossy) {
            Ok(serde_json::Value::Object(top)) => Some(top),
            _ => None,
        };
        assert_eq!(
            body.json_ok,
            top.is_some(),
            "analyse and serde_json::Value disagree: {problems:?}"
        );
        assert_eq!(body.dialect.is_some(), body.json_ok);
        if let Some(top) = top {
            let smart = top.get("method").is_some_and(serde_json::Value::is_string)
                || ["error_code", "result", "params"]
                    .iter()
                    .any(|k| top.contains_key(*k));
            let want = if smart { Dialect::Smart } else { Dialect::Iot };
            assert_eq!(body.dialect, Some(want));
        }
        let mut line = String::new();
        for d in [Direction::Request, Direction::Response] {
            msg::summary(&mut line, d, &body).unwrap();
        }
        for p in &problems {
            write!(line, "{p} {}", p.expert()).unwrap();
        }
        let _ = body.looks_like_response();
    });
    // serde_json's Value is ~10x its text at worst ("[[[[" builds nested arrays, "0,0," numbers).
    let budget = 64 * data.len() + (64 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} bytes of JSON",
        data.len()
    );
});
