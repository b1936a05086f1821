//! The plugin proper, in safe code: registration, the TCP and UDP entry points, and one
//! pipeline per message: bytes → decoder ([`kasa_decoder`]) → [`Plan`] → columns and tree.
//!
//! The plan is built under `catch_unwind` and lives entirely in the packet's wmem pool. epan's
//! throwing calls go through the C shim (see [`crate::epan`]): a view that reports [`Thrown`]
//! means epan threw, and the code here stops and returns at once (the shim's trampoline
//! rethrows the exception when the entry point has returned).

use crate::epan::{
    self, Call, Callbacks, Col, Entry, Handle, Item, PduCtx, Pinfo, Pool, PortRange, PrefBool,
    PrefUint, Span, Thrown, Tvb, Via,
};
use crate::fields::*;
use crate::state::{self, MessageKey, Record};
use core::ffi::{CStr, c_int};
use kasa_decoder::conv::framer;
use kasa_decoder::msg::{self, Body, Direction, Problem, Transport};
use kasa_decoder::wire::xor::{self, HEADER_LEN, Header};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::time::Duration;

/// The fixed part `tcp_dissect_pdus` reads before asking for the PDU length.
pub const FIXED_LEN: usize = HEADER_LEN;

static MAX_MESSAGE: PrefUint = PrefUint::new(xor::DEFAULT_MAX_MESSAGE);
static JSON_TREE: PrefBool = PrefBool::new(true);
static TCP_PORTS: PortRange = PortRange::new();
static UDP_PORTS: PortRange = PortRange::new();

static TCP_HANDLE: Handle = Handle::new();
static TCP_CONV_HANDLE: Handle = Handle::new();
static UDP_HANDLE: Handle = Handle::new();
static UDP_CONV_HANDLE: Handle = Handle::new();
static JSON_HANDLE: Handle = Handle::new();

/// What epan runs: handed over once, by `plugin_register` (in the crate root).
pub static CALLBACKS: Callbacks = Callbacks {
    register_protoinfo,
    register_handoff,
    apply_prefs,
    reset_state,
    report_panic,
    dissect_tcp,
    pdu_len,
    dissect_tcp_pdu,
    dissect_udp,
    heur_tcp,
    heur_udp,
};

/// The maximum message size preference (the cap on the length header).
pub fn max_message() -> u32 {
    MAX_MESSAGE.get()
}

pub fn register_protoinfo() {
    epan::register_protocol(
        c"TP-Link Kasa Smart Home",
        c"KASA",
        c"kasa",
        FIELDS,
        SUBTREES,
        EXPERTS,
    );
    let prefs = epan::register_prefs();
    prefs.uint(
        c"max_message_size",
        c"Maximum message size",
        c"A TCP length header above this many bytes is reported as malformed at once, without waiting for reassembly.",
        &MAX_MESSAGE,
    );
    prefs.boolean(
        c"json_tree",
        c"Show the JSON tree",
        c"Hand the decrypted text to Wireshark's JSON dissector (json.key, json.value.* filters).",
        &JSON_TREE,
    );
    epan::register_dissector(&TCP_HANDLE, c"kasa.tcp", Entry::TcpPort);
    epan::register_dissector(&TCP_CONV_HANDLE, c"kasa.tcp.heur", Entry::TcpConv);
    epan::register_dissector(&UDP_HANDLE, c"kasa.udp", Entry::UdpPort);
    epan::register_dissector(&UDP_CONV_HANDLE, c"kasa.udp.heur", Entry::UdpConv);
    epan::register_init_cleanup();
}

pub fn register_handoff() {
    epan::add_port_range(c"tcp.port", c"9999", &TCP_HANDLE);
    epan::add_port_range(c"udp.port", c"9999", &UDP_HANDLE);
    epan::add_heuristic(c"tcp", c"TP-Link Kasa over TCP", c"kasa_tcp", false);
    epan::add_heuristic(c"udp", c"TP-Link Kasa over UDP", c"kasa_udp", true);
    epan::find_dissector(&JSON_HANDLE, c"json");
    apply_prefs();
}

pub fn apply_prefs() {
    TCP_PORTS.reload(c"kasa", c"tcp.port");
    UDP_PORTS.reload(c"kasa", c"udp.port");
}

/// A new capture (or the end of one): forget everything.
pub fn reset_state() {
    state::reset();
}

// ---------------------------------------------------------------------------------------------
// Entry points.

/// The length callback of `tcp_dissect_pdus`: a pure function of the 4 header bytes. A header
/// above the cap, or a zero header, claims the rest of the segment: nothing waits for bytes that
/// will never come, and `dissect_tcp_pdu` reports it.
pub fn pdu_len(pinfo: Pinfo<'_>, tvb: Tvb<'_>, offset: usize) -> usize {
    let mut head = [0u8; HEADER_LEN];
    let rest = tvb.remaining(offset);
    if !tvb.copy_into(offset, &mut head) {
        return rest;
    }
    match Header::parse(head, max_message()) {
        Header::Message { len } => {
            // Where the bytes are at hand, the decoder's framer decides where the message ends
            // (a client that counted characters, not UTF-8 bytes, writes a wrong header).
            let announced = HEADER_LEN + len as usize;
            if let Some(at_hand) = tvb.copy(pinfo.pool(), offset, rest.min(2 * announced + 64))
                && let Some(cut) = framer::frame_cut(at_hand, max_message())
            {
                return cut.total;
            }
            announced
        }
        Header::ZeroLength | Header::AboveCap { .. } => rest.max(HEADER_LEN),
    }
}

/// TCP from the port table, Decode As or a claimed conversation.
pub fn dissect_tcp(c: &Call<'_>, ctx: PduCtx) -> c_int {
    let len = c.tvb.captured_len();
    c.pinfo.col_set(Col::Protocol, c"KASA");
    c.pinfo.col_clear(Col::Info);
    // A zero length header: the message is the rest of the direction, up to FIN.
    let mut head = [0u8; HEADER_LEN];
    if c.tvb.copy_into(0, &mut head)
        && Header::parse(head, max_message()) == Header::ZeroLength
        && !ctx.tcp.is_reassembled
        && !ctx.tcp.fin
        && c.pinfo.can_desegment()
    {
        c.pinfo.desegment_until_fin(0);
        return len as c_int;
    }
    // On Err epan threw: the trampoline rethrows once we return, whatever we return.
    let _ = epan::tcp_dissect_pdus(c, FIXED_LEN, ctx);
    len as c_int
}

/// Framing findings, as plain data (the decoder's [`Problem`] owns strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Whole,
    ZeroLength,
    Truncated { expected: Option<usize>, got: usize },
    AboveCap { len: u32, cap: u32 },
    Mismatch { header: u32, actual: usize },
}

impl Framing {
    fn problem(self) -> Option<Problem> {
        match self {
            Framing::Whole => None,
            Framing::ZeroLength => Some(Problem::ZeroLength),
            Framing::Truncated { expected, got } => Some(Problem::Truncated { expected, got }),
            Framing::AboveCap { len, cap } => Some(Problem::LengthAboveCap { len, cap }),
            Framing::Mismatch { header, actual } => {
                Some(Problem::LengthMismatch { header, actual })
            }
        }
    }
}

/// One PDU (header + ciphertext) as cut by `tcp_dissect_pdus`.
pub fn dissect_tcp_pdu(c: &Call<'_>, ctx: PduCtx) -> c_int {
    let total = c.tvb.captured_len();
    let mut head = [0u8; HEADER_LEN];
    if !c.tvb.copy_into(0, &mut head) {
        return total as c_int;
    }
    let header = u32::from_be_bytes(head);
    let have = total - HEADER_LEN;
    let (framing, cipher_len) = match Header::parse(head, max_message()) {
        // pdu_len cut this PDU where the JSON ends, not where the header said.
        Header::Message { len } if have != len as usize && mismatched(c.tvb, total) => (
            Framing::Mismatch {
                header: len,
                actual: have,
            },
            have,
        ),
        Header::Message { len } if have < len as usize => (
            Framing::Truncated {
                expected: Some(len as usize),
                got: have,
            },
            have,
        ),
        Header::Message { len } => (Framing::Whole, len as usize),
        Header::ZeroLength => (Framing::ZeroLength, have),
        Header::AboveCap { len, cap } => (Framing::AboveCap { len, cap }, 0),
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len: total,
    };
    if matches!(framing, Framing::AboveCap { .. }) || cipher_len == 0 {
        let _ = problem_only(c, span, Some(header), framing);
    } else {
        let m = Wire {
            transport: Transport::XorTcp,
            via: ctx.via,
            header: Some(header),
            cipher_at: HEADER_LEN,
            cipher_len,
            framing,
        };
        // On Err (epan threw) the trampoline rethrows once we return.
        let _ = dissect_message(c, span, m);
    }
    total as c_int
}

/// Whether the decoder's framer cuts the frame in `tvb` at exactly its length, against its header.
fn mismatched(tvb: Tvb<'_>, total: usize) -> bool {
    let mut pdu = vec![0; total];
    tvb.copy_into(0, &mut pdu)
        && framer::frame_cut(&pdu, max_message())
            .is_some_and(|cut| cut.total == total && cut.mismatch.is_some())
}

/// One UDP datagram: one message.
pub fn dissect_udp(c: &Call<'_>, via: Via) -> c_int {
    let len = c.tvb.captured_len();
    c.pinfo.col_set(Col::Protocol, c"KASA");
    c.pinfo.col_clear(Col::Info);
    let reported = c.tvb.reported_len();
    let framing = if reported > len {
        Framing::Truncated {
            expected: Some(reported),
            got: len,
        }
    } else {
        Framing::Whole
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len,
    };
    if len == 0 {
        return 0;
    }
    let m = Wire {
        transport: Transport::XorUdp,
        via,
        header: None,
        cipher_at: 0,
        cipher_len: len,
        framing,
    };
    let _ = dissect_message(c, span, m);
    len as c_int
}

/// TCP heuristic: the cheap 6-byte test of the decoder, then the conversation is ours.
pub fn heur_tcp(c: &Call<'_>, ctx: PduCtx) -> bool {
    let mut prefix = [0u8; 6];
    if !c.tvb.copy_into(0, &mut prefix) || !xor::tcp_heuristic(&prefix, max_message()) {
        return false;
    }
    c.pinfo.set_conversation_dissector(&TCP_CONV_HANDLE);
    dissect_tcp(c, ctx);
    true
}

/// UDP heuristic: the cheap 2-byte test, then a full decrypt must parse as a JSON object.
pub fn heur_udp(c: &Call<'_>) -> bool {
    let mut prefix = [0u8; 2];
    if !c.tvb.copy_into(0, &mut prefix) || !xor::udp_heuristic(&prefix) {
        return false;
    }
    let pool = c.pinfo.pool();
    let Some(buf) = c.tvb.copy(pool, 0, c.tvb.captured_len()) else {
        return false;
    };
    let is_json = catch_unwind(AssertUnwindSafe(|| {
        xor::decrypt_in_place(buf);
        Body::analyse(buf, &mut Vec::new()).json_ok
    }))
    .unwrap_or(false);
    if !is_json {
        return false;
    }
    c.pinfo.set_conversation_dissector(&UDP_CONV_HANDLE);
    dissect_udp(c, Via::Conversation);
    true
}

/// A panic escaped an entry point's inner guards: say so on the packet.
pub fn report_panic(pinfo: Pinfo<'_>) {
    let text = {
        let t = epan::internal_error_text();
        pinfo.pool().cstr(&t)
    };
    let _ = pinfo.expert(None, &EI_INTERNAL_ERROR, text);
}

// ---------------------------------------------------------------------------------------------
// The message pipeline.

/// Where a message's ciphertext is and how it travelled (plain data).
#[derive(Debug, Clone, Copy)]
struct Wire {
    transport: Transport,
    via: Via,
    header: Option<u32>,
    cipher_at: usize,
    cipher_len: usize,
    framing: Framing,
}

/// What one message shows, all in the packet pool.
#[derive(Clone, Copy)]
struct Plan<'p> {
    direction: Direction,
    info: &'p CStr,
    item_text: &'p CStr,
    methods: &'p [MethodPlan<'p>],
    context_source: Option<&'p CStr>,
    child_ids: &'p [&'p CStr],
    device: Option<DevicePlan<'p>>,
    response_in: &'p [u32],
    response_to: Option<(u32, Duration)>,
    problems: &'p [ProblemPlan<'p>],
    /// `KASA_TEST_THROW` matched this message.
    test_throw: bool,
}

#[derive(Clone, Copy)]
struct MethodPlan<'p> {
    name: &'p CStr,
    err_code: Option<i32>,
    err_msg: Option<&'p CStr>,
}

#[derive(Clone, Copy)]
struct DevicePlan<'p> {
    model: Option<&'p CStr>,
    alias: Option<&'p CStr>,
    mac: Option<&'p CStr>,
    id: Option<&'p CStr>,
    sw_ver: Option<&'p CStr>,
    hw_ver: Option<&'p CStr>,
    kind: Option<&'p CStr>,
    /// Known from an earlier frame of the same device, not from this message.
    generated: bool,
}

#[derive(Clone, Copy)]
struct ProblemPlan<'p> {
    ei: &'static crate::epan::Ei,
    text: &'p CStr,
}

/// Where and when a message was seen (plain data).
#[derive(Debug, Clone, Copy)]
struct Seen {
    frame: u32,
    index: u32,
    visited: bool,
    time: Duration,
    src: SocketAddr,
    dst: SocketAddr,
    conversation: u32,
}

/// The test trigger: `KASA_TEST_PANIC=<text>` panics on every message whose plaintext contains
/// `<text>`, to prove that a panic becomes `kasa.internal_error` and tshark carries on.
fn panic_trigger() -> Option<&'static [u8]> {
    static TRIGGER: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    TRIGGER
        .get_or_init(|| {
            std::env::var_os("KASA_TEST_PANIC")
                .map(|v| v.into_encoded_bytes())
                .filter(|v| !v.is_empty())
        })
        .as_deref()
}

/// The test trigger: `KASA_TEST_THROW=<text>` adds, on every message whose plaintext contains
/// `<text>`, a tree item past the end of the decrypted tvb (not clamped), so that epan throws
/// a bounds error inside the shim, and appends "[KASA_TEST_THROW caught]" to Info once the shim
/// has reported it; proves that the shim catches (Rust gets control back) and the trampoline
/// rethrows (Wireshark shows a malformed packet).
fn throw_trigger() -> Option<&'static [u8]> {
    static TRIGGER: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    TRIGGER
        .get_or_init(|| {
            std::env::var_os("KASA_TEST_THROW")
                .map(|v| v.into_encoded_bytes())
                .filter(|v| !v.is_empty())
        })
        .as_deref()
}

fn dissect_message<'p>(c: &Call<'p>, span: Span<'p>, w: Wire) -> Result<(), Thrown> {
    let pinfo = c.pinfo;
    let pool = pinfo.pool();
    let Some(plaintext) = c.tvb.copy(pool, w.cipher_at, w.cipher_len) else {
        return Ok(());
    };
    xor::decrypt_in_place(plaintext);
    let plaintext: &'p [u8] = plaintext;
    let child = c.tvb.child(plaintext)?;
    pinfo.add_data_source(child, c"Decrypted Kasa");
    let seen = Seen {
        frame: pinfo.num(),
        index: pinfo.next_message_index(),
        visited: pinfo.visited(),
        time: pinfo.time(),
        src: pinfo.src(),
        dst: pinfo.dst(),
        conversation: pinfo.conversation(),
    };
    let want_tree = c.tree.is_some();
    let plan = catch_unwind(AssertUnwindSafe(|| {
        plan(pool, w, seen, plaintext, want_tree)
    }));
    match plan {
        Ok(plan) => render(c, span, child, w, plaintext.len(), plan),
        Err(_) => {
            let text = {
                let t = epan::internal_error_text();
                pool.cstr(&t)
            };
            pinfo.col_append_fenced(Col::Info, c" | ", c"[Plugin internal error]");
            let item = match c.tree {
                Some(t) => t.protocol(span)?,
                None => None,
            };
            pinfo.expert(item, &EI_INTERNAL_ERROR, text)
        }
    }
}

/// Direction by the decoder's rule ([`msg::direction`]): the conversation's remembered device
/// side; otherwise the side on the matched port (port table, Decode As or the port preference);
/// otherwise the JSON. Returns the direction and the device endpoint to remember.
fn direction(
    remembered: Option<SocketAddr>,
    via: Via,
    in_port_pref: impl Fn(u16) -> bool,
    src: SocketAddr,
    dst: SocketAddr,
    body: &Body,
) -> (Direction, SocketAddr) {
    let device_port = |p: u16| match via {
        Via::Port(m) => u32::from(p) == m || in_port_pref(p),
        Via::Conversation => false,
    };
    let on_port = (device_port(src.port()), device_port(dst.port()));
    msg::direction(remembered, src, dst, on_port, body)
}

/// `want_tree`: whether the tree parts are needed (summary runs pass a null tree).
fn plan<'p>(pool: Pool<'p>, w: Wire, seen: Seen, plaintext: &[u8], want_tree: bool) -> Plan<'p> {
    if let Some(t) = panic_trigger() {
        if plaintext.windows(t.len()).any(|win| win == t) {
            panic!("KASA_TEST_PANIC trigger found in frame {}", seen.frame);
        }
    }
    let test_throw =
        throw_trigger().is_some_and(|t| plaintext.windows(t.len()).any(|win| win == t));
    let mut problems: Vec<Problem> = w.framing.problem().into_iter().collect();
    let body = Body::analyse(plaintext, &mut problems);
    let tcp = w.transport == Transport::XorTcp;
    let in_pref = |p: u16| {
        if tcp {
            TCP_PORTS.contains(p.into())
        } else {
            UDP_PORTS.contains(p.into())
        }
    };

    let key = MessageKey {
        frame: seen.frame,
        index: seen.index,
    };
    let (record, response_in) = state::with(|st| {
        let record = match st.records.get(&key) {
            Some(r) if seen.visited => r.clone(),
            _ => {
                let (direction, device_end) = direction(
                    st.conv_device.get(&seen.conversation).copied(),
                    w.via,
                    in_pref,
                    seen.src,
                    seen.dst,
                    &body,
                );
                let mutate = !seen.visited;
                if mutate {
                    st.conv_device
                        .entry(seen.conversation)
                        .or_insert(device_end);
                }
                let mut record = Record {
                    direction,
                    response_to: None,
                    device: None,
                };
                if mutate {
                    let conn = u64::from(seen.conversation);
                    let frame = u64::from(seen.frame);
                    let matched = match (direction, tcp) {
                        (Direction::Request, true) => {
                            st.pairer
                                .tcp_request(conn, seen.index as usize, frame, seen.time);
                            None
                        }
                        (Direction::Request, false) => {
                            st.pairer.udp_request(
                                seen.src,
                                seen.dst,
                                &body.methods,
                                seen.index as usize,
                                frame,
                                seen.time,
                            );
                            None
                        }
                        (Direction::Response, true) => st.pairer.tcp_response(conn, seen.time),
                        (Direction::Response, false) => {
                            st.pairer
                                .udp_response(seen.dst, seen.src, &body.methods, seen.time)
                        }
                    };
                    if let Some(m) = matched {
                        let req = m.request_frame as u32;
                        record.response_to = Some((req, m.time));
                        let req_key = MessageKey {
                            frame: req,
                            index: m.tag as u32,
                        };
                        st.response_in.entry(req_key).or_default().push(seen.frame);
                    }
                    let ip = device_end.ip();
                    match &body.device {
                        Some(dev) => {
                            if st.devices.get(&ip).is_none_or(|known| **known != *dev) {
                                st.devices.insert(ip, std::sync::Arc::new(dev.clone()));
                            }
                        }
                        None => record.device = st.devices.get(&ip).cloned(),
                    }
                    st.records.insert(key, record.clone());
                }
                record
            }
        };
        let response_in = match record.direction {
            Direction::Request => st.response_in.get(&key).cloned().unwrap_or_default(),
            Direction::Response => Vec::new(),
        };
        (record, response_in)
    });

    let mut info = String::new();
    let _ = msg::summary(&mut info, record.direction, &body);
    let problems: Vec<ProblemPlan<'p>> = problems
        .iter()
        .map(|p| {
            let mut text = String::new();
            let _ = write!(text, "{p}");
            ProblemPlan {
                ei: expert_for(p.expert()),
                text: pool.cstr(&text),
            }
        })
        .collect();
    if !want_tree {
        return Plan {
            direction: record.direction,
            info: pool.cstr(&info),
            item_text: c"",
            methods: &[],
            context_source: None,
            child_ids: &[],
            device: None,
            response_in: &[],
            response_to: None,
            problems: pool.slice(&problems),
            test_throw,
        };
    }
    let item_text = format!(", {info}");
    let opt = |s: &Option<String>| s.as_deref().map(|s| pool.cstr(s));
    let methods: Vec<MethodPlan<'p>> = body
        .methods
        .iter()
        .map(|m| MethodPlan {
            name: pool.cstr(&m.name()),
            err_code: m
                .err_code
                .map(|c| c.clamp(i32::MIN.into(), i32::MAX.into()) as i32),
            err_msg: opt(&m.err_msg),
        })
        .collect();
    let child_ids: Vec<&CStr> = body
        .context
        .child_ids
        .iter()
        .map(|s| pool.cstr(s))
        .collect();
    let device = body
        .device
        .as_ref()
        .map(|d| (d, false))
        .or(record.device.as_deref().map(|d| (d, true)))
        .map(|(d, generated)| DevicePlan {
            model: opt(&d.model),
            alias: opt(&d.alias),
            mac: opt(&d.mac),
            id: opt(&d.device_id),
            sw_ver: opt(&d.sw_ver),
            hw_ver: opt(&d.hw_ver),
            kind: opt(&d.kind),
            generated,
        });
    Plan {
        direction: record.direction,
        info: pool.cstr(&info),
        item_text: pool.cstr(&item_text),
        methods: pool.slice(&methods),
        context_source: opt(&body.context.source),
        child_ids: pool.slice(&child_ids),
        device,
        response_in: pool.slice(&response_in),
        response_to: record.response_to,
        problems: pool.slice(&problems),
        test_throw,
    }
}

/// Columns, tree, expert infos and the JSON hand-off of one message. Only plain data and pool
/// memory are alive here. Stops at the first [`Thrown`].
fn render<'p>(
    c: &Call<'p>,
    span: Span<'p>,
    child: Tvb<'p>,
    w: Wire,
    plain_len: usize,
    plan: Plan<'p>,
) -> Result<(), Thrown> {
    let pinfo = c.pinfo;
    pinfo.col_set(Col::Protocol, c"KASA");
    pinfo.col_append_fenced(Col::Info, c" | ", plan.info);
    let item: Option<Item<'p>> = match c.tree {
        Some(t) => t.protocol(span)?,
        None => None,
    };
    let subtree = match item {
        Some(i) => {
            i.append_text(plan.item_text)?;
            i.subtree(&ETT_KASA)?
        }
        None => None,
    };
    if let Some(tree) = subtree {
        let none = Span {
            tvb: c.tvb,
            offset: 0,
            len: 0,
        };
        let text = Span {
            tvb: child,
            offset: 0,
            len: plain_len,
        };
        let generated = |i: Option<Item<'p>>| {
            if let Some(i) = i {
                i.set_generated();
            }
        };
        let transport = match w.transport {
            Transport::XorTcp => c"xor-tcp",
            Transport::XorUdp => c"xor-udp",
        };
        generated(tree.string(&TRANSPORT, none, transport)?);
        if plan.test_throw {
            // 16 bytes starting 16 bytes past the end of the plaintext: a bounds error. The
            // marker (a column call, which cannot throw) shows that Rust got control back.
            if let Err(thrown) = tree.unchecked_item(&PLAINTEXT, child, plain_len + 16, 16) {
                pinfo.col_append_fenced(Col::Info, c" ", c"[KASA_TEST_THROW caught]");
                return Err(thrown);
            }
        }
        if let Some(h) = w.header {
            tree.uint(
                &LEN,
                Span {
                    tvb: c.tvb,
                    offset: 0,
                    len: HEADER_LEN,
                },
                h,
            )?;
        }
        let request = plan.direction == Direction::Request;
        generated(tree.boolean(if request { &REQUEST } else { &RESPONSE }, none, true)?);
        tree.utf8_item(&PLAINTEXT, text)?;
        for m in plan.methods {
            tree.string(&METHOD, text, m.name)?;
            if let Some(code) = m.err_code {
                tree.int(&ERR_CODE, text, code)?;
            }
            if let Some(msg) = m.err_msg {
                tree.string(&ERR_MSG, text, msg)?;
            }
        }
        if let Some(s) = plan.context_source {
            tree.string(&CONTEXT_SOURCE, text, s)?;
        }
        for id in plan.child_ids {
            tree.string(&CONTEXT_CHILD_ID, text, id)?;
        }
        if let Some(d) = plan.device {
            let at = if d.generated { none } else { text };
            for (hf, v) in [
                (&DEVICE_MODEL, d.model),
                (&DEVICE_ALIAS, d.alias),
                (&DEVICE_MAC, d.mac),
                (&DEVICE_ID, d.id),
                (&DEVICE_SW_VER, d.sw_ver),
                (&DEVICE_HW_VER, d.hw_ver),
                (&DEVICE_TYPE, d.kind),
            ] {
                if let Some(v) = v {
                    let i = tree.string(hf, at, v)?;
                    if d.generated {
                        generated(i);
                    }
                }
            }
        }
        for &f in plan.response_in {
            generated(tree.uint(&RESPONSE_IN, none, f)?);
        }
        if let Some((f, t)) = plan.response_to {
            generated(tree.uint(&RESPONSE_TO, none, f)?);
            generated(tree.time(&TIME, none, t)?);
        }
    }
    for p in plan.problems {
        pinfo.expert(item, p.ei, p.text)?;
    }
    if JSON_TREE.get() {
        // Last: whatever JSON throws is rethrown as soon as we return.
        pinfo.call_protected(&JSON_HANDLE, child, c.tree)?;
    }
    Ok(())
}

/// A PDU that is no message (a header above the cap, an empty zero-length message).
fn problem_only<'p>(
    c: &Call<'p>,
    span: Span<'p>,
    header: Option<u32>,
    framing: Framing,
) -> Result<(), Thrown> {
    let pinfo = c.pinfo;
    let pool = pinfo.pool();
    let texts = catch_unwind(AssertUnwindSafe(|| {
        let p = framing.problem()?;
        let text = p.to_string();
        Some((
            expert_for(p.expert()),
            pool.cstr(&text),
            pool.cstr(&format!("Malformed: {text}")),
        ))
    }));
    let Ok(Some((ei, text, info))) = texts else {
        return Ok(());
    };
    pinfo.col_set(Col::Protocol, c"KASA");
    pinfo.col_append_fenced(Col::Info, c" | ", info);
    let item = match c.tree {
        Some(t) => t.protocol(span)?,
        None => None,
    };
    if let (Some(i), Some(h)) = (item, header) {
        if let Some(t) = i.subtree(&ETT_KASA)? {
            t.uint(
                &LEN,
                Span {
                    tvb: c.tvb,
                    offset: 0,
                    len: HEADER_LEN,
                },
                h,
            )?;
        }
    }
    pinfo.expert(item, ei, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Body {
        Body::analyse(text.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn direction_by_port_then_memory_then_json() {
        let client: SocketAddr = "10.0.0.1:50000".parse().unwrap();
        let device: SocketAddr = "10.0.0.2:9999".parse().unwrap();
        let req = body(r#"{"system":{"get_sysinfo":{}}}"#);
        let resp = body(r#"{"system":{"get_sysinfo":{"err_code":0}}}"#);
        let no = |_| false;
        assert_eq!(
            direction(None, Via::Port(9999), no, client, device, &resp),
            (Direction::Request, device)
        );
        assert_eq!(
            direction(None, Via::Port(9999), no, device, client, &req),
            (Direction::Response, device)
        );
        // Heuristic: the JSON decides, then the conversation remembers.
        assert_eq!(
            direction(None, Via::Conversation, no, device, client, &resp),
            (Direction::Response, device)
        );
        assert_eq!(
            direction(Some(device), Via::Conversation, no, client, device, &resp),
            (Direction::Request, device)
        );
        // Both ports in range: the JSON decides.
        let d2: SocketAddr = "10.0.0.3:9999".parse().unwrap();
        assert_eq!(
            direction(None, Via::Port(9999), no, d2, device, &resp).0,
            Direction::Response
        );
    }
}
