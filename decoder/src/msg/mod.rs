//! The message model: what one decrypted message says, independent of how it travelled.
//!
//! [`Body::analyse`] turns a plaintext into methods, error codes, context and device identity;
//! [`Message`] adds where and when it was seen, its problems and its pairing. One [`Display`]
//! (`Request system.get_sysinfo`, `Response system.get_sysinfo err_code=0 HS110(EU) "Kitchen"`)
//! feeds both the CLI line and the plugin's Info column.

mod body;
mod problem;

pub use body::{Body, Context, Device, Method};
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

/// Writes the one-line summary of a message body.
pub fn summary(f: &mut impl fmt::Write, direction: Direction, body: &Body) -> fmt::Result {
    f.write_str(match direction {
        Direction::Request => "Request",
        Direction::Response => "Response",
    })?;
    for (i, m) in body.methods.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        write!(f, "{}", m.name())?;
        if let Some(code) = m.err_code {
            write!(f, " err_code={code}")?;
        }
    }
    if body.methods.is_empty() {
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
    #[test]
    fn display_text_keeps_everything_visible() {
        assert_eq!(super::display_text("Küche ☕".as_bytes()), "Küche ☕");
        assert_eq!(super::display_text(b"a\0b\xffc"), "a\u{2400}b\u{fffd}c");
    }

    #[test]
    fn quoted_keeps_unicode() {
        let mut s = String::new();
        super::write_quoted(&mut s, "Büro 🛋\u{fe0f} \"x\"\n").unwrap();
        assert_eq!(s, "\"Büro 🛋\u{fe0f} \\\"x\\\"\\u{a}\"");
    }
}
