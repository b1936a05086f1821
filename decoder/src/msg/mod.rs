//! The message model: what one decrypted message says, independent of how it travelled.
//!
//! [`Body::analyse`] turns a plaintext into methods, error codes, context and device identity,
//! for both JSON dialects ([`Dialect`]: IOT `{"module":{"method":..}}`, SMART JSON-RPC);
//! [`Message`] adds where and when it was seen, its problems and its pairing. One
//! [`Display`](fmt::Display) feeds both the CLI line and the plugin's Info column:
//! `Request system.get_sysinfo`, `Response system.get_sysinfo err_code=0 HS110(EU) "Kitchen"`,
//! `Request get_device_info, get_energy_usage`, `Response error_code=0 P110(EU) "Living room"`.

mod body;
mod fast;
mod name;
mod problem;
mod smart;

pub use crate::wire::klap::KlapVersion;
pub use body::{Body, Call, Context, Device, Dialect, Method, MethodName, answers_all};
pub use name::Name;
pub use problem::{Problem, Severity};

use crate::wire::{aes, klap, ssl_aes, tdp};
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
    /// TDP discovery (UDP 20002/20004): a 16-byte header, then clear JSON.
    Tdp,
    /// KLAP: AES-128 inside HTTP POST bodies, keys from a two-step handshake.
    Klap,
    /// AES "securePassthrough": base64 AES-128 inside a JSON envelope, over HTTP.
    Aes,
    /// TPAP: TLS to the port a TDP reply announced; not decodable passively (a connection is
    /// marked, no message is read).
    Tpap,
    /// The device's own TLS connection to the vendor cloud (TCP 50443 or 443), read when
    /// Wireshark has the TLS secrets: the framings of [`crate::wire::cloud`].
    Cloud,
    /// Linkie v2 (Kasa cameras, HTTPS): base64 of XOR without header in HTTP POST bodies.
    Linkie,
}

impl Transport {
    /// The value of the `kasa.transport` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::XorTcp => "xor-tcp",
            Transport::XorUdp => "xor-udp",
            Transport::Tdp => "tdp",
            Transport::Klap => "klap",
            Transport::Aes => "aes",
            Transport::Tpap => "tpap",
            Transport::Cloud => "cloud",
            Transport::Linkie => "linkie",
        }
    }

    /// Whether messages travel in a byte stream (one conversation, in order) rather than one
    /// datagram each.
    pub fn is_stream(self) -> bool {
        match self {
            Transport::XorTcp
            | Transport::Klap
            | Transport::Aes
            | Transport::Tpap
            | Transport::Cloud
            | Transport::Linkie => true,
            Transport::XorUdp | Transport::Tdp => false,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// XOR over TCP: the 4-byte big-endian length header as it was on the wire (0 for the
    /// pre-2017 "runs to FIN" form).
    XorTcp { len_header: u32 },
    /// XOR over UDP: nothing beyond the datagram.
    XorUdp,
    /// TDP: the header, and what a reply says about the device's transports (boxed: the
    /// largest variant, and discovery is rare beside the messages every front end moves).
    Tdp(Box<TdpMeta>),
    /// KLAP: the step and what the session knows.
    Klap(Box<KlapMeta>),
    /// AES securePassthrough: the envelope and what the session knows.
    Aes(Box<AesMeta>),
    /// TPAP, visible only when Wireshark decrypted its TLS: a login step or a data frame.
    Tpap(Box<TpapMeta>),
    /// One message inside the cloud link's decrypted TLS: how it was framed, and the length
    /// prefix when it had one.
    Cloud {
        framing: crate::wire::cloud::Framing,
        len_header: Option<u32>,
    },
    /// Linkie: where the form field and the base64 text were.
    Linkie(Box<LinkieMeta>),
}

/// One Linkie v2 message (PROTOCOL.md §6): what the HTTP body carried. Offsets are into the
/// body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkieMeta {
    /// 2 for `/data/LINKIE2.json`, 1 for `/data/LINKIE.json` (a response: its request's).
    pub version: Option<u8>,
    /// A request: the form field's name (`content`) and where it is.
    pub field: Option<(String, core::ops::Range<usize>)>,
    /// Where the carried text is: the field's value (percent-encoded), a response's base64 or
    /// clear JSON; empty when the body did not parse.
    pub text_at: core::ops::Range<usize>,
    /// Length of the base64 text (a request's after percent-decoding).
    pub b64_len: usize,
    /// A response in clear JSON (a device's error answer), not base64(XOR(JSON)).
    pub clear: bool,
}

/// One TPAP message (PROTOCOL.md §6) to an endpoint a TDP reply announced, seen inside TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpapMeta {
    pub step: TpapStep,
    /// A login step's `params.sub_method` (a response: its request's): `discover`,
    /// `pake_register`, `pake_share`.
    pub sub_method: Option<String>,
    /// A data frame's sequence number: the `start_seq` of the session's `pake_share` answer
    /// plus the frames before it on the connection (`None` without that answer).
    pub seq: Option<i64>,
    /// A data frame's body length (AEAD ciphertext, not decryptable passively).
    pub data_len: usize,
}

/// The kind of a TPAP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpapStep {
    /// `POST /` with `{"method":"login","params":{"sub_method":…}}`, and its answer: clear JSON.
    Login,
    /// `POST /stok=…/ds` with a binary body, and its answer.
    Data,
}

/// A TDP datagram's header and CRC verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdpMeta {
    /// `None` when the datagram is shorter than the 16-byte header.
    pub header: Option<tdp::TdpHeader>,
    /// Whether the CRC verifies; `None` when it cannot be checked (no header, or bytes the
    /// capture did not keep).
    pub crc_ok: Option<bool>,
    /// The CRC the datagram should carry, when it does not.
    pub crc_computed: Option<u32>,
    /// A reply's transport hints and device identity.
    pub discovery: Option<Box<tdp::Discovery>>,
    /// A probe's RSA public key (`params.rsa_key`, PEM): the session matches it with the
    /// user's private keys, to read the reply's `encrypt_info`.
    pub probe_key: Option<String>,
    /// A reply's `encrypt_info` decrypted (or why not), when the user holds the probe's RSA
    /// key: the session decides it ([`crate::conv::Record::encrypt_info`]), the front end puts
    /// it here.
    pub encrypt_info: Option<Result<Vec<u8>, crate::wire::crypto::CryptoError>>,
}

/// One KLAP message (PROTOCOL.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlapMeta {
    pub step: KlapStep,
    /// The session's `TP_SESSIONID` cookie (set by the handshake1 reply, sent by later
    /// requests, and shown on their responses).
    pub session: Option<String>,
    /// The KLAP version, once a credential matched the handshake.
    pub version: Option<klap::KlapVersion>,
    /// Which credential matched: the user name of a user-supplied one, `default:…` for the
    /// known default accounts. Never a password.
    pub auth: Option<String>,
    /// Whether the plaintext was decrypted.
    pub decrypted: bool,
}

/// The KLAP step of a message, with the values it carries. Offsets are into the HTTP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlapStep {
    /// `POST /app/handshake1`: the client's 16-byte seed.
    Handshake1 { local_seed: [u8; 16] },
    /// Its answer: the device's seed and `server_hash` (bytes 0..16, 16..48).
    Handshake1Reply {
        remote_seed: [u8; 16],
        server_hash: [u8; 32],
    },
    /// `POST /app/handshake2`: `client_hash`; `verified` when a matched credential predicts it.
    Handshake2 {
        client_hash: [u8; 32],
        verified: Option<bool>,
    },
    /// `POST /app/request?seq=N`: signature (bytes 0..32) and ciphertext (32..).
    Request {
        seq: Option<i32>,
        signature: [u8; 32],
        /// Whether the signature verifies, when the session's keys are known.
        signature_ok: Option<bool>,
        ciphertext_len: usize,
    },
    /// The answer to a request: same layout; it uses its request's `seq`.
    Response {
        seq: Option<i32>,
        signature: [u8; 32],
        signature_ok: Option<bool>,
        ciphertext_len: usize,
    },
}

impl KlapStep {
    pub fn name(&self) -> &'static str {
        match self {
            KlapStep::Handshake1 { .. } => "handshake1",
            KlapStep::Handshake1Reply { .. } => "handshake1_reply",
            KlapStep::Handshake2 { .. } => "handshake2",
            KlapStep::Request { .. } => "request",
            KlapStep::Response { .. } => "response",
        }
    }
}

/// One AES securePassthrough message (PROTOCOL.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AesMeta {
    /// The envelope's method (a response: its request's).
    pub method: Option<aes::EnvelopeMethod>,
    /// The `TP_SESSIONID` (or `SESSIONID`) cookie: set by the handshake reply, sent by later
    /// requests, and shown on their responses.
    pub session: Option<String>,
    /// The `token` of the request URI (after login).
    pub token: Option<String>,
    /// The outer `error_code` of a response.
    pub error_code: Option<i64>,
    /// The body carries AES ciphertext (`params.request`, `result.response`, or the
    /// handshake's RSA-encrypted `result.key`).
    pub encrypted: bool,
    /// The plaintext is the decrypted inner JSON.
    pub decrypted: bool,
    /// `result.response` was clear JSON (some firmware), not ciphertext.
    pub clear_response: bool,
    /// SslAes (HTTPS, PROTOCOL.md §6): its login and headers; `None` for AES over HTTP.
    pub ssl: Option<Box<SslAesMeta>>,
}

/// What an SslAes message adds to the envelope's fields (a response: its request's login step
/// and `Seq`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslAesMeta {
    /// A login request's step; `None` on the data path `/stok=…/ds`.
    pub login: Option<ssl_aes::LoginStep>,
    /// The login's `cnonce`.
    pub cnonce: Option<String>,
    /// The device's `nonce` (its login answer, and the messages after it).
    pub nonce: Option<String>,
    /// Which credential's password the device's `device_confirm` proves: the user name of a
    /// user-supplied one, `default:…` for a known default. Never a password.
    pub auth: Option<String>,
    /// A login answer's `start_seq`.
    pub start_seq: Option<i64>,
    /// A data request's `Seq` header.
    pub seq: Option<i64>,
    /// A data request's `Tapo_tag` header.
    pub tag: Option<String>,
    /// Whether the tag verifies, when the session's password is known.
    pub tag_ok: Option<bool>,
}

impl Meta {
    pub fn transport(&self) -> Transport {
        match self {
            Meta::XorTcp { .. } => Transport::XorTcp,
            Meta::XorUdp => Transport::XorUdp,
            Meta::Tdp(_) => Transport::Tdp,
            Meta::Klap(_) => Transport::Klap,
            Meta::Aes(_) => Transport::Aes,
            Meta::Tpap(_) => Transport::Tpap,
            Meta::Cloud { .. } => Transport::Cloud,
            Meta::Linkie(_) => Transport::Linkie,
        }
    }

    /// The length header, for the transports that have one.
    pub fn len_header(&self) -> Option<u32> {
        match *self {
            Meta::XorTcp { len_header } => Some(len_header),
            Meta::Cloud { len_header, .. } => len_header,
            Meta::XorUdp
            | Meta::Tdp(_)
            | Meta::Klap(_)
            | Meta::Aes(_)
            | Meta::Tpap(_)
            | Meta::Linkie(_) => None,
        }
    }

    /// Whether the message's content is not readable here (encrypted, no key): the summary
    /// then says so instead of "(no method)".
    pub fn encrypted(&self) -> bool {
        match self {
            Meta::Klap(k) => {
                matches!(k.step, KlapStep::Request { .. } | KlapStep::Response { .. })
                    && !k.decrypted
            }
            Meta::Aes(a) => a.encrypted && !a.decrypted,
            Meta::Tpap(t) => t.step == TpapStep::Data,
            Meta::XorTcp { .. }
            | Meta::XorUdp
            | Meta::Tdp(_)
            | Meta::Linkie(_)
            | Meta::Cloud { .. } => false,
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
    /// A copy of an earlier datagram (mirror port, `any` interface): the original's frame. A
    /// copy is not paired.
    pub duplicate_of: Option<u64>,
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
    /// The device's endpoint, as the session decided it.
    pub device: SocketAddr,
    /// The device this message goes to or comes from, as an earlier `get_sysinfo` answer
    /// identified it (`None` when the message carries the identity itself).
    pub peer_device: Option<Arc<Device>>,
    /// The security findings that show at this message (the session's
    /// [`Record::findings`](crate::conv::Record)).
    pub findings: Vec<crate::audit::Finding>,
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
        message_summary(f, &self.meta, self.direction, &self.body)
    }
}

/// The summary of XOR bytes that decrypt to neither JSON nor text ([`Body::undecodable`]).
pub const UNDECODABLE: &str = "Malformed: neither JSON nor text";

/// Whether a message is bytes that are no message of this protocol: XOR bytes that decrypt
/// to neither JSON nor text ([`Body::undecodable`]; other transports say what they carry).
/// Shown as data, with the summary [`UNDECODABLE`].
pub fn undecodable(meta: &Meta, body: &Body) -> bool {
    body.undecodable && matches!(meta, Meta::XorTcp { .. } | Meta::XorUdp)
}

/// The one-line summary of any message: [`summary`] for decoded JSON, with the words of the
/// transport where its steps are not JSON methods: `Discovery probe`, `Discovery reply
/// error_code=0 P110(FR)`, `KLAP handshake1`, `KLAP handshake1 reply (v2, default:kasa)`,
/// `Request seq=-5 (encrypted)`, `Request securePassthrough (encrypted)`; XOR bytes that
/// decrypt to neither JSON nor text: [`UNDECODABLE`].
pub fn message_summary(
    f: &mut impl fmt::Write,
    meta: &Meta,
    direction: Direction,
    body: &Body,
) -> fmt::Result {
    if undecodable(meta, body) {
        // Bytes that are not this protocol: nothing in them says which way they go.
        return f.write_str(UNDECODABLE);
    }
    match meta {
        Meta::Tdp(_) => {
            f.write_str(match direction {
                Direction::Request => "Discovery probe",
                Direction::Response => "Discovery reply",
            })?;
            return summary_items(f, body, false);
        }
        Meta::Klap(k) => match k.step {
            KlapStep::Handshake1 { .. } => return f.write_str("KLAP handshake1"),
            KlapStep::Handshake2 { .. } => return f.write_str("KLAP handshake2"),
            KlapStep::Handshake1Reply { .. } => {
                f.write_str("KLAP handshake1 reply")?;
                return match (k.version, &k.auth) {
                    (Some(v), Some(a)) => write!(f, " (v{}, {a})", v.number()),
                    _ => f.write_str(" (no credential matches)"),
                };
            }
            KlapStep::Request { seq, .. } | KlapStep::Response { seq, .. } if !k.decrypted => {
                f.write_str(match direction {
                    Direction::Request => "Request",
                    Direction::Response => "Response",
                })?;
                if let Some(seq) = seq {
                    write!(f, " seq={seq}")?;
                }
                return f.write_str(" (encrypted)");
            }
            _ => {}
        },
        Meta::Aes(a) if a.encrypted && !a.decrypted => {
            summary(f, direction, body)?;
            return f.write_str(" (encrypted)");
        }
        Meta::Tpap(t) => {
            f.write_str("TPAP")?;
            match t.step {
                TpapStep::Login => {
                    f.write_str(" login")?;
                    if let Some(m) = &t.sub_method {
                        write!(f, " {m}")?;
                    }
                    if direction == Direction::Response {
                        f.write_str(" reply")?;
                        if let Some(code) = body.error_code {
                            write!(f, " error_code={code}")?;
                        }
                    }
                    return Ok(());
                }
                TpapStep::Data => {
                    f.write_str(match direction {
                        Direction::Request => " data",
                        Direction::Response => " data reply",
                    })?;
                    if let Some(seq) = t.seq {
                        write!(f, " seq={seq}")?;
                    }
                    return f.write_str(" (encrypted)");
                }
            }
        }
        Meta::XorTcp { .. }
        | Meta::XorUdp
        | Meta::Aes(_)
        | Meta::Linkie(_)
        | Meta::Cloud { .. } => {}
    }
    summary(f, direction, body)
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
    summary_items(f, body, true)
}

/// The methods, codes and device of [`summary`], after its first word; `(no method)` when
/// there is nothing and `none` is set.
fn summary_items(f: &mut impl fmt::Write, body: &Body, none: bool) -> fmt::Result {
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
    if items == 0 && none {
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
