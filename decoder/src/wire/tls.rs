//! TLS as a passive observer sees it (RFC 5246 §6.2, §7.4; RFC 8446 §4, §5.1): the record
//! layer, handshake messages put back together across records, the ClientHello's server name
//! and the certificates of a Certificate message. Nothing is decrypted.
//!
//! ```text
//! record:    content_type (1) | version (2) | length (2) | payload (length ≤ 2^14 + 2048)
//! handshake: msg_type (1) | length (3) | body (length bytes), any number per record, and a
//!            message may span records
//! ```
//!
//! * [`RecordHeader`] reads any 5 bytes; [`is_record_start`] says whether they are plausibly a
//!   record (known content type, version 0x0300..=0x0304, length within the limit).
//! * [`RecordSplitter`] cuts one direction of a reassembled TCP stream into records, fed in
//!   pieces; it keeps the payload of every record but application data (which is only
//!   counted), resynchronises after bytes the capture lost, and stops with a [`TlsError`] on
//!   bytes that cannot be a record.
//! * [`HandshakeReader`] takes the payloads of one direction's handshake records and gives back
//!   whole messages; it stops at ChangeCipherSpec (the handshake that follows is encrypted) and
//!   caps what it buffers ([`DEFAULT_HANDSHAKE_CAP`]).
//! * [`parse_client_hello`] and [`parse_certificates`] read those two messages' bodies.
//!
//! Nothing here panics, and no buffer grows past one record (the splitter) or the cap (the
//! handshake reader), whatever a length field says.

use core::fmt;
use core::ops::Range;

/// Bytes of a record header.
pub const HEADER_LEN: usize = 5;
/// The largest record payload allowed (TLSCiphertext, RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Bytes of a handshake message header.
pub const HANDSHAKE_HEADER_LEN: usize = 4;
/// The longest handshake message [`HandshakeReader::new`] reassembles (a certificate chain of
/// a dozen certificates fits many times over).
pub const DEFAULT_HANDSHAKE_CAP: usize = 1 << 17;
/// Certificates [`parse_certificates`] returns at most.
pub const MAX_CERTIFICATES: usize = 32;
/// Bytes a [`RecordSplitter`] discards while looking for a record boundary after lost bytes
/// (or from the start of a stream joined mid-way) before it gives up: no boundary is looked
/// for further than this from where the hunt began.
pub const HUNT_LIMIT: u64 = 256 << 10;

/// Content types (RFC 8446 §5.1, RFC 6520).
pub mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
pub mod handshake {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
}

/// The five content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    ChangeCipherSpec,
    Alert,
    Handshake,
    ApplicationData,
    Heartbeat,
}

impl ContentType {
    pub fn from_u8(b: u8) -> Option<ContentType> {
        Some(match b {
            content::CHANGE_CIPHER_SPEC => ContentType::ChangeCipherSpec,
            content::ALERT => ContentType::Alert,
            content::HANDSHAKE => ContentType::Handshake,
            content::APPLICATION_DATA => ContentType::ApplicationData,
            content::HEARTBEAT => ContentType::Heartbeat,
            _ => return None,
        })
    }

    pub fn as_u8(self) -> u8 {
        match self {
            ContentType::ChangeCipherSpec => content::CHANGE_CIPHER_SPEC,
            ContentType::Alert => content::ALERT,
            ContentType::Handshake => content::HANDSHAKE,
            ContentType::ApplicationData => content::APPLICATION_DATA,
            ContentType::Heartbeat => content::HEARTBEAT,
        }
    }

    /// The RFC's name: `change_cipher_spec`, `alert`, `handshake`, `application_data`,
    /// `heartbeat`.
    pub fn name(self) -> &'static str {
        match self {
            ContentType::ChangeCipherSpec => "change_cipher_spec",
            ContentType::Alert => "alert",
            ContentType::Handshake => "handshake",
            ContentType::ApplicationData => "application_data",
            ContentType::Heartbeat => "heartbeat",
        }
    }
}

/// The RFC's name of a handshake message type (`client_hello`, `certificate`, …).
pub fn handshake_name(msg_type: u8) -> Option<&'static str> {
    use handshake::*;
    Some(match msg_type {
        HELLO_REQUEST => "hello_request",
        CLIENT_HELLO => "client_hello",
        SERVER_HELLO => "server_hello",
        NEW_SESSION_TICKET => "new_session_ticket",
        ENCRYPTED_EXTENSIONS => "encrypted_extensions",
        CERTIFICATE => "certificate",
        SERVER_KEY_EXCHANGE => "server_key_exchange",
        CERTIFICATE_REQUEST => "certificate_request",
        SERVER_HELLO_DONE => "server_hello_done",
        CERTIFICATE_VERIFY => "certificate_verify",
        CLIENT_KEY_EXCHANGE => "client_key_exchange",
        FINISHED => "finished",
        _ => return None,
    })
}

/// `SSL 3.0`, `TLS 1.0` … `TLS 1.3` for 0x0300..=0x0304.
pub fn version_name(version: u16) -> Option<&'static str> {
    Some(match version {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => return None,
    })
}

mod field {
    pub const CONTENT_TYPE: usize = 0;
    pub const VERSION: core::ops::Range<usize> = 1..3;
    pub const LENGTH: core::ops::Range<usize> = 3..5;
}

/// Why TLS bytes could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsError {
    /// `what` needs `needed` bytes where only `available` are (a cut structure, or a length
    /// field that says more than its container holds).
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// Where a record header should start (stream offset `offset`), bytes that cannot be one.
    NotARecord {
        offset: u64,
        header: [u8; HEADER_LEN],
    },
    /// After bytes the capture lost, no record boundary was found in `scanned` bytes.
    NoSync { scanned: u64 },
    /// A handshake message longer than the reader's cap.
    TooLong {
        msg_type: u8,
        len: usize,
        cap: usize,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TlsError::Truncated {
                what,
                needed,
                available,
            } => write!(f, "TLS {what} needs {needed} bytes, {available} present"),
            TlsError::NotARecord { offset, header: h } => write!(
                f,
                "not a TLS record at stream offset {offset}: {:02x} {:02x} {:02x} {:02x} {:02x}",
                h[0], h[1], h[2], h[3], h[4]
            ),
            TlsError::NoSync { scanned } => write!(
                f,
                "no TLS record boundary found in {scanned} bytes after lost bytes"
            ),
            TlsError::TooLong { msg_type, len, cap } => write!(
                f,
                "TLS handshake message {} of {len} bytes is longer than the {cap}-byte cap",
                handshake_name(msg_type)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("type {msg_type}"))
            ),
        }
    }
}

impl std::error::Error for TlsError {}

fn truncated(what: &'static str, needed: usize, available: usize) -> TlsError {
    TlsError::Truncated {
        what,
        needed,
        available,
    }
}

/// A record header, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    /// Payload bytes after the header.
    pub len: u16,
}

impl RecordHeader {
    /// Reads the first 5 bytes (any values); Err only if there are fewer.
    pub fn parse(buf: &[u8]) -> Result<RecordHeader, TlsError> {
        let h: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(truncated("record header", HEADER_LEN, buf.len()))?;
        Ok(RecordHeader::from_bytes(h))
    }

    pub fn from_bytes(h: &[u8; HEADER_LEN]) -> RecordHeader {
        let (v, l) = (field::VERSION.start, field::LENGTH.start);
        RecordHeader {
            content_type: h[field::CONTENT_TYPE],
            version: u16::from_be_bytes([h[v], h[v + 1]]),
            len: u16::from_be_bytes([h[l], h[l + 1]]),
        }
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [v0, v1] = self.version.to_be_bytes();
        let [l0, l1] = self.len.to_be_bytes();
        [self.content_type, v0, v1, l0, l1]
    }

    pub fn content(&self) -> Option<ContentType> {
        ContentType::from_u8(self.content_type)
    }

    /// A known content type, version 0x0300..=0x0304, length ≤ [`MAX_RECORD_LEN`].
    pub fn is_plausible(&self) -> bool {
        self.content().is_some()
            && (0x0300..=0x0304).contains(&self.version)
            && usize::from(self.len) <= MAX_RECORD_LEN
    }

    /// Header and payload.
    pub fn record_len(&self) -> usize {
        HEADER_LEN + usize::from(self.len)
    }
}

impl fmt::Display for RecordHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.content() {
            Some(c) => write!(f, "TLS {}", c.name())?,
            None => write!(f, "TLS type {}", self.content_type)?,
        }
        match version_name(self.version) {
            Some(v) => write!(f, " {v}")?,
            None => write!(f, " version 0x{:04x}", self.version)?,
        }
        write!(f, " len={}", self.len)
    }
}

/// Whether `bytes` start with a plausible record header ([`RecordHeader::is_plausible`]);
/// false for fewer than 5 bytes.
pub fn is_record_start(bytes: &[u8]) -> bool {
    RecordHeader::parse(bytes).is_ok_and(|h| h.is_plausible())
}

// ---------------------------------------------------------------------------------------------
// Handshake messages.

/// Whole handshake messages out of one direction's handshake record payloads.
#[derive(Debug, Clone)]
pub struct HandshakeReader {
    /// A message begun in an earlier record (its header, maybe part of its body).
    buf: Vec<u8>,
    cap: usize,
    state: HsState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HsState {
    Open,
    /// After ChangeCipherSpec: what follows is encrypted.
    Encrypted,
    /// A message over the cap, or lost bytes: nothing more is read.
    Stopped,
}

impl Default for HandshakeReader {
    fn default() -> Self {
        Self::new()
    }
}

impl HandshakeReader {
    /// A reader with the [`DEFAULT_HANDSHAKE_CAP`].
    pub fn new() -> HandshakeReader {
        Self::with_cap(DEFAULT_HANDSHAKE_CAP)
    }

    /// A reader that refuses messages longer than `cap` bytes.
    pub fn with_cap(cap: usize) -> HandshakeReader {
        HandshakeReader {
            buf: Vec::new(),
            cap,
            state: HsState::Open,
        }
    }

    /// Whether handshake payloads are still read (no ChangeCipherSpec, cap or loss yet).
    pub fn is_open(&self) -> bool {
        self.state == HsState::Open
    }

    /// Bytes held for a message not yet complete (at most 4 + the cap).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// This direction sent ChangeCipherSpec: later handshake records are encrypted and are
    /// ignored.
    pub fn change_cipher_spec(&mut self) {
        if self.state == HsState::Open {
            self.state = HsState::Encrypted;
        }
        self.buf = Vec::new();
    }

    /// The capture lost bytes of a handshake record: the messages cannot be put together
    /// again; later payloads are ignored.
    pub fn lost(&mut self) {
        self.state = HsState::Stopped;
        self.buf = Vec::new();
    }

    /// The payload of one handshake record: `out(msg_type, body)` for every message it
    /// completes, in order. A message claiming more than the cap stops the reader with
    /// [`TlsError::TooLong`]; after that, or after [`change_cipher_spec`](Self::change_cipher_spec),
    /// payloads are ignored (`Ok`).
    pub fn push(
        &mut self,
        mut payload: &[u8],
        out: &mut impl FnMut(u8, &[u8]),
    ) -> Result<(), TlsError> {
        if self.state != HsState::Open {
            return Ok(());
        }
        while !payload.is_empty() {
            if self.buf.is_empty() {
                // Whole messages straight from the payload, without copying.
                let Some((msg_type, len)) = message_header(payload) else {
                    self.buf.extend_from_slice(payload);
                    return Ok(());
                };
                self.check_len(msg_type, len)?;
                match payload.get(HANDSHAKE_HEADER_LEN..HANDSHAKE_HEADER_LEN + len) {
                    Some(body) => {
                        out(msg_type, body);
                        payload = payload.get(HANDSHAKE_HEADER_LEN + len..).unwrap_or(&[]);
                    }
                    None => {
                        self.buf.extend_from_slice(payload);
                        return Ok(());
                    }
                }
            } else {
                // A message begun earlier: complete its header, then its body.
                if self.buf.len() < HANDSHAKE_HEADER_LEN {
                    let take = (HANDSHAKE_HEADER_LEN - self.buf.len()).min(payload.len());
                    let (head, rest) = payload.split_at(take);
                    self.buf.extend_from_slice(head);
                    payload = rest;
                }
                let Some((msg_type, len)) = message_header(&self.buf) else {
                    return Ok(());
                };
                self.check_len(msg_type, len)?;
                let need = HANDSHAKE_HEADER_LEN + len - self.buf.len();
                let (body, rest) = payload.split_at(need.min(payload.len()));
                self.buf.extend_from_slice(body);
                payload = rest;
                if self.buf.len() == HANDSHAKE_HEADER_LEN + len {
                    out(
                        msg_type,
                        self.buf.get(HANDSHAKE_HEADER_LEN..).unwrap_or(&[]),
                    );
                    self.buf.clear();
                }
            }
        }
        Ok(())
    }

    fn check_len(&mut self, msg_type: u8, len: usize) -> Result<(), TlsError> {
        if len > self.cap {
            self.lost();
            return Err(TlsError::TooLong {
                msg_type,
                len,
                cap: self.cap,
            });
        }
        Ok(())
    }
}

/// Type and body length of the handshake message at the start of `b`, if its header is there.
fn message_header(b: &[u8]) -> Option<(u8, usize)> {
    match b {
        [t, l0, l1, l2, ..] => Some((*t, u24(*l0, *l1, *l2))),
        _ => None,
    }
}

fn u24(a: u8, b: u8, c: u8) -> usize {
    (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c)
}

/// A never-failing cursor over a body; every read says what it was reading.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cursor { b, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TlsError> {
        let available = self.b.len().saturating_sub(self.pos);
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(truncated(what, n, available))?;
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, TlsError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, TlsError> {
        let s = self.take(2, what)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    fn u24(&mut self, what: &'static str) -> Result<usize, TlsError> {
        let s = self.take(3, what)?;
        Ok(u24(s[0], s[1], s[2]))
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.b.len()
    }
}

/// What a ClientHello says that the cloud link cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `client_version` (0x0303 for TLS 1.2 and, by RFC 8446's rule, for TLS 1.3 too).
    pub version: u16,
    /// The first `host_name` of the server_name extension (RFC 6066 §3), read lossily as
    /// UTF-8; `None` when the extension is absent.
    pub sni: Option<String>,
}

/// Extension type of server_name.
pub const EXT_SERVER_NAME: u16 = 0;

/// Reads a ClientHello body (after the 4-byte handshake header): version, random, session id,
/// cipher suites, compression methods, then the extensions, which may be absent.
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, TlsError> {
    let mut c = Cursor::new(body);
    let version = c.u16("ClientHello version")?;
    c.take(32, "ClientHello random")?;
    let n = c.u8("ClientHello session id length")?;
    c.take(usize::from(n), "ClientHello session id")?;
    let n = c.u16("ClientHello cipher suites length")?;
    c.take(usize::from(n), "ClientHello cipher suites")?;
    let n = c.u8("ClientHello compression methods length")?;
    c.take(usize::from(n), "ClientHello compression methods")?;
    let mut sni = None;
    if !c.is_empty() {
        let n = c.u16("ClientHello extensions length")?;
        let mut exts = Cursor::new(c.take(usize::from(n), "ClientHello extensions")?);
        while !exts.is_empty() {
            let kind = exts.u16("extension type")?;
            let n = exts.u16("extension length")?;
            let data = exts.take(usize::from(n), "extension data")?;
            if kind == EXT_SERVER_NAME && sni.is_none() {
                sni = server_name(data)?;
            }
        }
    }
    Ok(ClientHello { version, sni })
}

/// The first host_name of a server_name extension's data.
fn server_name(data: &[u8]) -> Result<Option<String>, TlsError> {
    let mut c = Cursor::new(data);
    if c.is_empty() {
        // An empty server_name extension: what a server sends back (RFC 6066 §3).
        return Ok(None);
    }
    let n = c.u16("server_name list length")?;
    let mut list = Cursor::new(c.take(usize::from(n), "server_name list")?);
    while !list.is_empty() {
        let kind = list.u8("server_name type")?;
        let n = list.u16("server_name length")?;
        let name = list.take(usize::from(n), "server_name")?;
        if kind == 0 {
            return Ok(Some(String::from_utf8_lossy(name).into_owned()));
        }
    }
    Ok(None)
}

/// The DER certificates of a TLS 1.2 Certificate message body (3-byte list length, then
/// 3-byte-length-prefixed certificates), the sender's own first; at most
/// [`MAX_CERTIFICATES`]. The list length must fit the body; an entry that runs past it is an
/// error.
pub fn parse_certificates(body: &[u8]) -> Result<Vec<&[u8]>, TlsError> {
    let mut c = Cursor::new(body);
    let n = c.u24("certificate list length")?;
    let mut list = Cursor::new(c.take(n, "certificate list")?);
    let mut certs = Vec::new();
    while !list.is_empty() && certs.len() < MAX_CERTIFICATES {
        let n = list.u24("certificate length")?;
        certs.push(list.take(n, "certificate")?);
    }
    Ok(certs)
}

// ---------------------------------------------------------------------------------------------
// Records out of a stream.

/// One record of a stream, handed out by [`RecordSplitter`] when its last byte arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub header: RecordHeader,
    /// Stream offset of the header's first byte.
    pub offset: u64,
    /// The payload, for every complete record but application data (counted, not kept).
    pub payload: Option<&'a [u8]>,
    /// False when the capture lost some of the payload's bytes.
    pub complete: bool,
}

impl Record<'_> {
    /// Stream offsets of the payload.
    pub fn payload_range(&self) -> Range<u64> {
        let start = self.offset.saturating_add(HEADER_LEN as u64);
        start..start.saturating_add(u64::from(self.header.len))
    }
}

/// Cuts one direction of a TCP stream into TLS records. Feed it the reassembled bytes in
/// pieces ([`push`](Self::push)) and the lengths of holes ([`gap`](Self::gap)); it holds at
/// most one record's payload (none for application data), or, while resynchronising, about two
/// records.
#[derive(Debug, Clone)]
pub struct RecordSplitter {
    state: Split,
    /// Stream offset of the next byte.
    offset: u64,
    /// Version of the last good record, which a resynchronisation must match.
    version: Option<u16>,
    /// Bytes discarded in the current hunt for a boundary.
    hunted: u64,
}

#[derive(Debug, Clone)]
enum Split {
    /// Reading a header: `have` bytes of it so far.
    Header {
        head: [u8; HEADER_LEN],
        have: usize,
    },
    /// Reading a payload.
    Payload {
        header: RecordHeader,
        start: u64,
        remaining: usize,
        /// The payload so far, unless application data or incomplete.
        kept: Option<Vec<u8>>,
        complete: bool,
    },
    /// Looking for a record boundary: `buf` holds the stream from offset `start` on.
    Hunting {
        buf: Vec<u8>,
        start: u64,
    },
    Stopped,
}

/// Bytes appended to the hunting buffer at a time (bounds it whatever a push holds).
const HUNT_STEP: usize = 4096;

impl Default for RecordSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordSplitter {
    /// For a stream whose first byte starts a record (the connection's start was captured).
    pub fn new() -> RecordSplitter {
        RecordSplitter {
            state: Split::Header {
                head: [0; HEADER_LEN],
                have: 0,
            },
            offset: 0,
            version: None,
            hunted: 0,
        }
    }

    /// For a stream joined in the middle: the first record boundary is looked for (two
    /// plausible headers in a row, of the same version), as after lost bytes.
    pub fn hunting() -> RecordSplitter {
        RecordSplitter {
            state: Split::Hunting {
                buf: Vec::new(),
                start: 0,
            },
            ..Self::new()
        }
    }

    /// Whether the splitter gave up (after returning its error once).
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, Split::Stopped)
    }

    /// Whether it is looking for a record boundary.
    pub fn is_hunting(&self) -> bool {
        matches!(self.state, Split::Hunting { .. })
    }

    /// Stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next bytes of the stream: `out` gets every record they complete. Bytes that cannot
    /// start a record stop the splitter with [`TlsError::NotARecord`]; a hunt that discarded
    /// [`HUNT_LIMIT`] bytes stops it with [`TlsError::NoSync`]. After that, pushes are ignored
    /// (`Ok`).
    pub fn push(&mut self, bytes: &[u8], out: &mut impl FnMut(Record<'_>)) -> Result<(), TlsError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            match &mut self.state {
                Split::Stopped => return Ok(()),
                Split::Hunting { .. } => {
                    let (step, after) = rest.split_at(rest.len().min(HUNT_STEP));
                    rest = after;
                    if let Some(found) = self.hunt(step)? {
                        // Back in step: the buffered bytes from the boundary on are read as
                        // a stream.
                        self.push(&found, out)?;
                    }
                }
                _ => {
                    let used = self.in_sync(rest, out)?;
                    rest = rest.get(used..).unwrap_or(&[]);
                }
            }
        }
        Ok(())
    }

    /// `len` bytes of the stream the capture does not hold. Inside a record whose header was
    /// read, the record is handed out (incomplete) at its end; otherwise the splitter looks
    /// for the next record boundary.
    pub fn gap(&mut self, len: u64, out: &mut impl FnMut(Record<'_>)) {
        if len == 0 {
            return;
        }
        self.offset = self.offset.saturating_add(len);
        match &mut self.state {
            Split::Stopped => {}
            Split::Payload {
                header,
                start,
                remaining,
                kept,
                complete,
            } => {
                *kept = None;
                *complete = false;
                if len < *remaining as u64 {
                    *remaining -= len as usize;
                } else {
                    let beyond = len - *remaining as u64;
                    let record = Record {
                        header: *header,
                        offset: *start,
                        payload: None,
                        complete: false,
                    };
                    out(record);
                    self.state = if beyond == 0 {
                        Split::Header {
                            head: [0; HEADER_LEN],
                            have: 0,
                        }
                    } else {
                        Split::Hunting {
                            buf: Vec::new(),
                            start: self.offset,
                        }
                    };
                }
            }
            Split::Header { have, .. } => {
                self.hunted = self.hunted.saturating_add(*have as u64);
                self.state = Split::Hunting {
                    buf: Vec::new(),
                    start: self.offset,
                };
            }
            Split::Hunting { buf, start } => {
                self.hunted = self.hunted.saturating_add(buf.len() as u64);
                *buf = Vec::new();
                *start = self.offset;
            }
        }
    }

    /// Reads records from `bytes` while in step; returns how many bytes it used (all of them,
    /// or up to where it stopped).
    fn in_sync(
        &mut self,
        bytes: &[u8],
        out: &mut impl FnMut(Record<'_>),
    ) -> Result<usize, TlsError> {
        let mut used = 0;
        while used < bytes.len() {
            let rest = bytes.get(used..).unwrap_or(&[]);
            if matches!(self.state, Split::Header { have: 0, .. })
                && let Some(n) = self.whole_record(rest, out)?
            {
                used += n;
                continue;
            }
            match &mut self.state {
                Split::Header { head, have } => {
                    let take = (HEADER_LEN - *have).min(rest.len());
                    if let (Some(dst), Some(src)) =
                        (head.get_mut(*have..*have + take), rest.get(..take))
                    {
                        dst.copy_from_slice(src);
                    }
                    *have += take;
                    used += take;
                    self.offset = self.offset.saturating_add(take as u64);
                    if *have == HEADER_LEN {
                        let head = *head;
                        self.start_record(&head, out)?;
                    }
                }
                Split::Payload {
                    remaining, kept, ..
                } => {
                    let take = (*remaining).min(rest.len());
                    if let Some(k) = kept {
                        k.extend_from_slice(rest.get(..take).unwrap_or(&[]));
                    }
                    *remaining -= take;
                    used += take;
                    self.offset = self.offset.saturating_add(take as u64);
                    if *remaining == 0 {
                        self.finish_record(out);
                    }
                }
                Split::Hunting { .. } | Split::Stopped => break,
            }
        }
        Ok(used)
    }

    /// At a record boundary with a whole record in `rest`: hands it out without copying.
    fn whole_record(
        &mut self,
        rest: &[u8],
        out: &mut impl FnMut(Record<'_>),
    ) -> Result<Option<usize>, TlsError> {
        let Ok(header) = RecordHeader::parse(rest) else {
            return Ok(None);
        };
        self.check(&header)?;
        let Some(payload) = rest.get(HEADER_LEN..header.record_len()) else {
            return Ok(None);
        };
        let record = Record {
            header,
            offset: self.offset,
            payload: (header.content_type != content::APPLICATION_DATA).then_some(payload),
            complete: true,
        };
        out(record);
        self.offset = self.offset.saturating_add(header.record_len() as u64);
        Ok(Some(header.record_len()))
    }

    fn check(&mut self, header: &RecordHeader) -> Result<(), TlsError> {
        if !header.is_plausible() {
            let err = TlsError::NotARecord {
                offset: self.offset,
                header: header.to_bytes(),
            };
            self.state = Split::Stopped;
            return Err(err);
        }
        self.version = Some(header.version);
        Ok(())
    }

    /// A whole header was read (the last of its bytes at `self.offset - 1`).
    fn start_record(
        &mut self,
        head: &[u8; HEADER_LEN],
        out: &mut impl FnMut(Record<'_>),
    ) -> Result<(), TlsError> {
        let header = RecordHeader::from_bytes(head);
        let start = self.offset.saturating_sub(HEADER_LEN as u64);
        if !header.is_plausible() {
            self.state = Split::Stopped;
            return Err(TlsError::NotARecord {
                offset: start,
                header: *head,
            });
        }
        self.version = Some(header.version);
        let len = usize::from(header.len);
        self.state = Split::Payload {
            header,
            start,
            remaining: len,
            // Grown with the bytes that arrive, not reserved by the header's length: a header
            // alone must not cost 18 KiB.
            kept: (header.content_type != content::APPLICATION_DATA).then(Vec::new),
            complete: true,
        };
        if len == 0 {
            self.finish_record(out);
        }
        Ok(())
    }

    fn finish_record(&mut self, out: &mut impl FnMut(Record<'_>)) {
        let state = core::mem::replace(
            &mut self.state,
            Split::Header {
                head: [0; HEADER_LEN],
                have: 0,
            },
        );
        if let Split::Payload {
            header,
            start,
            kept,
            complete,
            ..
        } = state
        {
            out(Record {
                header,
                offset: start,
                payload: kept.as_deref(),
                complete,
            });
        }
    }

    /// One step of the hunt: appends `step`, looks for two plausible headers in a row (of the
    /// last good record's version, when known). Returns the bytes from the boundary on once
    /// found (the splitter is then in step at that boundary).
    fn hunt(&mut self, step: &[u8]) -> Result<Option<Vec<u8>>, TlsError> {
        let Split::Hunting { buf, start } = &mut self.state else {
            return Ok(None);
        };
        buf.extend_from_slice(step);
        self.offset = self.offset.saturating_add(step.len() as u64);
        let mut i = 0;
        let mut found = false;
        let mut give_up = false;
        while i + HEADER_LEN <= buf.len() {
            // No boundary is looked for past the limit, however the stream was cut.
            if self.hunted.saturating_add(i as u64) >= HUNT_LIMIT {
                give_up = true;
                break;
            }
            let Ok(h) = RecordHeader::parse(buf.get(i..).unwrap_or(&[])) else {
                break;
            };
            if h.is_plausible() && self.version.is_none_or(|v| v == h.version) {
                let j = i + h.record_len();
                match buf.get(j..).map(RecordHeader::parse) {
                    Some(Ok(h2)) => {
                        if h2.is_plausible() && h2.version == h.version {
                            found = true;
                            break;
                        }
                    }
                    // The next header is not here yet: wait for more bytes.
                    _ => break,
                }
            }
            i += 1;
        }
        self.hunted = self.hunted.saturating_add(i as u64);
        let boundary = start.saturating_add(i as u64);
        buf.drain(..i);
        *start = boundary;
        if found {
            let bytes = core::mem::take(buf);
            self.state = Split::Header {
                head: [0; HEADER_LEN],
                have: 0,
            };
            self.offset = boundary;
            self.hunted = 0;
            return Ok(Some(bytes));
        }
        if give_up {
            let scanned = self.hunted;
            self.state = Split::Stopped;
            return Err(TlsError::NoSync { scanned });
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record: header (type, version 0x0303, length) and payload.
    fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 0x03, 0x03];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    /// A handshake message: type, 3-byte length, body.
    fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
        let len = (body.len() as u32).to_be_bytes();
        [&[msg_type, len[1], len[2], len[3]][..], body].concat()
    }

    /// A ClientHello body as the HS110 sends it, shortened: client_version 0x0303, random,
    /// empty session id, two suites, null compression, then the extensions given.
    fn client_hello_body(extensions: Option<&[u8]>) -> Vec<u8> {
        let mut b = vec![0x03, 0x03]; // client_version TLS 1.2
        b.extend_from_slice(&[0xa5; 32]); // random
        b.push(0); // session id: empty
        b.extend_from_slice(&[0, 4, 0xc0, 0x2f, 0x00, 0x2f]); // 2 cipher suites
        b.extend_from_slice(&[1, 0]); // compression: null
        if let Some(e) = extensions {
            b.extend_from_slice(&(e.len() as u16).to_be_bytes());
            b.extend_from_slice(e);
        }
        b
    }

    /// server_name extension for `name`: type 0, length, list length, host_name (0), length.
    fn sni_extension(name: &[u8]) -> Vec<u8> {
        let n = name.len() as u16;
        let mut e = vec![0, 0];
        e.extend_from_slice(&(n + 5).to_be_bytes()); // extension length
        e.extend_from_slice(&(n + 3).to_be_bytes()); // server_name_list length
        e.push(0); // host_name
        e.extend_from_slice(&n.to_be_bytes());
        e.extend_from_slice(name);
        e
    }

    /// ec_point_formats (0x000b), an extension that is not server_name.
    const EC_POINT_FORMATS: [u8; 6] = [0x00, 0x0b, 0x00, 0x02, 0x01, 0x00];

    #[test]
    fn test_header() {
        let h = RecordHeader::parse(&[0x17, 0x03, 0x03, 0x00, 0xf7, 0xa5]).unwrap();
        assert_eq!(
            h,
            RecordHeader {
                content_type: content::APPLICATION_DATA,
                version: 0x0303,
                len: 247
            }
        );
        assert_eq!(h.content(), Some(ContentType::ApplicationData));
        assert_eq!(h.to_bytes(), [0x17, 0x03, 0x03, 0x00, 0xf7]);
        assert_eq!(h.record_len(), 252);
        assert_eq!(h.to_string(), "TLS application_data TLS 1.2 len=247");
        let odd = RecordHeader::parse(&[0x63, 0x12, 0x34, 0xff, 0xff]).unwrap();
        assert_eq!(odd.to_string(), "TLS type 99 version 0x1234 len=65535");
        for cut in 0..HEADER_LEN {
            assert_eq!(
                RecordHeader::parse(&[0x16; 5][..cut]),
                Err(truncated("record header", 5, cut))
            );
            assert!(!is_record_start(&[0x16, 3, 1, 0, 5][..cut]));
        }
        for t in 20..=24u8 {
            let c = ContentType::from_u8(t).unwrap();
            assert_eq!(c.as_u8(), t);
            assert!(is_record_start(&[t, 3, 1, 0, 5]));
        }
        assert_eq!(ContentType::Handshake.name(), "handshake");
        assert_eq!(handshake_name(11), Some("certificate"));
        assert_eq!(handshake_name(99), None);
    }

    #[test]
    fn record_start_plausibility() {
        // The HS110's ClientHello record header: handshake, version 0x0301.
        assert!(is_record_start(&[0x16, 0x03, 0x01, 0x00, 0xc5]));
        assert!(is_record_start(&[0x16, 0x03, 0x00, 0x00, 0x00]));
        assert!(is_record_start(&[0x17, 0x03, 0x04, 0x48, 0x00])); // 2^14 + 2048
        assert!(!is_record_start(&[0x17, 0x03, 0x04, 0x48, 0x01])); // one more
        assert!(!is_record_start(&[0x19, 0x03, 0x03, 0x00, 0x10])); // type 25
        assert!(!is_record_start(&[0x13, 0x03, 0x03, 0x00, 0x10])); // type 19
        assert!(!is_record_start(&[0x16, 0x03, 0x05, 0x00, 0x10])); // version 0x0305
        assert!(!is_record_start(&[0x16, 0x02, 0x00, 0x00, 0x10])); // SSL 2
        assert!(!is_record_start(b"POST /app HTTP/1.1"));
        assert!(!is_record_start(&[0x80, 0x2e, 0x01, 0x03, 0x01])); // SSLv2 ClientHello
    }

    #[test]
    fn client_hello_without_sni() {
        // The HS110's hello has extensions, none of them server_name.
        let body = client_hello_body(Some(&EC_POINT_FORMATS));
        assert_eq!(
            parse_client_hello(&body),
            Ok(ClientHello {
                version: 0x0303,
                sni: None
            })
        );
        // No extensions block at all.
        let body = client_hello_body(None);
        assert_eq!(parse_client_hello(&body).unwrap().sni, None);
    }

    #[test]
    fn client_hello_with_sni() {
        let ext = [
            &EC_POINT_FORMATS[..],
            &sni_extension(b"n-devs.tplinkcloud.com"),
        ]
        .concat();
        let body = client_hello_body(Some(&ext));
        assert_eq!(
            parse_client_hello(&body),
            Ok(ClientHello {
                version: 0x0303,
                sni: Some("n-devs.tplinkcloud.com".into())
            })
        );
        // Every prefix is an error (a cut anywhere, including the extensions).
        for cut in 0..body.len() {
            let r = parse_client_hello(&body[..cut]);
            // Cut right after the compression methods, the hello is whole without extensions.
            if cut == 43 {
                assert_eq!(r.map(|h| h.sni), Ok(None));
                continue;
            }
            assert!(matches!(r, Err(TlsError::Truncated { .. })), "{cut}: {r:?}");
        }
        // Invalid UTF-8 is read lossily; a name of another type is skipped.
        let mut odd = sni_extension(b"x\xff");
        odd[6] = 1; // name type 1
        let body = client_hello_body(Some(&odd));
        assert_eq!(parse_client_hello(&body).unwrap().sni, None);
        let body = client_hello_body(Some(&sni_extension(b"x\xff")));
        assert_eq!(
            parse_client_hello(&body).unwrap().sni.as_deref(),
            Some("x\u{fffd}")
        );
        // An empty server_name extension (what a server echoes).
        let body = client_hello_body(Some(&[0, 0, 0, 0]));
        assert_eq!(parse_client_hello(&body).unwrap().sni, None);
        assert_eq!(
            truncated("ClientHello random", 32, 3).to_string(),
            "TLS ClientHello random needs 32 bytes, 3 present"
        );
    }

    /// A Certificate body: list length, then each certificate with its 3-byte length.
    fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
        let list: Vec<u8> = certs
            .iter()
            .flat_map(|c| {
                let l = (c.len() as u32).to_be_bytes();
                [&l[1..], c].concat()
            })
            .collect();
        let l = (list.len() as u32).to_be_bytes();
        [&l[1..], &list].concat()
    }

    #[test]
    fn certificates() {
        let body = certificate_body(&[b"leaf-der", b"ca"]);
        assert_eq!(
            body,
            b"\x00\x00\x10\x00\x00\x08leaf-der\x00\x00\x02ca".to_vec()
        );
        assert_eq!(
            parse_certificates(&body),
            Ok(vec![&b"leaf-der"[..], &b"ca"[..]])
        );
        assert_eq!(parse_certificates(&[0, 0, 0]), Ok(vec![]));
        for cut in 0..body.len() {
            assert!(parse_certificates(&body[..cut]).is_err(), "{cut}");
        }
        // An entry longer than the list.
        let mut bad = body.clone();
        bad[5] = 14;
        assert_eq!(
            parse_certificates(&bad),
            Err(truncated("certificate", 14, 13))
        );
        // More than MAX_CERTIFICATES entries: the first ones.
        let many: Vec<&[u8]> = vec![b"c"; 40];
        assert_eq!(
            parse_certificates(&certificate_body(&many)).unwrap().len(),
            MAX_CERTIFICATES
        );
    }

    #[test]
    fn handshake_messages_in_one_record_and_across_records() {
        let hello = message(handshake::SERVER_HELLO, b"server hello");
        let cert = message(handshake::CERTIFICATE, &[0x5a; 300]);
        let done = message(handshake::SERVER_HELLO_DONE, b"");
        let flight = [hello.clone(), cert.clone(), done.clone()].concat();
        // One record, then cut everywhere in two, then byte by byte: the same messages.
        let expected = vec![
            (2u8, b"server hello".to_vec()),
            (11, vec![0x5a; 300]),
            (14, vec![]),
        ];
        let run = |pieces: &[&[u8]]| {
            let mut r = HandshakeReader::new();
            let mut got = Vec::new();
            for p in pieces {
                r.push(p, &mut |t, b| got.push((t, b.to_vec()))).unwrap();
            }
            assert_eq!(r.buffered(), 0);
            got
        };
        assert_eq!(run(&[&flight]), expected);
        for cut in 0..=flight.len() {
            let (a, b) = flight.split_at(cut);
            assert_eq!(run(&[a, b]), expected, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = flight.chunks(1).collect();
        assert_eq!(run(&bytes), expected);
    }

    #[test]
    fn handshake_cap_and_change_cipher_spec() {
        let mut r = HandshakeReader::with_cap(100);
        let mut got = Vec::new();
        // A 101-byte message announced: refused before any of it is buffered.
        let big = message(handshake::CERTIFICATE, &[0; 101]);
        assert_eq!(
            r.push(&big[..10], &mut |t, _| got.push(t)),
            Err(TlsError::TooLong {
                msg_type: 11,
                len: 101,
                cap: 100
            })
        );
        assert!(!r.is_open());
        assert_eq!(r.buffered(), 0);
        assert_eq!(r.push(&message(1, b"x"), &mut |t, _| got.push(t)), Ok(()));
        assert!(got.is_empty());
        // The header split across records, then refused.
        let mut r = HandshakeReader::with_cap(100);
        r.push(&big[..2], &mut |t, _| got.push(t)).unwrap();
        assert!(r.push(&big[2..], &mut |t, _| got.push(t)).is_err());
        // After ChangeCipherSpec, handshake records are encrypted: ignored.
        let mut r = HandshakeReader::new();
        r.push(&message(16, b"ckx")[..3], &mut |t, _| got.push(t))
            .unwrap();
        r.change_cipher_spec();
        assert_eq!(r.buffered(), 0);
        r.push(&message(20, b"finished"), &mut |t, _| got.push(t))
            .unwrap();
        assert!(got.is_empty());
        assert!(!r.is_open());
        assert_eq!(
            TlsError::TooLong {
                msg_type: 11,
                len: 101,
                cap: 100
            }
            .to_string(),
            "TLS handshake message certificate of 101 bytes is longer than the 100-byte cap"
        );
    }

    /// A TLS 1.2 session's first records, client side and server side.
    fn server_flight() -> Vec<u8> {
        [
            record(22, &message(2, b"hello")),
            record(22, &message(11, &certificate_body(&[b"leaf"]))),
            record(20, &[1]),
            record(23, &[0xa5; 40]),
            record(23, &[]),
            record(21, &[0xa5; 2]),
        ]
        .concat()
    }

    /// What the splitter hands out, owned.
    #[derive(Debug, PartialEq, Eq)]
    struct Got {
        header: RecordHeader,
        offset: u64,
        payload: Option<Vec<u8>>,
        complete: bool,
    }

    fn collect(s: &mut RecordSplitter, pieces: &[&[u8]]) -> (Vec<Got>, Option<TlsError>) {
        let mut got = Vec::new();
        let mut err = None;
        for p in pieces {
            let r = s.push(p, &mut |r| {
                got.push(Got {
                    header: r.header,
                    offset: r.offset,
                    payload: r.payload.map(<[u8]>::to_vec),
                    complete: r.complete,
                })
            });
            if let Err(e) = r {
                assert!(err.is_none(), "a second error");
                err = Some(e);
            }
        }
        (got, err)
    }

    #[test]
    fn splitter_whole_and_in_pieces() {
        let stream = server_flight();
        let (whole, err) = collect(&mut RecordSplitter::new(), &[&stream]);
        assert_eq!(err, None);
        let kinds: Vec<(u8, u64, u16)> = whole
            .iter()
            .map(|g| (g.header.content_type, g.offset, g.header.len))
            .collect();
        assert_eq!(
            kinds,
            [
                (22, 0, 9),
                (22, 14, 14),
                (20, 33, 1),
                (23, 39, 40),
                (23, 84, 0),
                (21, 89, 2)
            ]
        );
        assert_eq!(whole[0].payload.as_deref(), Some(&message(2, b"hello")[..]));
        // Application data is counted, not kept.
        assert_eq!(whole[3].payload, None);
        assert!(whole.iter().all(|g| g.complete));
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let (got, err) = collect(&mut RecordSplitter::new(), &[a, b]);
            assert_eq!(
                (got, err),
                (collect(&mut RecordSplitter::new(), &[&stream])),
                "{cut}"
            );
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let mut s = RecordSplitter::new();
        assert_eq!(collect(&mut s, &bytes).0, whole);
        assert_eq!(s.offset(), stream.len() as u64);
        let r = Record {
            header: whole[3].header,
            offset: 39,
            payload: None,
            complete: true,
        };
        assert_eq!(r.payload_range(), 44..84);
    }

    #[test]
    fn splitter_stops_on_garbage() {
        let mut stream = server_flight();
        stream[33] = 0x63; // the ChangeCipherSpec record's type byte
        let mut s = RecordSplitter::new();
        let (got, err) = collect(&mut s, &[&stream, &server_flight()]);
        assert_eq!(got.len(), 2);
        assert_eq!(
            err,
            Some(TlsError::NotARecord {
                offset: 33,
                header: [0x63, 3, 3, 0, 1]
            })
        );
        assert!(s.is_stopped());
        // Byte by byte, the same.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let (got, err) = collect(&mut RecordSplitter::new(), &bytes);
        assert_eq!((got.len(), err.is_some()), (2, true));
        // Plain HTTP is not TLS.
        let (got, err) = collect(&mut RecordSplitter::new(), &[b"POST /app HTTP/1.1\r\n"]);
        assert!(got.is_empty() && matches!(err, Some(TlsError::NotARecord { offset: 0, .. })));
    }

    #[test]
    fn gap_inside_a_record() {
        let stream = server_flight();
        let mut s = RecordSplitter::new();
        let mut got = Vec::new();
        let mut keep = |r: Record<'_>| {
            got.push((
                r.header.content_type,
                r.offset,
                r.complete,
                r.payload.is_some(),
            ))
        };
        // Up to 11 bytes into the application data record (offset 39), lose 20, then the rest.
        s.push(&stream[..55], &mut keep).unwrap();
        s.gap(20, &mut keep);
        s.push(&stream[75..], &mut keep).unwrap();
        assert_eq!(
            got,
            [
                (22, 0, true, true),
                (22, 14, true, true),
                (20, 33, true, true),
                (23, 39, false, false),
                (23, 84, true, false),
                (21, 89, true, true),
            ]
        );
        // A gap that ends exactly at the record's end.
        let mut s = RecordSplitter::new();
        let mut n = 0;
        s.push(&stream[..50], &mut |_| n += 1).unwrap();
        s.gap(34, &mut |_| n += 1);
        s.push(&stream[84..], &mut |_| n += 1).unwrap();
        assert_eq!(n, 6);
        assert!(!s.is_hunting());
    }

    #[test]
    fn gap_across_a_boundary_resynchronises() {
        let stream = [
            server_flight(),
            record(23, &[0x17; 100]),
            record(23, &[3; 7]),
        ]
        .concat();
        let mut s = RecordSplitter::new();
        let mut got = Vec::new();
        let mut keep = |r: Record<'_>| got.push((r.header.content_type, r.offset, r.complete));
        // Lose 32 bytes from inside the application data record (offset 39..84) to inside the
        // alert (89..96): the next records are found again.
        s.push(&stream[..60], &mut keep).unwrap();
        s.gap(32, &mut keep);
        assert!(s.is_hunting());
        s.push(&stream[92..], &mut keep).unwrap();
        assert!(!s.is_hunting());
        assert_eq!(
            got,
            [
                (22, 0, true),
                (22, 14, true),
                (20, 33, true),
                (23, 39, false),
                (23, 96, true),
                (23, 201, true),
            ]
        );
        assert_eq!(s.offset(), stream.len() as u64);
    }

    #[test]
    fn joined_mid_stream() {
        // Ciphertext-like bytes, then records: the hunt needs two headers in a row.
        let records = [
            record(23, &[0x16; 30]),
            record(23, &[0x03; 20]),
            record(21, &[1, 2]),
        ]
        .concat();
        let stream = [&[0x17, 0x03, 0x03, 0x00, 0x01, 0x42, 0x42][..], &records].concat();
        let mut s = RecordSplitter::hunting();
        let mut got = Vec::new();
        for b in stream.chunks(3) {
            s.push(b, &mut |r| got.push((r.header.content_type, r.offset)))
                .unwrap();
        }
        // The first 7 bytes held a plausible header (type 23, length 1) whose successor at
        // offset 11 is not one; the real records start at 7.
        assert_eq!(got, [(23, 7), (23, 42), (21, 67)]);
    }

    #[test]
    fn hunt_gives_up() {
        let mut s = RecordSplitter::hunting();
        let garbage = vec![0xa5; 1 << 20];
        let (got, err) = collect(&mut s, &[&garbage]);
        assert!(got.is_empty());
        assert!(matches!(err, Some(TlsError::NoSync { scanned }) if scanned >= HUNT_LIMIT));
        assert!(s.is_stopped());
        // And it buffered little meanwhile: at most one step beyond the bytes still undecided.
        let (got, err) = collect(&mut s, &[&server_flight()]);
        assert!(got.is_empty() && err.is_none());
    }
}
