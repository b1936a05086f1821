//! The session layer: everything that is decided about a message from the messages around it,
//! in one place for every front end.
//!
//! The plugin (on Wireshark's first pass) and `kasa-decode` (over its own reassembly) hand each
//! message to [`Session::message`] in capture order, and each problem that belongs to no
//! message to [`Session::orphan`]. The session owns:
//!
//! * **admission**: whether a conversation is this protocol. A conversation found on a device
//!   port is ours from the start. One found by a heuristic ([`Found::Heuristic`]) is on
//!   probation: its first message must parse as JSON, or the claim was wrong and the whole
//!   conversation is dropped ([`Admission::Rejected`]); a framing problem before that first
//!   message rejects it too. A stream (TCP) is judged once; a datagram flow (UDP) that is not
//!   yet confirmed judges every datagram on its own, and one good datagram confirms the flow.
//! * **direction**: the device's endpoint, decided once per conversation (one rule: the known device end, else the side on a device port, else the JSON)
//!   and remembered;
//! * **pairing**: by the transport's own rule ([`Pairer`]): TCP in order per conversation, XOR
//!   over UDP by client, device and methods;
//! * **problems outside messages**: bytes skipped in one stream direction are reported once per
//!   stretch: a problem that follows another in the same direction, with no message between,
//!   belongs to the same stretch and is not shown again (a front end that frames per segment,
//!   like the plugin, then shows what the decoder's framer, which merges the stretch, shows);
//! * **device identity**: the last `get_sysinfo` answer of each device address, attached to the
//!   later messages of that device that do not carry it themselves;
//! * **memory**: the open requests of one conversation are capped ([`MAX_OPEN_PER_CONVERSATION`]),
//!   the identities at [`MAX_DEVICES`] addresses; what is kept per message ([`Record`]) is
//!   small and kept only when the front end asks to read it back ([`Session::remembering`]).
//!
//! A front end keeps no conversation logic of its own: it says where a message was seen
//! ([`Seen`]) and what the transport found ([`Meta`], [`Body`]), and shows the [`Record`].

use super::http::HttpView;
use super::pair::Pairer;
use super::secure::{Classified, Secrets, Secure};
use crate::audit::{self, DeviceAudit, Finding, Subject};
use crate::msg::{Body, Call, Device, Dialect, Direction, Meta, Method, Problem, Transport};
use crate::wire::crypto::CryptoError;
use crate::wire::xor;
use foldhash::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A front end's name for a conversation: a TCP connection or a UDP address pair. Opaque to the
/// session; the plugin uses Wireshark's conversation index, `kasa-decode` its own.
pub type ConvId = u64;

/// Open requests remembered per conversation (the oldest are forgotten first).
pub const MAX_OPEN_PER_CONVERSATION: usize = 4096;

/// Device addresses whose identity is remembered.
pub const MAX_DEVICES: usize = 65_536;

/// One message of a capture: the frame where it completes and its index among the messages that
/// complete in that frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId {
    pub frame: u64,
    pub index: u32,
}

/// How the front end came to this conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// On a device port (port table, Decode As, a port preference or option).
    Port,
    /// By a heuristic on another port.
    Heuristic,
}

/// Whether a conversation is this protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Not seen yet, or a datagram flow with no good datagram yet.
    Unknown,
    /// Found on a device port.
    Port,
    /// Found by a heuristic; the first message decides.
    Probation,
    /// Found by a heuristic and confirmed by a message.
    Confirmed,
    /// Found by a heuristic that was wrong: nothing of it is shown.
    Rejected,
}

/// Where and when a message (or an orphan problem) was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub id: MessageId,
    /// Capture time of the frame where it completes.
    pub time: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub conv: ConvId,
    pub found: Found,
    /// Whether `src` and `dst` are on a device port (the port the dissector table matched,
    /// a port preference, a `--port` option).
    pub on_device_port: (bool, bool),
}

/// A link from a response to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub request: MessageId,
    /// Response time minus request time (zero if the capture's clock went backwards).
    pub time: Duration,
}

/// The frames of a request's responses: most requests have one, kept without an allocation.
#[derive(Debug)]
enum ResponseFrames {
    None,
    One([u64; 1]),
    Many(Vec<u64>),
}

impl ResponseFrames {
    fn push(&mut self, frame: u64) {
        *self = match core::mem::replace(self, ResponseFrames::None) {
            ResponseFrames::None => ResponseFrames::One([frame]),
            ResponseFrames::One([first]) => ResponseFrames::Many(vec![first, frame]),
            ResponseFrames::Many(mut v) => {
                v.push(frame);
                ResponseFrames::Many(v)
            }
        }
    }

    fn as_slice(&self) -> &[u64] {
        match self {
            ResponseFrames::None => &[],
            ResponseFrames::One(one) => one,
            ResponseFrames::Many(v) => v,
        }
    }
}

/// What the session decided about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub direction: Direction,
    /// The device's endpoint.
    pub device: SocketAddr,
    /// The conversation's number among the conversations shown, from 0 in order of their first
    /// message.
    pub conversation: usize,
    /// On a response: its request.
    pub response_to: Option<Link>,
    /// The device's identity from an earlier answer, when this message does not carry it.
    pub peer_device: Option<Arc<Device>>,
    /// A TDP reply's `encrypt_info`, decrypted with the user's RSA key of the probe it
    /// answers (or why it did not decrypt).
    pub encrypt_info: Option<Result<Vec<u8>, CryptoError>>,
    /// This is the message where an XOR connection showed itself one-sided: its second
    /// answer, with no request seen on it ([`Problem::OneSided`](crate::msg::Problem)). A
    /// capture that starts in the middle of an exchange shows at most one such answer.
    pub one_sided: bool,
    /// The security findings that show at this message ([`crate::audit::findings`]).
    pub findings: Vec<Finding>,
    /// This datagram is a copy of an earlier one (the same bytes between the same two
    /// endpoints within [`DUPLICATE_WINDOW`]: a mirror port, an `any`-interface capture): the
    /// original. A copy is left out of pairing and device identity.
    pub duplicate_of: Option<MessageId>,
}

/// How close in time two identical datagrams of one conversation and direction must be for
/// the second to be taken as a copy of the first (a capture that sees every datagram twice
/// sees the copies microseconds apart; an application that repeats a request waits far
/// longer).
pub const DUPLICATE_WINDOW: Duration = Duration::from_millis(5);

/// Recent datagrams kept for recognising copies, at most (older ones are dropped first).
const DUPLICATE_MEMORY: usize = 1024;

/// A datagram's conversation, source, destination, digest of its bytes and length.
type DatagramKey = (ConvId, SocketAddr, SocketAddr, u64, usize);

/// A datagram remembered for recognising its copies.
#[derive(Debug, Clone, Copy)]
struct RecentDatagram {
    id: MessageId,
    time: Duration,
}

/// An HTTP message the session recognised as KLAP or AES: what its transport said, its
/// plaintext (decrypted when the secrets allowed), and the decision about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub meta: Meta,
    pub plaintext: Vec<u8>,
    pub body: Body,
    pub problems: Vec<Problem>,
    pub record: Record,
}

/// Counts over what the session has shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Stream conversations (TCP connections) with at least one message.
    pub streams: usize,
    /// Datagram conversations (UDP address pairs) with at least one message.
    pub flows: usize,
    /// Distinct devices identified (by device id, else MAC, else address).
    pub devices: usize,
}

#[derive(Debug)]
struct Conv {
    admission: Admission,
    device: Option<SocketAddr>,
    /// Dense number, given at the first message shown.
    number: Option<usize>,
    /// XOR over TCP: requests, and answers while no request was seen.
    requests: u32,
    lone_answers: u32,
}

/// The session of one capture.
#[derive(Debug, Default)]
pub struct Session {
    convs: HashMap<ConvId, Conv>,
    pairer: Pairer,
    devices: HashMap<IpAddr, Arc<Device>>,
    identities: HashSet<String>,
    numbered: usize,
    stats: SessionStats,
    remember: bool,
    records: HashMap<MessageId, Option<Record>>,
    orphans: HashMap<MessageId, bool>,
    /// Stream directions (conversation, sender) in a stretch of skipped bytes.
    skipping: HashSet<(ConvId, SocketAddr)>,
    responses: HashMap<MessageId, ResponseFrames>,
    secure: Secure,
    shown: HashMap<MessageId, Option<Shown>>,
    /// Endpoints a TDP reply announced for a transport inside TLS (TPAP; KLAP or AES with
    /// `is_support_https`; Linkie for a Kasa camera).
    announced: HashMap<SocketAddr, Transport>,
    /// Open SMART requests with one method (see `answered_method`).
    smart_requests: HashMap<MessageId, String>,
    /// Devices followed for the findings no single message shows.
    audit: DeviceAudit,
    /// Recent datagrams by (conversation, source, destination, digest of the bytes, length).
    recent: HashMap<DatagramKey, RecentDatagram>,
    /// Stream conversations whose first bytes were judged ([`Session::clear_text_stream`]):
    /// whether they were clear text.
    opened: HashMap<ConvId, bool>,
}

impl Session {
    /// A session that decides each message once and does not keep the decisions.
    pub fn new() -> Self {
        Self::default()
    }

    /// A session that keeps every decision, to be read back by [`Session::record`] and
    /// [`Session::orphan_shown`] (a dissector that is called again for a frame it has seen).
    pub fn remembering() -> Self {
        Session {
            remember: true,
            ..Self::default()
        }
    }

    /// A session that decrypts KLAP and AES with `secrets`.
    pub fn with_secrets(secrets: Secrets, remember: bool) -> Self {
        Session {
            remember,
            secure: Secure::new(secrets),
            ..Self::default()
        }
    }

    /// Decides an HTTP message: `None` when it is not KLAP or AES (it stays HTTP). A request
    /// goes to the device (`seen.dst`). Call in capture order, once per message.
    pub fn http(&mut self, seen: &Seen, view: &HttpView<'_>) -> Option<Shown> {
        let mut shown = self.decide_http(seen, view);
        if let Some(s) = &mut shown {
            s.record.findings = self.audit(seen, &s.record, &s.meta, &s.body, &s.plaintext);
        }
        if self.remember {
            self.shown.insert(seen.id, shown.clone());
        }
        shown
    }

    /// What [`Session::http`] decided for `id`, in a session that remembers.
    pub fn shown(&self, id: MessageId) -> Option<Option<&Shown>> {
        self.shown.get(&id).map(Option::as_ref)
    }

    /// Whether a TDP reply announced `addr` as a TPAP endpoint.
    pub fn is_tpap(&self, addr: SocketAddr) -> bool {
        self.announced.get(&addr) == Some(&Transport::Tpap)
    }

    /// The transport a TDP reply announced for the TLS endpoint `addr`, if any: TPAP (its
    /// `tpap.port`, 4433 by default), KLAP or AES over HTTPS (`is_support_https`: its
    /// `http_port`, else 4433 for KLAP and 443 for AES, SslAes), Linkie (`IOT.IPCAMERA`, 10443)
    /// (PROTOCOL.md §3, §6). Without the TLS secrets this is all that can be known of such a
    /// connection: which transport it carries, and to which device.
    pub fn announced(&self, addr: SocketAddr) -> Option<Transport> {
        self.announced.get(&addr).copied()
    }

    /// What a TDP reply from `device` announces: the TLS endpoints and their transports.
    fn announce(&mut self, device: SocketAddr, d: &crate::wire::tdp::Discovery) {
        let ip = device.ip();
        let mut add = |port: u16, t: Transport| {
            if self.announced.len() < MAX_DEVICES {
                self.announced.insert(SocketAddr::new(ip, port), t);
            }
        };
        match d.encrypt_type.as_deref() {
            Some("TPAP") => add(
                d.tpap.as_ref().and_then(|t| t.port).unwrap_or(4433),
                Transport::Tpap,
            ),
            Some("KLAP") if d.is_support_https == Some(true) => {
                add(d.http_port.unwrap_or(4433), Transport::Klap)
            }
            Some("AES") if d.is_support_https == Some(true) => {
                add(d.http_port.unwrap_or(443), Transport::Aes)
            }
            _ => {}
        }
        if d.device_type.as_deref() == Some("IOT.IPCAMERA") {
            add(10443, Transport::Linkie);
        }
    }

    fn decide_http(&mut self, seen: &Seen, view: &HttpView<'_>) -> Option<Shown> {
        let Classified {
            direction,
            meta,
            plaintext,
            mut problems,
            answers,
        } = self.secure.http(seen, view, self.is_tpap(seen.dst))?;
        let device = match direction {
            Direction::Request => seen.dst,
            Direction::Response => seen.src,
        };
        let c = self.convs.entry(seen.conv).or_insert(Conv {
            admission: Admission::Unknown,
            device: None,
            number: None,
            requests: 0,
            lone_answers: 0,
        });
        if matches!(c.admission, Admission::Unknown | Admission::Probation) {
            c.admission = Admission::Confirmed;
        }
        c.device = Some(device);
        let conversation = self.number(seen.conv, true);
        let mut body = if plaintext.is_empty() {
            Body::default()
        } else {
            Body::analyse(&plaintext, &mut problems)
        };
        self.answered_method(seen.id, answers.map(|(r, _)| r), &mut body);
        let response_to = answers.map(|(request, time)| {
            self.responses
                .entry(request)
                .or_insert(ResponseFrames::None)
                .push(seen.id.frame);
            Link { request, time }
        });
        let peer_device = self.identify(direction, device, &body);
        Some(Shown {
            meta,
            plaintext,
            body,
            problems,
            record: Record {
                direction,
                device,
                conversation,
                response_to,
                peer_device,
                encrypt_info: None,
                one_sided: false,
                findings: Vec::new(),
                duplicate_of: None,
            },
        })
    }

    /// SMART JSON-RPC names the method in the request only: a response that names none
    /// answers its request's one method, with the response's `error_code` (a batch answer names
    /// its own). A request's single method is kept until its answer.
    fn answered_method(&mut self, id: MessageId, request: Option<MessageId>, body: &mut Body) {
        if body.dialect != Some(Dialect::Smart) {
            return;
        }
        match request {
            None => {
                if let [m] = body.methods.as_slice()
                    && self.smart_requests.len() < MAX_DEVICES
                {
                    self.smart_requests.insert(id, m.name());
                }
            }
            Some(r) => {
                let name = self.smart_requests.remove(&r);
                if let Some(name) = name.filter(|_| body.methods.is_empty()) {
                    body.methods.push(Method {
                        call: Call::Smart {
                            method: name.into(),
                        },
                        err_code: body.error_code,
                        err_msg: body.error_msg.clone(),
                    });
                }
            }
        }
    }

    /// The conversation's dense number, given at its first message shown.
    fn number(&mut self, conv: ConvId, stream: bool) -> usize {
        let Some(c) = self.convs.get_mut(&conv) else {
            return 0;
        };
        *c.number.get_or_insert_with(|| {
            if stream {
                self.stats.streams += 1;
            } else {
                self.stats.flows += 1;
            }
            self.numbered += 1;
            self.numbered - 1
        })
    }

    /// Device identity: an answer that carries it is remembered for its device address; a
    /// message without it gets the remembered one (its `peer_device`).
    fn identify(
        &mut self,
        direction: Direction,
        device: SocketAddr,
        body: &Body,
    ) -> Option<Arc<Device>> {
        match (&body.device, direction) {
            (Some(dev), Direction::Response) => {
                let known = self.devices.get(&device.ip());
                // The identity an answer names is counted once: an address that already
                // answered with the same id and MAC (so the same identity) was counted then.
                let counted =
                    known.is_some_and(|k| k.device_id == dev.device_id && k.mac == dev.mac);
                if !counted {
                    let id = match dev.device_id.as_deref().or(dev.mac.as_deref()) {
                        Some(id) => std::borrow::Cow::Borrowed(id),
                        None => std::borrow::Cow::Owned(device.ip().to_string()),
                    };
                    if self.identities.len() < MAX_DEVICES && !self.identities.contains(&*id) {
                        self.identities.insert(id.into_owned());
                    }
                }
                if known.is_none_or(|k| **k != **dev)
                    && (known.is_some() || self.devices.len() < MAX_DEVICES)
                {
                    self.devices.insert(device.ip(), Arc::clone(dev));
                }
                None
            }
            (Some(_), Direction::Request) => None,
            (None, _) => self.devices.get(&device.ip()).cloned(),
        }
    }

    /// Where a conversation stands.
    pub fn admission(&self, conv: ConvId) -> Admission {
        self.convs
            .get(&conv)
            .map_or(Admission::Unknown, |c| c.admission)
    }

    /// The first bytes of a stream conversation found by its port (`prefix`: at least its
    /// first four bytes, as far as at hand): whether the conversation is another protocol's,
    /// clear text that is no XOR frame ([`crate::wire::xor::clear_text`]: HTTP to port 9999, a
    /// banner). Such a conversation is rejected, shown by neither front end and left to other
    /// dissectors. Judged once, on the conversation's first data; afterwards the answer stays.
    pub fn clear_text_stream(&mut self, conv: ConvId, prefix: &[u8], cap: u32) -> bool {
        if prefix.is_empty() {
            return self.opened.get(&conv).copied().unwrap_or(false);
        }
        // Judged once per conversation: every later segment costs this one lookup.
        if let Some(&clear) = self.opened.get(&conv) {
            return clear;
        }
        let clear = self.admission(conv) == Admission::Unknown && xor::clear_text(prefix, cap);
        self.opened.insert(conv, clear);
        if clear {
            self.convs.insert(
                conv,
                Conv {
                    admission: Admission::Rejected,
                    device: None,
                    number: None,
                    requests: 0,
                    lone_answers: 0,
                },
            );
        }
        clear
    }

    /// A stream conversation that the transport's cheap test (on its first bytes, e.g.
    /// [`crate::wire::xor::tcp_heuristic`]) says may be ours: on probation from now on, unless
    /// it was already judged. Returns whether it may be dissected.
    pub fn claim_stream(&mut self, conv: ConvId, passed: bool) -> bool {
        let c = self.convs.entry(conv).or_insert(Conv {
            admission: Admission::Unknown,
            device: None,
            number: None,
            requests: 0,
            lone_answers: 0,
        });
        if c.admission == Admission::Unknown {
            c.admission = if passed {
                Admission::Probation
            } else {
                Admission::Rejected
            };
        }
        c.admission != Admission::Rejected
    }

    /// Decides a message: `None` when it is not shown (its conversation was rejected, or a
    /// datagram on trial did not parse). Call in capture order, once per message.
    /// `plaintext`: the message's text, which [`Body`] was analysed from: the security checks
    /// read it, and a datagram's copy seen within [`DUPLICATE_WINDOW`] is recognised by it
    /// ([`Record::duplicate_of`]; stream transports are not judged here: TCP reassembly
    /// already drops retransmitted bytes).
    pub fn message(
        &mut self,
        seen: &Seen,
        meta: &Meta,
        body: &Body,
        plaintext: &[u8],
    ) -> Option<Record> {
        let key = (!meta.transport().is_stream() && !plaintext.is_empty()).then(|| {
            use std::hash::BuildHasher as _;
            let digest = foldhash::quality::FixedState::with_seed(0x6b61_7361).hash_one(plaintext);
            (seen.conv, seen.src, seen.dst, digest, plaintext.len())
        });
        let record = match key.and_then(|k| self.copy_of(seen, k)) {
            // A copy: no findings of its own (they are its original's).
            Some(original) => self.duplicate(seen, original),
            None => {
                let mut record = self.decide(seen, meta, body);
                if let Some(r) = &mut record {
                    r.findings = self.audit(seen, r, meta, body, plaintext);
                    if let Some(k) = key {
                        self.remember_datagram(seen, k);
                    }
                }
                record
            }
        };
        if self.remember {
            self.records.insert(seen.id, record.clone());
        }
        record
    }

    /// The findings at a message shown, in capture order.
    fn audit(
        &mut self,
        seen: &Seen,
        record: &Record,
        meta: &Meta,
        body: &Body,
        plaintext: &[u8],
    ) -> Vec<Finding> {
        let subject = Subject {
            direction: record.direction,
            src: seen.src,
            frame: seen.id.frame,
            meta,
            body,
            plaintext,
            peer_device: record.peer_device.as_deref(),
        };
        audit::findings(&subject, &mut self.audit)
    }

    /// The earlier datagram shown that this one copies, if any.
    fn copy_of(&self, seen: &Seen, key: DatagramKey) -> Option<MessageId> {
        self.recent
            .get(&key)
            .filter(|r| {
                r.id.frame != seen.id.frame && seen.time.saturating_sub(r.time) <= DUPLICATE_WINDOW
            })
            .map(|r| r.id)
    }

    /// Remembers a datagram shown, for recognising its copies.
    fn remember_datagram(&mut self, seen: &Seen, key: DatagramKey) {
        if self.recent.len() >= DUPLICATE_MEMORY {
            let now = seen.time;
            self.recent
                .retain(|_, r| now.saturating_sub(r.time) <= DUPLICATE_WINDOW);
            if self.recent.len() >= DUPLICATE_MEMORY {
                self.recent.clear();
            }
        }
        self.recent.insert(
            key,
            RecentDatagram {
                id: seen.id,
                time: seen.time,
            },
        );
    }

    /// The record of a copy: shown as its original was (same direction and device), linked to
    /// it, and nothing else: no pairing, no identity, no announcement.
    fn duplicate(&mut self, seen: &Seen, original: MessageId) -> Option<Record> {
        let first = self.records.get(&original).cloned().flatten();
        let c = self.convs.get(&seen.conv)?;
        if c.admission == Admission::Rejected {
            return None;
        }
        let (direction, device) = match first {
            Some(r) => (r.direction, r.device),
            None => {
                let device = c.device?;
                let direction = if seen.dst == device {
                    Direction::Request
                } else {
                    Direction::Response
                };
                (direction, device)
            }
        };
        let conversation = self.number(seen.conv, false);
        Some(Record {
            direction,
            device,
            conversation,
            response_to: None,
            peer_device: None,
            encrypt_info: None,
            one_sided: false,
            findings: Vec::new(),
            duplicate_of: Some(original),
        })
    }

    /// What [`Session::message`] decided for `id`, in a session that remembers: `None` if it
    /// was not decided, `Some(None)` if it was not shown.
    pub fn record(&self, id: MessageId) -> Option<Option<&Record>> {
        self.records.get(&id).map(Option::as_ref)
    }

    /// The frames of the responses to the request `id`, as far as seen.
    pub fn responses(&self, id: MessageId) -> &[u64] {
        self.responses
            .get(&id)
            .map_or(&[], ResponseFrames::as_slice)
    }

    /// Forgets the responses recorded for the request `id` ([`Session::responses`]): for a
    /// front end that shows the link on the response only and keeps no request waiting.
    pub fn forget_responses(&mut self, id: MessageId) {
        self.responses.remove(&id);
    }

    /// Forgets a stream conversation that ended (`ends`: its two endpoints); the front end
    /// hands it nothing more.
    pub fn end_stream(&mut self, conv: ConvId, ends: [SocketAddr; 2]) {
        self.convs.remove(&conv);
        self.opened.remove(&conv);
        self.pairer.tcp_close(conv);
        for end in ends {
            self.skipping.remove(&(conv, end));
        }
    }

    /// A problem that belongs to no message (bytes skipped, a header above the cap): whether it
    /// is shown. On probation it rejects the conversation; one that continues a stretch of
    /// skipped bytes in the same direction is not shown again.
    pub fn orphan(&mut self, seen: &Seen) -> bool {
        let admitted = match self.convs.get_mut(&seen.conv) {
            Some(c) if c.admission == Admission::Rejected => false,
            Some(c) if c.admission == Admission::Probation => {
                c.admission = Admission::Rejected;
                false
            }
            Some(_) => true,
            None => seen.found == Found::Port,
        };
        let shown = admitted && self.skipping.insert((seen.conv, seen.src));
        if self.remember {
            self.orphans.insert(seen.id, shown);
        }
        shown
    }

    /// What [`Session::orphan`] decided for `id`, in a session that remembers.
    pub fn orphan_shown(&self, id: MessageId) -> Option<bool> {
        self.orphans.get(&id).copied()
    }

    pub fn stats(&self) -> SessionStats {
        SessionStats {
            devices: self.identities.len(),
            ..self.stats
        }
    }

    fn decide(&mut self, seen: &Seen, meta: &Meta, body: &Body) -> Option<Record> {
        let transport = meta.transport();
        if !self.skipping.is_empty() {
            self.skipping.remove(&(seen.conv, seen.src));
        }
        let c = self.convs.entry(seen.conv).or_insert(Conv {
            admission: Admission::Unknown,
            device: None,
            number: None,
            requests: 0,
            lone_answers: 0,
        });
        match (c.admission, seen.found) {
            (Admission::Rejected, _) => return None,
            (Admission::Unknown, Found::Port) => c.admission = Admission::Port,
            (Admission::Unknown | Admission::Probation, Found::Heuristic) => {
                if !body.json_ok {
                    // A stream is judged once; a datagram flow stays open to its next datagram.
                    if transport.is_stream() {
                        c.admission = Admission::Rejected;
                    }
                    return None;
                }
                c.admission = Admission::Confirmed;
            }
            _ => {}
        }
        let (direction, device) = direction(c.device, seen, body);
        c.device = Some(device);
        let mut one_sided = false;
        if let Meta::XorTcp { .. } = meta {
            match direction {
                Direction::Request => c.requests = c.requests.saturating_add(1),
                Direction::Response if c.requests == 0 => {
                    c.lone_answers = c.lone_answers.saturating_add(1);
                    one_sided = c.lone_answers == 2;
                }
                Direction::Response => {}
            }
        }
        let conversation = self.number(seen.conv, transport.is_stream());
        let response_to = self.pair(seen, meta, direction, body);
        if let (Meta::Tdp(t), Direction::Response) = (meta, direction)
            && let Some(d) = &t.discovery
        {
            self.announce(device, d);
        }
        let peer_device = self.identify(direction, device, body);
        let mut encrypt_info = None;
        if let Meta::Tdp(t) = meta
            && let Some(h) = &t.header
        {
            match (direction, &t.probe_key, &t.discovery) {
                (Direction::Request, Some(pem), _) => {
                    self.secure.tdp_probe(seen.src, h.serial, pem)
                }
                (Direction::Response, _, Some(d)) => {
                    encrypt_info = d
                        .encrypt_info
                        .as_ref()
                        .and_then(|info| self.secure.tdp_info(seen.dst, h.serial, info));
                }
                _ => {}
            }
        }
        Some(Record {
            direction,
            device,
            conversation,
            response_to,
            peer_device,
            encrypt_info,
            one_sided,
            findings: Vec::new(),
            duplicate_of: None,
        })
    }

    /// Pairs by the transport's rule; records `response_in` on the request.
    fn pair(
        &mut self,
        seen: &Seen,
        meta: &Meta,
        direction: Direction,
        body: &Body,
    ) -> Option<Link> {
        let matched = match (meta, direction) {
            (Meta::XorTcp { .. }, Direction::Request) => {
                self.pairer
                    .tcp_request(seen.conv, seen.id, seen.time, MAX_OPEN_PER_CONVERSATION);
                None
            }
            (Meta::XorTcp { .. }, Direction::Response) => {
                self.pairer.tcp_response(seen.conv, seen.time)
            }
            (Meta::XorUdp, Direction::Request) => {
                self.pairer
                    .udp_request(seen.src, seen.dst, &body.methods, seen.id, seen.time);
                None
            }
            (Meta::XorUdp, Direction::Response) => {
                self.pairer
                    .udp_response(seen.dst, seen.src, &body.methods, seen.time)
            }
            (Meta::Tdp(t), Direction::Request) => {
                if let Some(h) = &t.header {
                    self.pairer
                        .tdp_probe(seen.src, seen.dst, h.serial, seen.id, seen.time);
                }
                None
            }
            (Meta::Tdp(t), Direction::Response) => {
                let h = t.header.as_ref()?;
                self.pairer
                    .tdp_reply(seen.dst, seen.src, h.serial, seen.time)
            }
            // The cloud link carries requests both ways and unsolicited device reports: a
            // response answers the oldest open request with the same methods between the same
            // two endpoints (the rule of XOR over UDP), not simply the oldest one.
            (Meta::Cloud { .. }, Direction::Request) => {
                self.pairer
                    .udp_request(seen.src, seen.dst, &body.methods, seen.id, seen.time);
                None
            }
            (Meta::Cloud { .. }, Direction::Response) => {
                self.pairer
                    .udp_response(seen.dst, seen.src, &body.methods, seen.time)
            }
            // HTTP transports are paired by `Session::http`.
            (Meta::Klap(_) | Meta::Aes(_) | Meta::Tpap(_) | Meta::Linkie(_), _) => None,
        }?;
        self.responses
            .entry(matched.request)
            .or_insert(ResponseFrames::None)
            .push(seen.id.frame);
        Some(matched)
    }
}

/// Which way a message goes, by one rule: an endpoint already known to be the device decides;
/// otherwise the one side on a device port is the device; otherwise the JSON does
/// ([`Body::looks_like_response`]: IOT responses carry `err_code`, SMART ones `error_code` or
/// `result`). Returns the direction and the device endpoint.
fn direction(
    known_device: Option<SocketAddr>,
    seen: &Seen,
    body: &Body,
) -> (Direction, SocketAddr) {
    let (src, dst) = (seen.src, seen.dst);
    match known_device {
        Some(device) if src == device => return (Direction::Response, device),
        Some(device) if dst == device => return (Direction::Request, device),
        _ => {}
    }
    match seen.on_device_port {
        (false, true) => (Direction::Request, dst),
        (true, false) => (Direction::Response, src),
        _ if body.looks_like_response() => (Direction::Response, src),
        _ => (Direction::Request, dst),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Body {
        Body::analyse(text.as_bytes(), &mut Vec::new())
    }

    const CLIENT: &str = "10.0.0.1:50000";
    const DEVICE: &str = "10.0.0.2:9999";

    fn seen(frame: u64, src: &str, dst: &str, found: Found, ports: (bool, bool)) -> Seen {
        Seen {
            id: MessageId { frame, index: 0 },
            time: Duration::from_millis(frame),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            conv: 7,
            found,
            on_device_port: ports,
        }
    }

    const REQ: &str = r#"{"system":{"get_sysinfo":{}}}"#;
    const RESP: &str = r#"{"system":{"get_sysinfo":{"model":"HS110(EU)","alias":"K","mac":"50:C7:BF:00:00:01","err_code":0}}}"#;
    const TCP: Meta = Meta::XorTcp { len_header: 0 };

    #[test]
    fn direction_by_port_then_memory_then_json() {
        let device: SocketAddr = DEVICE.parse().unwrap();
        // The port decides, even against the JSON.
        let s = seen(1, CLIENT, DEVICE, Found::Port, (false, true));
        assert_eq!(
            direction(None, &s, &body(RESP)),
            (Direction::Request, device)
        );
        let s = seen(1, DEVICE, CLIENT, Found::Port, (true, false));
        assert_eq!(
            direction(None, &s, &body(REQ)),
            (Direction::Response, device)
        );
        // No port: the JSON decides, then the conversation remembers.
        let s = seen(1, DEVICE, CLIENT, Found::Heuristic, (false, false));
        assert_eq!(
            direction(None, &s, &body(RESP)),
            (Direction::Response, device)
        );
        let s = seen(1, CLIENT, DEVICE, Found::Heuristic, (false, false));
        assert_eq!(
            direction(Some(device), &s, &body(RESP)),
            (Direction::Request, device)
        );
        // Both ends on a device port: the JSON decides.
        let s = seen(1, DEVICE, "10.0.0.3:9999", Found::Port, (true, true));
        assert_eq!(direction(None, &s, &body(RESP)).0, Direction::Response);
    }

    #[test]
    fn a_datagram_seen_twice_is_a_copy_left_out_of_pairing() {
        for remembering in [false, true] {
            let mut s = if remembering {
                Session::remembering()
            } else {
                Session::new()
            };
            let at = |frame: u64, micros: u64, src: &str, dst: &str| Seen {
                time: Duration::from_micros(micros),
                ..seen(frame, src, dst, Found::Port, (src == DEVICE, dst == DEVICE))
            };
            let udp = Meta::XorUdp;
            let mut msg = |seen: Seen, text: &str| {
                s.message(&seen, &udp, &body(text), text.as_bytes())
                    .unwrap()
            };
            let id = |frame| MessageId { frame, index: 0 };
            let req = msg(at(1, 1_000, CLIENT, DEVICE), REQ);
            assert_eq!(req.duplicate_of, None);
            // Its copy, 10 µs later: flagged, shown as a request, not paired.
            let copy = msg(at(2, 1_010, CLIENT, DEVICE), REQ);
            assert_eq!(copy.duplicate_of, Some(id(1)));
            assert_eq!(copy.direction, Direction::Request);
            // The answer pairs with the original; its copy is flagged, not paired again.
            let resp = msg(at(3, 3_000, DEVICE, CLIENT), RESP);
            assert_eq!(resp.response_to.map(|l| l.request), Some(id(1)));
            assert_eq!(resp.duplicate_of, None);
            let resp_copy = msg(at(4, 3_010, DEVICE, CLIENT), RESP);
            assert_eq!(resp_copy.duplicate_of, Some(id(3)));
            assert_eq!(resp_copy.response_to, None);
            assert_eq!(resp_copy.direction, Direction::Response);
            // The same request again past the window is a new request, answered on its own.
            let again = msg(at(5, 1_000 + 6_000, CLIENT, DEVICE), REQ);
            assert_eq!(again.duplicate_of, None);
            let answer = msg(at(6, 9_000, DEVICE, CLIENT), RESP);
            assert_eq!(answer.response_to.map(|l| l.request), Some(id(5)));
            // Other bytes within the window are no copy.
            let other = msg(
                at(7, 8_001, CLIENT, DEVICE),
                r#"{"system":{"get_sysinfo":null}}"#,
            );
            assert_eq!(other.duplicate_of, None);
            assert_eq!(s.responses(id(1)), [3]);
        }
    }

    #[test]
    fn tcp_pairs_in_order_and_identifies_the_device() {
        let mut s = Session::remembering();
        let ports = (false, true);
        let r1 = s
            .message(
                &seen(1, CLIENT, DEVICE, Found::Port, ports),
                &TCP,
                &body(REQ),
                REQ.as_bytes(),
            )
            .unwrap();
        assert_eq!(r1.direction, Direction::Request);
        let r2 = s
            .message(
                &seen(3, DEVICE, CLIENT, Found::Port, (true, false)),
                &TCP,
                &body(RESP),
                RESP.as_bytes(),
            )
            .unwrap();
        assert_eq!(r2.direction, Direction::Response);
        assert_eq!(
            r2.response_to,
            Some(Link {
                request: MessageId { frame: 1, index: 0 },
                time: Duration::from_millis(2)
            })
        );
        assert_eq!(s.responses(MessageId { frame: 1, index: 0 }), [3]);
        // A later request to the same device carries its identity as generated.
        let r3 = s
            .message(
                &seen(5, CLIENT, DEVICE, Found::Port, ports),
                &TCP,
                &body(REQ),
                REQ.as_bytes(),
            )
            .unwrap();
        let identity = r3.peer_device.as_deref().and_then(|d| d.model.as_deref());
        assert_eq!(identity, Some("HS110(EU)"));
        assert_eq!(s.stats().devices, 1);
        assert_eq!(s.stats().streams, 1);
        // Read back as decided.
        assert_eq!(s.record(MessageId { frame: 5, index: 0 }), Some(Some(&r3)));
        assert_eq!(s.record(MessageId { frame: 9, index: 0 }), None);
    }

    #[test]
    fn a_wrong_stream_claim_drops_the_whole_conversation() {
        let mut s = Session::new();
        assert!(s.claim_stream(7, true));
        let h = (false, false);
        let garbage = body("not json");
        assert_eq!(
            s.message(
                &seen(1, CLIENT, DEVICE, Found::Heuristic, h),
                &TCP,
                &garbage,
                b"not json",
            ),
            None
        );
        assert_eq!(s.admission(7), Admission::Rejected);
        // Nothing after it is shown, even good JSON; a new claim does not reopen it.
        assert_eq!(
            s.message(
                &seen(2, CLIENT, DEVICE, Found::Heuristic, h),
                &TCP,
                &body(REQ),
                REQ.as_bytes()
            ),
            None
        );
        assert!(!s.claim_stream(7, true));
    }

    #[test]
    fn an_orphan_problem_on_probation_rejects() {
        let mut s = Session::new();
        s.claim_stream(7, true);
        assert!(!s.orphan(&seen(1, CLIENT, DEVICE, Found::Heuristic, (false, false))));
        assert_eq!(s.admission(7), Admission::Rejected);
        // On a device port it is shown, once per stretch of skipped bytes in one direction.
        let mut s = Session::new();
        let ports = (false, true);
        assert!(s.orphan(&seen(1, CLIENT, DEVICE, Found::Port, ports)));
        assert!(!s.orphan(&seen(2, CLIENT, DEVICE, Found::Port, ports)));
        assert!(s.orphan(&seen(2, DEVICE, CLIENT, Found::Port, (true, false))));
        s.message(
            &seen(3, CLIENT, DEVICE, Found::Port, ports),
            &TCP,
            &body(REQ),
            REQ.as_bytes(),
        );
        assert!(s.orphan(&seen(4, CLIENT, DEVICE, Found::Port, ports)));
    }

    #[test]
    fn a_datagram_flow_is_judged_until_confirmed() {
        let mut s = Session::new();
        let h = (false, false);
        let udp = Meta::XorUdp;
        assert_eq!(
            s.message(
                &seen(1, CLIENT, DEVICE, Found::Heuristic, h),
                &udp,
                &body("x"),
                "x".as_bytes()
            ),
            None
        );
        assert_eq!(s.admission(7), Admission::Unknown);
        assert!(
            s.message(
                &seen(2, CLIENT, DEVICE, Found::Heuristic, h),
                &udp,
                &body(REQ),
                REQ.as_bytes()
            )
            .is_some()
        );
        assert_eq!(s.admission(7), Admission::Confirmed);
        // Confirmed: a bad datagram is shown (and flagged by its problems).
        assert!(
            s.message(
                &seen(3, CLIENT, DEVICE, Found::Heuristic, h),
                &udp,
                &body("x"),
                "x".as_bytes()
            )
            .is_some()
        );
        assert_eq!(s.stats().flows, 1);
    }

    #[test]
    fn open_requests_per_conversation_are_capped() {
        let mut s = Session::new();
        for f in 0..(MAX_OPEN_PER_CONVERSATION as u64 + 10) {
            s.message(
                &seen(f, CLIENT, DEVICE, Found::Port, (false, true)),
                &TCP,
                &body(REQ),
                REQ.as_bytes(),
            );
        }
        let r = s
            .message(
                &seen(1 << 20, DEVICE, CLIENT, Found::Port, (true, false)),
                &TCP,
                &body(RESP),
                RESP.as_bytes(),
            )
            .unwrap();
        // The oldest ten were forgotten.
        assert_eq!(r.response_to.unwrap().request.frame, 10);
    }

    /// A reply's `encrypt_info` is read with the RSA key of the probe it answers, and only
    /// with it: another probe's serial, or no key, leaves it unread.
    #[test]
    fn tdp_encrypt_info_with_the_probe_key() {
        use crate::conv::stream::datagram;
        use crate::msg::Transport;
        use crate::wire::{aes, crypto, tdp};
        use rand_chacha::ChaCha8Rng;
        use rand_chacha::rand_core::SeedableRng;

        let key = aes::rsa_private_key(include_bytes!("../../../fixtures/keys/rsa1024.pkcs8.pem"))
            .unwrap();
        let pem = include_str!("../../../fixtures/keys/rsa1024.pub.pem").replace('\n', "\\n");
        let inner = br#"{"connect_ssid":"home","http_port":443}"#;
        let (k, iv) = ([0x11u8; 16], [0x22u8; 16]);
        let wrapped = rsa::RsaPublicKey::from(&key)
            .encrypt(
                &mut ChaCha8Rng::seed_from_u64(1),
                rsa::Oaep::new::<sha1::Sha1>(),
                &[k, iv].concat(),
            )
            .unwrap();
        let header = |serial, flags| tdp::TdpHeader {
            version: 2,
            msg_type: 0,
            op_code: 1,
            size: 0,
            flags,
            padding: 0,
            serial,
            crc: 0,
        };
        let probe = format!(r#"{{"params":{{"rsa_key":"{pem}"}}}}"#);
        let reply = format!(
            r#"{{"result":{{"device_id":"D","device_model":"C200","mac":"AA-BB-CC-DD-EE-FF","encrypt_info":{{"sym_schm":"AES","key":"{}","data":"{}"}}}},"error_code":0}}"#,
            crypto::b64_encode(&wrapped),
            crypto::b64_encode(&crypto::cbc_encrypt(&k, &iv, inner))
        );
        let client = "10.0.0.1:40000";
        let device = "10.0.0.2:20002";
        let run = |secrets: Secrets, reply_serial: u32| {
            let mut s = Session::with_secrets(secrets, false);
            let mut out = None;
            for (f, (serial, flags, body, src, dst)) in [
                (5u32, 0x11, probe.as_str(), client, device),
                (reply_serial, 0x02, reply.as_str(), device, client),
            ]
            .into_iter()
            .enumerate()
            {
                let bytes = header(serial, flags).emit(body.as_bytes());
                let raw =
                    datagram(Transport::Tdp, &bytes, 0, f as u64 + 1, Duration::ZERO).unwrap();
                let b = Body::analyse(&raw.plaintext, &mut Vec::new());
                let ports = (src == device, dst == device);
                let mut sn = seen(f as u64 + 1, src, dst, Found::Port, ports);
                sn.conv = 9;
                out = s
                    .message(&sn, &raw.meta, &b, &raw.plaintext)
                    .unwrap()
                    .encrypt_info;
            }
            out
        };
        let with_key = Secrets {
            rsa_keys: vec![key],
            ..Secrets::default()
        };
        assert_eq!(run(with_key.clone(), 5), Some(Ok(inner.to_vec())));
        assert_eq!(run(with_key, 6), None);
        assert_eq!(run(Secrets::default(), 5), None);
    }

    /// TPAP seen inside decrypted TLS: only to an endpoint a TDP reply announced; login steps
    /// by their `sub_method`, data frames numbered from `pake_share`'s `start_seq`, answers
    /// paired and numbered like their requests.
    /// What a TDP reply announces for TLS endpoints: TPAP at its `tpap.port`; KLAP and AES only
    /// with `is_support_https` (at `http_port`, else 4433 and 443); a Kasa camera's Linkie at
    /// 10443; nothing for a plain-HTTP KLAP plug.
    #[test]
    fn tdp_replies_announce_the_tls_endpoints_of_their_transports() {
        use crate::conv::stream::datagram;
        use crate::wire::tdp;

        /// (device address, reply body, the endpoints it announces)
        type Case<'a> = (&'a str, &'a str, &'a [(u16, Transport)]);
        let cases: [Case; 6] = [
            (
                "10.0.1.1",
                r#"{"result":{"mgt_encrypt_schm":{"encrypt_type":"TPAP"},"tpap":{"port":4433}},"error_code":0}"#,
                &[(4433, Transport::Tpap)],
            ),
            (
                "10.0.1.2",
                r#"{"result":{"device_type":"SMART.IPCAMERA","mgt_encrypt_schm":{"is_support_https":true,"encrypt_type":"AES","http_port":443}},"error_code":0}"#,
                &[(443, Transport::Aes)],
            ),
            (
                "10.0.1.3",
                r#"{"result":{"mgt_encrypt_schm":{"is_support_https":true,"encrypt_type":"KLAP"}},"error_code":0}"#,
                &[(4433, Transport::Klap)],
            ),
            (
                "10.0.1.4",
                r#"{"result":{"device_type":"IOT.IPCAMERA","mgt_encrypt_schm":{"is_support_https":false}},"error_code":0}"#,
                &[(10443, Transport::Linkie)],
            ),
            (
                "10.0.1.5",
                r#"{"result":{"mgt_encrypt_schm":{"is_support_https":false,"encrypt_type":"KLAP","http_port":80}},"error_code":0}"#,
                &[],
            ),
            (
                "10.0.1.6",
                r#"{"result":{"mgt_encrypt_schm":{"encrypt_type":"AES","http_port":80}},"error_code":0}"#,
                &[],
            ),
        ];
        let mut s = Session::new();
        for (i, (ip, reply, want)) in cases.iter().enumerate() {
            let bytes = tdp::TdpHeader {
                version: 2,
                msg_type: 0,
                op_code: 1,
                size: 0,
                flags: 2,
                padding: 0,
                serial: i as u32,
                crc: 0,
            }
            .emit(reply.as_bytes());
            let raw = datagram(Transport::Tdp, &bytes, 0, i as u64 + 1, Duration::ZERO).unwrap();
            let b = Body::analyse(&raw.plaintext, &mut Vec::new());
            let mut sn = seen(
                i as u64 + 1,
                &format!("{ip}:20002"),
                "10.0.0.1:5000",
                Found::Port,
                (true, false),
            );
            sn.conv = 100 + i as u64;
            s.message(&sn, &raw.meta, &b, &raw.plaintext).unwrap();
            for port in [80, 443, 4433, 10443] {
                let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
                let expected = want.iter().find(|(p, _)| *p == port).map(|(_, t)| *t);
                assert_eq!(s.announced(addr), expected, "{ip}:{port}");
                assert_eq!(s.is_tpap(addr), expected == Some(Transport::Tpap));
            }
        }
    }

    #[test]
    fn tpap_login_and_data_to_an_announced_endpoint() {
        use crate::conv::http::HttpView;
        use crate::conv::stream::datagram;
        use crate::msg::{TpapStep, Transport};
        use crate::wire::tdp;

        let mut s = Session::new();
        let client = "10.0.0.1:40000";
        let device = "10.0.0.2:4433";
        let http = |s: &mut Session, frame: u64, request: Option<&str>, body: &str| {
            let (src, dst) = if request.is_some() {
                (client, device)
            } else {
                (device, client)
            };
            let mut sn = seen(frame, src, dst, Found::Heuristic, (false, false));
            sn.conv = 3;
            let view = HttpView {
                request: request.map(|u| ("POST", u)),
                status: None,
                answers: None,
                cookie: None,
                set_cookie: None,
                seq: None,
                tapo_tag: None,
                body: body.as_bytes(),
            };
            s.http(&sn, &view)
        };
        let login = r#"{"method":"login","params":{"sub_method":"pake_share","user_share":"x"}}"#;
        // Before discovery announced the endpoint: plain HTTP.
        assert!(http(&mut s, 1, Some("/"), login).is_none());

        let reply = r#"{"result":{"device_id":"D","mgt_encrypt_schm":{"encrypt_type":"TPAP"},"tpap":{"port":4433,"tls":1}},"error_code":0}"#;
        let bytes = tdp::TdpHeader {
            version: 2,
            msg_type: 0,
            op_code: 1,
            size: 0,
            flags: 2,
            padding: 0,
            serial: 1,
            crc: 0,
        }
        .emit(reply.as_bytes());
        let raw = datagram(Transport::Tdp, &bytes, 0, 2, Duration::ZERO).unwrap();
        let b = Body::analyse(&raw.plaintext, &mut Vec::new());
        let mut sn = seen(
            2,
            "10.0.0.2:20002",
            "10.0.0.1:5000",
            Found::Port,
            (true, false),
        );
        sn.conv = 8;
        s.message(&sn, &raw.meta, &b, &raw.plaintext).unwrap();
        assert!(s.is_tpap(device.parse().unwrap()));

        let tpap = |shown: Option<Shown>| match shown.map(|x| x.meta) {
            Some(Meta::Tpap(t)) => (t.step, t.sub_method, t.seq),
            other => panic!("not TPAP: {other:?}"),
        };
        assert_eq!(
            tpap(http(&mut s, 3, Some("/"), login)),
            (TpapStep::Login, Some("pake_share".into()), None)
        );
        let answer = http(
            &mut s,
            4,
            None,
            r#"{"error_code":0,"result":{"start_seq":100}}"#,
        );
        assert_eq!(
            answer
                .as_ref()
                .unwrap()
                .record
                .response_to
                .unwrap()
                .request
                .frame,
            3
        );
        assert_eq!(
            tpap(answer),
            (TpapStep::Login, Some("pake_share".into()), None)
        );
        for (f, seq) in [(5, 100), (7, 101)] {
            assert_eq!(
                tpap(http(&mut s, f, Some("/stok=T/ds"), "\u{1}binary")),
                (TpapStep::Data, None, Some(seq))
            );
            assert_eq!(
                tpap(http(&mut s, f + 1, None, "\u{2}binary")),
                (TpapStep::Data, None, Some(seq))
            );
        }
        // Other HTTP to the endpoint stays HTTP's.
        assert!(http(&mut s, 9, Some("/"), r#"{"method":"other"}"#).is_none());
    }
}
