//! Capture replay: pcap/pcapng records → TCP/UDP payloads → messages.
//!
//! [`Decoder`] is fed frames one at a time ([`Decoder::push`]) and returns everything it found at
//! [`Decoder::finish`]: messages sorted by the frame where they complete, paired; problems that
//! belong to no message; counts. [`decode_file`] does the whole loop for a file.

pub mod link;
pub mod reader;

pub use link::{L4, LinkType, Segment};
pub use reader::{Reader, Record};

use crate::conv::framer::{End, Event};
use crate::conv::{Chunk, Framer, Pairer, Reassembler};
use crate::msg::{self, Body, Device, Direction, Message, Pairing, Problem, Transport};
use crate::wire::xor;
use core::fmt;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// The standard port of the XOR protocol, on TCP and UDP.
pub const XOR_PORT: u16 = 9999;

/// What to decode and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// TCP ports where the device listens (default 9999).
    pub tcp_ports: Vec<u16>,
    /// UDP ports where the device listens (default 9999).
    pub udp_ports: Vec<u16>,
    /// Length headers above this are malformed (default 1 MiB).
    pub max_message: u32,
    /// Detect the protocol on other ports from the content.
    pub heuristics: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tcp_ports: vec![XOR_PORT],
            udp_ports: vec![XOR_PORT],
            max_message: xor::DEFAULT_MAX_MESSAGE,
            heuristics: true,
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

/// Everything found in a capture.
#[derive(Debug, Default)]
pub struct Decoded {
    pub messages: Vec<Message>,
    pub orphans: Vec<Orphan>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// On a configured port.
    Port,
    /// No data seen yet on another port.
    Undecided,
    /// Passed the cheap heuristic; the first message must parse as JSON.
    Probation,
    /// Confirmed by the first message.
    Confirmed,
    Rejected,
}

#[derive(Debug)]
struct Direction1 {
    reasm: Reassembler,
    framer: Framer,
    closed: bool,
}

#[derive(Debug)]
struct Conn {
    index: usize,
    /// `ends[0]` sent the first segment seen.
    ends: [SocketAddr; 2],
    device: Option<SocketAddr>,
    admission: Admission,
    dirs: [Direction1; 2],
    counted: bool,
}

impl Conn {
    fn new(
        index: usize,
        src: SocketAddr,
        dst: SocketAddr,
        device: Option<SocketAddr>,
        admission: Admission,
        cap: u32,
    ) -> Conn {
        let dir = || Direction1 {
            reasm: Reassembler::default(),
            framer: Framer::new(cap),
            closed: false,
        };
        Conn {
            index,
            ends: [src, dst],
            device,
            admission,
            dirs: [dir(), dir()],
            counted: false,
        }
    }
}

/// Decodes frames pushed one by one.
#[derive(Debug)]
pub struct Decoder {
    config: Config,
    conns: HashMap<(SocketAddr, SocketAddr), usize>,
    conn_list: Vec<Conn>,
    udp_flows: HashMap<(SocketAddr, SocketAddr), usize>,
    conversations: usize,
    messages: Vec<Message>,
    orphans: Vec<Orphan>,
    frames: u64,
    last_time: Duration,
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Decoder {
    pub fn new(config: Config) -> Decoder {
        Decoder {
            config,
            conns: HashMap::new(),
            conn_list: Vec::new(),
            udp_flows: HashMap::new(),
            conversations: 0,
            messages: Vec::new(),
            orphans: Vec::new(),
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
                .is_some_and(|&i| self.conn_list[i].dirs.iter().any(|d| d.closed));
        let idx = match self.conns.get(&k) {
            Some(&i) if !reuse => i,
            _ => {
                let ports = &self.config.tcp_ports;
                let (device, admission) = if ports.contains(&seg.dst.port()) {
                    (Some(seg.dst), Admission::Port)
                } else if ports.contains(&seg.src.port()) {
                    (Some(seg.src), Admission::Port)
                } else if self.config.heuristics {
                    (None, Admission::Undecided)
                } else {
                    (None, Admission::Rejected)
                };
                let i = self.conn_list.len();
                self.conn_list.push(Conn::new(
                    usize::MAX,
                    seg.src,
                    seg.dst,
                    device,
                    admission,
                    self.config.max_message,
                ));
                self.conns.insert(k, i);
                i
            }
        };
        let cap = self.config.max_message;
        let conn = &mut self.conn_list[idx];
        if conn.admission == Admission::Undecided && (!payload.is_empty() || seg.missing > 0) {
            conn.admission = if xor::tcp_heuristic(payload, cap) {
                Admission::Probation
            } else {
                Admission::Rejected
            };
        }
        if conn.admission == Admission::Rejected {
            return;
        }
        let d = usize::from(seg.src != conn.ends[0]);
        let mut events: Vec<(usize, Event)> = Vec::new();
        {
            let [d0, d1] = &mut conn.dirs;
            let (this, other) = if d == 0 { (d0, d1) } else { (d1, d0) };
            let mut to_this = |c: Chunk<'_>| this.framer.push(c, &mut |e| events.push((d, e)));
            if syn {
                this.reasm.syn(seq);
            }
            let mut other_events = Vec::new();
            if let Some(ack) = ack {
                other.reasm.ack(ack, frame, time, &mut |c| {
                    other.framer.push(c, &mut |e| other_events.push((1 - d, e)))
                });
            }
            this.reasm
                .segment(seq, payload, seg.missing, frame, time, &mut to_this);
            if fin && !this.closed {
                this.closed = true;
                this.reasm.close(frame, time, &mut to_this);
                this.framer
                    .close(End::Fin { frame, time }, &mut |e| events.push((d, e)));
            }
            if rst && !other.closed {
                other.closed = true;
                other.reasm.close(frame, time, &mut |c| {
                    other.framer.push(c, &mut |e| other_events.push((1 - d, e)))
                });
                other.framer.close(End::Fin { frame, time }, &mut |e| {
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
        let (src, dst) = (conn.ends[d], conn.ends[1 - d]);
        match event {
            Event::Problem {
                frame,
                time,
                problem,
            } => {
                if conn.admission == Admission::Probation {
                    return;
                }
                self.orphans.push(Orphan {
                    frame,
                    time,
                    transport: Transport::XorTcp,
                    src,
                    dst,
                    problem,
                });
            }
            Event::Message(raw) => {
                let mut problems = raw.problems;
                let body = Body::analyse(&raw.plaintext, &mut problems);
                if conn.admission == Admission::Probation {
                    if !body.json_ok {
                        conn.admission = Admission::Rejected;
                        return;
                    }
                    conn.admission = Admission::Confirmed;
                }
                if !conn.counted {
                    conn.counted = true;
                    conn.index = self.conversations;
                    self.conversations += 1;
                }
                // The device side was fixed by the port when the connection was seen first.
                let (direction, device) =
                    msg::direction(conn.device, src, dst, (false, false), &body);
                conn.device = Some(device);
                self.messages.push(Message {
                    transport: Transport::XorTcp,
                    direction,
                    src,
                    dst,
                    frames: raw.frames,
                    time: raw.time,
                    len_header: raw.len_header,
                    plaintext: raw.plaintext,
                    body,
                    problems,
                    pairing: Pairing::default(),
                    conversation: conn.index,
                    peer_device: None,
                });
            }
        }
    }

    fn udp(&mut self, seg: &Segment<'_>, payload: &[u8], frame: u64, time: Duration) {
        let ports = &self.config.udp_ports;
        let by_port = ports.contains(&seg.dst.port()) || ports.contains(&seg.src.port());
        if !(by_port || self.config.heuristics && xor::udp_heuristic(payload)) {
            return;
        }
        if payload.is_empty() && seg.missing == 0 {
            return;
        }
        let plaintext = xor::decrypt(payload);
        let mut problems = Vec::new();
        if seg.missing > 0 {
            problems.push(Problem::Truncated {
                expected: Some(payload.len() + seg.missing as usize),
                got: payload.len(),
            });
        }
        let body = Body::analyse(&plaintext, &mut problems);
        if !by_port && !body.json_ok {
            return;
        }
        let on_port = (
            ports.contains(&seg.src.port()),
            ports.contains(&seg.dst.port()),
        );
        let (direction, _) = msg::direction(None, seg.src, seg.dst, on_port, &body);
        let flow_key = match direction {
            Direction::Request => (seg.src, seg.dst),
            Direction::Response => (seg.dst, seg.src),
        };
        let next = self.conversations;
        let conversation = *self.udp_flows.entry(flow_key).or_insert(next);
        if conversation == next {
            self.conversations += 1;
        }
        self.messages.push(Message {
            transport: Transport::XorUdp,
            direction,
            src: seg.src,
            dst: seg.dst,
            frames: vec![frame],
            time,
            len_header: None,
            plaintext,
            body,
            problems,
            pairing: Pairing::default(),
            conversation,
            peer_device: None,
        });
    }

    /// Ends the capture: closes every stream, sorts, pairs and counts.
    pub fn finish(mut self) -> Decoded {
        let (frame, time) = (self.frames, self.last_time);
        for idx in 0..self.conn_list.len() {
            if matches!(
                self.conn_list[idx].admission,
                Admission::Rejected | Admission::Undecided
            ) {
                continue;
            }
            for d in 0..2 {
                let mut events = Vec::new();
                let dir = &mut self.conn_list[idx].dirs[d];
                if !dir.closed {
                    dir.closed = true;
                    dir.reasm.close(frame, time, &mut |c| {
                        dir.framer.push(c, &mut |e| events.push(e))
                    });
                    dir.framer.close(End::Capture, &mut |e| events.push(e));
                }
                for e in events {
                    self.tcp_event(idx, d, e);
                }
            }
        }
        // Stable: messages completing in the same frame keep their stream order.
        self.messages.sort_by_key(Message::frame);
        self.orphans.sort_by_key(|o| o.frame);
        let mut pairer = Pairer::new();
        let mut devices: HashMap<IpAddr, Device> = HashMap::new();
        let mut identities: HashSet<String> = HashSet::new();
        for i in 0..self.messages.len() {
            let m = &self.messages[i];
            let (frame, time) = (m.frame(), m.time);
            let matched = match (m.transport, m.direction) {
                (Transport::XorTcp, Direction::Request) => {
                    pairer.tcp_request(m.conversation as u64, i, frame, time);
                    None
                }
                (Transport::XorTcp, Direction::Response) => {
                    pairer.tcp_response(m.conversation as u64, time)
                }
                (Transport::XorUdp, Direction::Request) => {
                    pairer.udp_request(m.src, m.dst, &m.body.methods, i, frame, time);
                    None
                }
                (Transport::XorUdp, Direction::Response) => {
                    pairer.udp_response(m.dst, m.src, &m.body.methods, time)
                }
            };
            if let Some(matched) = matched {
                self.messages[i].pairing.response_to = Some(matched.request_frame);
                self.messages[i].pairing.time = Some(matched.time);
                self.messages[matched.tag].pairing.response_in.push(frame);
            }
            let m = &mut self.messages[i];
            let device_ip = match m.direction {
                Direction::Request => m.dst.ip(),
                Direction::Response => m.src.ip(),
            };
            if let Some(dev) = &m.body.device {
                if m.direction == Direction::Response {
                    let id = dev
                        .device_id
                        .clone()
                        .or(dev.mac.clone())
                        .unwrap_or_else(|| device_ip.to_string());
                    identities.insert(id);
                    devices.insert(device_ip, dev.clone());
                }
            } else {
                m.peer_device = devices.get(&device_ip).cloned();
            }
        }
        let stats = Stats {
            frames: self.frames,
            messages: self.messages.len(),
            requests: self
                .messages
                .iter()
                .filter(|m| m.direction == Direction::Request)
                .count(),
            responses: self
                .messages
                .iter()
                .filter(|m| m.direction == Direction::Response)
                .count(),
            connections: self.conn_list.iter().filter(|c| c.counted).count(),
            udp_flows: self.udp_flows.len(),
            devices: identities.len(),
            malformed: self
                .messages
                .iter()
                .filter(|m| m.problems.iter().any(Problem::is_malformed))
                .count()
                + self
                    .orphans
                    .iter()
                    .filter(|o| o.problem.is_malformed())
                    .count(),
        };
        Decoded {
            messages: self.messages,
            orphans: self.orphans,
            stats,
            stop: None,
        }
    }
}
