//! `kasa-decode`'s side of the cloud link: feeds a [`CloudTracker`] from the capture, as the
//! plugin feeds it from Wireshark's dissection.
//!
//! * UDP from port 53: the response's answers ([`dns::answers`]).
//! * Every TCP segment: [`CloudTracker::tcp`].
//! * A connection whose opening was captured and whose client's first bytes are a TLS record,
//!   or a cloud link joined in the middle: both directions reassembled, cut into records
//!   ([`tls::RecordSplitter`]), the handshake read ([`tls::HandshakeReader`]) for the
//!   ClientHello and the server's certificates, and every application-data record counted.
//!   A TLS connection that is not a cloud link when both handshakes are over is let go.
//!
//! Nothing is decrypted. Memory: the tracker's bounds, plus per TLS connection two
//! reassemblers (out-of-order data capped at [`PENDING_LIMIT`]), one partial record and one
//! partial handshake message per direction.

use super::link::{L4, Segment};
use crate::conv::cloud::{CloudLink, CloudTracker, Connection, LinkId, Tcp};
use crate::conv::{Chunk, Reassembler};
use crate::wire::tls::{self, ClientHello, HandshakeReader, RecordSplitter, content, handshake};
use crate::wire::{dns, x509};
use foldhash::{HashMap, HashMapExt as _};
use std::net::SocketAddr;
use std::time::Duration;

/// The DNS server port whose responses are read.
pub const DNS_PORT: u16 = 53;
/// Out-of-order bytes buffered per direction of a TLS connection.
pub const PENDING_LIMIT: usize = 256 << 10;

type Pair = crate::conv::PairKey;

fn pair(a: SocketAddr, b: SocketAddr) -> Pair {
    Pair::new(a, b)
}

/// One direction of a TLS connection.
#[derive(Debug)]
struct Dir {
    reasm: Reassembler,
    split: RecordSplitter,
    hs: HandshakeReader,
    /// An application-data record went this way (in TLS 1.3, the encrypted handshake).
    app_seen: bool,
    closed: bool,
}

impl Dir {
    fn new(mid_stream: bool) -> Dir {
        Dir {
            reasm: Reassembler::new(PENDING_LIMIT),
            split: if mid_stream {
                RecordSplitter::hunting()
            } else {
                RecordSplitter::new()
            },
            hs: HandshakeReader::new(),
            app_seen: false,
            closed: false,
        }
    }

    /// Nothing more to learn from this direction's handshake.
    fn handshake_over(&self) -> bool {
        !self.hs.is_open() || self.app_seen || self.split.is_stopped() || self.closed
    }

    /// Nothing more to read at all.
    fn finished(&self) -> bool {
        self.split.is_stopped() || self.closed
    }

    fn close(&mut self, d: usize, frame: u64, time: Duration, found: &mut Vec<Found>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let Dir {
            reasm,
            split,
            hs,
            app_seen,
            ..
        } = self;
        reasm.close(frame, time, &mut |c| {
            chunk(split, hs, app_seen, d, c, found)
        });
    }
}

/// `[client → server, server → client]`.
type Dirs = Box<[Dir; 2]>;

fn dirs(mid_stream: bool) -> Dirs {
    Box::new([Dir::new(mid_stream), Dir::new(mid_stream)])
}

#[derive(Debug)]
enum State {
    /// Opened in the capture; the client's first bytes decide. The reassemblers already
    /// follow the sequence numbers.
    Undecided(Dirs),
    /// Joined mid-way and not a cloud link (yet): nothing is read until it is one.
    Waiting,
    /// Read as TLS.
    Tls(Dirs),
    /// Not TLS, or TLS that is done with: ignored.
    Done,
}

#[derive(Debug)]
struct Conn {
    id: LinkId,
    client: SocketAddr,
    server: SocketAddr,
    state: State,
}

/// What reading a segment found, handed to the tracker afterwards.
#[derive(Debug)]
enum Found {
    /// From the client.
    Hello(ClientHello),
    /// From the server: the leaf's names and the rest of the chain's.
    Certificates(x509::CertNames, Vec<x509::CertNames>),
    App {
        frame: u64,
        time: Duration,
        from_client: bool,
        len: u16,
    },
}

/// Feeds the tracker from a capture, frame by frame.
#[derive(Debug)]
pub struct CloudReader {
    tracker: CloudTracker,
    conns: HashMap<Pair, Conn>,
    /// `conns` is swept of forgotten connections when it grows past this.
    sweep_at: usize,
}

impl CloudReader {
    pub fn new(ports: &[u16]) -> CloudReader {
        CloudReader {
            tracker: CloudTracker::new(ports),
            conns: HashMap::new(),
            sweep_at: 1024,
        }
    }

    /// The tracker, as fed so far.
    pub fn tracker(&self) -> &CloudTracker {
        &self.tracker
    }

    /// One frame's TCP segment or UDP datagram.
    pub fn segment(&mut self, seg: &Segment<'_>, frame: u64, time: Duration) {
        match seg.l4 {
            L4::Udp { payload } => {
                if seg.src.port() == DNS_PORT
                    && let Ok(answers) = dns::answers(payload)
                {
                    self.tracker.dns(frame, &answers);
                }
            }
            L4::Tcp {
                seq,
                ack,
                syn,
                fin,
                rst,
                payload,
            } => {
                let t = Tcp {
                    frame,
                    time,
                    src: seg.src,
                    dst: seg.dst,
                    syn,
                    ack: ack.is_some(),
                    fin,
                    rst,
                    payload_len: u32::try_from(payload.len() as u64 + seg.missing)
                        .unwrap_or(u32::MAX),
                };
                if let Some(info) = self.tracker.tcp_connection(&t) {
                    self.tcp(&t, info, seq, ack, payload, seg.missing);
                }
            }
        }
    }

    fn tcp(
        &mut self,
        t: &Tcp,
        info: Connection,
        seq: u32,
        ack: Option<u32>,
        payload: &[u8],
        missing: u64,
    ) {
        let key = pair(t.src, t.dst);
        let fresh = || Conn {
            id: info.id,
            client: info.client,
            server: info.server,
            state: if info.opened {
                State::Undecided(dirs(false))
            } else {
                State::Waiting
            },
        };
        let conn = self.conns.entry(key).or_insert_with(fresh);
        if conn.id != info.id {
            *conn = fresh();
        }
        let from_client = t.src == conn.client;
        match &mut conn.state {
            State::Done => return,
            State::Waiting if !info.cloud => return,
            State::Waiting => conn.state = State::Tls(dirs(true)),
            State::Undecided(d) if !payload.is_empty() || missing > 0 => {
                if from_client && tls::is_record_start(payload) {
                    conn.state = State::Tls(core::mem::replace(d, dirs(false)));
                } else {
                    conn.state = State::Done;
                    return;
                }
            }
            State::Undecided(_) | State::Tls(_) => {}
        }
        let mut found = Vec::new();
        if let State::Undecided(d) | State::Tls(d) = &mut conn.state {
            feed(d, from_client, t, seq, ack, payload, missing, &mut found);
        }
        let (client, server) = (conn.client, conn.server);
        self.apply(client, server, found);
        self.settle(key, info.id);
        if self.conns.len() > self.sweep_at {
            self.sweep();
        }
    }

    /// Hands what was found to the tracker, in order.
    fn apply(&mut self, client: SocketAddr, server: SocketAddr, found: Vec<Found>) {
        for f in found {
            match f {
                Found::Hello(h) => self.tracker.client_hello(client, server, &h),
                Found::Certificates(leaf, chain) => {
                    self.tracker.certificate(server, client, &leaf, &chain)
                }
                Found::App {
                    frame,
                    time,
                    from_client,
                    len,
                } => {
                    let (src, dst) = if from_client {
                        (client, server)
                    } else {
                        (server, client)
                    };
                    self.tracker
                        .app_record(frame, time, src, dst, u32::from(len));
                }
            }
        }
    }

    /// Lets a TLS connection go once there is nothing more to learn from it: both directions
    /// finished, or both handshakes over and it is not a cloud link.
    fn settle(&mut self, key: Pair, id: LinkId) {
        let cloud = self.tracker.link(id).is_some();
        if let Some(conn) = self.conns.get_mut(&key)
            && let State::Tls(d) = &conn.state
            && (d.iter().all(Dir::finished) || !cloud && d.iter().all(Dir::handshake_over))
        {
            conn.state = State::Done;
        }
    }

    /// Drops the connections the tracker no longer knows.
    fn sweep(&mut self) {
        let tracker = &self.tracker;
        self.conns.retain(|_, conn| {
            tracker
                .connection(conn.client, conn.server)
                .is_some_and(|c| c.id == conn.id)
        });
        self.sweep_at = (2 * self.conns.len()).max(1024);
    }

    /// Ends the capture: flushes what the reassemblers hold, and returns the cloud links in
    /// order of first frame.
    pub fn finish(&mut self, frame: u64, time: Duration) -> Vec<CloudLink> {
        let mut all = Vec::new();
        for conn in self.conns.values_mut() {
            if let State::Tls(dirs) = &mut conn.state {
                let mut found = Vec::new();
                for (d, dir) in dirs.iter_mut().enumerate() {
                    dir.close(d, frame, time, &mut found);
                }
                all.push((conn.id, conn.client, conn.server, found));
            }
        }
        all.sort_by_key(|a| a.0);
        for (_, client, server, found) in all {
            self.apply(client, server, found);
        }
        self.tracker.links().cloned().collect()
    }
}

/// One segment of a TLS connection (or one still undecided), wired as `capture::Decoder`
/// wires its streams: the SYN fixes the sequence base, an ACK declares the peer's holes lost,
/// FIN closes this direction, RST both.
#[allow(clippy::too_many_arguments)]
fn feed(
    dirs: &mut [Dir; 2],
    from_client: bool,
    t: &Tcp,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
    missing: u64,
    found: &mut Vec<Found>,
) {
    let d = usize::from(!from_client);
    let [c2s, s2c] = dirs;
    let (this, other) = if d == 0 { (c2s, s2c) } else { (s2c, c2s) };
    if t.syn {
        this.reasm.syn(seq);
    }
    if let Some(a) = ack
        && !other.closed
    {
        let Dir {
            reasm,
            split,
            hs,
            app_seen,
            ..
        } = &mut *other;
        reasm.ack(a, t.frame, t.time, &mut |c| {
            chunk(split, hs, app_seen, 1 - d, c, found)
        });
    }
    if !this.closed {
        let Dir {
            reasm,
            split,
            hs,
            app_seen,
            ..
        } = &mut *this;
        reasm.segment(seq, payload, missing, t.frame, t.time, &mut |c| {
            chunk(split, hs, app_seen, d, c, found)
        });
    }
    if t.fin {
        this.close(d, t.frame, t.time, found);
    }
    if t.rst {
        other.close(1 - d, t.frame, t.time, found);
        this.close(d, t.frame, t.time, found);
    }
}

/// A piece of one direction's stream, through its record splitter.
fn chunk(
    split: &mut RecordSplitter,
    hs: &mut HandshakeReader,
    app_seen: &mut bool,
    d: usize,
    c: Chunk<'_>,
    found: &mut Vec<Found>,
) {
    match c {
        Chunk::Data { bytes, frame, time } => {
            // An error stops the splitter; the direction is then finished.
            let _ = split.push(bytes, &mut |r| {
                record(hs, app_seen, d, r, frame, time, found)
            });
        }
        Chunk::Gap { len, frame, time } => {
            split.gap(len, &mut |r| record(hs, app_seen, d, r, frame, time, found))
        }
    }
}

/// One record: handshake payloads to the handshake reader, ChangeCipherSpec ends it,
/// application data is counted.
fn record(
    hs: &mut HandshakeReader,
    app_seen: &mut bool,
    d: usize,
    r: tls::Record<'_>,
    frame: u64,
    time: Duration,
    found: &mut Vec<Found>,
) {
    match r.header.content_type {
        content::HANDSHAKE => match r.payload {
            Some(p) => {
                // A message over the cap stops the reader; nothing else to do.
                let _ = hs.push(p, &mut |t, body| message(d, t, body, found));
            }
            None => hs.lost(),
        },
        content::CHANGE_CIPHER_SPEC => hs.change_cipher_spec(),
        content::APPLICATION_DATA => {
            *app_seen = true;
            found.push(Found::App {
                frame,
                time,
                from_client: d == 0,
                len: r.header.len,
            });
        }
        _ => {}
    }
}

/// A handshake message: the client's ClientHello, the server's Certificate.
fn message(d: usize, msg_type: u8, body: &[u8], found: &mut Vec<Found>) {
    match (d, msg_type) {
        (0, handshake::CLIENT_HELLO) => {
            if let Ok(h) = tls::parse_client_hello(body) {
                found.push(Found::Hello(h));
            }
        }
        (1, handshake::CERTIFICATE) => {
            let Ok(certs) = tls::parse_certificates(body) else {
                return;
            };
            let Some((leaf, chain)) = certs.split_first() else {
                return;
            };
            let leaf = x509::names(leaf).unwrap_or_default();
            let chain = chain.iter().filter_map(|c| x509::names(c).ok()).collect();
            found.push(Found::Certificates(leaf, chain));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Config, Decoder, LinkType, Record};
    use crate::conv::cloud::{NameSource, Push};
    use crate::wire::x509::tests::{ca, leaf};

    const DEVICE: &str = "192.168.1.50:40000";
    const SERVER: &str = "52.49.1.2:443";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn tls_record(content_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    fn u24(n: usize) -> [u8; 3] {
        let b = (n as u32).to_be_bytes();
        [b[1], b[2], b[3]]
    }

    fn hs_message(msg_type: u8, body: &[u8]) -> Vec<u8> {
        [&[msg_type][..], &u24(body.len()), body].concat()
    }

    /// A ClientHello without server_name: version, random, no session id, one suite, null
    /// compression, no extensions.
    fn client_hello() -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&[0, 0, 2, 0xc0, 0x2f, 1, 0]);
        tls_record(22, &hs_message(handshake::CLIENT_HELLO, &b))
    }

    /// ServerHello, Certificate (the chain given), ServerHelloDone in one record.
    fn server_flight(chain: &[Vec<u8>]) -> Vec<u8> {
        let list: Vec<u8> = chain
            .iter()
            .flat_map(|c| [&u24(c.len())[..], c].concat())
            .collect();
        let cert_body = [&u24(list.len())[..], &list].concat();
        let server_hello = [&[3, 3][..], &[9; 32], &[0, 0xc0, 0x2f, 0]].concat();
        let msgs = [
            hs_message(handshake::SERVER_HELLO, &server_hello),
            hs_message(handshake::CERTIFICATE, &cert_body),
            hs_message(handshake::SERVER_HELLO_DONE, &[]),
        ]
        .concat();
        tls_record(22, &msgs)
    }

    /// One direction's sequence numbers, for building segments.
    struct Side {
        addr: SocketAddr,
        seq: u32,
    }

    struct Capture {
        reader: CloudReader,
        client: Side,
        server: Side,
        frame: u64,
    }

    impl Capture {
        fn new(ports: &[u16], client: &str, server: &str) -> Capture {
            Capture {
                reader: CloudReader::new(ports),
                client: Side {
                    addr: addr(client),
                    seq: 1000,
                },
                server: Side {
                    addr: addr(server),
                    seq: 5000,
                },
                frame: 0,
            }
        }

        /// A segment at `ms`; `from_client`, flags "S", "F", "R" (ACK always but on a bare
        /// SYN), payload. Returns the frame number.
        fn seg(&mut self, ms: u64, from_client: bool, flags: &str, payload: &[u8]) -> u64 {
            self.frame += 1;
            let (this, other) = if from_client {
                (&mut self.client, &self.server)
            } else {
                (&mut self.server, &self.client)
            };
            let syn = flags.contains('S');
            let ack = !(syn && from_client);
            let segment = Segment {
                src: this.addr,
                dst: other.addr,
                l4: L4::Tcp {
                    seq: this.seq,
                    ack: ack.then_some(other.seq),
                    syn,
                    fin: flags.contains('F'),
                    rst: flags.contains('R'),
                    payload,
                },
                missing: 0,
            };
            this.seq = this.seq.wrapping_add(
                payload.len() as u32 + u32::from(syn) + u32::from(flags.contains('F')),
            );
            self.reader
                .segment(&segment, self.frame, Duration::from_millis(ms));
            self.frame
        }

        fn handshake(&mut self) {
            self.seg(0, true, "S", b"");
            self.seg(20, false, "S", b"");
            self.seg(40, true, "", b"");
        }

        fn links(&mut self) -> Vec<CloudLink> {
            let frame = self.frame;
            self.reader.finish(frame, Duration::from_secs(99))
        }
    }

    #[test]
    fn https_to_the_cloud_identified_by_its_certificate() {
        let mut c = Capture::new(&CLOUD_PORTS_FOR_TESTS, DEVICE, SERVER);
        c.handshake();
        c.seg(50, true, "", &client_hello());
        // The server's flight in two segments, the cut inside the certificate.
        let flight = server_flight(&[leaf(), ca()]);
        c.seg(70, false, "", &flight[..700]);
        assert!(
            c.reader
                .tracker()
                .link_of(c.client.addr, c.server.addr)
                .is_none()
        );
        c.seg(71, false, "", &flight[700..]);
        assert!(
            c.reader
                .tracker()
                .link_of(c.client.addr, c.server.addr)
                .is_some()
        );
        // Client: key exchange, CCS, Finished (encrypted handshake), the boot report.
        let client_finish = [
            tls_record(22, &hs_message(handshake::CLIENT_KEY_EXCHANGE, &[4; 66])),
            tls_record(20, &[1]),
            tls_record(22, &[0xee; 40]),
        ]
        .concat();
        c.seg(80, true, "", &client_finish);
        c.seg(
            100,
            false,
            "",
            &[tls_record(20, &[1]), tls_record(22, &[0xee; 40])].concat(),
        );
        c.seg(120, true, "", &tls_record(23, &[0; 501]));
        // A push of 247 bytes and the answer, then a push and its answer in one segment each.
        let push = c.seg(5000, false, "", &tls_record(23, &[1; 247]));
        let report = c.seg(5030, true, "", &tls_record(23, &[2; 131]));
        c.seg(9000, false, "", &tls_record(23, &[1; 166]));
        c.seg(9050, true, "", &tls_record(23, &[2; 732]));
        c.seg(9100, true, "F", b"");
        c.seg(9120, false, "F", b"");
        let links = c.links();
        assert_eq!(links.len(), 1);
        let l = &links[0];
        assert_eq!((l.client, l.server), (addr(DEVICE), addr(SERVER)));
        assert_eq!(l.server_name.as_deref(), Some("*.tplinkcloud.com"));
        assert_eq!(l.name_source, Some(NameSource::Certificate));
        assert_eq!(l.sni_absent, Some(true));
        assert_eq!(l.issuer.as_deref(), Some("TP-LINK CA P1"));
        assert_eq!((l.first_frame, l.identified_frame), (1, 6));
        assert_eq!((l.syn_attempts, l.answered, l.ended), (1, true, true));
        assert_eq!((l.records, l.bytes), ([2, 3], [413, 1364]));
        assert_eq!(l.pushes.len(), 2);
        assert_eq!(
            l.pushes[0],
            Push {
                frame: push,
                time: Duration::from_millis(5000),
                answer: Some((report, Duration::from_millis(30)))
            }
        );
        let lat = l.latency().unwrap();
        assert_eq!(
            (lat.count, lat.median, lat.max),
            (2, Duration::from_millis(30), Duration::from_millis(50))
        );
    }

    const CLOUD_PORTS_FOR_TESTS: [u16; 1] = [50443];

    #[test]
    fn other_https_is_not_followed() {
        let mut c = Capture::new(&CLOUD_PORTS_FOR_TESTS, DEVICE, "93.184.216.34:443");
        c.handshake();
        c.seg(50, true, "", &client_hello());
        // A certificate chain that is not TP-Link's: a garbage leaf and no chain.
        c.seg(70, false, "", &server_flight(&[b"not DER".to_vec()]));
        c.seg(80, true, "", &tls_record(20, &[1]));
        c.seg(90, false, "", &tls_record(20, &[1]));
        // Both handshakes over, not a cloud link: let go.
        let key = pair(c.client.addr, c.server.addr);
        assert!(matches!(c.reader.conns[&key].state, State::Done));
        c.seg(100, false, "", &tls_record(23, &[1; 100]));
        assert!(c.links().is_empty());
        // Plain HTTP is never read as TLS.
        let mut c = Capture::new(&[80], DEVICE, "10.0.0.1:80");
        c.handshake();
        c.seg(50, true, "", b"GET / HTTP/1.1\r\n\r\n");
        let key = pair(c.client.addr, c.server.addr);
        assert!(matches!(c.reader.conns[&key].state, State::Done));
        // On the cloud port, still a cloud link (by port), but no records are read.
        let links = c.links();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].records, [0, 0]);
    }

    #[test]
    fn cloud_port_joined_mid_stream() {
        let mut c = Capture::new(&CLOUD_PORTS_FOR_TESTS, DEVICE, "18.1.2.3:50443");
        // The tail of a record, then records: the splitter hunts for the boundary.
        let stream = [
            vec![0x5a; 17],
            tls_record(23, &[1; 247]),
            tls_record(23, &[1; 166]),
        ]
        .concat();
        c.seg(0, false, "", &stream);
        c.seg(
            30,
            true,
            "",
            &[
                vec![0x33; 3],
                tls_record(23, &[2; 131]),
                tls_record(23, &[2; 10]),
            ]
            .concat(),
        );
        c.seg(60, true, "", &tls_record(23, &[2; 20]));
        let links = c.links();
        assert_eq!(links.len(), 1);
        let l = &links[0];
        assert_eq!(
            (l.client, l.syn_attempts, l.sni_absent),
            (addr(DEVICE), 0, None)
        );
        assert_eq!((l.records, l.bytes), ([2, 3], [413, 161]));
    }

    #[test]
    fn dns_names_the_server() {
        let mut c = Capture::new(&CLOUD_PORTS_FOR_TESTS, DEVICE, SERVER);
        // A response from port 53: header, question n-devs.tplinkcloud.com A IN, one answer.
        let mut dns = vec![0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        dns.extend_from_slice(b"\x06n-devs\x0btplinkcloud\x03com\x00\x00\x01\x00\x01");
        dns.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 52, 49, 1, 2]);
        let resolver = addr("192.168.1.1:53");
        let segment = Segment {
            src: resolver,
            dst: addr("192.168.1.50:5353"),
            l4: L4::Udp { payload: &dns },
            missing: 0,
        };
        c.reader.segment(&segment, 1, Duration::ZERO);
        // The query direction (to port 53) is not read as a response.
        let q = Segment {
            src: segment.dst,
            dst: resolver,
            ..segment
        };
        c.reader.segment(&q, 2, Duration::ZERO);
        c.frame = 2;
        c.handshake();
        c.seg(50, true, "", &client_hello());
        let links = c.links();
        assert_eq!(links.len(), 1);
        assert_eq!(
            links[0].server_name.as_deref(),
            Some("n-devs.tplinkcloud.com")
        );
        assert_eq!(links[0].name_source, Some(NameSource::Dns));
        assert_eq!((links[0].first_frame, links[0].identified_frame), (3, 3));
        assert_eq!(links[0].sni_absent, Some(true));
    }

    #[test]
    fn through_the_decoder() {
        use etherparse::PacketBuilder;
        let mut frames = Vec::new();
        let (dev, srv) = ([192, 168, 1, 50], [18, 1, 2, 3]);
        let tcp =
            |src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, seq: u32, syn: bool, payload: &[u8]| {
                let b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, seq, 1000);
                let b = if syn { b.syn() } else { b.ack(1) };
                let mut v = Vec::new();
                b.write(&mut v, payload).unwrap();
                v
            };
        frames.push(tcp(dev, srv, 40000, 50443, 99, true, b""));
        frames.push(tcp(dev, srv, 40000, 50443, 100, false, &client_hello()));
        frames.push(tcp(
            srv,
            dev,
            50443,
            40000,
            7,
            false,
            &tls_record(23, &[0; 30]),
        ));
        let mut d = Decoder::new(Config::default());
        for (i, f) in frames.iter().enumerate() {
            d.push(&Record {
                frame: i as u64 + 1,
                time: Duration::from_secs(i as u64),
                link: LinkType::RAW,
                data: f,
                orig_len: f.len() as u32,
            });
        }
        let decoded = d.finish();
        assert_eq!(decoded.cloud.len(), 1);
        let l = &decoded.cloud[0];
        assert_eq!(
            (l.sni_absent, l.records, l.syn_attempts),
            (Some(true), [1, 0], 1)
        );
        // Another port list: nothing.
        let mut d = Decoder::new(Config {
            cloud_ports: vec![],
            ..Config::default()
        });
        for (i, f) in frames.iter().enumerate() {
            d.push(&Record {
                frame: i as u64 + 1,
                time: Duration::ZERO,
                link: LinkType::RAW,
                data: f,
                orig_len: f.len() as u32,
            });
        }
        assert!(d.finish().cloud.is_empty());
    }
}
