//! The message model: what one decrypted message says, independent of how it travelled.
//!
//! [`Body::analyse`] turns a plaintext into methods, error codes, context and device identity,
//! for both JSON dialects ([`Dialect`]: IOT `{"module":{"method":..}}`, SMART JSON-RPC);
//! [`Message`] adds where and when it was seen, its problems and its pairing. One
//! [`Display`](fmt::Display) feeds both the CLI line and the plugin's Info column:
//! `Request system.get_sysinfo`, `Response system.get_sysinfo err_code=0 HS110(EU) "Kitchen"`,
//! `Request get_device_info, get_energy_usage`, `Response error_code=0 P110(EU) "Living room"`.

mod body;
mod problem;
mod smart;

pub use body::{Body, Call, Context, Device, Dialect, Method, answers_all};
pub use problem::{Problem, Severity};

use core::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How a message travelled. Transport-neutral on purpose: every transport adds a variant here
/// and one in [`Meta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// XOR with a 4-byte length header over TCP.
    XorTcp,
    /// XOR without header, one UDP datagram.
    XorUdp,
}

impl Transport {
    /// The value of the `kasa.transport` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::XorTcp => "xor-tcp",
            Transport::XorUdp => "xor-udp",
        }
    }

    /// Whether messages travel in a byte stream (one conversation, in order) rather than one
    /// datagram each.
    pub fn is_stream(self) -> bool {
        match self {
            Transport::XorTcp => true,
            Transport::XorUdp => false,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the transport itself said about a message, beside its plaintext: one variant per
/// transport. Front ends match it exhaustively (the plugin's field table, the CLI's output), so
/// a new transport cannot be added without saying how each of them shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// XOR over TCP: the 4-byte big-endian length header as it was on the wire (0 for the
    /// pre-2017 "runs to FIN" form).
    XorTcp { len_header: u32 },
    /// XOR over UDP: nothing beyond the datagram.
    XorUdp,
}

impl Meta {
    pub fn transport(&self) -> Transport {
        match self {
            Meta::XorTcp { .. } => Transport::XorTcp,
            Meta::XorUdp => Transport::XorUdp,
        }
    }

    /// The length header, for the transports that have one.
    pub fn len_header(&self) -> Option<u32> {
        match *self {
            Meta::XorTcp { len_header } => Some(len_header),
            Meta::XorUdp => None,
        }
    }
}

/// Request (to the device) or response (from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// Request/response pairing, as DNS and Modbus show it in Wireshark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairing {
    /// On a request: the frames of its responses (several for a broadcast discovery).
    pub response_in: Vec<u64>,
    /// On a response: the frame of its request.
    pub response_to: Option<u64>,
    /// On a response: the time since its request.
    pub time: Option<Duration>,
}

/// One decoded message with everything known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// How it travelled, and what the transport said about it.
    pub meta: Meta,
    pub direction: Direction,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Frames (1-based, every frame counted) that carried bytes of it, ascending; the last is
    /// where it completes and where Wireshark shows it.
    pub frames: Vec<u64>,
    /// Capture time of the last frame, since the Unix epoch.
    pub time: Duration,
    /// The decrypted bytes, exactly as they were (not necessarily valid UTF-8).
    pub plaintext: Vec<u8>,
    pub body: Body,
    pub problems: Vec<Problem>,
    pub pairing: Pairing,
    /// Index of the connection or UDP flow this message belongs to.
    pub conversation: usize,
    /// The device this message goes to or comes from, as an earlier `get_sysinfo` answer
    /// identified it (`None` when the message carries the identity itself).
    pub peer_device: Option<Arc<Device>>,
}

impl Message {
    pub fn transport(&self) -> Transport {
        self.meta.transport()
    }

    /// The frame where the message completes.
    pub fn frame(&self) -> u64 {
        self.frames.last().copied().unwrap_or(0)
    }

    /// The plaintext as text, if it is valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        core::str::from_utf8(&self.plaintext).ok()
    }

    /// Info-column text; the same as `Display`.
    pub fn summary(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        summary(f, self.direction, &self.body)
    }
}

/// Writes the one-line summary of a message body: the direction, then the methods (each with
/// its code in a response: `err_code=` in IOT, `error_code=` in SMART), then the device's model
/// and quoted alias. A SMART response that names no method shows its top-level code instead
/// (`Response error_code=0 P110(EU) "Living room"`), as does a batch answer whose top-level
/// code is not zero (`Response error_code=-1, get_device_info error_code=0`). With neither a
/// method nor a code: `(no method)`.
pub fn summary(f: &mut impl fmt::Write, direction: Direction, body: &Body) -> fmt::Result {
    f.write_str(match direction {
        Direction::Request => "Request",
        Direction::Response => "Response",
    })?;
    let smart = body.dialect == Some(Dialect::Smart);
    let label = if smart { "error_code" } else { "err_code" };
    let mut items = 0usize;
    let mut sep = |f: &mut dyn fmt::Write| {
        items += 1;
        f.write_str(if items == 1 { " " } else { ", " })
    };
    if let Some(code) = body
        .error_code
        .filter(|&c| smart && (body.methods.is_empty() || (body.batch && c != 0)))
    {
        sep(f)?;
        write!(f, "error_code={code}")?;
    }
    for m in &body.methods {
        sep(f)?;
        write!(f, "{}", m.name())?;
        if let Some(code) = m.err_code {
            write!(f, " {label}={code}")?;
        }
    }
    if items == 0 {
        f.write_str(" (no method)")?;
    }
    if let Some(dev) = &body.device {
        if let Some(model) = &dev.model {
            write!(f, " {model}")?;
        }
        if let Some(alias) = &dev.alias {
            f.write_char(' ')?;
            write_quoted(f, alias)?;
        }
    }
    Ok(())
}

/// A plaintext as a display string, the same in every front end: valid UTF-8 as it is, each
/// invalid sequence as U+FFFD (the rule of `String::from_utf8_lossy`), and NUL as U+2400 `␀`,
/// so that a C string (an epan field) carries the whole text.
pub fn display_text(plaintext: &[u8]) -> std::borrow::Cow<'_, str> {
    let text = String::from_utf8_lossy(plaintext);
    if text.contains('\0') {
        text.replace('\0', "\u{2400}").into()
    } else {
        text
    }
}

/// Writes `text` in double quotes, escaping only quotes, backslashes and control characters:
/// every other character (umlauts, emoji, variation selectors) stays as it is.
pub fn write_quoted(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(direction: Direction, text: &str) -> String {
        let body = Body::analyse(text.as_bytes(), &mut Vec::new());
        let mut s = String::new();
        summary(&mut s, direction, &body).unwrap();
        s
    }

    /// One summary rule for both dialects; the IOT lines are those the fixtures expect.
    #[test]
    fn summary_both_dialects() {
        use Direction::{Request, Response};
        let cases = [
            (
                Request,
                r#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{}}}"#,
                "Request system.get_sysinfo, emeter.get_realtime",
            ),
            (
                Response,
                r#"{"system":{"get_sysinfo":{"err_code":0,"model":"HS110(EU)","alias":"Kitchen"}}}"#,
                "Response system.get_sysinfo err_code=0 HS110(EU) \"Kitchen\"",
            ),
            (
                Response,
                r#"{"emeter":{"err_code":-1,"err_msg":"module not support"}}"#,
                "Response emeter err_code=-1",
            ),
            (Request, "{}", "Request (no method)"),
            (
                Request,
                r#"{"method":"get_device_info","params":null}"#,
                "Request get_device_info",
            ),
            (
                Request,
                r#"{"method":"multipleRequest","params":{"requests":[{"method":"get_device_info"},{"method":"get_energy_usage"}]}}"#,
                "Request get_device_info, get_energy_usage",
            ),
            (
                Response,
                r#"{"error_code":0,"result":{"model":"P110(EU)","device_id":"D","nickname":"TGl2aW5nIHJvb20="}}"#,
                "Response error_code=0 P110(EU) \"Living room\"",
            ),
            (
                Response,
                r#"{"method":"get_device_info","error_code":0,"result":{"model":"P110(EU)"}}"#,
                "Response get_device_info error_code=0 P110(EU)",
            ),
            (
                Response,
                r#"{"error_code":0,"result":{"responses":[{"method":"get_device_info","error_code":0},{"method":"get_energy_usage","error_code":-1}]}}"#,
                "Response get_device_info error_code=0, get_energy_usage error_code=-1",
            ),
            (
                Response,
                r#"{"error_code":-1008}"#,
                "Response error_code=-1008",
            ),
            (Response, r#"{"result":{}}"#, "Response (no method)"),
        ];
        for (direction, text, want) in cases {
            assert_eq!(line(direction, text), want, "{text}");
        }
    }

    #[test]
    fn display_text_keeps_everything_visible() {
        assert_eq!(super::display_text("Küche ☕".as_bytes()), "Küche ☕");
        assert_eq!(super::display_text(b"a\0b\xffc"), "a\u{2400}b\u{fffd}c");
    }

    #[test]
    fn quoted_keeps_unicode() {
        let mut s = String::new();
        write_quoted(&mut s, "Büro 🛋\u{fe0f} \"x\"\n").unwrap();
        assert_eq!(s, "\"Büro 🛋\u{fe0f} \\\"x\\\"\\u{a}\"");
    }
}
