//! Where a JSON text ends, found without parsing it: every transport whose framing can disagree
//! with its content (a wrong XOR length header, JSON spread over TLS records) asks this.

/// How far a JSON text goes, from a structural scan (brackets outside strings). Validation is
/// left to the JSON parser; this only finds the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The first value ends before this byte.
    Complete(usize),
    /// The text ends inside the value.
    Incomplete,
    /// It does not start like an object or array.
    Invalid,
}

/// Finds where the first JSON object or array in `text` ends.
///
/// Brackets are counted outside strings, one byte at a time; a string is crossed sixteen bytes at
/// a time to its next quote or backslash ([`string_stop`]), the backslash escaping the byte
/// after it, as [`json_extent_bytewise`] reads everything.
pub fn json_extent(text: &[u8]) -> Extent {
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Extent::Incomplete;
    };
    if !matches!(text[first], b'{' | b'[') {
        return Extent::Invalid;
    }
    let mut depth = 0usize;
    let mut i = first;
    while let Some(&b) = text.get(i) {
        i += 1;
        match b {
            b'"' => loop {
                let Some(p) = text.get(i..).and_then(string_stop) else {
                    return Extent::Incomplete;
                };
                i += p;
                match text[i] {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' => i += 2,
                    _ => i += 1,
                }
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Extent::Complete(i);
                }
            }
            _ => {}
        }
    }
    Extent::Incomplete
}

/// [`json_extent`] one byte at a time: the definition the word-wise scan is held to.
pub fn json_extent_bytewise(text: &[u8]) -> Extent {
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Extent::Incomplete;
    };
    if !matches!(text[first], b'{' | b'[') {
        return Extent::Invalid;
    }
    let mut scan = Scan::default();
    match scan.bytes(&text[first..]) {
        Some(end) => Extent::Complete(first + end),
        None => Extent::Incomplete,
    }
}

/// The state of a scan between bytes.
#[derive(Default)]
struct Scan {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// Whether byte `c` ends a string's plain run: a quote, a backslash or a control character
/// (below 0x20).
#[inline(always)]
fn ends_run(c: u8) -> bool {
    (c == b'"') | (c == b'\\') | (c < 0x20)
}

/// `0xff` in the bytes of `w` that end a string's plain run, `0` in the others, as one
/// little-endian number. Written byte by byte in a form the compiler turns into three vector
/// comparisons (SSE2 on x86-64, NEON on aarch64), no `unsafe` or intrinsics needed.
#[inline(always)]
fn stop_mask16(w: &[u8; 16]) -> u128 {
    let mut hits = [0u8; 16];
    for (h, &c) in hits.iter_mut().zip(w) {
        *h = if ends_run(c) { 0xff } else { 0 };
    }
    u128::from_le_bytes(hits)
}

/// Where a JSON string's plain run ends in `bytes`: the first byte that [`ends_run`]. Sixteen
/// bytes at a time; the last few are copied into a block padded with spaces (which end no run),
/// so every byte goes through the same test.
#[inline(always)]
pub(crate) fn string_stop(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    let mut rest = bytes;
    while let Some((w, tail)) = rest.split_first_chunk::<16>() {
        let hit = stop_mask16(w);
        if hit != 0 {
            return Some(at + hit.trailing_zeros() as usize / 8);
        }
        at += 16;
        rest = tail;
    }
    let mut last = [b' '; 16];
    last[..rest.len()].copy_from_slice(rest);
    let hit = stop_mask16(&last);
    (hit != 0).then(|| at + hit.trailing_zeros() as usize / 8)
}

impl Scan {
    /// Bytes one at a time; `Some(end)` (relative to `bytes`) when the value ends in them.
    fn bytes(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    #[test]
    fn json_extent_scans_strings() {
        assert_eq!(json_extent(br#" {"a":"}{\"]"} tail"#), Extent::Complete(14));
        assert_eq!(json_extent(br#"{"a":[1,2"#), Extent::Incomplete);
        assert_eq!(json_extent(b"nope"), Extent::Invalid);
    }

    proptest! {
        /// The word-wise search finds the byte the plain search finds.
        #[test]
        fn string_stop_is_the_byte_search(
            bytes in prop::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..=0xff, 0x20u8..0x7f],
                0..40,
            ),
            plain in 0usize..40,
        ) {
            // A run of plain bytes first, so the hit falls in every word position.
            let text = [&b"abcdefghijklmnopqrstuvwxyz~!#$%^&*()+=-_"[..plain], &bytes].concat();
            let want = text.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            prop_assert_eq!(string_stop(&text), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// The scan finds what the byte loop finds, on texts made of the bytes that matter
        /// (brackets, quotes, backslashes, control characters) with filler, across word
        /// boundaries.
        #[test]
        fn block_scan_is_the_byte_loop(
            parts in prop::collection::vec(
                prop_oneof![
                    Just(&b"{"[..]), Just(&b"}"[..]), Just(&b"["[..]), Just(&b"]"[..]),
                    Just(&b"\""[..]), Just(&b"\\"[..]), Just(&b" "[..]),
                    Just(&b"abcdefghijklmnopqrstuvwxyz0123456789"[..]), Just(&b","[..]),
                    Just(&b"\n\x01"[..]),
                ],
                0..200,
            )
        ) {
            let text = [&b"{"[..], &parts.concat()].concat();
            prop_assert_eq!(json_extent(&text), json_extent_bytewise(&text));
            for skip in [1, 3, 63, 64, 65] {
                if let Some(t) = text.get(skip..) {
                    prop_assert_eq!(json_extent(t), json_extent_bytewise(t));
                }
            }
        }
    }
}
