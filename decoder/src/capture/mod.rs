//! Capture replay: pcap/pcapng records → TCP/UDP payloads → messages.
//!
//! [`Decoder`] is fed frames one at a time ([`Decoder::push`]) and hands out what it finds as
//! soon as it is complete and nothing earlier can still come ([`Decoder::pop`]): messages in
//! the order of the frames where they complete, paired; problems that belong to no message;
//! at the end ([`Decoder::end`]) the counts and what is known only then. [`decode_stream`]
//! does the loop for a [`Reader`] (a file, standard input, a pipe); [`decode_file`] and
//! [`Decoder::finish`] collect everything into a [`Decoded`], as before.
//!
//! The decoder does what Wireshark's TCP and UDP layers do for the plugin (reassembly, and
//! handing each stream to its transport's [`StreamDecoder`]); everything decided from the
//! messages themselves — admission, direction, pairing, device identity — is the
//! [`Session`]'s, the same one the plugin uses, fed in capture order.

pub mod cloud;
pub mod link;
pub mod reader;

pub use link::{L4, LinkType, Segment};
pub use reader::{Reader, Record};

use crate::conv::cloud::{CLOUD_PORTS, CloudLink};
use crate::conv::stream::{End, datagram};
use crate::conv::{
    Chunk, ConvId, Event, Found, HttpMessage, MessageId, PairKey, RawMessage, Reassembler, Secrets,
    Seen, Session, StreamDecoder,
};
use crate::msg::{Body, Direction, Message, Meta, Pairing, Problem, Transport};
use crate::wire::{http, tdp, xor};
use core::fmt;
use foldhash::{HashMap, HashMapExt as _};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The standard port of the XOR protocol, on TCP and UDP.
pub const XOR_PORT: u16 = 9999;

/// The TDP discovery ports (UDP).
pub const TDP_PORTS: [u16; 2] = [20002, 20004];

/// What to decode and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// TCP ports where the device listens (default 9999).
    pub tcp_ports: Vec<u16>,
    /// UDP ports where the device listens (default 9999).
    pub udp_ports: Vec<u16>,
    /// Length headers above this are malformed (default 1 MiB).
    pub max_message: u32,
    /// Detect the protocol on other ports from the content.
    pub heuristics: bool,
    /// UDP ports of TDP discovery (default 20002 and 20004).
    pub tdp_ports: Vec<u16>,
    /// Credentials and keys to decrypt KLAP and AES with.
    pub secrets: Secrets,
    /// TCP server ports of the cloud link (default 50443; see [`crate::conv::cloud`]).
    pub cloud_ports: Vec<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tcp_ports: vec![XOR_PORT],
            udp_ports: vec![XOR_PORT],
            max_message: xor::DEFAULT_MAX_MESSAGE,
            heuristics: true,
            tdp_ports: TDP_PORTS.to_vec(),
            secrets: Secrets::default(),
            cloud_ports: CLOUD_PORTS.to_vec(),
        }
    }
}

/// Why a capture could not be read (to its end).
#[derive(Debug)]
pub enum CaptureError {
    Io(std::io::Error),
    /// The file does not start like a pcap or pcapng file.
    NotACapture {
        magic: Option<[u8; 4]>,
    },
    /// A pcap/pcapng structure is invalid.
    Format(String),
    /// Frames of a link type this decoder does not read.
    UnsupportedLinkType(u32),
    /// The file ends in the middle of a record.
    CutShort {
        after_frame: u64,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(e) => write!(f, "cannot read the capture: {e}"),
            CaptureError::NotACapture { magic: Some(m) } => write!(
                f,
                "not a pcap or pcapng file (starts with {:02x} {:02x} {:02x} {:02x})",
                m[0], m[1], m[2], m[3]
            ),
            CaptureError::NotACapture { magic: None } => {
                f.write_str("not a pcap or pcapng file (shorter than 4 bytes)")
            }
            CaptureError::Format(e) => write!(f, "invalid capture file: {e}"),
            CaptureError::UnsupportedLinkType(l) => write!(
                f,
                "unsupported link type {l}{}: supported are Ethernet (1), Linux cooked SLL (113) and SLL2 (276), raw IP (101, 228, 229) and BSD loopback (0, 108)",
                link_type_name(*l)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            CaptureError::CutShort { after_frame } => {
                write!(f, "the capture file is cut short after frame {after_frame}")
            }
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn link_type_name(l: u32) -> Option<&'static str> {
    Some(match l {
        147..=162 => "user-defined",
        187 => "Bluetooth HCI H4",
        9 => "PPP",
        _ => return None,
    })
}

/// A problem that belongs to no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub frame: u64,
    pub time: Duration,
    pub transport: Transport,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub problem: Problem,
}

/// Counts over a whole capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    pub messages: usize,
    pub requests: usize,
    pub responses: usize,
    /// TCP connections that carried the protocol.
    pub connections: usize,
    /// UDP address pairs that carried the protocol.
    pub udp_flows: usize,
    /// Distinct devices identified by a `get_sysinfo` answer.
    pub devices: usize,
    /// Messages with a problem worse than a note, plus problems outside messages.
    pub malformed: usize,
    /// Protected (WEP/WPA) 802.11 data frames: unreadable here; decrypt them in Wireshark
    /// with the network's passphrase, or capture on the wire.
    pub protected_80211: u64,
}

/// A connection known to be a transport that cannot be read here (TLS to an endpoint a TDP
/// reply announced: TPAP, KLAP or AES over HTTPS, Linkie; `Session::announced`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub transport: Transport,
    /// The side that opened the connection.
    pub client: SocketAddr,
    pub device: SocketAddr,
    pub first_frame: u64,
    pub last_frame: u64,
    pub frames: u64,
}

/// Everything found in a capture.
#[derive(Debug, Default)]
pub struct Decoded {
    pub messages: Vec<Message>,
    pub orphans: Vec<Orphan>,
    /// Connections marked by what discovery announced.
    pub marked: Vec<Marked>,
    /// The devices' TLS links to TP-Link's cloud, in order of first frame.
    pub cloud: Vec<CloudLink>,
    pub stats: Stats,
    /// Set when reading stopped before the end of the file.
    pub stop: Option<CaptureError>,
}

/// What the streaming decoder hands out ([`Decoder::pop`]), in capture order: sorted by the
/// frame where each item completes, messages before the problems outside messages of the same
/// frame, and otherwise in the order found.
#[derive(Debug)]
// Messages are the common case: boxing them to shrink the rare orphan would cost an
// allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    /// A message. `id` is its [`MessageId`]; `request` the id of the request a response
    /// answers. The request's [`Pairing::response_in`] stays empty in a stream (its answer
    /// comes later): the link is on the response, `pairing.response_to` and `pairing.time`.
    Message {
        message: Message,
        id: MessageId,
        request: Option<MessageId>,
    },
    /// A problem that belongs to no message.
    Orphan(Orphan),
}

/// What is known only at the end of a capture ([`Decoder::end`]).
#[derive(Debug, Default)]
pub struct Summary {
    /// Connections marked by what discovery announced, in order of first frame.
    pub marked: Vec<Marked>,
    /// The devices' TLS links to TP-Link's cloud, in order of first frame.
    pub cloud: Vec<CloudLink>,
    pub stats: Stats,
}

/// Decodes a whole capture file. `Err` only when the file cannot be opened as a capture;
/// an error later on is in [`Decoded::stop`], after everything decoded before it.
///
/// This keeps every message in memory; [`Decoder`] with [`Decoder::pop`] hands them out as
/// they complete instead.
pub fn decode_file(path: &Path, config: &Config) -> Result<Decoded, CaptureError> {
    decode_file_with_progress(path, config, |_, _| {})
}

/// [`decode_file`], calling `progress(bytes read, file size)` every 4,096 frames.
pub fn decode_file_with_progress(
    path: &Path,
    config: &Config,
    progress: impl FnMut(u64, u64),
) -> Result<Decoded, CaptureError> {
    let mut reader = Reader::open(path)?;
    let mut decoded = Decoded::default();
    let mut requests = HashMap::new();
    let (summary, stop) = decode_stream(&mut reader, config, progress, |item| {
        collect(&mut decoded, &mut requests, item);
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap_or_else(|never| match never {});
    decoded.marked = summary.marked;
    decoded.cloud = summary.cloud;
    decoded.stats = summary.stats;
    decoded.stop = stop;
    Ok(decoded)
}

/// Reads `reader` to its end through a [`Decoder`], handing each item to `item` as soon as it
/// is safe to, and calling `progress(bytes read, size)` every 4,096 frames. Returns the
/// [`Summary`] and the error that stopped reading early, if any; an `Err` of `item` stops at
/// once and is returned.
pub fn decode_stream<E>(
    reader: &mut Reader,
    config: &Config,
    mut progress: impl FnMut(u64, u64),
    mut item: impl FnMut(Item) -> Result<(), E>,
) -> Result<(Summary, Option<CaptureError>), E> {
    let mut decoder = Decoder::new(config.clone());
    let mut stop = None;
    let mut frames = 0u64;
    while let Some(record) = reader.next_record() {
        match record {
            Ok(r) => decoder.push(&r),
            Err(e) => {
                stop = Some(e);
                break;
            }
        }
        while let Some(i) = decoder.pop() {
            item(i)?;
        }
        frames += 1;
        if frames.is_multiple_of(4096) {
            let (read, len) = reader.progress();
            progress(read, len);
        }
    }
    let summary = decoder.end();
    while let Some(i) = decoder.pop() {
        item(i)?;
    }
    Ok((summary, stop))
}

/// Adds an item to a [`Decoded`], filling in the requests' `response_in` from the responses'
/// links (`requests`: where each request is in `decoded.messages`).
fn collect(decoded: &mut Decoded, requests: &mut HashMap<MessageId, usize>, item: Item) {
    match item {
        Item::Message {
            message,
            id,
            request,
        } => {
            if let Some(&at) = request.as_ref().and_then(|r| requests.get(r)) {
                decoded.messages[at]
                    .pairing
                    .response_in
                    .push(message.frame());
            }
            if message.direction == Direction::Request {
                requests.insert(id, decoded.messages.len());
            }
            decoded.messages.push(message);
        }
        Item::Orphan(o) => decoded.orphans.push(o),
    }
}

/// A message's own parts, before the session's decision.
struct Parts {
    meta: Meta,
    frames: Vec<u64>,
    time: Duration,
    plaintext: Vec<u8>,
    body: Body,
    problems: Vec<Problem>,
}

impl Parts {
    /// Queues the message as the session decided it (`record`: direction, pairing,
    /// conversation, identity) in `ready`, built in place, with its id, and counts it; returns
    /// the request it answers.
    fn queue(
        self,
        at: &Place,
        id: MessageId,
        record: crate::conv::Record,
        ready: &mut VecDeque<Item>,
        counts: &mut Stats,
    ) -> Option<MessageId> {
        let mut problems = self.problems;
        if record.one_sided {
            problems.push(Problem::OneSided);
        }
        counts.messages += 1;
        match record.direction {
            Direction::Request => counts.requests += 1,
            Direction::Response => counts.responses += 1,
        }
        if problems.iter().any(Problem::is_malformed) {
            counts.malformed += 1;
        }
        let request = record.response_to.map(|l| l.request);
        ready.push_back(Item::Message {
            message: Message {
                meta: self.meta,
                direction: record.direction,
                src: at.src,
                dst: at.dst,
                frames: self.frames,
                time: self.time,
                plaintext: self.plaintext,
                body: self.body,
                problems,
                pairing: Pairing {
                    response_in: Vec::new(),
                    response_to: record.response_to.map(|l| l.request.frame),
                    time: record.response_to.map(|l| l.time),
                    duplicate_of: record.duplicate_of.map(|d| d.frame),
                },
                conversation: record.conversation,
                device: record.device,
                peer_device: record.peer_device,
                findings: record.findings,
            },
            id,
            request,
        });
        request
    }
}

/// One direction of a TCP connection.
#[derive(Debug)]
struct Half {
    reasm: Reassembler,
    decoder: StreamDecoder,
    closed: bool,
    /// The oldest frame this direction holds bytes of (see [`Decoder::holds`]).
    hold: Option<u64>,
}

impl Half {
    fn new(transport: Transport, cap: u32) -> Option<Half> {
        Some(Half {
            reasm: Reassembler::default(),
            decoder: StreamDecoder::new(transport, cap)?,
            closed: false,
            hold: None,
        })
    }

    fn oldest_frame(&self) -> Option<u64> {
        match (self.reasm.oldest_frame(), self.decoder.oldest_frame()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Whether a connection is read at all (what Wireshark's TCP layer decides by port table and
/// heuristics before the plugin sees a byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// On a configured port.
    Port,
    /// On another port, no data seen yet.
    Undecided,
    /// On another port, claimed by the heuristic: the session judges it.
    Heuristic,
    /// HTTP to `/app…` (KLAP or AES), `/`, `/stok=…/ds` (SslAes) or `/data/LINKIE2.json`
    /// (Linkie), on any port.
    Http,
    /// Not this protocol.
    Ignored,
}

#[derive(Debug)]
struct Conn {
    id: ConvId,
    /// `ends[0]` sent the first segment seen.
    ends: [SocketAddr; 2],
    /// Which ends are on a configured port.
    on_port: [bool; 2],
    read: Read,
    halves: [Half; 2],
    /// Which ends sent a FIN (or either end an RST), whether the connection is read or not.
    fin: [bool; 2],
    first_frame: u64,
    last_frame: u64,
    frames: u64,
    /// HTTP requests not yet answered (their frames), oldest first.
    http_open: std::collections::VecDeque<u64>,
}

/// Where phase one found something: the conversation and its endpoints.
#[derive(Debug, Clone, Copy)]
struct Place {
    conv: ConvId,
    found: Found,
    src: SocketAddr,
    dst: SocketAddr,
    on_port: (bool, bool),
}

impl Place {
    fn seen(&self, id: MessageId, time: Duration) -> Seen {
        Seen {
            id,
            time,
            src: self.src,
            dst: self.dst,
            conv: self.conv,
            found: self.found,
            on_device_port: self.on_port,
        }
    }
}

/// What the transports found, waiting for the frames before it to be complete; then it is
/// handed to the session in capture order.
#[derive(Debug)]
enum Found1 {
    Message {
        at: Place,
        raw: RawMessage,
    },
    Http {
        at: Place,
        msg: HttpMessage,
        /// A response: the frame of its request (HTTP/1.x answers in order).
        answers: Option<u64>,
    },
    Orphan {
        at: Place,
        transport: Transport,
        frame: u64,
        time: Duration,
        problem: Problem,
    },
}

impl Found1 {
    /// The bytes it carries.
    fn len(&self) -> usize {
        match self {
            Found1::Message { raw, .. } => raw.plaintext.len(),
            Found1::Http { msg, .. } => msg.body.len(),
            Found1::Orphan { .. } => 0,
        }
    }

    fn frame(&self) -> u64 {
        match self {
            Found1::Message { raw, .. } => raw.frames.last().copied().unwrap_or(0),
            Found1::Http { msg, .. } => msg.frames.last().copied().unwrap_or(0),
            Found1::Orphan { frame, .. } => *frame,
        }
    }
}

/// Found items waiting to be handed to the session, by (frame, order found).
///
/// Nearly every item completes at a frame no older than the items before it: those queue in
/// order (`in_order`). One that completes at an older frame (bytes flushed by an ACK that
/// declared a hole lost) goes to `late`, a sorted map; the oldest key of the two comes first.
#[derive(Debug, Default)]
struct Waiting {
    in_order: VecDeque<((u64, u64), Found1)>,
    late: BTreeMap<(u64, u64), Found1>,
}

impl Waiting {
    fn insert(&mut self, key: (u64, u64), found: Found1) {
        if self.in_order.back().is_none_or(|(last, _)| *last < key) {
            self.in_order.push_back((key, found));
        } else {
            self.late.insert(key, found);
        }
    }

    fn len(&self) -> usize {
        self.in_order.len() + self.late.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn first_key(&self) -> Option<(u64, u64)> {
        let a = self.in_order.front().map(|(k, _)| *k);
        let b = self.late.first_key_value().map(|(k, _)| *k);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pop_first(&mut self) -> Option<Found1> {
        let late_first = match (self.in_order.front(), self.late.first_key_value()) {
            (Some((a, _)), Some((b, _))) => b < a,
            (None, Some(_)) => true,
            _ => false,
        };
        if late_first {
            self.late.pop_first().map(|(_, f)| f)
        } else {
            self.in_order.pop_front().map(|(_, f)| f)
        }
    }
}

/// Items waiting for the watermark beyond which [`Decoder`] releases the oldest anyway (see
/// [`Decoder`]'s "Order").
pub const MAX_WAITING: usize = 1 << 16;

/// The same bound on the bytes of the waiting messages.
pub const MAX_WAITING_BYTES: usize = 32 << 20;

/// Connections closed in both directions kept (for segments that follow the last FIN, like
/// its ACK) before the oldest is forgotten, at most.
pub const MAX_CLOSED: usize = 4096;

/// How long (capture time) a connection closed in both directions is kept at most.
pub const TIME_WAIT: Duration = Duration::from_secs(60);

/// Decodes frames pushed one by one, handing out messages as soon as they are complete and
/// nothing earlier can still come.
///
/// # Order
///
/// Items come out in capture order: by the frame where each completes (a message's last
/// frame), as [`Decoder::finish`] sorts them. A message can complete after later frames were
/// read: the peer's ACK declares a hole lost and flushes bytes buffered behind it, or a stream
/// that ends mid-message (FIN, end of capture) hands out its partial message. So an item is
/// held back until its frame is below the *watermark*: the oldest frame any open TCP direction
/// still holds bytes of (out-of-order segments in the reassembler, a partial message in the
/// stream decoder), or the next frame when nothing is held. On a live capture everything
/// comes out right after the frame that completes it, unless a connection holds a partial
/// message, which holds back what completes after it until it completes or its connection
/// closes. If more than [`MAX_WAITING`] items (or [`MAX_WAITING_BYTES`]) wait so, the oldest
/// are released anyway: the only case where an item can come out after one of a later frame.
///
/// # Memory
///
/// Open connections (their partial messages, out-of-order data capped per direction), the
/// session's bounded tables, the items waiting for the watermark, and per connection closed
/// in both directions a small record for [`TIME_WAIT`] (at most [`MAX_CLOSED`] of them), the
/// cloud-link tracker's tables (at most [`crate::conv::cloud::MAX_CONNECTIONS`] connections);
/// nothing per message once it is handed out. A connection replaced by a new one on its
/// address pair while it still holds bytes stays until the end of the capture, as it did. [`Decoder::finish`] keeps everything, as before.
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    conns: HashMap<PairKey, ConvId>,
    conn_map: HashMap<ConvId, Box<Conn>>,
    /// `(oldest frame held, connection, direction)` for every direction that holds bytes.
    holds: BTreeSet<(u64, ConvId, usize)>,
    /// Connections closed in both directions, oldest first: (connection, time closed).
    closed: VecDeque<(ConvId, Duration)>,
    udp_convs: HashMap<PairKey, ConvId>,
    next_conv: ConvId,
    /// Found items by (frame, order found).
    waiting: Waiting,
    found_count: u64,
    waiting_bytes: usize,
    /// Every frame below this was handed to the session.
    released: u64,
    ready: VecDeque<Item>,
    session: Session,
    index_in_frame: (u64, u32),
    counts: Stats,
    marked: Vec<Marked>,
    frames: u64,
    last_time: Duration,
    cloud: cloud::CloudReader,
}

/// Whether a TCP payload starts an HTTP POST whose target can be KLAP, AES, SslAes or Linkie
/// ([`http::is_kasa_target`]).
fn is_app_request(payload: &[u8]) -> bool {
    payload
        .strip_prefix(b"POST ")
        .and_then(|rest| rest.split(|&b| b == b' ').next())
        .and_then(|target| core::str::from_utf8(target).ok())
        .is_some_and(http::is_kasa_target)
}

fn key(a: SocketAddr, b: SocketAddr) -> PairKey {
    PairKey::new(a, b)
}

impl Decoder {
    pub fn new(config: Config) -> Decoder {
        Decoder {
            cloud: cloud::CloudReader::new(&config.cloud_ports),
            session: Session::with_secrets(config.secrets.clone(), false),
            config,
            conns: HashMap::new(),
            conn_map: HashMap::new(),
            holds: BTreeSet::new(),
            closed: VecDeque::new(),
            udp_convs: HashMap::new(),
            next_conv: 0,
            waiting: Waiting::default(),
            found_count: 0,
            waiting_bytes: 0,
            released: 0,
            ready: VecDeque::new(),
            index_in_frame: (0, 0),
            counts: Stats::default(),
            marked: Vec::new(),
            frames: 0,
            last_time: Duration::ZERO,
        }
    }

    /// Feeds one frame. What it completes (and what it lets through the watermark) is then
    /// ready for [`Decoder::pop`].
    pub fn push(&mut self, record: &Record<'_>) {
        self.frames = record.frame;
        self.last_time = record.time;
        if let Some(seg) = link::parse(record.link, record.data, record.orig_len) {
            self.cloud.segment(&seg, record.frame, record.time);
            match seg.l4 {
                L4::Tcp {
                    seq,
                    ack,
                    syn,
                    fin,
                    rst,
                    payload,
                } => self.tcp(
                    &seg,
                    seq,
                    ack,
                    syn,
                    fin || rst,
                    rst,
                    payload,
                    record.frame,
                    record.time,
                ),
                L4::Udp { payload } => self.udp(&seg, payload, record.frame, record.time),
            }
        } else if link::is_protected_dot11(record.link, record.data) {
            self.counts.protected_80211 += 1;
        }
        let watermark = self
            .holds
            .first()
            .map_or(record.frame + 1, |&(f, _, _)| f.min(record.frame + 1));
        self.release(watermark);
        self.forget_closed(record.time);
    }

    /// The next item ready, in capture order.
    pub fn pop(&mut self) -> Option<Item> {
        self.ready.pop_front()
    }

    /// The oldest frame an open direction holds bytes of, if any: nothing found later can
    /// complete before it.
    pub fn holds(&self) -> Option<u64> {
        self.holds.first().map(|&(f, _, _)| f)
    }

    fn new_conv(&mut self) -> ConvId {
        self.next_conv += 1;
        self.next_conv - 1
    }

    fn find(&mut self, frame: u64, f: Found1) {
        self.waiting_bytes += f.len();
        self.waiting.insert((frame, self.found_count), f);
        self.found_count += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        seg: &Segment<'_>,
        seq: u32,
        ack: Option<u32>,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &[u8],
        frame: u64,
        time: Duration,
    ) {
        let k = key(seg.src, seg.dst);
        let reuse = syn
            && ack.is_none()
            && self
                .conns
                .get(&k)
                .and_then(|id| self.conn_map.get(id))
                .is_some_and(|c| c.halves.iter().any(|h| h.closed));
        let id = match self.conns.get(&k) {
            Some(&id) if !reuse && self.conn_map.contains_key(&id) => id,
            old => {
                if let Some(&old) = old
                    && let Some(c) = self.conn_map.get(&old)
                    && c.fin != [true; 2]
                    && c.halves.iter().all(|h| h.hold.is_none())
                {
                    // A new connection on the same address pair: the old one is over. One that
                    // still holds bytes stays open (and holds the watermark) to the end of the
                    // capture, as it always did.
                    self.closed.push_back((old, time));
                }
                let ports = &self.config.tcp_ports;
                let on_port = [
                    ports.contains(&seg.src.port()),
                    ports.contains(&seg.dst.port()),
                ];
                let read = if on_port.contains(&true) {
                    Read::Port
                } else if self.config.heuristics {
                    Read::Undecided
                } else {
                    Read::Ignored
                };
                let cap = self.config.max_message;
                let half = || Half::new(Transport::XorTcp, cap);
                let (Some(h0), Some(h1)) = (half(), half()) else {
                    return;
                };
                let id = self.new_conv();
                self.conn_map.insert(
                    id,
                    Box::new(Conn {
                        id,
                        ends: [seg.src, seg.dst],
                        on_port,
                        read,
                        halves: [h0, h1],
                        fin: [false; 2],
                        first_frame: frame,
                        last_frame: frame,
                        frames: 0,
                        http_open: Default::default(),
                    }),
                );
                self.conns.insert(k, id);
                id
            }
        };
        let cap = self.config.max_message;
        let Some(conn) = self.conn_map.get_mut(&id) else {
            return;
        };
        conn.frames += 1;
        conn.last_frame = frame;
        let d = usize::from(seg.src != conn.ends[0]);
        let was_closed = conn.fin == [true; 2];
        if fin {
            conn.fin[d] = true;
        }
        if rst {
            conn.fin[1 - d] = true;
        }
        if matches!(conn.read, Read::Undecided | Read::Ignored) && is_app_request(payload) {
            // KLAP and AES are recognised by their URIs on any port, as Wireshark's HTTP
            // heuristic finds HTTP.
            conn.read = Read::Http;
            for half in &mut conn.halves {
                if let Some(h) = Half::new(Transport::Klap, cap) {
                    *half = h;
                }
            }
        }
        if conn.read == Read::Port
            && !payload.is_empty()
            && self.session.clear_text_stream(conn.id, payload, cap)
        {
            // Clear text on the port (HTTP to 9999): another protocol's, as in the plugin.
            conn.read = Read::Ignored;
        }
        if conn.read == Read::Undecided && (!payload.is_empty() || seg.missing > 0) {
            conn.read = if self.config.heuristics && xor::tcp_heuristic(payload, cap) {
                Read::Heuristic
            } else {
                Read::Ignored
            };
        }
        if conn.read != Read::Ignored {
            let mut events: Vec<(usize, Event)> = Vec::new();
            {
                let [d0, d1] = &mut conn.halves;
                let (this, other) = if d == 0 { (d0, d1) } else { (d1, d0) };
                let mut to_this = |c: Chunk<'_>| this.decoder.push(c, &mut |e| events.push((d, e)));
                if syn {
                    this.reasm.syn(seq);
                }
                let mut other_events = Vec::new();
                if let Some(ack) = ack {
                    other.reasm.ack(ack, frame, time, &mut |c| {
                        other
                            .decoder
                            .push(c, &mut |e| other_events.push((1 - d, e)))
                    });
                }
                this.reasm
                    .segment(seq, payload, seg.missing, frame, time, &mut to_this);
                if fin && !this.closed {
                    this.closed = true;
                    this.reasm.close(frame, time, &mut to_this);
                    this.decoder
                        .close(End::Fin { frame, time }, &mut |e| events.push((d, e)));
                }
                if rst && !other.closed {
                    other.closed = true;
                    other.reasm.close(frame, time, &mut |c| {
                        other
                            .decoder
                            .push(c, &mut |e| other_events.push((1 - d, e)))
                    });
                    other.decoder.close(End::Fin { frame, time }, &mut |e| {
                        other_events.push((1 - d, e))
                    });
                }
                events.splice(0..0, other_events);
            }
            for (d, event) in events {
                self.tcp_event(id, d, event);
            }
            self.update_holds(id);
        }
        if !was_closed
            && let Some(conn) = self.conn_map.get_mut(&id)
            && conn.fin == [true; 2]
        {
            // Kept a while for what follows the last FIN (its ACK, retransmissions, which the
            // reassemblers drop), without the decoders' buffers.
            for half in &mut conn.halves {
                if half.hold.is_none()
                    && let Some(fresh) = StreamDecoder::new(half.decoder.transport(), cap)
                {
                    half.decoder = fresh;
                }
            }
            self.closed.push_back((id, time));
        }
    }

    /// Re-reads what the directions of connection `id` hold.
    fn update_holds(&mut self, id: ConvId) {
        let Some(conn) = self.conn_map.get_mut(&id) else {
            return;
        };
        for (d, half) in conn.halves.iter_mut().enumerate() {
            let now = half.oldest_frame();
            if now != half.hold {
                if let Some(old) = half.hold {
                    self.holds.remove(&(old, id, d));
                }
                if let Some(new) = now {
                    self.holds.insert((new, id, d));
                }
                half.hold = now;
            }
        }
    }

    fn tcp_event(&mut self, id: ConvId, d: usize, event: Event) {
        let Some(conn) = self.conn_map.get_mut(&id) else {
            return;
        };
        let at = Place {
            conv: conn.id,
            found: if conn.read == Read::Port {
                Found::Port
            } else {
                Found::Heuristic
            },
            src: conn.ends[d],
            dst: conn.ends[1 - d],
            on_port: (conn.on_port[d], conn.on_port[1 - d]),
        };
        let found = match event {
            Event::Problem {
                frame,
                time,
                problem,
            } => Found1::Orphan {
                at,
                transport: conn.halves[d].decoder.transport(),
                frame,
                time,
                problem,
            },
            Event::Message(raw) => Found1::Message { at, raw },
            Event::Http(msg) => {
                let frame = msg.frames.last().copied().unwrap_or(0);
                let answers = if msg.view(None).is_request() {
                    if conn.http_open.len() >= crate::conv::session::MAX_OPEN_PER_CONVERSATION {
                        conn.http_open.pop_front();
                    }
                    conn.http_open.push_back(frame);
                    None
                } else {
                    conn.http_open.pop_front()
                };
                Found1::Http { at, msg, answers }
            }
        };
        self.find(found.frame(), found);
    }

    /// Closes both directions of connection `id` at the end of the capture: whatever they
    /// hold is decided now.
    fn close_conn(&mut self, id: ConvId, frame: u64, time: Duration) {
        let Some(conn) = self.conn_map.get_mut(&id) else {
            return;
        };
        if matches!(conn.read, Read::Ignored | Read::Undecided) {
            return;
        }
        for d in 0..2 {
            let mut events = Vec::new();
            let Some(conn) = self.conn_map.get_mut(&id) else {
                return;
            };
            let half = &mut conn.halves[d];
            if !half.closed {
                half.closed = true;
                half.reasm.close(frame, time, &mut |c| {
                    half.decoder.push(c, &mut |e| events.push(e))
                });
                half.decoder.close(End::Capture, &mut |e| events.push(e));
            }
            for e in events {
                self.tcp_event(id, d, e);
            }
        }
        self.update_holds(id);
    }

    /// Forgets connection `id` (nothing of it may be waiting any more).
    fn drop_conn(&mut self, id: ConvId) {
        let Some(conn) = self.conn_map.remove(&id) else {
            return;
        };
        for (d, half) in conn.halves.iter().enumerate() {
            if let Some(f) = half.hold {
                self.holds.remove(&(f, id, d));
            }
        }
        let k = key(conn.ends[0], conn.ends[1]);
        if self.conns.get(&k) == Some(&id) {
            self.conns.remove(&k);
        }
        self.mark(&conn);
        self.session.end_stream(id, conn.ends);
    }

    /// Records `conn` as marked if discovery announced its server end.
    fn mark(&mut self, conn: &Conn) {
        let (client, device) = (conn.ends[0], conn.ends[1]);
        if let Some(transport) = self.session.announced(device)
            && self.marked.len() < crate::conv::session::MAX_DEVICES
        {
            self.marked.push(Marked {
                transport,
                client,
                device,
                first_frame: conn.first_frame,
                last_frame: conn.last_frame,
                frames: conn.frames,
            });
        }
    }

    /// Forgets connections closed in both directions for long enough (or too many), once
    /// everything they found was handed to the session.
    fn forget_closed(&mut self, now: Duration) {
        while let Some(&(id, closed)) = self.closed.front() {
            let Some(conn) = self.conn_map.get(&id) else {
                self.closed.pop_front();
                continue;
            };
            let due = self.closed.len() > MAX_CLOSED || now.saturating_sub(closed) > TIME_WAIT;
            if !due || conn.last_frame >= self.released {
                return;
            }
            self.closed.pop_front();
            self.drop_conn(id);
        }
    }

    fn udp(&mut self, seg: &Segment<'_>, payload: &[u8], frame: u64, time: Duration) {
        let on = |ports: &[u16]| {
            (
                ports.contains(&seg.src.port()),
                ports.contains(&seg.dst.port()),
            )
        };
        let (xor_port, tdp_port) = (on(&self.config.udp_ports), on(&self.config.tdp_ports));
        let heuristics = self.config.heuristics;
        let (transport, found, on_port) = if tdp_port.0 || tdp_port.1 {
            (Transport::Tdp, Found::Port, tdp_port)
        } else if xor_port.0 || xor_port.1 {
            if xor::clear_datagram(payload) {
                // Clear text on the port (a probe of another protocol): not ours, as in the
                // plugin, which leaves it to the other dissectors.
                return;
            }
            (Transport::XorUdp, Found::Port, xor_port)
        } else if heuristics && tdp::heuristic(payload) {
            (Transport::Tdp, Found::Heuristic, tdp_port)
        } else if heuristics && xor::udp_heuristic(payload) {
            (Transport::XorUdp, Found::Heuristic, xor_port)
        } else {
            return;
        };
        if payload.is_empty() && seg.missing == 0 {
            return;
        }
        let Some(raw) = datagram(transport, payload, seg.missing as usize, frame, time) else {
            return;
        };
        let k = key(seg.src, seg.dst);
        let conv = match self.udp_convs.get(&k) {
            Some(&c) => c,
            None => {
                let c = self.new_conv();
                self.udp_convs.insert(k, c);
                c
            }
        };
        self.find(
            frame,
            Found1::Message {
                at: Place {
                    conv,
                    found,
                    src: seg.src,
                    dst: seg.dst,
                    on_port,
                },
                raw,
            },
        );
    }

    /// Hands every waiting item of a frame below `watermark` to the session, in capture
    /// order, and queues what it shows; then, if too many wait, the oldest anyway.
    fn release(&mut self, watermark: u64) {
        while let Some((frame, _)) = self.waiting.first_key() {
            if frame >= watermark
                && self.waiting.len() <= MAX_WAITING
                && self.waiting_bytes <= MAX_WAITING_BYTES
            {
                break;
            }
            // The whole frame at once: its messages come out before its orphan problems, as
            // the printers have always shown them.
            let mut orphans = Vec::new();
            while self.waiting.first_key().is_some_and(|(f, _)| f == frame) {
                let Some(found) = self.waiting.pop_first() else {
                    break;
                };
                self.waiting_bytes -= found.len();
                self.decide(frame, found, &mut orphans);
            }
            self.ready.extend(orphans.into_iter().map(Item::Orphan));
            self.released = self.released.max(frame + 1);
        }
        self.released = self.released.max(watermark);
    }

    fn next_id(&mut self, frame: u64) -> MessageId {
        if self.index_in_frame.0 != frame {
            self.index_in_frame = (frame, 0);
        }
        self.index_in_frame.1 += 1;
        MessageId {
            frame,
            index: self.index_in_frame.1 - 1,
        }
    }

    /// The session's decision on one found item; a message shown goes to `ready`, a problem
    /// shown to `orphans`.
    fn decide(&mut self, frame: u64, found: Found1, orphans: &mut Vec<Orphan>) {
        let request = match found {
            Found1::Message { at, mut raw } => {
                let seen = at.seen(self.next_id(frame), raw.time);
                let body = raw.body();
                let problems = raw.problems;
                let Some(mut record) =
                    self.session
                        .message(&seen, &raw.meta, &body, &raw.plaintext)
                else {
                    return;
                };
                let mut meta = raw.meta;
                if let Meta::Tdp(t) = &mut meta {
                    t.encrypt_info = record.encrypt_info.take();
                }
                let parts = Parts {
                    meta,
                    frames: raw.frames,
                    time: raw.time,
                    plaintext: raw.plaintext,
                    body,
                    problems,
                };
                parts.queue(&at, seen.id, record, &mut self.ready, &mut self.counts)
            }
            Found1::Http { at, msg, answers } => {
                if msg.body.is_empty() {
                    // Wireshark's HTTP hands no empty body to a subdissector (WIRESHARK.md
                    // §13): the plugin never sees these, so neither does the CLI.
                    return;
                }
                let seen = at.seen(self.next_id(frame), msg.time);
                let Some(shown) = self.session.http(&seen, &msg.view(answers)) else {
                    return;
                };
                let mut problems = msg.problems;
                problems.extend(shown.problems);
                let record = shown.record;
                let parts = Parts {
                    meta: shown.meta,
                    frames: msg.frames,
                    time: msg.time,
                    plaintext: shown.plaintext,
                    body: shown.body,
                    problems,
                };
                parts.queue(&at, seen.id, record, &mut self.ready, &mut self.counts)
            }
            Found1::Orphan {
                at,
                transport,
                frame,
                time,
                problem,
            } => {
                let seen = at.seen(self.next_id(frame), time);
                if self.session.orphan(&seen) {
                    if problem.is_malformed() {
                        self.counts.malformed += 1;
                    }
                    orphans.push(Orphan {
                        frame,
                        time,
                        transport,
                        src: at.src,
                        dst: at.dst,
                        problem,
                    });
                }
                return;
            }
        };
        if let Some(r) = request {
            // The link is handed out with the response; the session need not keep it.
            self.session.forget_responses(r);
        }
    }

    /// Ends the capture: closes every stream and releases everything found; the rest of the
    /// items are then ready for [`Decoder::pop`]. Returns what is known only now.
    pub fn end(&mut self) -> Summary {
        let (frame, time) = (self.frames, self.last_time);
        let cloud = self.cloud.finish(frame, time);
        let mut ids: Vec<ConvId> = self.conn_map.keys().copied().collect();
        ids.sort_unstable();
        for &id in &ids {
            self.close_conn(id, frame, time);
        }
        self.release(u64::MAX);
        for id in ids {
            self.drop_conn(id);
        }
        self.closed.clear();
        let mut marked = std::mem::take(&mut self.marked);
        marked.sort_by_key(|m| m.first_frame);
        let counts = self.session.stats();
        let stats = Stats {
            frames: self.frames,
            connections: counts.streams,
            udp_flows: counts.flows,
            devices: counts.devices,
            ..self.counts.clone()
        };
        Summary {
            marked,
            cloud,
            stats,
        }
    }

    /// Ends the capture and returns everything found that was not popped yet, with the
    /// requests' `response_in` filled in from their responses (as far as both are in it).
    pub fn finish(mut self) -> Decoded {
        let summary = self.end();
        let mut decoded = Decoded::default();
        let mut requests = HashMap::new();
        while let Some(item) = self.pop() {
            collect(&mut decoded, &mut requests, item);
        }
        decoded.marked = summary.marked;
        decoded.cloud = summary.cloud;
        decoded.stats = summary.stats;
        decoded
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waiting_items_come_out_by_frame_then_order_found() {
        let orphan = |frame| Found1::Orphan {
            at: Place {
                conv: 0,
                found: Found::Port,
                src: "10.0.0.1:1".parse().unwrap(),
                dst: "10.0.0.2:2".parse().unwrap(),
                on_port: (false, true),
            },
            transport: Transport::XorTcp,
            frame,
            time: Duration::ZERO,
            problem: Problem::ZeroLength,
        };
        let mut w = Waiting::default();
        // In order, then two late ones (an older frame), one of them before everything.
        for (key, frame) in [
            ((5, 0), 5),
            ((7, 1), 7),
            ((7, 2), 7),
            ((6, 3), 6),
            ((2, 4), 2),
            ((9, 5), 9),
            ((7, 6), 7),
        ] {
            w.insert(key, orphan(frame));
        }
        assert_eq!(w.len(), 7);
        let mut out = Vec::new();
        while let Some(k) = w.first_key() {
            let f = w.pop_first().unwrap();
            assert_eq!(f.frame(), k.0);
            out.push(k);
        }
        assert_eq!(
            out,
            [(2, 4), (5, 0), (6, 3), (7, 1), (7, 2), (7, 6), (9, 5)]
        );
        assert!(w.is_empty() && w.pop_first().is_none());
    }

    use super::*;
    use etherparse::PacketBuilder;

    const CLIENT: [u8; 4] = [10, 0, 0, 1];
    const DEVICE: [u8; 4] = [10, 0, 0, 2];

    /// A TCP segment in a raw-IP frame: `flags` is a set of `S` (SYN), `F` (FIN), `A` (ACK,
    /// with `ack`).
    fn tcp(
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut b = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 1000);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// An XOR message with its length header.
    fn xor_msg(json: &str) -> Vec<u8> {
        let mut v = (json.len() as u32).to_be_bytes().to_vec();
        v.extend(xor::encrypt(json.as_bytes()));
        v
    }

    fn record(frame: u64, data: &[u8]) -> Record<'_> {
        Record {
            frame,
            time: Duration::from_millis(frame),
            link: LinkType::RAW,
            data,
            orig_len: data.len() as u32,
        }
    }

    fn frame_of(item: &Item) -> u64 {
        match item {
            Item::Message { message, .. } => message.frame(),
            Item::Orphan(o) => o.frame,
        }
    }

    /// Pushes `frames` (numbered from 1), popping after each; returns the frames of what came
    /// out, and after which pushed frame each came out (0: at the end).
    fn run(frames: &[Vec<u8>]) -> Vec<(u64, u64)> {
        let mut d = Decoder::new(Config::default());
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            d.push(&record(i as u64 + 1, f));
            while let Some(item) = d.pop() {
                out.push((frame_of(&item), i as u64 + 1));
            }
        }
        d.end();
        while let Some(item) = d.pop() {
            out.push((frame_of(&item), 0));
        }
        // The convenience wrapper puts them in the same order.
        let mut all = Decoder::new(Config::default());
        for (i, f) in frames.iter().enumerate() {
            all.push(&record(i as u64 + 1, f));
        }
        let decoded = all.finish();
        let mut whole: Vec<u64> = decoded.messages.iter().map(Message::frame).collect();
        whole.extend(decoded.orphans.iter().map(|o| o.frame));
        whole.sort();
        let mut streamed: Vec<u64> = out.iter().map(|(f, _)| *f).collect();
        streamed.sort();
        assert_eq!(streamed, whole);
        out
    }

    const REQ: &str = r#"{"system":{"get_sysinfo":{}}}"#;
    const RESP: &str = r#"{"system":{"get_sysinfo":{"err_code":0}}}"#;

    #[test]
    fn a_message_flushed_by_a_later_ack_comes_before_later_frames() {
        let a = (CLIENT, 40000);
        let b = (CLIENT, 40001);
        let dev = (DEVICE, 9999);
        let lost = xor_msg(REQ);
        let kept = xor_msg(REQ);
        let after = 100 + (lost.len() + kept.len()) as u32;
        let frames = vec![
            tcp(a, dev, 99, 0, "S", b""),
            // Frame 2: the second request of connection A; the first was lost by the capture,
            // so this one waits in the reassembler.
            tcp(a, dev, 100 + lost.len() as u32, 1, "A", &kept),
            // Frame 3: a whole request on connection B.
            tcp(b, dev, 500, 1, "A", &xor_msg(REQ)),
            // Frame 4: the device acknowledges all of A's bytes: the hole was lost, frame 2's
            // request completes now.
            tcp(dev, a, 1, after, "A", b""),
            // Frame 5: a response on B, with nothing held: out at once.
            tcp(dev, b, 1, 500 + 33, "A", &xor_msg(RESP)),
        ];
        let out = run(&frames);
        let order: Vec<u64> = out.iter().map(|(f, _)| *f).collect();
        assert_eq!(order, [2, 3, 5], "{out:?}");
        // Frame 3's message waited for frame 4 (which released frame 2's); frame 5's came out
        // right after frame 5.
        assert_eq!(out, [(2, 4), (3, 4), (5, 5)]);
    }

    #[test]
    fn a_partial_message_at_the_end_comes_before_later_frames() {
        let a = (CLIENT, 40000);
        let b = (CLIENT, 40001);
        let dev = (DEVICE, 9999);
        let whole = xor_msg(REQ);
        let frames = vec![
            tcp(a, dev, 99, 0, "S", b""),
            // Frame 2: the first half of a request; the rest never comes.
            tcp(a, dev, 100, 1, "A", &whole[..10]),
            tcp(b, dev, 500, 1, "A", &xor_msg(REQ)),
            tcp(dev, b, 1, 500 + 33, "A", &xor_msg(RESP)),
        ];
        let out = run(&frames);
        // Connection A holds frame 2 to the end of the capture: everything waits behind it,
        // then comes out in capture order with the truncated request first.
        assert_eq!(out, [(2, 0), (3, 0), (4, 0)], "{out:?}");
    }

    /// Random captures: three connections, each request cut into segments sent in a shuffled
    /// order with some lost, ACKs and FINs here and there. Whatever comes out, comes out in
    /// capture order (frames never go back; within a frame, messages before problems), and
    /// exactly what the collecting wrapper finds.
    #[test]
    fn streamed_items_never_go_back_in_frame_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let dev = (DEVICE, 9999);
        let (mut messages, mut orphans) = (0, 0);
        for _ in 0..300 {
            let mut frames = Vec::new();
            let mut sent = [0u32; 3];
            for c in 0..3u16 {
                frames.push(tcp((CLIENT, 30000 + c), dev, 99, 0, "S", b""));
            }
            let mut segments = Vec::new();
            for _ in 0..6 {
                let c = next(3) as u16;
                let msg = xor_msg(if next(2) == 0 { REQ } else { RESP });
                let mut at = 0;
                while at < msg.len() {
                    let n = (1 + next(20) as usize).min(msg.len() - at);
                    let seq = 100 + sent[c as usize] + at as u32;
                    segments.push((c, seq, msg[at..at + n].to_vec()));
                    at += n;
                }
                sent[c as usize] += msg.len() as u32;
            }
            while !segments.is_empty() {
                // Mostly in order, sometimes a later segment first; some lost.
                let k = if next(4) == 0 {
                    next(segments.len().min(4) as u64) as usize
                } else {
                    0
                };
                let (c, seq, bytes) = segments.remove(k);
                if next(10) != 0 {
                    frames.push(tcp((CLIENT, 30000 + c), dev, seq, 1, "A", &bytes));
                }
                if next(5) == 0 {
                    let c = next(3) as u16;
                    let acked = 100 + sent[c as usize] - next(10) as u32;
                    frames.push(tcp(dev, (CLIENT, 30000 + c), 1, acked, "A", b""));
                }
            }
            for c in 0..3u16 {
                if next(2) == 0 {
                    let fin = 100 + sent[c as usize];
                    frames.push(tcp((CLIENT, 30000 + c), dev, fin, 1, "FA", b""));
                }
            }
            let mut d = Decoder::new(Config::default());
            let mut out = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                d.push(&record(i as u64 + 1, f));
                out.extend(std::iter::from_fn(|| d.pop()));
            }
            d.end();
            out.extend(std::iter::from_fn(|| d.pop()));
            let keys: Vec<(u64, bool)> = out
                .iter()
                .map(|i| (frame_of(i), matches!(i, Item::Orphan(_))))
                .collect();
            assert!(keys.is_sorted(), "{keys:?}");
            messages += keys.iter().filter(|k| !k.1).count();
            orphans += keys.iter().filter(|k| k.1).count();
            run(&frames);
        }
        assert!(
            messages > 500 && orphans > 10,
            "{messages} messages, {orphans} problems"
        );
    }

    #[test]
    fn closed_connections_are_forgotten() {
        let dev = (DEVICE, 9999);
        let mut d = Decoder::new(Config::default());
        let mut frame = 0u64;
        let mut messages = 0;
        let n = MAX_CLOSED as u16 + 1000;
        for i in 0..n {
            let c = (CLIENT, 10000 + i);
            let (q, r) = (xor_msg(REQ), xor_msg(RESP));
            let (qn, rn) = (q.len() as u32, r.len() as u32);
            for f in [
                tcp(c, dev, 99, 0, "S", b""),
                tcp(dev, c, 0, 100, "SA", b""),
                tcp(c, dev, 100, 1, "A", &q),
                tcp(dev, c, 1, 100 + qn, "A", &r),
                tcp(c, dev, 100 + qn, 1 + rn, "FA", b""),
                tcp(dev, c, 1 + rn, 101 + qn, "FA", b""),
                tcp(c, dev, 101 + qn, 2 + rn, "A", b""),
            ] {
                frame += 1;
                d.push(&record(frame, &f));
                while let Some(item) = d.pop() {
                    assert!(matches!(item, Item::Message { .. }));
                    messages += 1;
                }
            }
            assert!(d.conn_map.len() <= MAX_CLOSED + 1, "{}", d.conn_map.len());
        }
        assert_eq!(messages, 2 * n as usize);
        assert!(d.holds.is_empty() && d.waiting.is_empty());
        let summary = d.end();
        assert_eq!(summary.stats.connections, n as usize);
        assert_eq!(summary.stats.messages, 2 * n as usize);
    }
}
