//! Capture replay: pcap/pcapng records → TCP/UDP payloads → messages.
//!
//! [`Decoder`] is fed frames one at a time ([`Decoder::push`]) and returns everything it found at
//! [`Decoder::finish`]: messages sorted by the frame where they complete, paired; problems that
//! belong to no message; counts. [`decode_file`] does the whole loop for a file.
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
    Chunk, ConvId, Event, Found, HttpMessage, MessageId, RawMessage, Reassembler, Secrets, Seen,
    Session, StreamDecoder,
};
use crate::msg::{Body, Direction, Message, Meta, Pairing, Problem, Transport};
use crate::wire::{http, tdp, xor};
use core::fmt;
use foldhash::{HashMap, HashMapExt as _};
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
        105 => "IEEE 802.11",
        127 => "IEEE 802.11 radiotap",
        147..=162 => "user-defined",
        187 => "Bluetooth HCI H4",
        192 => "PPI",
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

/// Decodes a whole capture file. `Err` only when the file cannot be opened as a capture;
/// an error later on is in [`Decoded::stop`], after everything decoded before it.
pub fn decode_file(path: &Path, config: &Config) -> Result<Decoded, CaptureError> {
    decode_file_with_progress(path, config, |_, _| {})
}

/// [`decode_file`], calling `progress(bytes read, file size)` every 4,096 frames.
pub fn decode_file_with_progress(
    path: &Path,
    config: &Config,
    mut progress: impl FnMut(u64, u64),
) -> Result<Decoded, CaptureError> {
    let mut reader = Reader::open(path)?;
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
        frames += 1;
        if frames.is_multiple_of(4096) {
            let (read, len) = reader.progress();
            progress(read, len);
        }
    }
    let mut decoded = decoder.finish();
    decoded.stop = stop;
    Ok(decoded)
}

/// One direction of a TCP connection.
#[derive(Debug)]
struct Half {
    reasm: Reassembler,
    decoder: StreamDecoder,
    closed: bool,
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

/// What phase one found, in the order found; phase two sorts it into capture order and hands
/// it to the session.
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
    fn frame(&self) -> u64 {
        match self {
            Found1::Message { raw, .. } => raw.frames.last().copied().unwrap_or(0),
            Found1::Http { msg, .. } => msg.frames.last().copied().unwrap_or(0),
            Found1::Orphan { frame, .. } => *frame,
        }
    }
}

/// Decodes frames pushed one by one.
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    conns: HashMap<(SocketAddr, SocketAddr), usize>,
    conn_list: Vec<Conn>,
    udp_convs: HashMap<(SocketAddr, SocketAddr), ConvId>,
    next_conv: ConvId,
    found: Vec<Found1>,
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

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Decoder {
    pub fn new(config: Config) -> Decoder {
        Decoder {
            cloud: cloud::CloudReader::new(&config.cloud_ports),
            config,
            conns: HashMap::new(),
            conn_list: Vec::new(),
            udp_convs: HashMap::new(),
            next_conv: 0,
            found: Vec::new(),
            frames: 0,
            last_time: Duration::ZERO,
        }
    }

    /// Feeds one frame.
    pub fn push(&mut self, record: &Record<'_>) {
        self.frames = record.frame;
        self.last_time = record.time;
        let Some(seg) = link::parse(record.link, record.data, record.orig_len) else {
            return;
        };
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
    }

    fn new_conv(&mut self) -> ConvId {
        self.next_conv += 1;
        self.next_conv - 1
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
                .is_some_and(|&i| self.conn_list[i].halves.iter().any(|d| d.closed));
        let idx = match self.conns.get(&k) {
            Some(&i) if !reuse => i,
            _ => {
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
                let half = || Half {
                    reasm: Reassembler::default(),
                    decoder: StreamDecoder::new(Transport::XorTcp, cap)
                        .expect("XOR over TCP is a stream transport"),
                    closed: false,
                };
                let id = self.new_conv();
                let i = self.conn_list.len();
                self.conn_list.push(Conn {
                    id,
                    ends: [seg.src, seg.dst],
                    on_port,
                    read,
                    halves: [half(), half()],
                    first_frame: frame,
                    last_frame: frame,
                    frames: 0,
                    http_open: Default::default(),
                });
                self.conns.insert(k, i);
                i
            }
        };
        let cap = self.config.max_message;
        let conn = &mut self.conn_list[idx];
        conn.frames += 1;
        conn.last_frame = frame;
        if matches!(conn.read, Read::Undecided | Read::Ignored) && is_app_request(payload) {
            // KLAP and AES are recognised by their URIs on any port, as Wireshark's HTTP
            // heuristic finds HTTP.
            conn.read = Read::Http;
            for half in &mut conn.halves {
                half.decoder =
                    StreamDecoder::new(Transport::Klap, cap).expect("HTTP is a stream transport");
            }
        }
        if conn.read == Read::Undecided && (!payload.is_empty() || seg.missing > 0) {
            conn.read = if self.config.heuristics && xor::tcp_heuristic(payload, cap) {
                Read::Heuristic
            } else {
                Read::Ignored
            };
        }
        if conn.read == Read::Ignored {
            return;
        }
        let d = usize::from(seg.src != conn.ends[0]);
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
            self.tcp_event(idx, d, event);
        }
    }

    fn tcp_event(&mut self, idx: usize, d: usize, event: Event) {
        let conn = &mut self.conn_list[idx];
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
        self.found.push(match event {
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
        });
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
        self.found.push(Found1::Message {
            at: Place {
                conv,
                found,
                src: seg.src,
                dst: seg.dst,
                on_port,
            },
            raw,
        });
    }

    /// Ends the capture: closes every stream, then hands everything to the session in capture
    /// order (stable: messages completing in the same frame keep their stream order).
    pub fn finish(mut self) -> Decoded {
        let (frame, time) = (self.frames, self.last_time);
        let cloud = self.cloud.finish(frame, time);
        for idx in 0..self.conn_list.len() {
            if matches!(self.conn_list[idx].read, Read::Ignored | Read::Undecided) {
                continue;
            }
            for d in 0..2 {
                let mut events = Vec::new();
                let half = &mut self.conn_list[idx].halves[d];
                if !half.closed {
                    half.closed = true;
                    half.reasm.close(frame, time, &mut |c| {
                        half.decoder.push(c, &mut |e| events.push(e))
                    });
                    half.decoder.close(End::Capture, &mut |e| events.push(e));
                }
                for e in events {
                    self.tcp_event(idx, d, e);
                }
            }
        }
        let mut found = std::mem::take(&mut self.found);
        found.sort_by_key(Found1::frame);

        let mut session = Session::with_secrets(self.config.secrets.clone(), false);
        let mut messages: Vec<Message> = Vec::with_capacity(found.len());
        let mut orphans = Vec::new();
        let mut ids: Vec<MessageId> = Vec::with_capacity(found.len());
        let mut index_in_frame = (0u64, 0u32);
        let mut next_id = |frame: u64| {
            if index_in_frame.0 != frame {
                index_in_frame = (frame, 0);
            }
            index_in_frame.1 += 1;
            MessageId {
                frame,
                index: index_in_frame.1 - 1,
            }
        };
        for f in found {
            let frame = f.frame();
            match f {
                Found1::Message { at, raw } => {
                    let seen = at.seen(next_id(frame), raw.time);
                    let mut problems = raw.problems;
                    let body = Body::analyse(&raw.plaintext, &mut problems);
                    let Some(record) = session.message(&seen, &raw.meta, &body) else {
                        continue;
                    };
                    let mut meta = raw.meta;
                    if let Meta::Tdp(t) = &mut meta {
                        t.encrypt_info = record.encrypt_info;
                    }
                    ids.push(seen.id);
                    messages.push(Message {
                        meta,
                        direction: record.direction,
                        src: at.src,
                        dst: at.dst,
                        frames: raw.frames,
                        time: raw.time,
                        plaintext: raw.plaintext,
                        body,
                        problems,
                        pairing: Pairing {
                            response_in: Vec::new(),
                            response_to: record.response_to.map(|l| l.request.frame),
                            time: record.response_to.map(|l| l.time),
                        },
                        conversation: record.conversation,
                        peer_device: record.peer_device,
                    });
                }
                Found1::Http { at, msg, answers } => {
                    if msg.body.is_empty() {
                        // Wireshark's HTTP hands no empty body to a subdissector (WIRESHARK.md
                        // §13): the plugin never sees these, so neither does the CLI.
                        continue;
                    }
                    let seen = at.seen(next_id(frame), msg.time);
                    let Some(shown) = session.http(&seen, &msg.view(answers)) else {
                        continue;
                    };
                    let mut problems = msg.problems;
                    problems.extend(shown.problems);
                    let record = shown.record;
                    ids.push(seen.id);
                    messages.push(Message {
                        meta: shown.meta,
                        direction: record.direction,
                        src: at.src,
                        dst: at.dst,
                        frames: msg.frames,
                        time: msg.time,
                        plaintext: shown.plaintext,
                        body: shown.body,
                        problems,
                        pairing: Pairing {
                            response_in: Vec::new(),
                            response_to: record.response_to.map(|l| l.request.frame),
                            time: record.response_to.map(|l| l.time),
                        },
                        conversation: record.conversation,
                        peer_device: record.peer_device,
                    });
                }
                Found1::Orphan {
                    at,
                    transport,
                    frame,
                    time,
                    problem,
                } => {
                    if session.orphan(&at.seen(next_id(frame), time)) {
                        orphans.push(Orphan {
                            frame,
                            time,
                            transport,
                            src: at.src,
                            dst: at.dst,
                            problem,
                        });
                    }
                }
            }
        }
        for (m, id) in messages.iter_mut().zip(&ids) {
            if m.direction == Direction::Request {
                m.pairing.response_in = session.responses(*id).to_vec();
            }
        }
        let marked = self
            .conn_list
            .iter()
            .filter_map(|c| {
                let (client, device) = (c.ends[0], c.ends[1]);
                session.announced(device).map(|transport| Marked {
                    transport,
                    client,
                    device,
                    first_frame: c.first_frame,
                    last_frame: c.last_frame,
                    frames: c.frames,
                })
            })
            .collect();
        let counts = session.stats();
        let stats = Stats {
            frames: self.frames,
            messages: messages.len(),
            requests: messages
                .iter()
                .filter(|m| m.direction == Direction::Request)
                .count(),
            responses: messages
                .iter()
                .filter(|m| m.direction == Direction::Response)
                .count(),
            connections: counts.streams,
            udp_flows: counts.flows,
            devices: counts.devices,
            malformed: messages
                .iter()
                .filter(|m| m.problems.iter().any(Problem::is_malformed))
                .count()
                + orphans.iter().filter(|o| o.problem.is_malformed()).count(),
        };
        Decoded {
            messages,
            orphans,
            marked,
            cloud,
            stats,
            stop: None,
        }
    }
}
