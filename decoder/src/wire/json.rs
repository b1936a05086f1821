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
/// The scan takes 64 bytes at a time: bit masks of the quotes and brackets, the inside of
/// strings from the running parity of the quotes (a prefix XOR), and the depth from the counts
/// of brackets outside strings; only a block where the depth can come back to zero is walked
/// bracket by bracket. A block with a backslash (an escape inside a string, or a stray one
/// outside) is read byte by byte, as [`json_extent_bytewise`] reads everything.
pub fn json_extent(text: &[u8]) -> Extent {
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Extent::Incomplete;
    };
    if !matches!(text[first], b'{' | b'[') {
        return Extent::Invalid;
    }
    let mut scan = Scan::default();
    let mut at = first;
    for block in text[first..].chunks(64) {
        let m = Masks::of(block);
        let found = if m.backslash != 0 || scan.escaped {
            scan.bytes(block)
        } else {
            scan.block(&m)
        };
        if let Some(end) = found {
            return Extent::Complete(at + end);
        }
        at += block.len();
    }
    Extent::Incomplete
}

/// [`json_extent`] one byte at a time: the definition the block scan is held to.
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

/// One bit per byte of a block of up to 64.
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

impl Masks {
    fn of(block: &[u8]) -> Masks {
        let mut m = Masks {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        let words = block.chunks_exact(8);
        let mut tail = [b' '; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        let tail = (!words.remainder().is_empty()).then_some(tail);
        let words = words.map(|w| w.try_into().unwrap_or([b' '; 8])).chain(tail);
        for (k, word) in words.enumerate() {
            // Eight bytes at a time in a `u64` (SWAR); the short last word is padded with
            // blanks.
            let w = u64::from_le_bytes(word);
            let at = 8 * k;
            m.quote |= bits(eq(w, b'"')) << at;
            m.backslash |= bits(eq(w, b'\\')) << at;
            // `{` and `[` (and `}` and `]`) differ only in bit 5.
            m.open |= bits(eq(w | (LOW * 0x20), b'{')) << at;
            m.close |= bits(eq(w | (LOW * 0x20), b'}')) << at;
        }
        m
    }
}

const LOW: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// `0x80` in each byte of `w` that equals `c`, `0` in the others (exact: no carry crosses a
/// byte, as the high bit is handled apart).
fn eq(w: u64, c: u8) -> u64 {
    let t = w ^ (LOW * u64::from(c));
    !(((t & LOW7) + LOW7) | t | LOW7)
}

/// Where a JSON string's plain run ends in `bytes`: the first quote, backslash or control
/// character (below 0x20), eight bytes at a time.
pub(crate) fn string_stop(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    for (k, word) in (&mut words).enumerate() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        // Below 0x20: exact for the lowest byte flagged (a borrow only runs upwards from a
        // byte that is itself below 0x20).
        let control = w.wrapping_sub(LOW * 0x20) & !w & !LOW7;
        let hit = eq(w, b'"') | eq(w, b'\\') | control;
        if hit != 0 {
            return Some(8 * k + hit.trailing_zeros() as usize / 8);
        }
    }
    let rest = words.remainder();
    let at = bytes.len() - rest.len();
    rest.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|i| at + i)
}

/// The high bits of the eight bytes of `m` (only high bits set) as eight bits: byte `k` to bit
/// `k`. The products of the multiplication are distinct powers of two, so nothing carries.
fn bits(m: u64) -> u64 {
    m.wrapping_mul(0x0002_0408_1020_4081) >> 56
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
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

    /// A block without backslashes, not starting in an escape.
    fn block(&mut self, m: &Masks) -> Option<usize> {
        let carry = if self.in_string { !0 } else { 0 };
        let inside = prefix_xor(m.quote) ^ carry;
        self.in_string ^= m.quote.count_ones() % 2 == 1;
        let (open, close) = (m.open & !inside, m.close & !inside);
        let closes = close.count_ones() as usize;
        if closes < self.depth {
            // The depth cannot come back to zero here.
            self.depth = self.depth + open.count_ones() as usize - closes;
            return None;
        }
        let mut brackets = open | close;
        while brackets != 0 {
            let i = brackets.trailing_zeros();
            if open >> i & 1 == 1 {
                self.depth += 1;
            } else {
                // Never below one here: the scan starts at an opening bracket.
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Some(i as usize + 1);
                }
            }
            brackets &= brackets - 1;
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
        /// The block scan finds what the byte loop finds, on texts made of the bytes that
        /// matter (brackets, quotes, backslashes) with filler, across block boundaries.
        #[test]
        fn block_scan_is_the_byte_loop(
            parts in prop::collection::vec(
                prop_oneof![
                    Just(&b"{"[..]), Just(&b"}"[..]), Just(&b"["[..]), Just(&b"]"[..]),
                    Just(&b"\""[..]), Just(&b"\\"[..]), Just(&b" "[..]),
                    Just(&b"abcdefghijklmnopqrstuvwxyz0123456789"[..]), Just(&b","[..]),
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
