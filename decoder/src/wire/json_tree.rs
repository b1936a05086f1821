//! A JSON text as the flat, pre-order list of nodes a front end shows as a tree: objects,
//! arrays, members (key and value) and scalar values, each with its byte range in the text.
//!
//! The plugin builds Wireshark's `json.*` items from these nodes instead of running Wireshark's
//! JSON dissector (whose tokenizer reads the text a byte at a time through the tvb API and was
//! most of the plugin's cost whenever a tree was shown). The grammar is RFC 8259's, as
//! Wireshark's JSON dissector reads it; what the two would not read the same way is refused
//! (`None`) and left to that dissector:
//!
//! * anything but one object or array spanning the whole text (whitespace before or after it
//!   goes to Wireshark's "Line-based text data" there);
//! * `NaN`, which Wireshark accepts and JSON does not;
//! * escapes Wireshark replaces or drops in its own way (a lone or mismatched surrogate);
//! * raw control characters and invalid UTF-8 in strings;
//! * nesting deeper than the caller's limit.
//!
//! Numbers beyond `f64` (`1e400`) are read here as Wireshark reads them; serde_json refuses
//! them, so the plugin reports such a message malformed and builds no JSON tree for it.
//!
//! Never panics; allocates one node per value, member and container (at most one per two bytes
//! of text).

use std::borrow::Cow;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    /// `"key": value`; its value is the next node.
    Member,
    String,
    Number,
    True,
    False,
    Null,
}

/// One node. Ranges are byte offsets into the text, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// A container from its bracket to its bracket; a member from its key's opening quote to
    /// the end of its value; a string with its quotes.
    pub start: usize,
    pub end: usize,
    /// A member's key token, quotes included (`(0, 0)` for other kinds).
    pub key: (usize, usize),
    /// The index of the node after this one's last descendant.
    pub next: usize,
}

/// The nodes of `text`, which must be one object or array and nothing else, nested at most
/// `max_depth` containers deep; `None` for anything else (see the module documentation).
pub fn nodes(text: &[u8], max_depth: usize) -> Option<Vec<Node>> {
    if !matches!(text.first(), Some(b'{' | b'[')) {
        return None;
    }
    let mut p = Parser {
        t: text,
        i: 0,
        out: Vec::new(),
        depth: 0,
        max_depth,
    };
    p.value()?;
    (p.i == text.len()).then_some(p.out)
}

struct Parser<'a> {
    t: &'a [u8],
    i: usize,
    out: Vec<Node>,
    depth: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.t.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn push(&mut self, kind: Kind, start: usize, end: usize) {
        let next = self.out.len() + 1;
        self.out.push(Node {
            kind,
            start,
            end,
            key: (0, 0),
            next,
        });
    }

    fn value(&mut self) -> Option<()> {
        let start = self.i;
        match self.peek()? {
            b'{' => self.container(Kind::Object),
            b'[' => self.container(Kind::Array),
            b'"' => {
                let (s, e) = self.string()?;
                self.push(Kind::String, s, e);
                Some(())
            }
            b't' => self.literal(b"true", Kind::True),
            b'f' => self.literal(b"false", Kind::False),
            b'n' => self.literal(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => {
                self.number()?;
                self.push(Kind::Number, start, self.i);
                Some(())
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Option<()> {
        let start = self.i;
        if !self.t[start..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        self.push(kind, start, self.i);
        Some(())
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - from
    }

    /// `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// A string token at `self.i` (on its opening quote): its range, quotes included.
    fn string(&mut self) -> Option<(usize, usize)> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.i;
        self.i += 1;
        let mut plain_from = self.i;
        loop {
            match self.peek()? {
                b'"' => {
                    core::str::from_utf8(&self.t[plain_from..self.i]).ok()?;
                    self.i += 1;
                    return Some((start, self.i));
                }
                b'\\' => {
                    core::str::from_utf8(&self.t[plain_from..self.i]).ok()?;
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let unit = hex4(self.t.get(self.i + 1..self.i + 5)?)?;
                            self.i += 5;
                            if (0xDC00..0xE000).contains(&unit) {
                                return None;
                            }
                            if (0xD800..0xDC00).contains(&unit) {
                                // Only a lead surrogate followed by a trail one.
                                if self.t.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return None;
                                }
                                let trail = hex4(self.t.get(self.i + 2..self.i + 6)?)?;
                                if !(0xDC00..0xE000).contains(&trail) {
                                    return None;
                                }
                                self.i += 6;
                            }
                        }
                        _ => return None,
                    }
                    plain_from = self.i;
                }
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }

    fn container(&mut self, kind: Kind) -> Option<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return None;
        }
        let at = self.out.len();
        let start = self.i;
        self.push(kind, start, start);
        let close = if kind == Kind::Object { b'}' } else { b']' };
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
        } else {
            loop {
                if kind == Kind::Object {
                    let m = self.out.len();
                    let key = self.string()?;
                    self.out.push(Node {
                        kind: Kind::Member,
                        start: key.0,
                        end: key.1,
                        key,
                        next: m + 1,
                    });
                    self.ws();
                    if self.peek() != Some(b':') {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    self.value()?;
                    self.out[m].end = self.i;
                    self.out[m].next = self.out.len();
                } else {
                    self.value()?;
                }
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    c if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.out[at].end = self.i;
        self.out[at].next = self.out.len();
        self.depth -= 1;
        Some(())
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    let s = core::str::from_utf8(b).ok()?;
    if s.len() != 4 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// The text of a string token's inside (quotes removed) of a text [`nodes`] accepted, as
/// Wireshark's JSON dissector shows it: escapes replaced, and a `\u` escape of a character
/// `printable` refuses dropped (Wireshark asks GLib's `g_unichar_isprint`; the caller passes
/// it in). Borrowed when there is no escape.
pub fn unescape(inside: &[u8], printable: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !inside.contains(&b'\\') {
        return String::from_utf8_lossy(inside);
    }
    let mut out = String::with_capacity(inside.len());
    let mut i = 0;
    while i < inside.len() {
        let Some(rel) = inside[i..].iter().position(|&b| b == b'\\') else {
            out.push_str(&String::from_utf8_lossy(&inside[i..]));
            break;
        };
        out.push_str(&String::from_utf8_lossy(&inside[i..i + rel]));
        i += rel + 1;
        let Some(&e) = inside.get(i) else { break };
        i += 1;
        match e {
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let Some(unit) = inside.get(i..i + 4).and_then(hex4) else {
                    break;
                };
                i += 4;
                let code = if (0xD800..0xDC00).contains(&unit) {
                    let Some(trail) = inside.get(i + 2..i + 6).and_then(hex4) else {
                        break;
                    };
                    i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (trail.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    unit
                };
                if let Some(c) = char::from_u32(code).filter(|&c| printable(c)) {
                    out.push(c);
                }
            }
            other => out.push(other as char),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Option<Vec<(Kind, &str)>> {
        let n = nodes(text.as_bytes(), 64)?;
        Some(n.iter().map(|n| (n.kind, &text[n.start..n.end])).collect())
    }

    #[test]
    fn pre_order_with_ranges() {
        let text = r#"{"system":{"get_sysinfo":{"a":[1,-2.5e3,"x"],"b":true,"c":null,"d":false}}}"#;
        let n = nodes(text.as_bytes(), 64).unwrap();
        let inner = r#"{"a":[1,-2.5e3,"x"],"b":true,"c":null,"d":false}"#;
        use Kind::*;
        let want: Vec<(Kind, &str, usize)> = vec![
            (Object, text, 16),
            (Member, &text[1..text.len() - 1], 16),
            (Object, &text[10..text.len() - 1], 16),
            (Member, &text[11..text.len() - 2], 16),
            (Object, inner, 16),
            (Member, r#""a":[1,-2.5e3,"x"]"#, 10),
            (Array, r#"[1,-2.5e3,"x"]"#, 10),
            (Number, "1", 8),
            (Number, "-2.5e3", 9),
            (String, r#""x""#, 10),
            (Member, r#""b":true"#, 12),
            (True, "true", 12),
            (Member, r#""c":null"#, 14),
            (Null, "null", 14),
            (Member, r#""d":false"#, 16),
            (False, "false", 16),
        ];
        let got: Vec<(Kind, &str, usize)> = n
            .iter()
            .map(|n| (n.kind, &text[n.start..n.end], n.next))
            .collect();
        assert_eq!(got, want);
        assert_eq!(&text[n[1].key.0..n[1].key.1], r#""system""#);
        assert_eq!(&text[n[5].key.0..n[5].key.1], r#""a""#);
    }

    #[test]
    fn whitespace_inside_is_fine_outside_is_not() {
        assert!(kinds("{ \"a\" :\t[ 1 , 2 ]\r\n}").is_some());
        assert_eq!(kinds(" {}"), None);
        assert_eq!(kinds("{}\n"), None);
        assert_eq!(kinds("{}{}"), None);
        assert_eq!(kinds("[]").unwrap(), vec![(Kind::Array, "[]")]);
    }

    #[test]
    fn refuses_what_wireshark_reads_otherwise() {
        for bad in [
            r#"{"a":NaN}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            r#"{a:1}"#,
            r#"{"a":tru}"#,
            r#"{"a":"unterminated}"#,
            "\"just a string\"",
        ] {
            assert_eq!(kinds(bad), None, "{bad}");
        }
        assert_eq!(nodes(b"{\"a\":\"\xff\"}", 64), None, "invalid UTF-8");
    }

    #[test]
    fn depth_limit() {
        let deep = "[".repeat(10) + &"]".repeat(10);
        assert!(nodes(deep.as_bytes(), 10).is_some());
        assert!(nodes(deep.as_bytes(), 9).is_none());
        let very = "[".repeat(100_000);
        assert!(nodes(very.as_bytes(), 256).is_none());
    }

    #[test]
    fn unescape_as_wireshark_shows_it() {
        let all = |_: char| true;
        assert_eq!(unescape(b"plain K\xc3\xbcche", all), "plain Küche");
        assert!(matches!(unescape(b"plain", all), Cow::Borrowed(_)));
        assert_eq!(unescape(br#"a\"b\\c\/d\te"#, all), "a\"b\\c/d\te");
        assert_eq!(unescape(br"K\u00fcche", all), "Küche");
        assert_eq!(unescape(br"\ud83d\ude00!", all), "\u{1F600}!");
        // A character the printable test refuses is dropped, as Wireshark drops it.
        assert_eq!(unescape(br"a\u0007b", |c| !c.is_control()), "ab");
    }

    #[test]
    fn never_panics_on_prefixes() {
        let text = br#"{"k\u00fc":[1,{"x":"\ud83d\ude00"},-0.5E+2,true,false,null],"e":{}}"#;
        assert!(nodes(text, 64).is_some());
        for n in 0..text.len() {
            assert_eq!(nodes(&text[..n], 64), None);
            let _ = unescape(&text[..n], |_| true);
        }
    }
}
