//! The two output formats.
//!
//! # Text
//!
//! One line per message, in the order of the frames where messages complete, printed as soon
//! as nothing earlier can still complete (see `kasa_decoder::capture::Decoder`):
//!
//! ```text
//! 6 [4,5,6] 2024-05-01T10:00:00.012345Z 127.0.0.2:9999 -> 127.0.0.1:50000 xor-tcp Response system.get_sysinfo err_code=0 HS110(EU) "Kitchen" response_to=3 time=0.001200 {"system":...}
//!   ! kasa.malformed.json: not a JSON object: EOF while parsing at line 1 column 10
//! ```
//!
//! A request's line does not name its response (that comes later): the response's line names
//! the request (`response_to=FRAME`) and the response time. A copy of an earlier datagram says
//! `duplicate_of=FRAME` (the original) and is not paired. A problem outside any message gets
//! its own line starting with `!`, after the messages of its frame. A connection marked by
//! discovery (TPAP) and a cloud link (a device's TLS link to TP-Link's cloud) get one starting
//! with `=`; they are known only at the end of the capture, so they come after the messages, in
//! the order of their first frames:
//!
//! ```text
//! = 12 192.168.1.50:40000 -> 52.49.1.2:443 cloud link, frames 12..9876 (4021 frames, 1203.512 s): server n-devs.tplinkcloud.com (dns), no SNI, issuer "TP-LINK CA P1", 1 SYN, answered; push 34 records 8398 bytes, report 35 records 12000 bytes; 33 of 34 pushes answered, median 31.0 ms, max 120.4 ms
//! ```
//!
//! The last line is a summary starting with `--`. With several captures, each starts with a
//! line `== NAME` (the path as given, `-` for standard input) and ends with its own summary. Control characters and invalid UTF-8 in the plaintext are shown as `\xNN`.
//!
//! # JSON Lines (`--json`)
//!
//! Every line is an object `{"type": T, "data": {...}}`; with several captures, every line
//! also has `"file": NAME` (the path as given, `-` for standard input) between the two. Types,
//! which may grow over time:
//!
//! * `"message"`: `frame` (where it completes), `index` (its number among the decoder's findings
//!   completing in that frame: with `frame`, what identifies it), `frames` (all that carried it), `timestamp`
//!   (seconds since the Unix epoch, as a number), `transport` (`xor-tcp`, `xor-udp`), `src`,
//!   `dst` (`ip:port`), `direction` (`request`/`response`), `len` (the TCP length header or
//!   null), `plaintext` (`{"text": …}` when valid UTF-8, else `{"bytes": base64}`), `info` (the
//!   Info-column summary), `method` (list of `module.method`), `err_code` (list, one per method;
//!   null where a method has none), `err_msg` (list, likewise), `context` (`source`, `child_id`
//!   list; omitted when absent), `device` (`model`, `alias`, `mac`, `id`, `sw_ver`, `hw_ver`,
//!   `type`, `generated`: false when this message carries the identity, true when it comes from
//!   an earlier answer of the same device; omitted when unknown), `response_to` (a response:
//!   the frame of its request, else null), `response_to_index` (the request's `index`, or null),
//!   `time` (response time in seconds or null), `duplicate_of` (a copy of an earlier datagram,
//!   as a mirror port or an `any`-interface capture makes: the original's frame; omitted
//!   otherwise; a copy is not paired), `conversation` (index), `problems` (list of
//!   `{"expert", "severity", "text"}`), `findings` (security findings, `{"finding",
//!   "severity", "text"}` with `finding` the plugin's `kasa.security.*` field; omitted when
//!   none). A request does not list its responses (they come
//!   later); its responses are the messages whose `response_to` and `response_to_index` are its
//!   `frame` and `index`.
//! * `"problem"`: a problem outside any message: `frame`, `timestamp`, `transport`, `src`,
//!   `dst`, `expert`, `severity`, `text`.
//! * KLAP, AES and TDP messages add an object under the transport's name: `klap` (`step`,
//!   `session`, `version`, `auth`, `decrypted`, the seeds and hashes of the handshake in hex,
//!   `seq`, `signature`, `signature_ok`, `ciphertext_len`), `aes` (`envelope_method`,
//!   `session`, `token` (whether present), `error_code`, `encrypted`, `decrypted`,
//!   `clear_response`, and for SslAes over HTTPS an `ssl` object: `login` (`nonce`, `digest`,
//!   `hashed`), `cnonce`, `nonce`, `auth`, `start_seq`, `seq`, `tag`, `tag_ok`), `linkie`
//!   (`version`, `field`, `b64_len`, `clear`), `tdp` (the header fields, `crc_ok`, and a reply's `encrypt_type`,
//!   `http_port`, `login_version`, `tpap`, and `encrypt_info` decrypted with `--rsa-key`).
//! * `"connection"` and `"cloud"` lines come after all messages and problems (they are known
//!   at the end of the capture), in the order of their first frames.
//! * `"connection"`: a connection marked by what discovery announced (TPAP): `transport`,
//!   `src`, `dst`, `first_frame`, `last_frame`, `frames`.
//! * `"cloud"`: a cloud link (PROTOCOL.md §7): `id` (the decoder's TCP connection number),
//!   `src` (the device), `dst` (the server), `server_name` and `name_source` (`dns`,
//!   `certificate`, `sni`; null when unknown), `sni_absent` (null when no ClientHello was seen),
//!   `issuer` (the server certificate's issuer CN), `first_frame`, `last_frame`,
//!   `identified_frame`, `frames`, `duration` (seconds), `syn_attempts`, `answered`, `ended`,
//!   `tcp_bytes`, `records` and `bytes` (each `{"push": n, "report": n}`; push = server →
//!   device), `pushes` (list of `{"frame", "answer_frame", "latency"}`, at most 4096, latency in
//!   seconds or null), `latency` (`{"count", "median", "max"}` in seconds over the answered
//!   pushes, or null).
//! * `"summary"`: `schema_version`, `frames`, `messages`, `requests`, `responses`,
//!   `connections`, `udp_flows`, `devices`, `malformed`, and `protected_80211` when some
//!   802.11 frames were protected.
//!
//! Keys reuse the display-filter names of the Wireshark plugin without `kasa.`. Every key and
//! type is in `schema/kasa-decode.schema.json` (JSON Schema 2020-12, no unknown keys allowed),
//! version [`SCHEMA_VERSION`], which `cli/tests/schema.rs` holds the output of every fixture to.

use base64::Engine;
use kasa_decoder::audit::{Finding, Level};
use kasa_decoder::capture::{Item, Marked, Orphan, Summary};
use kasa_decoder::conv::{CloudLink, MessageId};
use kasa_decoder::msg::{Device, KlapStep, Message, Meta, Method, Problem, Severity, TpapStep};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Display;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// Prints the items of one or more captures as they come.
pub struct Printer<W: Write> {
    out: W,
    /// A JSON line is serialised here, then written whole: serde_json's many small writes
    /// (each escaped run of the plaintext) cost less into a `Vec` than into a `BufWriter`.
    scratch: Vec<u8>,
    json: bool,
    method: Option<String>,
    /// The capture's name, when several are printed.
    file: Option<String>,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, json: bool, method: Option<String>) -> Self {
        Printer {
            out,
            scratch: Vec::new(),
            json,
            method,
            file: None,
        }
    }

    /// The next capture of several: its name goes on every JSON line, or on a header line.
    pub fn start_file(&mut self, name: &str) -> io::Result<()> {
        self.file = Some(name.to_owned());
        if !self.json {
            writeln!(self.out, "== {name}")?;
        }
        Ok(())
    }

    fn wanted(&self, m: &Message) -> bool {
        self.method.as_deref().is_none_or(|want| {
            m.body
                .methods
                .iter()
                .any(|x| x.name() == want || x.method() == Some(want))
        })
    }

    /// Prints one item; returns whether anything was written.
    pub fn item(&mut self, item: &Item) -> io::Result<bool> {
        match item {
            Item::Message {
                message,
                id,
                request,
                ..
            } => {
                if !self.wanted(message) {
                    return Ok(false);
                }
                if self.json {
                    let mut data = MessageJson::new(message, *id, *request);
                    data.findings = message.findings.iter().map(FindingJson::new).collect();
                    self.line("message", &data)?;
                } else {
                    text_message(&mut self.out, message)?;
                    for f in &message.findings {
                        writeln!(self.out, "  ! kasa.security.{}: {f}", f.kind().name())?;
                    }
                }
            }
            Item::Orphan(o) => {
                if self.method.is_some() {
                    return Ok(false);
                }
                if self.json {
                    self.line("problem", &OrphanJson::new(o))?;
                } else {
                    writeln!(
                        self.out,
                        "! {} {} {} -> {} {} {}: {}",
                        o.frame,
                        timestamp(o.time),
                        o.src,
                        o.dst,
                        o.transport,
                        o.problem.expert(),
                        o.problem
                    )?;
                }
            }
        }
        Ok(true)
    }

    /// What is known at the end of a capture: marked connections and cloud links (by first
    /// frame), then the summary.
    pub fn end(&mut self, summary: &Summary) -> io::Result<()> {
        if self.method.is_none() {
            let mut late: Vec<(u64, Late<'_>)> = summary
                .marked
                .iter()
                .map(|c| (c.first_frame, Late::Marked(c)))
                .chain(
                    summary
                        .cloud
                        .iter()
                        .map(|c| (c.first_frame, Late::Cloud(c))),
                )
                .collect();
            late.sort_by_key(|(frame, _)| *frame);
            for (_, l) in late {
                match (l, self.json) {
                    (Late::Marked(c), false) => writeln!(
                        self.out,
                        "= {} {} -> {} {} connection, frames {}..{} ({} frames): TLS to an endpoint a TDP reply announced; not decodable passively",
                        c.first_frame,
                        c.client,
                        c.device,
                        c.transport,
                        c.first_frame,
                        c.last_frame,
                        c.frames
                    )?,
                    (Late::Marked(c), true) => self.line("connection", &MarkedJson::new(c))?,
                    (Late::Cloud(c), false) => writeln!(self.out, "{}", cloud_text(c))?,
                    (Late::Cloud(c), true) => self.line("cloud", &cloud_json(c))?,
                }
            }
        }
        let s = &summary.stats;
        if self.json {
            self.line(
                "summary",
                &SummaryJson {
                    schema_version: SCHEMA_VERSION,
                    frames: s.frames,
                    messages: s.messages,
                    requests: s.requests,
                    responses: s.responses,
                    connections: s.connections,
                    udp_flows: s.udp_flows,
                    devices: s.devices,
                    malformed: s.malformed,
                    protected_80211: s.protected_80211,
                },
            )
        } else {
            if s.protected_80211 > 0 {
                writeln!(self.out, "-- {}", protected_text(s.protected_80211))?;
            }
            writeln!(
                self.out,
                "-- {} messages ({} requests, {} responses) in {} TCP connections and {} UDP flows; {} devices; {} malformed; {} frames",
                s.messages,
                s.requests,
                s.responses,
                s.connections,
                s.udp_flows,
                s.devices,
                s.malformed,
                s.frames
            )
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn line(&mut self, kind: &'static str, data: &impl Serialize) -> io::Result<()> {
        let line = Line {
            kind,
            file: self.file.as_deref(),
            data,
        };
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, &line)?;
        self.scratch.push(b'\n');
        self.out.write_all(&self.scratch)
    }
}

enum Late<'a> {
    Marked(&'a Marked),
    Cloud(&'a CloudLink),
}

/// One JSON line: `{"type": …, "file": …, "data": …}`.
#[derive(Serialize)]
struct Line<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    data: T,
}

/// The version of `schema/kasa-decode.schema.json` the `--json` output follows, carried by
/// every summary line. Raised, with the schema, when a change would break existing readers.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct SummaryJson {
    schema_version: u32,
    frames: u64,
    messages: usize,
    requests: usize,
    responses: usize,
    connections: usize,
    udp_flows: usize,
    devices: usize,
    malformed: usize,
    /// Only when some were seen: older outputs stay as they were.
    #[serde(skip_serializing_if = "is_zero")]
    protected_80211: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What to do about 802.11 frames this tool cannot read.
pub fn protected_text(n: u64) -> String {
    format!(
        "{n} protected 802.11 data frame{} not readable here: open the capture in Wireshark with the network's WPA passphrase (Preferences › Protocols › IEEE 802.11 › Decryption keys), or capture on the wire",
        if n == 1 { " was" } else { "s were" }
    )
}

#[derive(Serialize)]
struct MarkedJson {
    transport: &'static str,
    src: String,
    dst: String,
    first_frame: u64,
    last_frame: u64,
    frames: u64,
}

impl MarkedJson {
    fn new(c: &Marked) -> Self {
        MarkedJson {
            transport: c.transport.as_str(),
            src: c.client.to_string(),
            dst: c.device.to_string(),
            first_frame: c.first_frame,
            last_frame: c.last_frame,
            frames: c.frames,
        }
    }
}

#[derive(Serialize)]
struct OrphanJson<'a> {
    frame: u64,
    timestamp: f64,
    transport: &'static str,
    src: String,
    dst: String,
    expert: &'static str,
    severity: &'static str,
    text: Shown<&'a Problem>,
}

impl<'a> OrphanJson<'a> {
    fn new(o: &'a Orphan) -> Self {
        OrphanJson {
            frame: o.frame,
            timestamp: o.time.as_secs_f64(),
            transport: o.transport.as_str(),
            src: o.src.to_string(),
            dst: o.dst.to_string(),
            expert: o.problem.expert(),
            severity: severity(o.problem.severity()),
            text: Shown(&o.problem),
        }
    }
}

/// A value serialized as its `Display` text.
struct Shown<T>(T);

impl<T: Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// The methods' names, their codes and their messages, one per method, written without
/// collecting them first (a line per message is the hot path of `--json`).
struct Names<'a>(&'a [Method]);
struct ErrCodes<'a>(&'a [Method]);
struct ErrMsgs<'a>(&'a [Method]);

impl Serialize for Names<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| Shown(m.display_name())))
    }
}

impl Serialize for ErrCodes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| m.err_code))
    }
}

impl Serialize for ErrMsgs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|m| &m.err_msg))
    }
}

/// Bytes as lower-case hex.
struct Hex<'a>(&'a [u8]);

impl Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for Hex<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Serialize)]
enum Plaintext<'a> {
    #[serde(rename = "text")]
    Text(&'a str),
    #[serde(rename = "bytes")]
    Bytes(String),
}

#[derive(Serialize)]
struct ProblemJson<'a> {
    expert: &'static str,
    severity: &'static str,
    text: Shown<&'a Problem>,
}

#[derive(Serialize)]
struct ContextJson<'a> {
    source: &'a Option<String>,
    child_id: &'a [String],
}

#[derive(Serialize)]
struct DeviceJson<'a> {
    model: &'a Option<String>,
    alias: &'a Option<String>,
    mac: &'a Option<String>,
    id: &'a Option<String>,
    sw_ver: &'a Option<String>,
    hw_ver: &'a Option<String>,
    #[serde(rename = "type")]
    kind: &'a Option<String>,
    generated: bool,
}

/// A `"message"` line's data (see the module docs for the keys).
#[derive(Serialize)]
struct MessageJson<'a> {
    frame: u64,
    index: u32,
    frames: &'a [u64],
    timestamp: f64,
    transport: &'static str,
    src: Shown<SocketAddr>,
    dst: Shown<SocketAddr>,
    direction: &'static str,
    len: Option<u32>,
    plaintext: Plaintext<'a>,
    info: Shown<&'a Message>,
    method: Names<'a>,
    err_code: ErrCodes<'a>,
    err_msg: ErrMsgs<'a>,
    response_to: Option<u64>,
    response_to_index: Option<u32>,
    time: Option<f64>,
    /// A copy of an earlier datagram: the original's frame (omitted otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<u64>,
    conversation: usize,
    problems: Vec<ProblemJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<ContextJson<'a>>,
    #[serde(flatten)]
    secure: Option<TransportJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<DeviceJson<'a>>,
    /// Security findings at this message (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<FindingJson>,
}

/// One security finding of a message.
#[derive(Serialize)]
struct FindingJson {
    /// `kasa.security.<kind>`, the plugin's field and expert info.
    finding: String,
    severity: &'static str,
    text: String,
}

impl FindingJson {
    fn new(f: &Finding) -> Self {
        FindingJson {
            finding: format!("kasa.security.{}", f.kind().name()),
            severity: match f.level() {
                Level::Warning => "warning",
                Level::Note => "note",
            },
            text: f.to_string(),
        }
    }
}

impl<'a> MessageJson<'a> {
    fn new(m: &'a Message, id: MessageId, request: Option<MessageId>) -> Self {
        let plaintext = match m.text() {
            Some(t) => Plaintext::Text(t),
            None => {
                Plaintext::Bytes(base64::engine::general_purpose::STANDARD.encode(&m.plaintext))
            }
        };
        let device = match (&m.body.device, &m.peer_device) {
            (Some(d), _) => Some((&**d, false)),
            (None, Some(d)) => Some((&**d, true)),
            _ => None,
        };
        MessageJson {
            frame: m.frame(),
            index: id.index,
            frames: &m.frames,
            timestamp: m.time.as_secs_f64(),
            transport: m.transport().as_str(),
            src: Shown(m.src),
            dst: Shown(m.dst),
            direction: m.direction.as_str(),
            len: m.meta.len_header(),
            plaintext,
            info: Shown(m),
            method: Names(&m.body.methods),
            err_code: ErrCodes(&m.body.methods),
            err_msg: ErrMsgs(&m.body.methods),
            response_to: m.pairing.response_to,
            response_to_index: request.map(|r| r.index),
            time: m.pairing.time.map(|t| t.as_secs_f64()),
            duplicate_of: m.pairing.duplicate_of,
            conversation: m.conversation,
            problems: m
                .problems
                .iter()
                .map(|p| ProblemJson {
                    expert: p.expert(),
                    severity: severity(p.severity()),
                    text: Shown(p),
                })
                .collect(),
            context: (!m.body.context.is_empty()).then_some(ContextJson {
                source: &m.body.context.source,
                child_id: &m.body.context.child_ids,
            }),
            secure: TransportJson::new(&m.meta),
            device: device.map(|(d, generated)| DeviceJson {
                model: &d.model,
                alias: &d.alias,
                mac: &d.mac,
                id: &d.device_id,
                sw_ver: &d.sw_ver,
                hw_ver: &d.hw_ver,
                kind: &d.kind,
                generated,
            }),
            findings: Vec::new(),
        }
    }
}

/// What the transport said, under the transport's name (`tdp`, `klap`, `aes`, `tpap`,
/// `linkie`, `cloud`).
#[derive(Serialize)]
enum TransportJson<'a> {
    #[serde(rename = "cloud")]
    Cloud {
        framing: &'static str,
        len_header: Option<u32>,
    },
    #[serde(rename = "tdp")]
    Tdp(TdpJson<'a>),
    #[serde(rename = "klap")]
    Klap(KlapJson<'a>),
    #[serde(rename = "tpap")]
    Tpap {
        step: &'static str,
        sub_method: &'a Option<String>,
        seq: Option<i64>,
        data_len: usize,
    },
    #[serde(rename = "aes")]
    Aes(AesJson<'a>),
    #[serde(rename = "linkie")]
    Linkie {
        version: Option<u8>,
        field: Option<&'a str>,
        b64_len: usize,
        clear: bool,
    },
}

#[derive(Serialize)]
struct TdpJson<'a> {
    crc_ok: Option<bool>,
    #[serde(flatten)]
    header: Option<TdpHeaderJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypt_info: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypt_info_error: Option<String>,
    #[serde(flatten)]
    discovery: Option<DiscoveryJson<'a>>,
}

#[derive(Serialize)]
struct TdpHeaderJson {
    version: u8,
    msg_type: u8,
    op_code: u16,
    size: u16,
    flags: u8,
    serial: u32,
    crc: u32,
}

#[derive(Serialize)]
struct DiscoveryJson<'a> {
    encrypt_type: &'a Option<String>,
    http_port: Option<u16>,
    login_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tpap: Option<TpapInfoJson<'a>>,
}

#[derive(Serialize)]
struct TpapInfoJson<'a> {
    port: Option<u16>,
    tls: Option<u32>,
    pake: &'a [u32],
    dac: Option<bool>,
    noc: Option<bool>,
    user_hash_type: Option<u32>,
}

#[derive(Serialize)]
struct KlapJson<'a> {
    step: &'static str,
    session: &'a Option<String>,
    version: Option<u8>,
    auth: &'a Option<String>,
    decrypted: bool,
    #[serde(flatten)]
    step_fields: KlapStepJson<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum KlapStepJson<'a> {
    Handshake1 {
        local_seed: Hex<'a>,
    },
    Handshake1Reply {
        remote_seed: Hex<'a>,
        server_hash: Hex<'a>,
    },
    Handshake2 {
        client_hash: Hex<'a>,
        client_hash_ok: Option<bool>,
    },
    Data {
        seq: Option<i32>,
        signature: Hex<'a>,
        signature_ok: Option<bool>,
        ciphertext_len: usize,
    },
}

#[derive(Serialize)]
struct AesJson<'a> {
    envelope_method: Option<&'static str>,
    session: &'a Option<String>,
    token: bool,
    error_code: Option<i64>,
    encrypted: bool,
    decrypted: bool,
    clear_response: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssl: Option<SslJson<'a>>,
}

#[derive(Serialize)]
struct SslJson<'a> {
    login: Option<&'static str>,
    cnonce: &'a Option<String>,
    nonce: &'a Option<String>,
    auth: &'a Option<String>,
    start_seq: Option<i64>,
    seq: Option<i64>,
    tag: &'a Option<String>,
    tag_ok: Option<bool>,
}

impl<'a> TransportJson<'a> {
    fn new(meta: &'a Meta) -> Option<Self> {
        Some(match meta {
            Meta::XorTcp { .. } | Meta::XorUdp => return None,
            Meta::Cloud {
                framing,
                len_header,
            } => TransportJson::Cloud {
                framing: framing.as_str(),
                len_header: *len_header,
            },
            Meta::Tdp(t) => {
                let (encrypt_info, encrypt_info_error) = match &t.encrypt_info {
                    Some(Ok(p)) => (Some(String::from_utf8_lossy(p)), None),
                    Some(Err(e)) => (None, Some(e.to_string())),
                    None => (None, None),
                };
                TransportJson::Tdp(TdpJson {
                    crc_ok: t.crc_ok,
                    header: t.header.as_ref().map(|h| TdpHeaderJson {
                        version: h.version,
                        msg_type: h.msg_type,
                        op_code: h.op_code,
                        size: h.size,
                        flags: h.flags,
                        serial: h.serial,
                        crc: h.crc,
                    }),
                    encrypt_info,
                    encrypt_info_error,
                    discovery: t.discovery.as_ref().map(|d| DiscoveryJson {
                        encrypt_type: &d.encrypt_type,
                        http_port: d.http_port,
                        login_version: d.login_version,
                        tpap: d.tpap.as_ref().map(|tp| TpapInfoJson {
                            port: tp.port,
                            tls: tp.tls,
                            pake: &tp.pake,
                            dac: tp.dac,
                            noc: tp.noc,
                            user_hash_type: tp.user_hash_type,
                        }),
                    }),
                })
            }
            Meta::Klap(k) => TransportJson::Klap(KlapJson {
                step: k.step.name(),
                session: &k.session,
                version: k.version.map(|v| v.number()),
                auth: &k.auth,
                decrypted: k.decrypted,
                step_fields: match &k.step {
                    KlapStep::Handshake1 { local_seed } => KlapStepJson::Handshake1 {
                        local_seed: Hex(local_seed),
                    },
                    KlapStep::Handshake1Reply {
                        remote_seed,
                        server_hash,
                    } => KlapStepJson::Handshake1Reply {
                        remote_seed: Hex(remote_seed),
                        server_hash: Hex(server_hash),
                    },
                    KlapStep::Handshake2 {
                        client_hash,
                        verified,
                    } => KlapStepJson::Handshake2 {
                        client_hash: Hex(client_hash),
                        client_hash_ok: *verified,
                    },
                    KlapStep::Request {
                        seq,
                        signature,
                        signature_ok,
                        ciphertext_len,
                    }
                    | KlapStep::Response {
                        seq,
                        signature,
                        signature_ok,
                        ciphertext_len,
                    } => KlapStepJson::Data {
                        seq: *seq,
                        signature: Hex(signature),
                        signature_ok: *signature_ok,
                        ciphertext_len: *ciphertext_len,
                    },
                },
            }),
            Meta::Tpap(t) => TransportJson::Tpap {
                step: match t.step {
                    TpapStep::Login => "login",
                    TpapStep::Data => "data",
                },
                sub_method: &t.sub_method,
                seq: t.seq,
                data_len: t.data_len,
            },
            Meta::Aes(a) => TransportJson::Aes(AesJson {
                envelope_method: a.method.map(|m| m.as_str()),
                session: &a.session,
                token: a.token.is_some(),
                error_code: a.error_code,
                encrypted: a.encrypted,
                decrypted: a.decrypted,
                clear_response: a.clear_response,
                ssl: a.ssl.as_ref().map(|ssl| SslJson {
                    login: ssl.login.map(|l| l.as_str()),
                    cnonce: &ssl.cnonce,
                    nonce: &ssl.nonce,
                    auth: &ssl.auth,
                    start_seq: ssl.start_seq,
                    seq: ssl.seq,
                    tag: &ssl.tag,
                    tag_ok: ssl.tag_ok,
                }),
            }),
            Meta::Linkie(l) => TransportJson::Linkie {
                version: l.version,
                field: l.field.as_ref().map(|(name, _)| name.as_str()),
                b64_len: l.b64_len,
                clear: l.clear,
            },
        })
    }
}

/// The text line of a cloud link (see the module docs).
fn cloud_text(c: &CloudLink) -> String {
    let mut parts = Vec::new();
    parts.push(match (&c.server_name, c.name_source) {
        (Some(n), Some(s)) => format!("server {n} ({})", s.as_str()),
        (Some(n), None) => format!("server {n}"),
        _ => "server name unknown".to_owned(),
    });
    parts.push(
        match c.sni_absent {
            Some(true) => "no SNI",
            Some(false) => "SNI",
            None => "no ClientHello seen",
        }
        .to_owned(),
    );
    parts.push(match &c.issuer {
        Some(i) => {
            let mut q = String::new();
            let _ = kasa_decoder::msg::write_quoted(&mut q, i);
            format!("issuer {q}")
        }
        None => "issuer unknown".to_owned(),
    });
    let syns = match c.syn_attempts {
        0 => "no SYN seen".to_owned(),
        1 => "1 SYN".to_owned(),
        n => format!("{n} SYNs"),
    };
    let answered = if c.answered {
        "answered"
    } else {
        "never answered"
    };
    parts.push(format!("{syns}, {answered}"));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pushes = match c.latency() {
        Some(l) => format!(
            "{} of {} pushes answered, median {:.1} ms, max {:.1} ms",
            l.count,
            c.records[0],
            ms(l.median),
            ms(l.max)
        ),
        None if c.records[0] > 0 => format!("none of {} pushes answered", c.records[0]),
        None => "no pushes".to_owned(),
    };
    format!(
        "= {} {} -> {} cloud link, frames {}..{} ({} frames, {:.3} s): {}; push {} records {} bytes, report {} records {} bytes; {}",
        c.first_frame,
        c.client,
        c.server,
        c.first_frame,
        c.last_frame,
        c.frames,
        c.duration().as_secs_f64(),
        parts.join(", "),
        c.records[0],
        c.bytes[0],
        c.records[1],
        c.bytes[1],
        pushes
    )
}

/// A cloud link's data: few per capture, printed at its end.
fn cloud_json(c: &CloudLink) -> Value {
    let by_role = |v: [u64; 2]| json!({ "push": v[0], "report": v[1] });
    json!({
        "id": c.id.0,
        "src": c.client.to_string(),
        "dst": c.server.to_string(),
        "server_name": c.server_name,
        "name_source": c.name_source.map(|s| s.as_str()),
        "sni_absent": c.sni_absent,
        "issuer": c.issuer,
        "first_frame": c.first_frame,
        "last_frame": c.last_frame,
        "identified_frame": c.identified_frame,
        "frames": c.frames,
        "duration": c.duration().as_secs_f64(),
        "syn_attempts": c.syn_attempts,
        "answered": c.answered,
        "ended": c.ended,
        "tcp_bytes": by_role(c.tcp_bytes),
        "records": by_role(c.records),
        "bytes": by_role(c.bytes),
        "pushes": c.pushes.iter().map(|p| json!({
            "frame": p.frame,
            "answer_frame": p.answer.map(|a| a.0),
            "latency": p.answer.map(|a| a.1.as_secs_f64()),
        })).collect::<Vec<_>>(),
        "latency": c.latency().map(|l| json!({
            "count": l.count,
            "median": l.median.as_secs_f64(),
            "max": l.max.as_secs_f64(),
        })),
    })
}

fn text_message(out: &mut impl Write, m: &Message) -> io::Result<()> {
    let frames: Vec<String> = m.frames.iter().map(u64::to_string).collect();
    write!(
        out,
        "{} [{}] {} {} -> {} {} {}",
        m.frame(),
        frames.join(","),
        timestamp(m.time),
        m.src,
        m.dst,
        m.transport(),
        m
    )?;
    if m.body.device.is_none()
        && let Some(dev) = &m.peer_device
    {
        write!(out, " ({})", device_label(dev))?;
    }
    if let Some(f) = m.pairing.response_to {
        write!(out, " response_to={f}")?;
    }
    if let Some(t) = m.pairing.time {
        write!(out, " time={:.6}", t.as_secs_f64())?;
    }
    if let Some(f) = m.pairing.duplicate_of {
        write!(out, " duplicate_of={f}")?;
    }
    writeln!(out, " {}", escaped(&m.plaintext))?;
    for p in &m.problems {
        writeln!(out, "  ! {}: {p}", p.expert())?;
    }
    Ok(())
}

fn device_label(d: &Device) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &d.model {
        parts.push(m.clone());
    }
    if let Some(a) = &d.alias {
        let mut q = String::new();
        let _ = kasa_decoder::msg::write_quoted(&mut q, a);
        parts.push(q);
    }
    parts.join(" ")
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

/// Text as it is, with control characters and invalid UTF-8 bytes as `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                s.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// UTC date and time with microseconds.
pub fn timestamp(t: Duration) -> String {
    let secs = t.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        t.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(Duration::ZERO), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            timestamp(Duration::new(1_714_557_600, 12_345_000)),
            "2024-05-01T10:00:00.012345Z"
        );
        assert_eq!(
            timestamp(Duration::new(951_782_400, 0)),
            "2000-02-29T00:00:00.000000Z"
        );
    }

    #[test]
    fn escaping_is_lossless_and_keeps_unicode() {
        assert_eq!(escaped("Küche ☃\n".as_bytes()), "Küche ☃\\x0a");
        assert_eq!(escaped(b"a\xffb"), "a\\xffb");
    }
}
