//! The fast path of [`Body::analyse`] for the common case: an IOT message (XOR, KLAP v1) in
//! plain JSON. One hand-written pass over the bytes, borrowing keys and values from the text,
//! allocating only what the model keeps (method names, kept strings).
//!
//! It reads a subset of JSON and declines (`None`) everything else, so the serde visitors of
//! `body.rs` and `smart.rs` stay the one definition of the model:
//!
//! * a top-level key of the SMART envelope (`method`, `msg`, `params`, `result`,
//!   `error_code`): the dialect needs the serde reading;
//! * a backslash in a key or in a string the model keeps, a `\u` escape anywhere, a control
//!   character in a string;
//! * a number with an exponent or more than 18 integer digits (so every number it accepts is
//!   finite and every integer fits an `i64`, as serde_json reads them);
//! * nesting deeper than [`MAX_DEPTH`] (serde_json's limit is 127);
//! * a `child_ids` element that is not a plain string;
//! * anything that is not valid JSON.
//!
//! What it accepts is valid JSON to serde_json too, and it builds the same [`Body`] as the serde
//! reading (the property test below compares them on random and broken documents): the rules
//! are those of `TopVisitor`, `ModuleSeed`, `ResultSeed`, `Text`, `Code` and `ContextValue`,
//! key by key, in document order (last value wins for single-valued keys, every module and
//! method is listed).

use super::body::{Body, Call, Context, Device, Dialect, Method};
use super::name::Name;
use crate::wire::json::string_stop;
use std::sync::Arc;

/// Nesting the fast path reads; deeper documents go to serde_json (which stops at 127).
pub(super) const MAX_DEPTH: u32 = 100;

/// Reads an IOT message; `None` when the document is outside the subset (see the module doc).
/// The caller adds the result-code problems, as `IotTop::finish` does.
pub(super) fn analyse_iot(text: &str) -> Option<Body> {
    let mut p = Parser {
        b: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    let mut body = Body {
        json_ok: true,
        dialect: Some(Dialect::Iot),
        ..Body::default()
    };
    p.ws();
    p.open(b'{')?;
    if !p.close_first(b'}')? {
        loop {
            let key = p.key()?;
            match key {
                "context" => body.context = p.context()?,
                "method" | "msg" | "params" | "result" | "error_code" => return None,
                module => p.module(module, &mut body)?,
            }
            if !p.next(b'}')? {
                break;
            }
        }
    }
    p.ws();
    (p.i == p.b.len()).then_some(body)
}

/// A number as serde_json hands it to a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    /// A non-negative integer (`visit_u64`).
    U(u64),
    /// A negative integer (`visit_i64`).
    I(i64),
    /// A fraction, or `-0` (`visit_f64`).
    F,
}

struct Parser<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
    depth: u32,
}

/// Where a key of a `get_sysinfo` result goes; decided by length first, then the bytes.
#[derive(Clone, Copy)]
enum Slot {
    ErrCode,
    ErrMsg,
    Model,
    Alias,
    Mac,
    MicMac,
    EthernetMac,
    DeviceId,
    SwVer,
    HwVer,
    Type,
    MicType,
    Other,
}

impl Slot {
    /// The slot of a result's key; with `sysinfo` false, only the codes.
    #[inline]
    fn of(key: &[u8], sysinfo: bool) -> Slot {
        let slot = match key.len() {
            7 => match key {
                b"err_msg" => return Slot::ErrMsg,
                b"mic_mac" => Slot::MicMac,
                _ => return Slot::Other,
            },
            8 => match key {
                b"err_code" => return Slot::ErrCode,
                b"deviceId" => Slot::DeviceId,
                b"mic_type" => Slot::MicType,
                _ => return Slot::Other,
            },
            3 if key == b"mac" => Slot::Mac,
            4 if key == b"type" => Slot::Type,
            5 => match key {
                b"model" => Slot::Model,
                b"alias" => Slot::Alias,
                _ => return Slot::Other,
            },
            6 => match key {
                b"sw_ver" => Slot::SwVer,
                b"hw_ver" => Slot::HwVer,
                _ => return Slot::Other,
            },
            12 if key == b"ethernet_mac" => Slot::EthernetMac,
            _ => return Slot::Other,
        };
        if sysinfo { slot } else { Slot::Other }
    }
}

impl<'a> Parser<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Whitespace, if the next byte may be some (the common case, none, is one comparison).
    #[inline(always)]
    fn ws(&mut self) {
        if self.peek().is_some_and(|c| c <= b' ') {
            self.ws_run();
        }
    }

    fn ws_run(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Enters an object or array at `open`.
    #[inline]
    fn open(&mut self, open: u8) -> Option<()> {
        if self.peek() != Some(open) {
            return None;
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// Right after an opening bracket: whether the container is empty (and now closed).
    #[inline]
    fn close_first(&mut self, close: u8) -> Option<bool> {
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            self.depth -= 1;
            return Some(true);
        }
        Some(false)
    }

    /// After a member or element: `true` for a comma (another follows), `false` for the
    /// closing bracket (consumed).
    #[inline]
    fn next(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            c if c == close => {
                self.i += 1;
                self.depth -= 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// Where the plain run of a string from `start` (at most the text's length) ends: the
    /// index of the first quote, backslash or control character.
    #[inline(always)]
    fn run_end(&self, start: usize) -> Option<usize> {
        Some(start + string_stop(self.b.get(start..)?)?)
    }

    /// Where a string without escapes is (between its quotes); the cursor is on its opening
    /// quote, and goes past its closing one.
    #[inline(always)]
    fn plain_range(&mut self) -> Option<core::ops::Range<usize>> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.i + 1;
        let end = self.run_end(start)?;
        if *self.b.get(end)? != b'"' {
            return None;
        }
        self.i = end + 1;
        Some(start..end)
    }

    /// A string without escapes, borrowed; the cursor is on its opening quote.
    #[inline(always)]
    fn plain_str(&mut self) -> Option<&'a str> {
        let range = self.plain_range()?;
        // Both ends are ASCII quotes of a valid `&str`: char boundaries.
        self.text.get(range)
    }

    /// A string whose content is skipped: simple escapes allowed, `\u` declined.
    fn skip_str(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            self.i = self.run_end(self.i)?;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => match self.b.get(self.i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A member's key and the colon after it.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a str> {
        let range = self.key_range()?;
        // Both ends are ASCII quotes of a valid `&str`: char boundaries.
        self.text.get(range)
    }

    /// A member's key as bytes, for a caller that compares it only: no `&str` made.
    #[inline(always)]
    fn key_bytes(&mut self) -> Option<&'a [u8]> {
        let range = self.key_range()?;
        self.b.get(range)
    }

    #[inline(always)]
    fn key_range(&mut self) -> Option<core::ops::Range<usize>> {
        self.ws();
        let range = self.plain_range()?;
        self.ws();
        if self.peek() != Some(b':') {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(range)
    }

    /// A number, read by JSON's grammar.
    #[inline]
    fn number(&mut self) -> Option<Num> {
        let b = self.b;
        let mut i = self.i;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let start = i;
        let mut value = 0u64;
        while let Some(&d) = b.get(i)
            && d.is_ascii_digit()
        {
            // Garbage past 18 digits, which are declined below; exact up to them.
            value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 18 || (n > 1 && b[start] == b'0') {
            return None;
        }
        let fraction = b.get(i) == Some(&b'.');
        if fraction {
            i += 1;
            let digits = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == digits {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            return None;
        }
        self.i = i;
        Some(match (fraction, negative) {
            (true, _) => Num::F,
            (false, false) => Num::U(value),
            // serde_json reads `-0` as a float.
            (false, true) if value == 0 => Num::F,
            // At most 18 digits: fits.
            (false, true) => Num::I(-(value as i64)),
        })
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Any value, checked and dropped.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_str(),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            b'{' => {
                self.open(b'{')?;
                if self.close_first(b'}')? {
                    return Some(());
                }
                loop {
                    self.key_bytes()?;
                    self.skip()?;
                    if !self.next(b'}')? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                self.open(b'[')?;
                if self.close_first(b']')? {
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip()?;
                    if !self.next(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    /// `Text`: a string kept, any other value `None`.
    #[inline(always)]
    fn text(&mut self) -> Option<Option<String>> {
        if self.peek() == Some(b'"') {
            return self.plain_str().map(|s| Some(s.to_owned()));
        }
        self.skip()?;
        Some(None)
    }

    /// `Code`: an integer that fits an `i64`, any other value `None`.
    fn code(&mut self) -> Option<Option<i64>> {
        if let Some(b'-' | b'0'..=b'9') = self.peek() {
            return Some(match self.number()? {
                Num::U(u) => i64::try_from(u).ok(),
                Num::I(i) => Some(i),
                Num::F => None,
            });
        }
        self.skip()?;
        Some(None)
    }

    /// `ContextValue`.
    fn context(&mut self) -> Option<Context> {
        let mut c = Context::default();
        if self.peek() != Some(b'{') {
            self.skip()?;
            return Some(c);
        }
        self.open(b'{')?;
        if self.close_first(b'}')? {
            return Some(c);
        }
        loop {
            match self.key_bytes()? {
                b"source" => c.source = self.text()?,
                b"child_ids" => c.child_ids = self.ids()?,
                _ => self.skip()?,
            }
            if !self.next(b'}')? {
                return Some(c);
            }
        }
    }

    /// `Ids`: an array of plain strings; another array is declined, any other value is none.
    fn ids(&mut self) -> Option<Vec<String>> {
        let mut ids = Vec::new();
        if self.peek() != Some(b'[') {
            self.skip()?;
            return Some(ids);
        }
        self.open(b'[')?;
        if self.close_first(b']')? {
            return Some(ids);
        }
        loop {
            self.ws();
            ids.push(self.plain_str()?.to_owned());
            if !self.next(b']')? {
                return Some(ids);
            }
        }
    }

    /// `ModuleSeed` and `IotTop::add`: one module's methods go straight into `body`.
    fn module(&mut self, module: &str, body: &mut Body) -> Option<()> {
        let bare = |body: &mut Body| body.methods.push(Method::iot(module, None));
        if self.peek() != Some(b'{') {
            self.skip()?;
            bare(body);
            return Some(());
        }
        self.open(b'{')?;
        let first = body.methods.len();
        let (mut code, mut msg) = (None, None);
        let mut has_err_code = false;
        // The device of the last method that named one, and the slot the next one is read
        // into: read in place, never moved until it goes into its `Arc`.
        let mut devices: [Device; 2] = Default::default();
        let (mut found, mut slot) = (None, 0);
        if !self.close_first(b'}')? {
            loop {
                match self.key()? {
                    // The module answered as a whole, e.g. "module not support".
                    "err_code" => code = Some(self.code()?),
                    "err_msg" => msg = self.text()?,
                    method => {
                        let sysinfo = module == "system" && method == "get_sysinfo";
                        let (err_code, err_msg, device) =
                            self.result(sysinfo, &mut devices[slot])?;
                        has_err_code |= err_code.is_some();
                        if device {
                            found = Some(slot);
                            slot ^= 1;
                        }
                        body.methods.push(Method {
                            call: Call::Iot {
                                module: Name::new(module),
                                method: Some(Name::new(method)),
                            },
                            err_code: err_code.flatten(),
                            err_msg,
                        });
                    }
                }
                if !self.next(b'}')? {
                    break;
                }
            }
        }
        if let Some(code) = code {
            body.methods.truncate(first);
            body.methods.push(Method {
                call: Call::Iot {
                    module: Name::new(module),
                    method: None,
                },
                err_code: code,
                err_msg: msg,
            });
            body.has_err_code = true;
        } else if body.methods.len() == first {
            bare(body);
        } else {
            body.has_err_code |= has_err_code;
            if let Some(found) = found {
                body.device = Some(Arc::new(std::mem::take(&mut devices[found])));
            }
        }
        Some(())
    }

    /// `ResultSeed`: a method's parameters or result: its code, message and (for
    /// `system.get_sysinfo`) whether it names a device, read into `dev` (cleared first).
    fn result(
        &mut self,
        sysinfo: bool,
        dev: &mut Device,
    ) -> Option<(Option<Option<i64>>, Option<String>, bool)> {
        let (mut err_code, mut err_msg) = (None, None);
        if self.peek() != Some(b'{') {
            self.skip()?;
            return Some((None, None, false));
        }
        self.open(b'{')?;
        if self.close_first(b'}')? {
            return Some((None, None, false));
        }
        if sysinfo {
            *dev = Device::default();
        }
        let (mut mic_mac, mut ethernet_mac, mut mic_type) = (None, None, None);
        let mut keys = 0usize;
        loop {
            let key = self.key_bytes()?;
            keys += 1;
            let slot = match Slot::of(key, sysinfo) {
                Slot::ErrCode => {
                    err_code = Some(self.code()?);
                    None
                }
                Slot::ErrMsg => Some(&mut err_msg),
                Slot::Model => Some(&mut dev.model),
                Slot::Alias => Some(&mut dev.alias),
                Slot::Mac => Some(&mut dev.mac),
                Slot::MicMac => Some(&mut mic_mac),
                Slot::EthernetMac => Some(&mut ethernet_mac),
                Slot::DeviceId => Some(&mut dev.device_id),
                Slot::SwVer => Some(&mut dev.sw_ver),
                Slot::HwVer => Some(&mut dev.hw_ver),
                Slot::Type => Some(&mut dev.kind),
                Slot::MicType => Some(&mut mic_type),
                Slot::Other => {
                    self.skip()?;
                    None
                }
            };
            if let Some(slot) = slot {
                *slot = self.text()?;
            }
            if !self.next(b'}')? {
                break;
            }
        }
        let device = sysinfo && err_code.is_some() && keys > 1;
        if device {
            if dev.mac.is_none() {
                dev.mac = mic_mac.or(ethernet_mac);
            }
            if dev.kind.is_none() {
                dev.kind = mic_type;
            }
        }
        Some((err_code, err_msg, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Problem;
    use proptest::prelude::*;

    /// The serde reading alone, as `Body::analyse` did before the fast path.
    fn serde_reading(text: &str) -> (Body, Vec<Problem>) {
        let mut problems = Vec::new();
        let body = super::super::body::analyse_serde(text, &mut problems);
        (body, problems)
    }

    fn fast_reading(text: &str) -> Option<(Body, Vec<Problem>)> {
        let body = analyse_iot(text)?;
        let mut problems = Vec::new();
        for m in &body.methods {
            super::super::body::push_code(m, &mut problems);
        }
        Some((body, problems))
    }

    /// Where the fast path reads a document, it reads it as the serde visitors do.
    fn agrees(text: &str) -> bool {
        match fast_reading(text) {
            Some(fast) => {
                let slow = serde_reading(text);
                assert_eq!(fast, slow, "{text}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn reads_the_common_messages() {
        for text in [
            r#"{"system":{"get_sysinfo":{}}}"#,
            r#" {"system":{"get_sysinfo":{"sw_ver":"1.5.4","model":"HS110(EU)","mac":"50:C7","alias":"Küche ☃","deviceId":"D1","type":"IOT.SMARTPLUGSWITCH","relay_state":1,"rssi":-40,"next_action":{"type":-1},"err_code":0}}} "#,
            r#"{"emeter":{"get_realtime":{"current":0.012,"voltage":229.8,"err_code":0}},"context":{"source":"abc","child_ids":["X1","X2"]}}"#,
            r#"{"foo":{"err_code":-1,"err_msg":"module not support"}}"#,
            r#"{"system":{"set_dev_alias":{"alias":"a\"b\\c\/d\n"}}}"#,
            r#"{"system":{"get_sysinfo":{"mic_mac":"M","mic_type":"T","err_code":0}},"system":{"get_sysinfo":{"mac":"N","err_code":1}}}"#,
            r#"{"a":1,"b":[1,2,{"c":null}],"c":"x","d":true,"e":{"f":-0,"err_code":-0}}"#,
            // A code alone identifies no device.
            r#"{"system":{"get_sysinfo":{"err_code":0}}}"#,
            r#"{"system":{"get_sysinfo":{"err_code":0,"x":[]}}}"#,
            // In one module, the last method naming a device names it; a later one that
            // names none (no code, one key) does not clear it.
            r#"{"system":{"get_sysinfo":{"mac":"A","err_code":0},"get_sysinfo":{"mac":"B","err_code":0},"get_sysinfo":{"mac":"C"}}}"#,
            r#"{"system":{"get_sysinfo":{"mac":"A","err_code":0},"get_sysinfo":{"err_code":0}}}"#,
            r#"{"system":{"get_sysinfo":{"mac":"A","err_code":0},"get_sysinfo":{"err_code":0}},"x":{"err_code":1}}"#,
            "{}",
        ] {
            assert!(agrees(text), "the fast path declines {text}");
        }
    }

    #[test]
    fn declines_what_it_does_not_read() {
        for text in [
            r#"{"method":"get_device_info"}"#,
            r#"{"system":{"get_sysinfo":{}},"error_code":0}"#,
            r#"{"system":{"set_dev_alias":{"alias":"\u00fc"}}}"#,
            r#"{"system":{"get_sysinfo":{"alias":"a\"b","err_code":0}}}"#,
            r#"{"sys\ntem":{}}"#,
            r#"{"a":1e3}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"context":{"child_ids":[1]}}"#,
            r#"{"a":01}"#,
            r#"{"a":1,}"#,
            r#"{"a":"x"} x"#,
            r#"[1]"#,
            "{\"a\":\"\t\"}",
        ] {
            assert!(fast_reading(text).is_none(), "{text}");
        }
        let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert!(fast_reading(&deep).is_none());
    }

    /// JSON texts built from the words the model knows, numbers at the edges of what serde_json
    /// reads as integers, escapes, and nesting; then maybe broken by one byte.
    fn value(depth: u32) -> BoxedStrategy<String> {
        let word = prop::sample::select(vec![
            "system",
            "get_sysinfo",
            "emeter",
            "err_code",
            "err_msg",
            "model",
            "alias",
            "mac",
            "mic_mac",
            "ethernet_mac",
            "deviceId",
            "sw_ver",
            "hw_ver",
            "type",
            "mic_type",
            "context",
            "source",
            "child_ids",
            "method",
            "msg",
            "result",
            "",
            "x",
        ]);
        let key = prop_oneof![
            8 => word.clone().prop_map(|w| format!("\"{w}\"")),
            1 => Just(r#""a\"b""#.to_owned()),
            1 => Just(r#""\u0073ystem""#.to_owned()),
        ];
        let leaf = prop_oneof![
            word.prop_map(|w| format!("\"{w}\"")),
            prop::sample::select(vec![
                "0",
                "-0",
                "1",
                "-1",
                "07",
                "-",
                "1.5",
                "-0.0",
                "1.",
                "1e2",
                "2E-1",
                "999999999999999999",
                "-999999999999999999",
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551616",
                "-9223372036854775809",
                "true",
                "false",
                "null",
                "nul",
                "\"\\n\\t\\/\"",
                "\"\\ud800\"",
                "\"\\x\"",
                "\"\u{1}\"",
                "\"Küche ☃\"",
                "\"\\u00e9\"",
            ])
            .prop_map(str::to_owned),
            any::<i64>().prop_map(|n| n.to_string()),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        let inner = value(depth - 1);
        prop_oneof![
            2 => leaf,
            3 => prop::collection::vec((key, inner.clone()), 0..5).prop_map(|members| {
                let m: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", m.join(","))
            }),
            1 => prop::collection::vec(inner, 0..4).prop_map(|e| format!("[{}]", e.join(", "))),
        ]
        .boxed()
    }

    fn document() -> impl Strategy<Value = String> {
        (value(4), any::<u16>(), any::<u8>(), 0u8..4).prop_map(|(text, at, byte, how)| {
            let mut b = text.into_bytes();
            let at = usize::from(at) % (b.len() + 1);
            match how {
                // Break it: drop, change or add a byte (kept valid UTF-8 by using ASCII).
                0 if at < b.len() => {
                    b.remove(at);
                }
                1 if at < b.len() && b[at].is_ascii() => b[at] = byte & 0x7f,
                2 => b.insert(at, byte & 0x7f),
                _ => {}
            }
            String::from_utf8(b).unwrap_or_default()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn the_fast_path_reads_as_the_serde_visitors(text in document()) {
            agrees(&text);
        }

        #[test]
        fn plain_iot_documents_take_the_fast_path(
            modules in prop::collection::vec(
                ("[a-z_]{1,8}", prop::collection::vec(("[a-z_]{1,10}", "[ -!#-\\[\\]-~]{0,12}", -1000i64..1000), 0..4)),
                0..4,
            )
        ) {
            let text = format!("{{{}}}", modules.iter().map(|(module, methods)| {
                let methods: Vec<String> = methods.iter().map(|(m, s, n)| {
                    format!(r#""{m}":{{"s":"{s}","err_code":{n},"l":[1,2.5,true,null]}}"#)
                }).collect();
                format!(r#""{module}":{{{}}}"#, methods.join(","))
            }).collect::<Vec<_>>().join(","));
            let smart = modules.iter().any(|(m, _)| matches!(m.as_str(), "method" | "msg" | "params" | "result" | "error_code"));
            prop_assert_eq!(agrees(&text), !smart, "{}", text);
        }
    }
}
