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
pub fn json_extent(text: &[u8]) -> Extent {
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Extent::Incomplete;
    };
    if !matches!(text[first], b'{' | b'[') {
        return Extent::Invalid;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in text.iter().enumerate().skip(first) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Extent::Complete(i + 1);
                }
            }
            _ => {}
        }
    }
    Extent::Incomplete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_extent_scans_strings() {
        assert_eq!(json_extent(br#" {"a":"}{\"]"} tail"#), Extent::Complete(14));
        assert_eq!(json_extent(br#"{"a":[1,2"#), Extent::Incomplete);
        assert_eq!(json_extent(b"nope"), Extent::Invalid);
    }
}
