//! The cloud link: a device's TLS connection to TP-Link's cloud (`n-devs.tplinkcloud.com`,
//! `devs.tplinkcloud.com`; TCP 50443 on older firmware and cameras, 443 on current plugs;
//! PROTOCOL.md §7). It cannot be decrypted; what can be shown is that it is there, where it
//! goes and how it was recognised, whether the device's ClientHello names the server (it does
//! not: a fingerprint), the certificate's issuer, and the rhythm of its records: the cloud
//! *pushes* a command (server → device application data) and the device *reports* back.
//!
//! [`CloudTracker`] is pure state with bounded memory, fed in capture order by both front
//! ends: the Wireshark plugin (a postdissector, frame by frame on the first pass, queried again
//! when frames are re-dissected) and `kasa-decode` (from its own capture reading). Per frame:
//!
//! 1. [`CloudTracker::dns`] with the answers of a DNS response ([`crate::wire::dns::answers`]);
//! 2. [`CloudTracker::tcp`] for every TCP segment, before anything else about that frame;
//! 3. then, for the TLS records that complete in the frame: [`CloudTracker::client_hello`],
//!    [`CloudTracker::certificate`], [`CloudTracker::app_record`].
//!
//! A connection is a cloud link when its server port is one of the cloud ports
//! ([`CLOUD_PORTS`] by default), when its server address was named by an earlier DNS answer for
//! a cloud name ([`is_cloud_name`]), when its ClientHello asks for a cloud name, or when the
//! server's certificate names one or was issued by TP-Link's private CA ([`is_cloud_issuer`]).
//! The last two come after the connection's first frames, so the tracker remembers recent TCP
//! connections ([`MAX_CONNECTIONS`]) with their first frame, client side and counters: once
//! identified, [`CloudTracker::link_at`] answers for the earlier frames too. Nothing is ever
//! said about a connection that was not identified itself: a later connection on the same
//! address pair starts unidentified (unless the port or a DNS name identifies it).

use crate::wire::dns::DnsAnswer;
use crate::wire::tls::ClientHello;
use crate::wire::x509::CertNames;
use foldhash::{HashMap, HashMapExt as _};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The default "cloud link" server ports.
pub const CLOUD_PORTS: [u16; 1] = [50443];

/// Addresses whose DNS name is remembered (the oldest are forgotten first).
pub const MAX_NAMES: usize = 4096;
/// TCP connections remembered while not identified (the oldest are forgotten first).
pub const MAX_CONNECTIONS: usize = 16_384;
/// Cloud links remembered (the oldest identified are forgotten first).
pub const MAX_LINKS: usize = 4096;
/// Pushes remembered per link; later ones are counted in `records`, not listed.
pub const MAX_PUSHES: usize = 4096;
/// Pushes remembered over all links.
pub const MAX_PUSHES_TOTAL: usize = 1 << 18;
/// Connections remembered per address pair (port reuse); older ones stay in [`links`](CloudTracker::links).
pub const MAX_PER_PAIR: usize = 8;
/// A SYN this long after the last frame of a connection that carried no data starts a new
/// connection, not another attempt of the old one (Linux gives up on a SYN after ~127 s).
pub const SYN_ATTEMPT_WINDOW: Duration = Duration::from_secs(180);

/// `tplinkcloud.com` or a name under it (`n-devs.tplinkcloud.com`, `*.tplinkcloud.com`),
/// case-insensitive, with or without the trailing dot.
pub fn is_cloud_name(name: &str) -> bool {
    const DOMAIN: &str = "tplinkcloud.com";
    let name = name.strip_suffix('.').unwrap_or(name);
    let Some(cut) = name.len().checked_sub(DOMAIN.len()) else {
        return false;
    };
    let (head, tail) = (name.get(..cut), name.get(cut..));
    match (head, tail) {
        (Some(head), Some(tail)) => {
            tail.eq_ignore_ascii_case(DOMAIN) && (head.is_empty() || head.ends_with('.'))
        }
        _ => false,
    }
}

/// TP-Link's private CA, by its CN: the intermediate `TP-LINK CA P1` (any `P<digits>`) or the
/// root `tp-link-CA`, case-insensitive. Organisation names do not count: a device's own
/// certificate may carry TP-Link's O without being the cloud.
pub fn is_cloud_issuer(cn_or_o: &str) -> bool {
    let s = cn_or_o.trim();
    if s.eq_ignore_ascii_case("tp-link-ca") {
        return true;
    }
    const CA_P: &str = "tp-link ca p";
    match (s.get(..CA_P.len()), s.get(CA_P.len()..)) {
        (Some(head), Some(n)) => {
            head.eq_ignore_ascii_case(CA_P)
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// One TCP segment as the front end saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcp {
    pub frame: u64,
    /// Capture time (any fixed origin).
    pub time: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    /// TCP payload bytes (as on the wire, snaplen or not).
    pub payload_len: u32,
}

impl Tcp {
    /// A segment from the TCP header's flags field (its low 12 bits: FIN 0x001, SYN 0x002,
    /// RST 0x004, ACK 0x010), as a dissector that reads `tcp.flags` has it.
    pub fn from_flags(
        frame: u64,
        time: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        flags: u16,
        payload_len: u32,
    ) -> Tcp {
        Tcp {
            frame,
            time,
            src,
            dst,
            syn: flags & 0x002 != 0,
            ack: flags & 0x010 != 0,
            fin: flags & 0x001 != 0,
            rst: flags & 0x004 != 0,
            payload_len,
        }
    }
}

/// The tracker's number for a TCP connection, in order of first frame (like Wireshark's
/// `tcp.stream` when every TCP frame is fed), starting at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// How the server's name came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// A DNS answer for the server's address.
    Dns,
    /// The server's certificate.
    Certificate,
    /// The ClientHello's server_name.
    Sni,
}

impl NameSource {
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::Dns => "dns",
            NameSource::Certificate => "certificate",
            NameSource::Sni => "sni",
        }
    }

    /// Which name wins: what the device resolved, then what it asked for, then what the
    /// certificate says (maybe a wildcard).
    fn rank(self) -> u8 {
        match self {
            NameSource::Dns => 3,
            NameSource::Sni => 2,
            NameSource::Certificate => 1,
        }
    }
}

/// Which way an application-data record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Server → device: the cloud pushes (a command relayed from the app).
    Push,
    /// Device → server: the device reports (an answer, or on its own).
    Report,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Push => "push",
            Role::Report => "report",
        }
    }

    /// 0 for push, 1 for report: the index into [`CloudLink::records`] and `bytes`.
    pub fn index(self) -> usize {
        match self {
            Role::Push => 0,
            Role::Report => 1,
        }
    }
}

/// A push and the report that followed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Push {
    pub frame: u64,
    pub time: Duration,
    /// The first report after this push: its frame, and the time since the push.
    pub answer: Option<(u64, Duration)>,
}

/// Push-to-report latencies of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Answered pushes.
    pub count: usize,
    /// The median (the lower middle of an even count).
    pub median: Duration,
    pub max: Duration,
}

/// What is known of one cloud link (one TCP connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudLink {
    pub id: LinkId,
    /// The device: the SYN sender (else the side not on a cloud port, not the DNS-named
    /// address, else the higher port).
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Lower-case, without a trailing dot.
    pub server_name: Option<String>,
    pub name_source: Option<NameSource>,
    /// `None` until a ClientHello is seen; then whether it lacked server_name.
    pub sni_absent: Option<bool>,
    /// The server certificate's issuer CN (else O).
    pub issuer: Option<String>,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_time: Duration,
    pub last_time: Duration,
    /// The frame from which it was known to be a cloud link (earlier frames were reported
    /// `None` by [`CloudTracker::tcp`] on the first pass).
    pub identified_frame: u64,
    /// SYNs the client sent (retransmissions of one attempt included).
    pub syn_attempts: u32,
    /// Whether the server ever sent a segment other than a reset.
    pub answered: bool,
    /// Whether it ended: FIN both ways, or a reset.
    pub ended: bool,
    /// TCP frames, both ways.
    pub frames: u64,
    /// TCP payload bytes, [server → client, client → server].
    pub tcp_bytes: [u64; 2],
    /// Application-data records, [push, report].
    pub records: [u64; 2],
    /// Application-data record lengths, [push, report].
    pub bytes: [u64; 2],
    /// The pushes in order, at most [`MAX_PUSHES`].
    pub pushes: Vec<Push>,
}

impl CloudLink {
    /// The role of a record sent by `src`.
    pub fn role_of(&self, src: SocketAddr) -> Role {
        if src == self.server {
            Role::Push
        } else {
            Role::Report
        }
    }

    /// Latencies of the answered pushes; `None` when no push was answered.
    pub fn latency(&self) -> Option<Latency> {
        let mut l: Vec<Duration> = self
            .pushes
            .iter()
            .filter_map(|p| p.answer.map(|a| a.1))
            .collect();
        l.sort_unstable();
        Some(Latency {
            count: l.len(),
            median: *l.get(l.len().checked_sub(1)? / 2)?,
            max: *l.last()?,
        })
    }

    /// From the first frame to the last.
    pub fn duration(&self) -> Duration {
        self.last_time.saturating_sub(self.first_time)
    }
}

/// What the tracker knows of a TCP connection, identified or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    pub id: LinkId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Its opening SYN (or SYN-ACK) was seen: the stream starts at a record boundary.
    pub opened: bool,
    /// Known to be a cloud link now.
    pub cloud: bool,
}

impl Connection {
    fn of(conn: &Conn) -> Connection {
        Connection {
            id: conn.link.id,
            client: conn.link.client,
            server: conn.link.server,
            opened: conn.opened,
            cloud: conn.identified,
        }
    }
}

#[derive(Debug, Clone)]
struct Conn {
    link: CloudLink,
    identified: bool,
    opened: bool,
    data_seen: bool,
    /// FIN seen, [from client, from server].
    fin: [bool; 2],
    /// Index of the first push not yet answered.
    unanswered: usize,
}

type Pair = crate::conv::PairKey;

fn pair(a: SocketAddr, b: SocketAddr) -> Pair {
    Pair::new(a, b)
}

fn lower(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Cloud links of a capture, fed frame by frame in capture order. See the module docs.
#[derive(Debug, Clone)]
pub struct CloudTracker {
    ports: Vec<u16>,
    names: HashMap<IpAddr, String>,
    /// `names`' addresses, oldest first.
    name_order: VecDeque<IpAddr>,
    /// Every connection remembered (a hash table: it is looked up at every TCP frame).
    conns: HashMap<LinkId, Conn>,
    /// Connections of each address pair, oldest first.
    by_pair: HashMap<Pair, VecDeque<LinkId>>,
    /// Connections not identified, oldest first (identified or forgotten ones are skipped).
    unidentified: VecDeque<LinkId>,
    unidentified_count: usize,
    /// Identified connections, in order of identification.
    identified: VecDeque<LinkId>,
    next_id: u64,
    pushes_total: usize,
}

impl Default for CloudTracker {
    fn default() -> Self {
        Self::new(&CLOUD_PORTS)
    }
}

impl CloudTracker {
    pub fn new(ports: &[u16]) -> CloudTracker {
        CloudTracker {
            ports: ports.to_vec(),
            names: HashMap::new(),
            name_order: VecDeque::new(),
            conns: HashMap::new(),
            by_pair: HashMap::new(),
            unidentified: VecDeque::new(),
            unidentified_count: 0,
            identified: VecDeque::new(),
            next_id: 0,
            pushes_total: 0,
        }
    }

    /// The server ports that make a connection a cloud link from its first frame on; applies
    /// to frames fed from now on.
    pub fn set_ports(&mut self, ports: &[u16]) {
        self.ports = ports.to_vec();
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The answers of a DNS response: every address given for a cloud name is remembered with
    /// that name (a later answer for the same address overrides it; at most [`MAX_NAMES`]
    /// addresses). Other names are ignored.
    pub fn dns(&mut self, _frame: u64, answers: &[DnsAnswer]) {
        for a in answers.iter().filter(|a| is_cloud_name(&a.name)) {
            if self.names.insert(a.addr, lower(&a.name)).is_none() {
                self.name_order.push_back(a.addr);
                while self.names.len() > MAX_NAMES {
                    let Some(old) = self.name_order.pop_front() else {
                        break;
                    };
                    self.names.remove(&old);
                }
            }
        }
    }

    /// The name a DNS answer gave for `addr`, if a cloud name.
    pub fn dns_name(&self, addr: IpAddr) -> Option<&str> {
        self.names.get(&addr).map(String::as_str)
    }

    /// Every TCP frame: finds or opens its connection, counts it, and says whether it belongs
    /// to a connection known to be a cloud link now.
    pub fn tcp(&mut self, seg: &Tcp) -> Option<LinkId> {
        self.tcp_connection(seg).filter(|c| c.cloud).map(|c| c.id)
    }

    /// [`CloudTracker::tcp`], answering with what [`CloudTracker::connection`] would say of the
    /// segment's connection afterwards (one lookup instead of two).
    pub fn tcp_connection(&mut self, seg: &Tcp) -> Option<Connection> {
        let key = pair(seg.src, seg.dst);
        let id = match self.latest(key) {
            Some(id) if !self.starts_new(id, seg) => id,
            _ => self.open(seg, key),
        };
        let (names, ports) = (&self.names, &self.ports);
        let conn = self.conns.get_mut(&id)?;
        // The DNS name of the server, unless the link already has it.
        let server_name = names.get(&conn.link.server.ip());
        let by_dns = conn.link.name_source == Some(NameSource::Dns);
        let dns_name = server_name.filter(|_| !by_dns).cloned();
        let named = by_dns || server_name.is_some();
        let l = &mut conn.link;
        l.last_frame = seg.frame;
        l.last_time = seg.time;
        l.frames += 1;
        let from_client = seg.src == l.client;
        let dir = usize::from(from_client);
        l.tcp_bytes[dir] += u64::from(seg.payload_len);
        if seg.syn {
            conn.opened = true;
            if from_client && !seg.ack {
                l.syn_attempts = l.syn_attempts.saturating_add(1);
            }
        }
        if !from_client && !seg.rst {
            l.answered = true;
        }
        if seg.payload_len > 0 {
            conn.data_seen = true;
        }
        if seg.fin {
            conn.fin[usize::from(!from_client)] = true;
        }
        if seg.rst || conn.fin == [true, true] {
            l.ended = true;
        }
        let on_port = ports.contains(&l.server.port());
        let cloud = on_port || named;
        if let Some(name) = dns_name {
            offer_name(l, name, NameSource::Dns);
        }
        if conn.identified || !cloud {
            return Some(Connection::of(conn));
        }
        self.identify(id, seg.frame);
        self.conns.get(&id).map(Connection::of)
    }

    /// A ClientHello from `src` to `dst`: records whether it names the server; a cloud name
    /// there identifies the link (name source [`NameSource::Sni`] unless DNS named it). Only
    /// the client's first ClientHello counts.
    pub fn client_hello(&mut self, src: SocketAddr, dst: SocketAddr, hello: &ClientHello) {
        let Some(id) = self.latest(pair(src, dst)) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if src != conn.link.client || conn.link.sni_absent.is_some() {
            return;
        }
        conn.link.sni_absent = Some(hello.sni.is_none());
        if let Some(sni) = hello.sni.as_deref().filter(|s| is_cloud_name(s)) {
            offer_name(&mut conn.link, lower(sni), NameSource::Sni);
            let frame = conn.link.last_frame;
            if !conn.identified {
                self.identify(id, frame);
            }
        }
    }

    /// The certificates a server sent (`src` is the server): the leaf's names and the rest of
    /// the chain's. A cloud name in the leaf's subject CN or subjectAltName, or TP-Link's CA
    /// anywhere in the chain (any certificate's issuer or subject CN), identifies the link; the
    /// name comes from the leaf (name source [`NameSource::Certificate`] unless DNS or SNI
    /// named it). The leaf's issuer is kept either way. Certificates from the client side
    /// (mutual TLS) are ignored.
    pub fn certificate(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        leaf: &CertNames,
        chain_issuers: &[CertNames],
    ) {
        let Some(id) = self.latest(pair(src, dst)) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if src != conn.link.server {
            return;
        }
        if conn.link.issuer.is_none() {
            conn.link.issuer = leaf.issuer().map(str::to_owned);
        }
        let leaf_name = leaf
            .subject_cn
            .iter()
            .chain(&leaf.dns_names)
            .find(|n| is_cloud_name(n));
        let by_ca = core::iter::once(leaf)
            .chain(chain_issuers)
            .flat_map(|c| [&c.issuer_cn, &c.issuer_o, &c.subject_cn, &c.subject_o])
            .flatten()
            .any(|n| is_cloud_issuer(n));
        if leaf_name.is_none() && !by_ca {
            return;
        }
        if let Some(name) = leaf_name.or(leaf.subject_cn.as_ref()) {
            offer_name(&mut conn.link, lower(name), NameSource::Certificate);
        }
        let frame = conn.link.last_frame;
        if !conn.identified {
            self.identify(id, frame);
        }
    }

    /// An application_data record of `len` bytes from `src`, complete in `frame`: counted as a
    /// push (from the server) or a report (from the client) of a cloud link. A report answers
    /// every push since the previous report. `None` when the connection is not (yet) a cloud
    /// link; nothing is counted then.
    pub fn app_record(
        &mut self,
        frame: u64,
        time: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        len: u32,
    ) -> Option<Role> {
        let id = self.latest(pair(src, dst))?;
        let total = self.pushes_total;
        let conn = self.conns.get_mut(&id).filter(|c| c.identified)?;
        let l = &mut conn.link;
        let role = l.role_of(src);
        l.records[role.index()] += 1;
        l.bytes[role.index()] += u64::from(len);
        match role {
            Role::Push => {
                if l.pushes.len() < MAX_PUSHES && total < MAX_PUSHES_TOTAL {
                    l.pushes.push(Push {
                        frame,
                        time,
                        answer: None,
                    });
                    self.pushes_total += 1;
                }
            }
            Role::Report => {
                for p in l.pushes.iter_mut().skip(conn.unanswered) {
                    p.answer = Some((frame, time.saturating_sub(p.time)));
                }
                conn.unanswered = l.pushes.len();
            }
        }
        Some(role)
    }

    /// The current connection between `a` and `b` (either order), if it is a cloud link.
    pub fn link_of(&self, a: SocketAddr, b: SocketAddr) -> Option<&CloudLink> {
        let conn = self.conns.get(&self.latest(pair(a, b))?)?;
        conn.identified.then_some(&conn.link)
    }

    /// The connection between `a` and `b` that `frame` belongs to (the latest one that had
    /// started by then), if it is a cloud link: what a re-dissection of an earlier frame asks.
    pub fn link_at(&self, a: SocketAddr, b: SocketAddr, frame: u64) -> Option<&CloudLink> {
        let ids = self.by_pair.get(&pair(a, b))?;
        let conn = ids
            .iter()
            .rev()
            .filter_map(|id| self.conns.get(id))
            .find(|c| c.link.first_frame <= frame)?;
        conn.identified.then_some(&conn.link)
    }

    /// A cloud link by its id.
    pub fn link(&self, id: LinkId) -> Option<&CloudLink> {
        self.conns
            .get(&id)
            .filter(|c| c.identified)
            .map(|c| &c.link)
    }

    /// The current connection between `a` and `b`, cloud link or not.
    pub fn connection(&self, a: SocketAddr, b: SocketAddr) -> Option<Connection> {
        self.conns
            .get(&self.latest(pair(a, b))?)
            .map(Connection::of)
    }

    /// The cloud links, in order of first frame.
    pub fn links(&self) -> impl Iterator<Item = &CloudLink> {
        let mut links: Vec<&CloudLink> = self
            .conns
            .values()
            .filter(|c| c.identified)
            .map(|c| &c.link)
            .collect();
        links.sort_unstable_by_key(|l| l.id);
        links.into_iter()
    }

    /// Connections remembered (identified or not).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    fn latest(&self, key: Pair) -> Option<LinkId> {
        self.by_pair.get(&key)?.back().copied()
    }

    /// Whether `seg` opens a new connection on the pair of connection `id`: a SYN (without
    /// ACK) after that connection ended, carried data, or went quiet for
    /// [`SYN_ATTEMPT_WINDOW`], or from its server side. Any other SYN is a retransmission.
    fn starts_new(&self, id: LinkId, seg: &Tcp) -> bool {
        let Some(c) = self.conns.get(&id) else {
            return true;
        };
        seg.syn
            && !seg.ack
            && (c.link.ended
                || c.data_seen
                || seg.src != c.link.client
                || seg.time.saturating_sub(c.link.last_time) > SYN_ATTEMPT_WINDOW)
    }

    /// Which side is the client of a connection first seen with `seg`.
    fn client_side(&self, seg: &Tcp) -> bool /* src is the client */ {
        if seg.syn {
            return !seg.ack;
        }
        let on_port = |a: &SocketAddr| self.ports.contains(&a.port());
        let named = |a: &SocketAddr| self.names.contains_key(&a.ip());
        match (on_port(&seg.src), on_port(&seg.dst)) {
            (false, true) => return true,
            (true, false) => return false,
            _ => {}
        }
        match (named(&seg.src), named(&seg.dst)) {
            (false, true) => return true,
            (true, false) => return false,
            _ => {}
        }
        seg.src.port() >= seg.dst.port()
    }

    fn open(&mut self, seg: &Tcp, key: Pair) -> LinkId {
        let id = LinkId(self.next_id);
        self.next_id += 1;
        let (client, server) = if self.client_side(seg) {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let link = CloudLink {
            id,
            client,
            server,
            server_name: None,
            name_source: None,
            sni_absent: None,
            issuer: None,
            first_frame: seg.frame,
            last_frame: seg.frame,
            first_time: seg.time,
            last_time: seg.time,
            identified_frame: seg.frame,
            syn_attempts: 0,
            answered: false,
            ended: false,
            frames: 0,
            tcp_bytes: [0; 2],
            records: [0; 2],
            bytes: [0; 2],
            pushes: Vec::new(),
        };
        self.conns.insert(
            id,
            Conn {
                link,
                identified: false,
                opened: false,
                data_seen: false,
                fin: [false; 2],
                unanswered: 0,
            },
        );
        let ids = self.by_pair.entry(key).or_default();
        ids.push_back(id);
        if ids.len() > MAX_PER_PAIR {
            ids.pop_front();
        }
        self.unidentified.push_back(id);
        self.unidentified_count += 1;
        if self.unidentified.len() > 2 * MAX_CONNECTIONS {
            // Drop the ids of connections identified or forgotten since.
            let conns = &self.conns;
            self.unidentified
                .retain(|i| conns.get(i).is_some_and(|c| !c.identified));
        }
        while self.unidentified_count > MAX_CONNECTIONS {
            let Some(old) = self.unidentified.pop_front() else {
                break;
            };
            if self.conns.get(&old).is_some_and(|c| !c.identified) {
                self.forget(old);
            }
        }
        id
    }

    fn identify(&mut self, id: LinkId, frame: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.identified {
            return;
        }
        conn.identified = true;
        conn.link.identified_frame = frame;
        self.unidentified_count = self.unidentified_count.saturating_sub(1);
        self.identified.push_back(id);
        while self.identified.len() > MAX_LINKS {
            let Some(old) = self.identified.pop_front() else {
                break;
            };
            self.forget(old);
        }
    }

    /// Drops a connection from every table.
    fn forget(&mut self, id: LinkId) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        if !conn.identified {
            self.unidentified_count = self.unidentified_count.saturating_sub(1);
        }
        self.pushes_total = self.pushes_total.saturating_sub(conn.link.pushes.len());
        let key = pair(conn.link.client, conn.link.server);
        if let Some(ids) = self.by_pair.get_mut(&key) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                self.by_pair.remove(&key);
            }
        }
    }
}

/// Gives the link `name` unless it has a name from a source that ranks as high.
fn offer_name(link: &mut CloudLink, name: String, source: NameSource) {
    if link
        .name_source
        .is_none_or(|old| old.rank() < source.rank())
    {
        link.server_name = Some(name);
        link.name_source = Some(source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = "192.168.1.50";
    const CLOUD: &str = "52.49.1.2";

    fn at(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    /// A segment at frame `frame` (time = frame ms) with flags from a string: S, A, F, R.
    fn seg(frame: u64, src: SocketAddr, dst: SocketAddr, flags: &str, len: u32) -> Tcp {
        Tcp {
            frame,
            time: Duration::from_millis(frame),
            src,
            dst,
            syn: flags.contains('S'),
            ack: flags.contains('A'),
            fin: flags.contains('F'),
            rst: flags.contains('R'),
            payload_len: len,
        }
    }

    fn dns_answer(name: &str, addr: &str) -> DnsAnswer {
        DnsAnswer {
            name: name.into(),
            addr: addr.parse().unwrap(),
        }
    }

    fn cert(cn: &str, issuer_cn: &str) -> CertNames {
        CertNames {
            subject_cn: Some(cn.into()),
            issuer_cn: Some(issuer_cn.into()),
            ..CertNames::default()
        }
    }

    /// A whole connection from `c` to `s` from frame `f`: handshake, `data` bytes each way,
    /// FIN both ways; returns what `tcp` said per frame.
    fn session(t: &mut CloudTracker, f: u64, c: SocketAddr, s: SocketAddr) -> Vec<Option<LinkId>> {
        [
            seg(f, c, s, "S", 0),
            seg(f + 1, s, c, "SA", 0),
            seg(f + 2, c, s, "A", 0),
            seg(f + 3, c, s, "A", 100),
            seg(f + 4, s, c, "A", 200),
            seg(f + 5, c, s, "FA", 0),
            seg(f + 6, s, c, "FA", 0),
            seg(f + 7, c, s, "A", 0),
        ]
        .iter()
        .map(|x| t.tcp(x))
        .collect()
    }

    #[test]
    fn names_and_issuers() {
        for n in [
            "tplinkcloud.com",
            "n-devs.tplinkcloud.com",
            "N-DEVS.TPLinkCloud.COM.",
            "*.tplinkcloud.com",
            "n-use1-devs.tplinkcloud.com",
        ] {
            assert!(is_cloud_name(n), "{n}");
        }
        for n in [
            "",
            ".",
            "xtplinkcloud.com",
            "tplinkcloud.com.evil.example",
            "tplinkcloud.co",
            "n-devs.tplinkcloud.com..",
            "é.tplinkcloud.com\u{301}",
        ] {
            assert!(!is_cloud_name(n), "{n}");
        }
        for n in [
            "TP-LINK CA P1",
            "tp-link ca p2",
            "tp-link-CA",
            " TP-LINK CA P12 ",
        ] {
            assert!(is_cloud_issuer(n), "{n}");
        }
        for n in [
            "TP-LINK CORPORATION LIMITED",
            "TP-LINK CA",
            "TP-LINK CA P",
            "TP-LINK CA Px",
            "Amazon RSA 2048 M01",
            "",
        ] {
            assert!(!is_cloud_issuer(n), "{n}");
        }
    }

    #[test]
    fn dns_then_syn_only_retries_unanswered() {
        let mut t = CloudTracker::default();
        t.dns(
            1,
            &[
                dns_answer("n-devs.tplinkcloud.com", CLOUD),
                dns_answer("example.com", "9.9.9.9"),
            ],
        );
        assert_eq!(
            t.dns_name(CLOUD.parse().unwrap()),
            Some("n-devs.tplinkcloud.com")
        );
        assert_eq!(t.dns_name("9.9.9.9".parse().unwrap()), None);
        let (c, s) = (at(DEVICE, 40000), at(CLOUD, 443));
        // The SYN and two retransmissions, 1 s and 3 s later: one connection, never answered.
        for (f, ms) in [(2, 0), (3, 1000), (4, 3000)] {
            let mut x = seg(f, c, s, "S", 0);
            x.time = Duration::from_millis(ms);
            assert_eq!(t.tcp(&x), Some(LinkId(0)));
        }
        // A new attempt from another port: another link.
        assert_eq!(
            t.tcp(&seg(5, at(DEVICE, 40001), s, "S", 0)),
            Some(LinkId(1))
        );
        let links: Vec<_> = t.links().collect();
        assert_eq!(links.len(), 2);
        let l = links[0];
        assert_eq!((l.client, l.server), (c, s));
        assert_eq!(l.server_name.as_deref(), Some("n-devs.tplinkcloud.com"));
        assert_eq!(l.name_source, Some(NameSource::Dns));
        assert_eq!((l.syn_attempts, l.answered), (3, false));
        assert_eq!((l.first_frame, l.last_frame, l.identified_frame), (2, 4, 2));
        assert_eq!(l.duration(), Duration::from_secs(3));
        assert_eq!(l.sni_absent, None);
        assert_eq!(links[1].syn_attempts, 1);
        assert_eq!(t.link_of(s, c).map(|l| l.id), Some(LinkId(0)));
    }

    #[test]
    fn cloud_port_without_dns() {
        let mut t = CloudTracker::default();
        let (c, s) = (at(DEVICE, 51000), at("18.1.2.3", 50443));
        let said = session(&mut t, 10, c, s);
        assert!(said.iter().all(|x| *x == Some(LinkId(0))));
        let l = t.link_of(c, s).unwrap();
        assert_eq!((l.server_name.clone(), l.name_source), (None, None));
        assert_eq!((l.syn_attempts, l.answered, l.ended), (1, true, true));
        assert_eq!((l.frames, l.tcp_bytes), (8, [200, 100]));
        // Without a SYN (capture started mid-connection), the side on the cloud port is the
        // server, whichever sends first.
        let mut t = CloudTracker::default();
        assert_eq!(t.tcp(&seg(1, s, c, "A", 30)), Some(LinkId(0)));
        assert_eq!(t.link_of(c, s).unwrap().client, c);
        // set_ports: another port, for frames from then on.
        let mut t = CloudTracker::new(&[]);
        assert_eq!(t.tcp(&seg(1, c, s, "S", 0)), None);
        t.set_ports(&[50443, 8443]);
        assert_eq!(t.ports(), [50443, 8443]);
        assert_eq!(t.tcp(&seg(2, s, c, "SA", 0)), Some(LinkId(0)));
        assert_eq!(t.link_of(c, s).unwrap().identified_frame, 2);
    }

    #[test]
    fn https_identified_by_certificate_after_the_fact() {
        let mut t = CloudTracker::default();
        let (c, s) = (at(DEVICE, 40000), at(CLOUD, 443));
        // SYN, SYN retransmission, SYN-ACK, ACK, ClientHello: not known to be cloud yet.
        assert_eq!(t.tcp(&seg(1, c, s, "S", 0)), None);
        assert_eq!(t.tcp(&seg(2, c, s, "S", 0)), None);
        assert_eq!(t.tcp(&seg(3, s, c, "SA", 0)), None);
        assert_eq!(t.tcp(&seg(4, c, s, "A", 0)), None);
        assert_eq!(t.tcp(&seg(5, c, s, "A", 197)), None);
        t.client_hello(
            c,
            s,
            &ClientHello {
                version: 0x0303,
                sni: None,
            },
        );
        assert_eq!(t.app_record(5, Duration::ZERO, c, s, 10), None);
        assert!(t.link_of(c, s).is_none());
        let conn = t.connection(s, c).unwrap();
        assert_eq!(
            (conn.id, conn.client, conn.opened, conn.cloud),
            (LinkId(0), c, true, false)
        );
        // The server's certificate: *.tplinkcloud.com from TP-LINK CA P1.
        assert_eq!(t.tcp(&seg(6, s, c, "A", 1400)), None);
        let chain = [cert("TP-LINK CA P1", "tp-link-CA")];
        t.certificate(s, c, &cert("*.tplinkcloud.com", "TP-LINK CA P1"), &chain);
        // From now on, and for the earlier frames when asked again.
        assert_eq!(t.tcp(&seg(7, c, s, "A", 0)), Some(LinkId(0)));
        for frame in 1..=7 {
            assert_eq!(t.link_at(c, s, frame).map(|l| l.id), Some(LinkId(0)));
        }
        let l = t.link_of(s, c).unwrap();
        assert_eq!(
            (l.first_frame, l.identified_frame, l.syn_attempts),
            (1, 6, 2)
        );
        assert_eq!(l.server_name.as_deref(), Some("*.tplinkcloud.com"));
        assert_eq!(l.name_source, Some(NameSource::Certificate));
        assert_eq!(l.sni_absent, Some(true));
        assert_eq!(l.issuer.as_deref(), Some("TP-LINK CA P1"));
        assert!(l.answered);
        // By the CA alone (a leaf with another name), and by the root in the chain.
        let mut t = CloudTracker::default();
        t.tcp(&seg(1, c, s, "S", 0));
        t.certificate(
            s,
            c,
            &cert("device-42", "intermediate"),
            &[cert("intermediate", "tp-link-CA")],
        );
        let l = t.link_of(c, s).unwrap();
        assert_eq!(l.server_name.as_deref(), Some("device-42"));
        assert_eq!(l.issuer.as_deref(), Some("intermediate"));
        // By a subjectAltName.
        let mut t = CloudTracker::default();
        t.tcp(&seg(1, c, s, "S", 0));
        let leaf = CertNames {
            subject_cn: Some("aws-elb".into()),
            dns_names: vec!["x.example".into(), "N-DEVS.tplinkcloud.com".into()],
            issuer_o: Some("Amazon".into()),
            ..CertNames::default()
        };
        t.certificate(s, c, &leaf, &[]);
        let l = t.link_of(c, s).unwrap();
        assert_eq!(l.server_name.as_deref(), Some("n-devs.tplinkcloud.com"));
        assert_eq!(l.issuer.as_deref(), Some("Amazon"));
    }

    #[test]
    fn sni_identifies_and_names() {
        let mut t = CloudTracker::default();
        let (c, s) = (at(DEVICE, 40000), at(CLOUD, 443));
        t.tcp(&seg(1, c, s, "S", 0));
        t.tcp(&seg(2, c, s, "A", 200));
        // A ClientHello from the server side is ignored.
        t.client_hello(
            s,
            c,
            &ClientHello {
                version: 0x0303,
                sni: Some("devs.tplinkcloud.com".into()),
            },
        );
        assert!(t.link_of(c, s).is_none());
        t.client_hello(
            c,
            s,
            &ClientHello {
                version: 0x0303,
                sni: Some("DEVS.tplinkcloud.com.".into()),
            },
        );
        let l = t.link_of(c, s).unwrap();
        assert_eq!(
            (l.sni_absent, l.server_name.as_deref()),
            (Some(false), Some("devs.tplinkcloud.com"))
        );
        assert_eq!(l.name_source, Some(NameSource::Sni));
        // The certificate's wildcard does not replace the SNI's name.
        t.certificate(s, c, &cert("*.tplinkcloud.com", "TP-LINK CA P1"), &[]);
        assert_eq!(
            t.link_of(c, s).unwrap().server_name.as_deref(),
            Some("devs.tplinkcloud.com")
        );
        // A ClientHello with another name: seen, not identified.
        let mut t = CloudTracker::default();
        t.tcp(&seg(1, c, s, "S", 0));
        t.client_hello(
            c,
            s,
            &ClientHello {
                version: 0x0303,
                sni: Some("example.com".into()),
            },
        );
        assert!(t.link_of(c, s).is_none());
    }

    #[test]
    fn unrelated_https_is_never_cloud() {
        let mut t = CloudTracker::default();
        t.dns(1, &[dns_answer("n-devs.tplinkcloud.com", CLOUD)]);
        let (c, s) = (at(DEVICE, 40000), at("93.184.216.34", 443));
        let said = session(&mut t, 2, c, s);
        t.client_hello(
            c,
            s,
            &ClientHello {
                version: 0x0303,
                sni: Some("example.com".into()),
            },
        );
        let leaf = CertNames {
            subject_cn: Some("example.com".into()),
            subject_o: Some("TP-LINK CORPORATION LIMITED".into()),
            issuer_cn: Some("DigiCert Global G2".into()),
            dns_names: vec!["www.example.com".into()],
            ..CertNames::default()
        };
        t.certificate(
            s,
            c,
            &leaf,
            &[cert("DigiCert Global G2", "DigiCert Global Root G2")],
        );
        assert!(said.iter().all(Option::is_none));
        assert_eq!(t.app_record(9, Duration::ZERO, s, c, 100), None);
        assert!(t.link_of(c, s).is_none() && t.link_at(c, s, 3).is_none());
        assert_eq!(t.links().count(), 0);
        // The cloud port on the client side (an ephemeral port that happens to be 50443) does
        // not make the connection cloud: the SYN sender is the client.
        assert_eq!(t.tcp(&seg(20, at(DEVICE, 50443), s, "S", 0)), None);
        // A client certificate (mutual TLS) from TP-Link's CA is not the server's.
        let (c2, s2) = (at(DEVICE, 40002), at("10.0.0.9", 8883));
        t.tcp(&seg(30, c2, s2, "S", 0));
        t.certificate(c2, s2, &cert("*.tplinkcloud.com", "TP-LINK CA P1"), &[]);
        assert!(t.link_of(c2, s2).is_none());
    }

    #[test]
    fn port_reuse_starts_a_new_connection() {
        let mut t = CloudTracker::default();
        let (c, s) = (at(DEVICE, 40000), at(CLOUD, 443));
        // Connection 0: identified by its certificate, then closed.
        session(&mut t, 1, c, s);
        t.certificate(s, c, &cert("*.tplinkcloud.com", "TP-LINK CA P1"), &[]);
        assert_eq!(t.link_of(c, s).unwrap().id, LinkId(0));
        // Connection 1 on the same address pair: not identified by connection 0's certificate.
        let said = session(&mut t, 20, c, s);
        assert!(said.iter().all(Option::is_none), "{said:?}");
        assert!(t.link_of(c, s).is_none());
        assert_eq!(t.connection(c, s).unwrap().id, LinkId(1));
        assert_eq!(t.link_at(c, s, 5).unwrap().id, LinkId(0));
        assert!(t.link_at(c, s, 22).is_none());
        // After FIN both ways, a SYN starts connection 2.
        t.tcp(&seg(40, c, s, "S", 0));
        t.tcp(&seg(41, c, s, "A", 5));
        assert_eq!(t.connection(c, s).unwrap().id, LinkId(2));
        // A SYN after data (no FIN seen) starts connection 3; its retransmission does not.
        t.tcp(&seg(42, c, s, "S", 0));
        t.tcp(&seg(43, c, s, "S", 0));
        assert_eq!(t.connection(c, s).unwrap().id, LinkId(3));
        // A reset ends a connection: the next SYN is new.
        t.tcp(&seg(44, s, c, "R", 0));
        t.tcp(&seg(45, c, s, "S", 0));
        assert_eq!(t.connection(c, s).unwrap().id, LinkId(4));
        // A SYN long after the last one is a new attempt.
        let mut late = seg(46, c, s, "S", 0);
        late.time = Duration::from_secs(1000);
        t.tcp(&late);
        assert_eq!(t.connection(c, s).unwrap().id, LinkId(5));
        // Connections 1..=5 were never cloud links.
        assert_eq!(t.links().map(|l| l.id).collect::<Vec<_>>(), [LinkId(0)]);
        assert!(!t.connection(c, s).unwrap().cloud);
    }

    #[test]
    fn dns_after_the_connection_started() {
        let mut t = CloudTracker::default();
        let (c, s) = (at(DEVICE, 40000), at(CLOUD, 443));
        assert_eq!(t.tcp(&seg(1, c, s, "A", 10)), None);
        t.dns(2, &[dns_answer("devs.tplinkcloud.com", CLOUD)]);
        assert_eq!(t.tcp(&seg(3, s, c, "A", 10)), Some(LinkId(0)));
        let l = t.link_at(c, s, 1).unwrap();
        assert_eq!(
            (l.identified_frame, l.name_source),
            (3, Some(NameSource::Dns))
        );
        // A later answer for the address overrides the name for new connections only.
        t.dns(4, &[dns_answer("n-devs.tplinkcloud.com", CLOUD)]);
        t.tcp(&seg(5, at(DEVICE, 40001), s, "S", 0));
        let names: Vec<_> = t.links().map(|l| l.server_name.clone().unwrap()).collect();
        assert_eq!(names, ["devs.tplinkcloud.com", "n-devs.tplinkcloud.com"]);
        // The DNS-named side is the server when no SYN says otherwise, on any port.
        let mut t = CloudTracker::default();
        t.dns(1, &[dns_answer("devs.tplinkcloud.com", CLOUD)]);
        t.tcp(&seg(2, at(CLOUD, 8080), at(DEVICE, 9), "A", 10));
        assert_eq!(t.links().next().unwrap().client, at(DEVICE, 9));
        // Otherwise the higher port is the client.
        let mut t = CloudTracker::new(&[]);
        t.tcp(&seg(1, at("10.0.0.1", 443), at("10.0.0.2", 50000), "A", 1));
        assert_eq!(
            t.connection(at("10.0.0.1", 443), at("10.0.0.2", 50000))
                .unwrap()
                .client,
            at("10.0.0.2", 50000)
        );
        // A SYN-ACK first: its receiver is the client.
        let mut t = CloudTracker::new(&[]);
        t.tcp(&seg(
            1,
            at("10.0.0.1", 50000),
            at("10.0.0.2", 40000),
            "SA",
            0,
        ));
        let conn = t
            .connection(at("10.0.0.1", 50000), at("10.0.0.2", 40000))
            .unwrap();
        assert_eq!((conn.client, conn.opened), (at("10.0.0.2", 40000), true));
    }

    #[test]
    fn pushes_reports_and_latency() {
        let mut t = CloudTracker::default();
        let (c, s) = (at(DEVICE, 40000), at(CLOUD, 50443));
        t.tcp(&seg(1, c, s, "S", 0));
        let ms = Duration::from_millis;
        // A report on its own (the boot report), then push → report, then two pushes → report.
        assert_eq!(t.app_record(2, ms(2), c, s, 501), Some(Role::Report));
        assert_eq!(t.app_record(3, ms(100), s, c, 247), Some(Role::Push));
        assert_eq!(t.app_record(4, ms(130), c, s, 131), Some(Role::Report));
        assert_eq!(t.app_record(5, ms(200), s, c, 166), Some(Role::Push));
        assert_eq!(t.app_record(6, ms(210), s, c, 166), Some(Role::Push));
        assert_eq!(t.app_record(7, ms(290), c, s, 732), Some(Role::Report));
        assert_eq!(t.app_record(8, ms(300), s, c, 50), Some(Role::Push));
        let l = t.link_of(c, s).unwrap();
        assert_eq!((l.records, l.bytes), ([4, 3], [629, 1364]));
        assert_eq!(
            l.pushes,
            [
                Push {
                    frame: 3,
                    time: ms(100),
                    answer: Some((4, ms(30)))
                },
                Push {
                    frame: 5,
                    time: ms(200),
                    answer: Some((7, ms(90)))
                },
                Push {
                    frame: 6,
                    time: ms(210),
                    answer: Some((7, ms(80)))
                },
                Push {
                    frame: 8,
                    time: ms(300),
                    answer: None
                },
            ]
        );
        assert_eq!(
            l.latency(),
            Some(Latency {
                count: 3,
                median: ms(80),
                max: ms(90)
            })
        );
        assert_eq!((l.role_of(s), l.role_of(c)), (Role::Push, Role::Report));
        assert_eq!(
            (Role::Push.as_str(), NameSource::Sni.as_str()),
            ("push", "sni")
        );
        // No pushes: no latency.
        let mut t = CloudTracker::default();
        t.tcp(&seg(1, c, s, "S", 0));
        assert_eq!(t.link_of(c, s).unwrap().latency(), None);
    }

    #[test]
    fn bounds() {
        let mut t = CloudTracker::default();
        // Names: the oldest forgotten.
        for i in 0..MAX_NAMES as u32 + 10 {
            let addr = IpAddr::from(i.to_be_bytes());
            t.dns(
                1,
                &[DnsAnswer {
                    name: "devs.tplinkcloud.com".into(),
                    addr,
                }],
            );
        }
        assert_eq!(t.names.len(), MAX_NAMES);
        assert_eq!(t.dns_name(IpAddr::from(0u32.to_be_bytes())), None);
        assert!(t.dns_name(IpAddr::from(20u32.to_be_bytes())).is_some());
        // Unidentified connections: the oldest forgotten, identified ones kept.
        let mut t = CloudTracker::default();
        let s = at("10.9.9.9", 443);
        let cloud = at("10.9.9.8", 50443);
        t.tcp(&seg(1, at(DEVICE, 1), cloud, "S", 0));
        for i in 0..MAX_CONNECTIONS as u64 + 100 {
            let c = SocketAddr::new(
                IpAddr::from(((i >> 16) as u32 + 0x0a00_0000).to_be_bytes()),
                i as u16,
            );
            t.tcp(&seg(2 + i, c, s, "S", 0));
        }
        assert_eq!(t.connections(), MAX_CONNECTIONS + 1);
        assert_eq!(t.links().count(), 1);
        assert!(t.connection(at("10.0.0.0", 0), s).is_none());
        assert!(t.unidentified.len() <= 2 * MAX_CONNECTIONS + 1);
        // Links: the oldest identified forgotten.
        let mut t = CloudTracker::default();
        for i in 0..MAX_LINKS as u64 + 5 {
            let c = SocketAddr::new(
                IpAddr::from(((i >> 16) as u32 + 0x0a00_0000).to_be_bytes()),
                i as u16,
            );
            t.tcp(&seg(1 + i, c, cloud, "S", 0));
        }
        assert_eq!(t.links().count(), MAX_LINKS);
        assert_eq!(t.links().next().unwrap().id, LinkId(5));
        assert!(t.link(LinkId(4)).is_none() && t.link(LinkId(5)).is_some());
        assert!(t.unidentified.len() <= 2 * MAX_CONNECTIONS + 1);
        // Pushes per link, and the count goes on.
        let c = at(DEVICE, 2);
        t.tcp(&seg(9000, c, cloud, "S", 0));
        for i in 0..MAX_PUSHES as u64 + 7 {
            t.app_record(9001 + i, Duration::ZERO, cloud, c, 1);
        }
        let l = t.link_of(c, cloud).unwrap();
        assert_eq!(
            (l.pushes.len(), l.records[0]),
            (MAX_PUSHES, MAX_PUSHES as u64 + 7)
        );
        // Connections per address pair: the oldest drop out of the pair's list.
        let mut t = CloudTracker::default();
        for i in 0..MAX_PER_PAIR as u64 + 3 {
            t.tcp(&seg(10 * i + 1, c, cloud, "S", 0));
            t.tcp(&seg(10 * i + 2, c, cloud, "A", 1));
        }
        assert_eq!(t.by_pair.values().next().unwrap().len(), MAX_PER_PAIR);
        assert_eq!(t.links().count(), MAX_PER_PAIR + 3);
        assert!(t.link_at(c, cloud, 1).is_none());
        assert_eq!(t.link_at(c, cloud, 35).unwrap().id, LinkId(3));
    }
}
