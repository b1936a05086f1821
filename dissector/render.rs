//! One message, from the bytes Wireshark handed over to what the user sees:
//! ciphertext → plaintext → [`Body`] (decoder) → [`Record`] (the decoder's session) → `Plan`
//! → columns, tree, expert infos, JSON hand-off.
//!
//! The plan is built under `catch_unwind` and lives entirely in the packet's wmem pool. epan's
//! throwing calls go through the C shim (see [`crate::epan`]): a view that reports [`Thrown`]
//! means epan threw, and the code here stops and returns at once (the shim's trampoline
//! rethrows the exception when the entry point has returned). The fields shown come from
//! exhaustive matches on the decoder's enums ([`Meta::len_header`] in the decoder, [`Problem`]
//! via [`crate::fields::expert_for`], [`Transport`] via [`crate::fields::transport_name`]): a
//! new transport or problem does not compile until it says how it is shown.

use crate::epan::{self, Call, Col, Item, PduMemo, Pinfo, Pool, Span, Thrown, Tree, Tvb, Via};
use crate::fields::*;
use crate::json;
use crate::register::{TCP_PORTS, UDP_PORTS};
use crate::state;
use core::ffi::CStr;
use kasa_decoder::conv::{Found, HttpView, MessageId, Record, Seen, Shown};
use kasa_decoder::msg::{self, Body, Direction, KlapStep, Meta, Problem, TpapStep, Transport};
use kasa_decoder::stats::{Identity, MethodSample, Sample};
use kasa_decoder::wire::tdp::TdpHeader;
use kasa_decoder::wire::xor::{self, FrameCut, HEADER_LEN};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::time::Duration;

/// Framing findings, as plain data (the decoder's [`Problem`] owns strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Whole,
    ZeroLength,
    Truncated {
        expected: Option<usize>,
        got: usize,
    },
    AboveCap {
        len: u32,
        cap: u32,
    },
    Mismatch {
        header: u32,
        actual: usize,
    },
    /// Bytes that start no frame.
    Garbage {
        bytes: usize,
    },
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
            Framing::Garbage { bytes } => Some(Problem::Garbage { bytes }),
        }
    }
}

/// Where a message's ciphertext is and how it travelled (plain data).
#[derive(Debug, Clone)]
pub struct Wire<'p> {
    pub meta: Meta,
    pub via: Via,
    pub cipher_at: usize,
    pub cipher_len: usize,
    pub framing: Framing,
    /// The plaintext, when the PDU-length callback already decrypted it.
    pub plaintext: Option<&'p [u8]>,
}

/// What the PDU-length callback learned about the PDU it cut, for the dissect call that
/// follows: one decrypt and one cut per PDU.
pub fn remember_cut(pinfo: Pinfo<'_>, bytes: &[u8], cut: &FrameCut) {
    let plaintext = cut.plaintext.as_deref().map(|p| pinfo.pool().slice(p));
    remember(pinfo, bytes, cut.total, cut.mismatch.is_some(), plaintext);
}

/// The length callback's finding for a PDU whose plaintext it did not keep (the cloud link's
/// framings): the dissect call checks it with [`recall_cut`] instead of cutting again.
pub fn remember_len(pinfo: Pinfo<'_>, bytes: &[u8], total: usize) {
    remember(pinfo, bytes, total, false, None);
}

fn remember<'p>(
    pinfo: Pinfo<'p>,
    bytes: &[u8],
    total: usize,
    mismatch: bool,
    plaintext: Option<&'p [u8]>,
) {
    let mut head = [0u8; 8];
    let n = head.len().min(bytes.len()).min(total);
    head[..n].copy_from_slice(&bytes[..n]);
    pinfo.set_pdu_memo(PduMemo {
        total,
        head,
        mismatch,
        plaintext,
    });
}

/// What [`remember_cut`] kept, if it is about the PDU in `tvb` (same length, same first bytes).
pub fn recall_cut<'p>(pinfo: Pinfo<'p>, tvb: Tvb<'p>, total: usize) -> Option<PduMemo<'p>> {
    let memo = pinfo.pdu_memo()?;
    let mut head = [0u8; 8];
    let n = head.len().min(total);
    (memo.total == total && tvb.copy_into(0, &mut head[..n]) && head[..n] == memo.head[..n])
        .then_some(memo)
}

/// What one message shows, all in the packet pool.
#[derive(Clone, Copy)]
struct Plan<'p> {
    transport: Transport,
    wire: WirePlan<'p>,
    direction: Direction,
    info: &'p CStr,
    item_text: &'p CStr,
    plaintext: &'p CStr,
    methods: &'p [MethodPlan<'p>],
    context_source: Option<&'p CStr>,
    child_ids: &'p [&'p CStr],
    device: Option<DevicePlan<'p>>,
    response_in: &'p [u32],
    response_to: Option<(u32, Duration)>,
    /// A copy of an earlier datagram: the original's frame.
    duplicate_of: Option<u32>,
    problems: &'p [ProblemPlan<'p>],
    /// Security findings: a field each (in the tree) and an expert info each (always).
    findings: &'p [FindingPlan<'p>],
    json_ok: bool,
    /// The plaintext is neither JSON nor text: the bytes are shown as data, no plaintext.
    undecodable: bool,
    /// Whether the tree parts were planned (someone looks at the plugin's fields).
    detailed: bool,
    /// `KASA_TEST_THROW` matched this message.
    test_throw: bool,
    /// The `kasa` tap's record, when someone listens.
    tap: Option<&'p Sample<'p>>,
}

/// What the transport said, as shown (pool data).
#[derive(Clone, Copy)]
enum WirePlan<'p> {
    Xor {
        len_header: Option<u32>,
    },
    Cloud {
        framing: &'static CStr,
        len_header: Option<u32>,
    },
    Tdp {
        header: Option<TdpHeader>,
        crc_status: u32,
        encrypt_type: Option<&'p CStr>,
        http_port: Option<u32>,
        login_version: Option<u32>,
        tpap: Option<TpapPlan<'p>>,
        encrypt_info: Option<&'p CStr>,
    },
    Klap {
        step: KlapStep,
        version: Option<u32>,
        auth: Option<&'p CStr>,
        session: Option<&'p CStr>,
    },
    Tpap {
        step: TpapStep,
        sub_method: Option<&'p CStr>,
        seq: Option<i64>,
        data_len: usize,
    },
    Aes {
        method: Option<&'p CStr>,
        session: Option<&'p CStr>,
        token: bool,
        error_code: Option<i32>,
        encrypted: bool,
        clear_response: bool,
        ssl: Option<SslAesPlan<'p>>,
    },
    Linkie {
        version: Option<u32>,
        /// The form field's name and its offset and length in the body.
        field: Option<(&'p CStr, usize, usize)>,
        text_at: (usize, usize),
        b64_len: u32,
        clear: bool,
    },
}

/// What SslAes adds to the envelope (pool data).
#[derive(Clone, Copy)]
struct SslAesPlan<'p> {
    login: Option<&'p CStr>,
    cnonce: Option<&'p CStr>,
    nonce: Option<&'p CStr>,
    auth: Option<&'p CStr>,
    start_seq: Option<i64>,
    seq: Option<i64>,
    tag: Option<&'p CStr>,
    tag_ok: Option<bool>,
}

#[derive(Clone, Copy)]
struct TpapPlan<'p> {
    port: Option<u32>,
    tls: Option<u32>,
    pake: &'p [u32],
    dac: Option<bool>,
    noc: Option<bool>,
    user_hash_type: Option<u32>,
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

impl<'p> WirePlan<'p> {
    fn new(pool: Pool<'p>, meta: &Meta) -> Self {
        let opt = |s: &Option<String>| s.as_deref().map(|s| pool.cstr(s));
        match meta {
            Meta::XorTcp { .. } | Meta::XorUdp => WirePlan::Xor {
                len_header: meta.len_header(),
            },
            Meta::Cloud {
                framing,
                len_header,
            } => WirePlan::Cloud {
                framing: crate::cloud::framing_name(*framing),
                len_header: *len_header,
            },
            Meta::Tdp(t) => {
                let d = t.discovery.as_deref();
                WirePlan::Tdp {
                    header: t.header,
                    crc_status: match t.crc_ok {
                        Some(true) => epan::CHECKSUM_GOOD,
                        Some(false) => epan::CHECKSUM_BAD,
                        None => epan::CHECKSUM_UNVERIFIED,
                    },
                    encrypt_type: d.and_then(|d| opt(&d.encrypt_type)),
                    http_port: d.and_then(|d| d.http_port).map(u32::from),
                    login_version: d.and_then(|d| d.login_version),
                    encrypt_info: match &t.encrypt_info {
                        Some(Ok(p)) => Some(pool.cstr(&msg::display_text(p))),
                        Some(Err(e)) => Some(pool.cstr(&format!("[not decrypted: {e}]"))),
                        None => None,
                    },
                    tpap: d.and_then(|d| d.tpap.as_ref()).map(|t| TpapPlan {
                        port: t.port.map(u32::from),
                        tls: t.tls,
                        pake: pool.slice(&t.pake),
                        dac: t.dac,
                        noc: t.noc,
                        user_hash_type: t.user_hash_type,
                    }),
                }
            }
            Meta::Klap(k) => WirePlan::Klap {
                step: k.step,
                version: k.version.map(|v| v.number().into()),
                auth: opt(&k.auth),
                session: opt(&k.session),
            },
            Meta::Tpap(t) => WirePlan::Tpap {
                step: t.step,
                sub_method: opt(&t.sub_method),
                seq: t.seq,
                data_len: t.data_len,
            },
            Meta::Aes(a) => WirePlan::Aes {
                method: a.method.map(|m| pool.cstr(m.as_str())),
                session: opt(&a.session),
                token: a.token.is_some(),
                error_code: a.error_code.map(clamp_i32),
                encrypted: a.encrypted,
                clear_response: a.clear_response,
                ssl: a.ssl.as_deref().map(|s| SslAesPlan {
                    login: s.login.map(|l| pool.cstr(l.as_str())),
                    cnonce: opt(&s.cnonce),
                    nonce: opt(&s.nonce),
                    auth: opt(&s.auth),
                    start_seq: s.start_seq,
                    seq: s.seq,
                    tag: opt(&s.tag),
                    tag_ok: s.tag_ok,
                }),
            },
            Meta::Linkie(l) => WirePlan::Linkie {
                version: l.version.map(u32::from),
                field: l
                    .field
                    .as_ref()
                    .map(|(name, at)| (pool.cstr(name), at.start, at.len())),
                text_at: (l.text_at.start, l.text_at.len()),
                b64_len: u32::try_from(l.b64_len).unwrap_or(u32::MAX),
                clear: l.clear,
            },
        }
    }
}

#[derive(Clone, Copy)]
struct MethodPlan<'p> {
    name: &'p CStr,
    err_code: Option<i32>,
    err_msg: Option<&'p CStr>,
    /// The message's device fields are read from this method's result (the first such).
    carries_device: bool,
    /// What the method item adds to its label: its result (` (err_code 0)`, ` (err_code -1:
    /// module not support)`), empty for a request.
    result_text: &'p CStr,
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
struct FindingPlan<'p> {
    hf: &'static crate::epan::Hf,
    ei: &'static crate::epan::Ei,
    text: &'p CStr,
}

#[derive(Clone, Copy)]
struct ProblemPlan<'p> {
    ei: &'static crate::epan::Ei,
    text: &'p CStr,
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

/// Where and when a message was seen, for the session.
fn seen(pinfo: Pinfo<'_>, via: Via, transport: Transport) -> Seen {
    let (src, dst) = (pinfo.src(), pinfo.dst());
    let in_pref = |p: u16| {
        if transport.is_stream() {
            TCP_PORTS.contains(p.into())
        } else {
            UDP_PORTS.contains(p.into())
        }
    };
    let (found, on_device_port) = match via {
        Via::Port(m) => (
            Found::Port,
            (
                u32::from(src.port()) == m || in_pref(src.port()),
                u32::from(dst.port()) == m || in_pref(dst.port()),
            ),
        ),
        Via::Conversation => (Found::Heuristic, (false, false)),
        // Handed over by TLS (the cloud port, or a record the TLS heuristic judged): the
        // tracker knows which end is the device.
        Via::Tls => (Found::Port, crate::cloud::device_sides(src, dst)),
    };
    Seen {
        id: MessageId {
            frame: pinfo.num().into(),
            index: pinfo.next_message_index(),
        },
        time: pinfo.time(),
        src,
        dst,
        conv: pinfo.conversation().into(),
        found,
        on_device_port,
    }
}

/// What an entry point hands the pipeline.
pub enum Input<'p, 'v> {
    /// A message whose plaintext is at hand (XOR decrypted, TDP clear): the session decides
    /// from its transport data and body. `decrypted`: shown as the "Decrypted Kasa" source
    /// (otherwise the plaintext is `tvb[text_at..]`).
    Message {
        meta: Meta,
        plaintext: &'p [u8],
        problems: Vec<Problem>,
        decrypted: bool,
        text_at: usize,
    },
    /// An HTTP body: the session says whether it is KLAP or AES, and decrypts it.
    Http { view: HttpView<'v> },
}

/// Dissects one XOR message; returns whether it is shown (the session may reject it: a
/// heuristic claim proved wrong, a datagram on trial that is not JSON), or that epan threw.
pub fn dissect_message<'p>(c: &Call<'p>, span: Span<'p>, w: Wire<'p>) -> Result<bool, Thrown> {
    let pool = c.pinfo.pool();
    let plaintext: &'p [u8] = match w.plaintext {
        Some(p) => p,
        None => {
            let Some(buf) = c.tvb.copy(pool, w.cipher_at, w.cipher_len) else {
                return Ok(false);
            };
            xor::decrypt_in_place(buf);
            buf
        }
    };
    let input = Input::Message {
        meta: w.meta,
        plaintext,
        problems: w.framing.problem().into_iter().collect(),
        decrypted: true,
        text_at: 0,
    };
    show(c, span, w.via, input)
}

/// Dissects one message of any transport; see [`dissect_message`].
pub fn show<'p>(
    c: &Call<'p>,
    span: Span<'p>,
    via: Via,
    input: Input<'p, '_>,
) -> Result<bool, Thrown> {
    let pinfo = c.pinfo;
    let pool = pinfo.pool();
    let transport = match &input {
        Input::Message { meta, .. } => meta.transport(),
        Input::Http { .. } => Transport::Klap,
    };
    let seen = seen(pinfo, via, transport);
    let visited = pinfo.visited();
    // The plugin's own items only where someone looks at them: a tree Wireshark builds for
    // another protocol's filter or postdissector has no use for them.
    let want_tree = c.tree.is_some_and(|t| t.references(epan::PROTO.get()));
    let plan = catch_unwind(AssertUnwindSafe(|| {
        plan(pool, seen, visited, input, want_tree)
    }));
    match plan {
        Ok(None) => Ok(false),
        Ok(Some((plan, plaintext, source))) => {
            let text = match source {
                // Bytes that are no message: shown once, as data (`kasa.data`).
                _ if plan.undecodable => None,
                Source::Decrypted if !plaintext.is_empty() => {
                    let child = c.tvb.child(plaintext)?;
                    pinfo.add_data_source(child, c"Decrypted Kasa");
                    Some(child)
                }
                Source::At(at) if !plaintext.is_empty() => c.tvb.subset(at, plaintext.len()),
                _ => None,
            };
            if let Some(sample) = plan.tap {
                pinfo.tap(sample);
            }
            render(c, span, text, plaintext, plan)?;
            Ok(true)
        }
        Err(_) => {
            let text = {
                let t = epan::internal_error_text();
                pool.cstr(&t)
            };
            pinfo.claim_columns(c"KASA");
            pinfo.col_append_fenced(Col::Info, c" | ", c"[Plugin internal error]");
            let item = match c.tree {
                Some(t) => t.protocol(span)?,
                None => None,
            };
            pinfo.expert(item, &EI_INTERNAL_ERROR, text)?;
            Ok(true)
        }
    }
}

/// Where the plaintext's bytes are shown.
#[derive(Clone, Copy)]
enum Source {
    /// A new "Decrypted Kasa" data source.
    Decrypted,
    /// In the dissected tvb, from this offset.
    At(usize),
}

/// The session's decision: made on the first pass, read back on a frame seen before (a frame
/// seen before whose message the session never decided — the same bytes offered again by
/// another dissector table in the same pass, e.g. the UDP heuristics after the conversation's
/// dissector declined them — is not shown: deciding it now would change what the first pass
/// showed).
fn decide(
    seen: &Seen,
    visited: bool,
    meta: &Meta,
    body: &Body,
    plaintext: &[u8],
) -> (Option<Record>, Vec<u32>) {
    state::with(|s| {
        let record = if visited {
            s.record(seen.id).flatten().cloned()
        } else {
            s.message(seen, meta, body, plaintext)
        };
        let response_in = match &record {
            Some(r) if r.direction == Direction::Request => {
                s.responses(seen.id).iter().map(|&f| f as u32).collect()
            }
            _ => Vec::new(),
        };
        (record, response_in)
    })
}

/// The same for an HTTP message ([`kasa_decoder::conv::Session::http`]).
fn decide_http(seen: &Seen, visited: bool, view: &HttpView<'_>) -> (Option<Shown>, Vec<u32>) {
    state::with(|s| {
        let shown = if visited {
            s.shown(seen.id).flatten().cloned()
        } else {
            s.http(seen, view)
        };
        let response_in = match &shown {
            Some(r) if r.record.direction == Direction::Request => {
                s.responses(seen.id).iter().map(|&f| f as u32).collect()
            }
            _ => Vec::new(),
        };
        (shown, response_in)
    })
}

/// `want_tree`: whether the tree parts are needed (summary runs pass a null tree).
fn plan<'p>(
    pool: Pool<'p>,
    seen: Seen,
    visited: bool,
    input: Input<'p, '_>,
    want_tree: bool,
) -> Option<(Plan<'p>, &'p [u8], Source)> {
    let (meta, plaintext, body, problems, record, response_in, source) = match input {
        Input::Message {
            meta,
            plaintext,
            mut problems,
            decrypted,
            text_at,
        } => {
            let body = Body::analyse(plaintext, &mut problems);
            let (record, response_in) = decide(&seen, visited, &meta, &body, plaintext);
            if record.as_ref().is_some_and(|r| r.one_sided) {
                problems.push(Problem::OneSided);
            }
            let mut meta = meta;
            if let (Meta::Tdp(t), Some(r)) = (&mut meta, &record) {
                t.encrypt_info = r.encrypt_info.clone();
            }
            let source = if decrypted {
                Source::Decrypted
            } else {
                Source::At(text_at)
            };
            (
                meta,
                plaintext,
                body,
                problems,
                record?,
                response_in,
                source,
            )
        }
        Input::Http { view } => {
            let (shown, response_in) = decide_http(&seen, visited, &view);
            let shown = shown?;
            let decrypted = match &shown.meta {
                Meta::Klap(k) => k.decrypted,
                Meta::Aes(a) => a.decrypted || a.clear_response,
                // Clear JSON inside TLS: shown where it is.
                Meta::Tpap(_) => false,
                Meta::Linkie(l) => !l.clear,
                _ => true,
            };
            let at = match &shown.meta {
                Meta::Linkie(l) => l.text_at.start,
                _ => 0,
            };
            let plaintext: &'p [u8] = pool.slice(&shown.plaintext);
            let source = if decrypted {
                Source::Decrypted
            } else {
                Source::At(at)
            };
            (
                shown.meta,
                plaintext,
                shown.body,
                shown.problems,
                shown.record,
                response_in,
                source,
            )
        }
    };
    if let Some(t) = panic_trigger()
        && plaintext.windows(t.len()).any(|win| win == t)
    {
        panic!("KASA_TEST_PANIC trigger found in frame {}", seen.id.frame);
    }
    let test_throw =
        throw_trigger().is_some_and(|t| plaintext.windows(t.len()).any(|win| win == t));

    // The protocol item's text is ", " + the Info text: one string, one copy into the pool.
    let item_text = pool.format(|w| {
        w.write_str(", ")?;
        msg::message_summary(&mut &mut *w, &meta, record.direction, &body)
    });
    let info = CStr::from_bytes_with_nul(&item_text.to_bytes_with_nul()[2..]).unwrap_or(c"");
    let problems: Vec<ProblemPlan<'p>> = problems
        .iter()
        .map(|p| ProblemPlan {
            ei: expert_for(p),
            text: pool.cstr(&p.to_string()),
        })
        .collect();
    let findings: Vec<FindingPlan<'p>> = record
        .findings
        .iter()
        .map(|f| {
            let (hf, ei) = finding_parts(f.kind());
            FindingPlan {
                hf,
                ei,
                text: pool.format(|w| write!(w, "{f}")),
            }
        })
        .collect();
    let mut plan = Plan {
        transport: meta.transport(),
        wire: WirePlan::Xor { len_header: None },
        direction: record.direction,
        info,
        item_text: c"",
        plaintext: c"",
        methods: &[],
        context_source: None,
        child_ids: &[],
        device: None,
        response_in: &[],
        response_to: None,
        duplicate_of: record.duplicate_of.map(|d| d.frame as u32),
        problems: pool.slice(&problems),
        findings: pool.slice(&findings),
        json_ok: body.json_ok,
        undecodable: msg::undecodable(&meta, &body),
        detailed: want_tree,
        test_throw,
        tap: epan::tapping().then(|| tap_sample(pool, seen.id, &meta, &body, &record)),
    };
    if !want_tree {
        return Some((plan, plaintext, source));
    }
    let opt = |s: &Option<String>| s.as_deref().map(|s| pool.cstr(s));
    let methods: Vec<MethodPlan<'p>> = body
        .methods
        .iter()
        .map(|m| MethodPlan {
            name: pool.format(|w| write!(w, "{}", m.display_name())),
            err_code: m.err_code.map(clamp_i32),
            err_msg: opt(&m.err_msg),
            carries_device: m.carries_device(),
            result_text: match (m.err_code, &m.err_msg) {
                (Some(code), Some(msg)) => pool.format(|w| write!(w, " (err_code {code}: {msg})")),
                (Some(code), None) => pool.format(|w| write!(w, " (err_code {code})")),
                (None, Some(msg)) => pool.format(|w| write!(w, " ({msg})")),
                (None, None) => c"",
            },
        })
        .collect();
    let child_ids: Vec<&CStr> = body
        .context
        .child_ids
        .iter()
        .map(|s| pool.cstr(s))
        .collect();
    plan.device = body
        .device
        .as_deref()
        .map(|d| (d, false))
        .or(record.peer_device.as_deref().map(|d| (d, true)))
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
    plan.wire = WirePlan::new(pool, &meta);
    plan.item_text = item_text;
    if !plaintext.is_empty() {
        plan.plaintext = pool.cstr(&msg::display_text(plaintext));
    }
    plan.methods = pool.slice(&methods);
    plan.context_source = opt(&body.context.source);
    plan.child_ids = pool.slice(&child_ids);
    plan.response_in = pool.slice(&response_in);
    plan.response_to = record.response_to.map(|l| (l.request.frame as u32, l.time));
    Some((plan, plaintext, source))
}

/// The statistics' record of a message (`crate::stats`), in the packet's pool.
fn tap_sample<'p>(
    pool: Pool<'p>,
    id: MessageId,
    meta: &Meta,
    body: &Body,
    record: &Record,
) -> &'p Sample<'p> {
    let text = |c: &'p CStr| c.to_str().unwrap_or("");
    let methods: Vec<MethodSample<'p>> = body
        .methods
        .iter()
        .map(|m| MethodSample {
            name: text(pool.format(|w| write!(w, "{}", m.display_name()))),
            err_code: m.err_code,
        })
        .collect();
    let identity = body
        .device
        .as_deref()
        .or(record.peer_device.as_deref())
        .map(|d| Identity {
            model: d.model.as_deref().map(|s| text(pool.cstr(s))),
            alias: d.alias.as_deref().map(|s| text(pool.cstr(s))),
        });
    let sample = Sample {
        id,
        direction: record.direction,
        transport: meta.transport(),
        device: record.device,
        identity,
        methods: pool.slice(&methods),
        response_to: record.response_to,
        duplicate: record.duplicate_of.is_some(),
    };
    &pool.slice(core::slice::from_ref(&sample))[0]
}

/// The transport's own fields: spans are into the dissected tvb (the XOR PDU, the TDP
/// datagram, the HTTP body).
fn render_wire<'p>(tree: Tree<'p>, tvb: Tvb<'p>, wire: WirePlan<'p>) -> Result<(), Thrown> {
    let at = |offset, len| Span { tvb, offset, len };
    let none = at(0, 0);
    let generated = |i: Option<Item<'p>>| {
        if let Some(i) = i {
            i.set_generated();
        }
    };
    match wire {
        WirePlan::Xor { len_header } => {
            if let Some(h) = len_header {
                tree.uint(&LEN, at(0, HEADER_LEN), h)?;
            }
        }
        WirePlan::Cloud {
            framing,
            len_header,
        } => {
            generated(tree.string(&CLOUD_FRAMING, none, framing)?);
            if let Some(h) = len_header {
                tree.uint(&LEN, at(0, HEADER_LEN), h)?;
            }
        }
        WirePlan::Tdp {
            header,
            crc_status,
            encrypt_type,
            http_port,
            login_version,
            tpap,
            encrypt_info,
        } => {
            if let Some(v) = encrypt_info {
                generated(tree.string(&TDP_ENCRYPT_INFO, none, v)?);
            }
            if let Some(h) = header {
                tree.uint(&TDP_VERSION, at(0, 1), h.version.into())?;
                tree.uint(&TDP_MSG_TYPE, at(1, 1), h.msg_type.into())?;
                tree.uint(&TDP_OP_CODE, at(2, 2), h.op_code.into())?;
                tree.uint(&TDP_SIZE, at(4, 2), h.size.into())?;
                tree.uint(&TDP_FLAGS, at(6, 1), h.flags.into())?;
                tree.uint(&TDP_SERIAL, at(8, 4), h.serial)?;
                tree.uint(&TDP_CRC, at(12, 4), h.crc)?;
                generated(tree.uint(&TDP_CRC_STATUS, at(12, 4), crc_status)?);
            }
            if let Some(v) = encrypt_type {
                generated(tree.string(&TDP_ENCRYPT_TYPE, none, v)?);
            }
            if let Some(v) = http_port {
                generated(tree.uint(&TDP_HTTP_PORT, none, v)?);
            }
            if let Some(v) = login_version {
                generated(tree.uint(&TDP_LOGIN_VERSION, none, v)?);
            }
            if let Some(t) = tpap {
                if let Some(v) = t.port {
                    generated(tree.uint(&TDP_TPAP_PORT, none, v)?);
                }
                if let Some(v) = t.tls {
                    generated(tree.uint(&TDP_TPAP_TLS, none, v)?);
                }
                for &v in t.pake {
                    generated(tree.uint(&TDP_TPAP_PAKE, none, v)?);
                }
                if let Some(v) = t.dac {
                    generated(tree.boolean(&TDP_TPAP_DAC, none, v)?);
                }
                if let Some(v) = t.noc {
                    generated(tree.boolean(&TDP_TPAP_NOC, none, v)?);
                }
                if let Some(v) = t.user_hash_type {
                    generated(tree.uint(&TDP_TPAP_USER_HASH, none, v)?);
                }
            }
        }
        WirePlan::Klap {
            step,
            version,
            auth,
            session,
        } => {
            match step {
                KlapStep::Handshake1 { .. } => {
                    tree.bytes_item(&KLAP_LOCAL_SEED, at(0, 16))?;
                }
                KlapStep::Handshake1Reply { .. } => {
                    tree.bytes_item(&KLAP_REMOTE_SEED, at(0, 16))?;
                    tree.bytes_item(&KLAP_SERVER_HASH, at(16, 32))?;
                }
                KlapStep::Handshake2 { .. } => {
                    tree.bytes_item(&KLAP_CLIENT_HASH, at(0, 32))?;
                }
                KlapStep::Request {
                    seq,
                    signature_ok,
                    ciphertext_len,
                    ..
                }
                | KlapStep::Response {
                    seq,
                    signature_ok,
                    ciphertext_len,
                    ..
                } => {
                    if let Some(seq) = seq {
                        generated(tree.int(&KLAP_SEQ, none, seq)?);
                    }
                    tree.bytes_item(&KLAP_SIGNATURE, at(0, 32))?;
                    let status = match signature_ok {
                        Some(true) => epan::CHECKSUM_GOOD,
                        Some(false) => epan::CHECKSUM_BAD,
                        None => epan::CHECKSUM_UNVERIFIED,
                    };
                    generated(tree.uint(&KLAP_SIGNATURE_STATUS, at(0, 32), status)?);
                    if ciphertext_len > 0 {
                        tree.bytes_item(&KLAP_CIPHERTEXT, at(32, ciphertext_len))?;
                    }
                }
            }
            if let Some(v) = version {
                generated(tree.uint(&KLAP_VERSION, none, v)?);
            }
            if let Some(v) = auth {
                generated(tree.string(&KLAP_AUTH, none, v)?);
            }
            if let Some(v) = session {
                generated(tree.string(&KLAP_SESSION, none, v)?);
            }
        }
        WirePlan::Tpap {
            step,
            sub_method,
            seq,
            data_len,
        } => {
            if let Some(v) = sub_method {
                generated(tree.string(&TPAP_SUB_METHOD, none, v)?);
            }
            if let Some(v) = seq {
                generated(tree.int(&TPAP_SEQ, none, clamp_i32(v))?);
            }
            if step == TpapStep::Data && data_len > 0 {
                tree.bytes_item(&TPAP_DATA, at(0, data_len))?;
            }
        }
        WirePlan::Aes {
            method,
            session,
            token,
            error_code,
            encrypted,
            clear_response,
            ssl,
        } => {
            if let Some(v) = method {
                generated(tree.string(&AES_METHOD, none, v)?);
            }
            if let Some(v) = session {
                generated(tree.string(&AES_SESSION, none, v)?);
            }
            if token {
                generated(tree.boolean(&AES_TOKEN, none, true)?);
            }
            if let Some(v) = error_code {
                generated(tree.int(&AES_ERROR_CODE, none, v)?);
            }
            generated(tree.boolean(&AES_ENCRYPTED, none, encrypted)?);
            if clear_response {
                generated(tree.boolean(&AES_CLEAR, none, true)?);
            }
            if let Some(s) = ssl {
                render_ssl_aes(tree, none, s)?;
            }
        }
        WirePlan::Linkie {
            version,
            field,
            text_at,
            b64_len,
            clear,
        } => {
            if let Some(v) = version {
                generated(tree.uint(&LINKIE_VERSION, none, v)?);
            }
            if let Some((name, offset, len)) = field {
                tree.string(&LINKIE_FIELD, at(offset, len), name)?;
            }
            if clear {
                generated(tree.boolean(&LINKIE_CLEAR, at(text_at.0, text_at.1), true)?);
            } else if text_at.1 > 0 {
                tree.uint(&LINKIE_B64_LEN, at(text_at.0, text_at.1), b64_len)?;
            }
        }
    }
    Ok(())
}

/// SslAes's login and header fields (generated: from the JSON and the HTTP headers).
fn render_ssl_aes<'p>(tree: Tree<'p>, none: Span<'p>, s: SslAesPlan<'p>) -> Result<(), Thrown> {
    let generated = |i: Option<Item<'p>>| {
        if let Some(i) = i {
            i.set_generated();
        }
    };
    for (hf, v) in [
        (&SSL_AES_LOGIN, s.login),
        (&SSL_AES_CNONCE, s.cnonce),
        (&SSL_AES_NONCE, s.nonce),
        (&SSL_AES_AUTH, s.auth),
    ] {
        if let Some(v) = v {
            generated(tree.string(hf, none, v)?);
        }
    }
    if let Some(v) = s.start_seq {
        generated(tree.int(&SSL_AES_START_SEQ, none, clamp_i32(v))?);
    }
    if let Some(v) = s.seq {
        generated(tree.int(&SSL_AES_SEQ, none, clamp_i32(v))?);
    }
    if let Some(v) = s.tag {
        generated(tree.string(&SSL_AES_TAG, none, v)?);
        let status = match s.tag_ok {
            Some(true) => epan::CHECKSUM_GOOD,
            Some(false) => epan::CHECKSUM_BAD,
            None => epan::CHECKSUM_UNVERIFIED,
        };
        generated(tree.uint(&SSL_AES_TAG_STATUS, none, status)?);
    }
    Ok(())
}

/// Columns, tree, expert infos and the JSON hand-off of one message. Only plain data and pool
/// memory are alive here. Stops at the first [`Thrown`].
fn render<'p>(
    c: &Call<'p>,
    span: Span<'p>,
    child: Option<Tvb<'p>>,
    plaintext: &[u8],
    plan: Plan<'p>,
) -> Result<(), Thrown> {
    let plain_len = plaintext.len();
    let pinfo = c.pinfo;
    pinfo.claim_columns(c"KASA");
    pinfo.col_append_fenced(Col::Info, c" | ", plan.info);
    // The protocol item always (at the root it is real even in a tree nobody shows: the
    // protocol hierarchy counts it); what is under it only when someone looks (`plan.detailed`).
    let item: Option<Item<'p>> = match c.tree {
        Some(t) => t.protocol(span)?,
        None => None,
    };
    let subtree = match item {
        Some(i) if plan.detailed => {
            title(pinfo.pool(), i, plan.transport, plan.item_text)?;
            i.subtree(&ETT_KASA)?
        }
        _ => None,
    };
    if let Some(tree) = subtree {
        let none = Span {
            tvb: c.tvb,
            offset: 0,
            len: 0,
        };
        let text = match child {
            Some(tvb) => Span {
                tvb,
                offset: 0,
                len: plain_len,
            },
            None => none,
        };
        let generated = |i: Option<Item<'p>>| {
            if let Some(i) = i {
                i.set_generated();
            }
        };
        transport_item(pinfo.pool(), tree, none, plan.transport)?;
        if plan.test_throw
            && let Some(child) = child
        {
            // 16 bytes starting 16 bytes past the end of the plaintext: a bounds error. The
            // marker (a column call, which cannot throw) shows that Rust got control back.
            if let Err(thrown) = tree.unchecked_item(&PLAINTEXT, child, plain_len + 16, 16) {
                pinfo.col_append_fenced(Col::Info, c" ", c"[KASA_TEST_THROW caught]");
                return Err(thrown);
            }
        }
        render_wire(tree, c.tvb, plan.wire)?;
        let request = plan.direction == Direction::Request;
        generated(tree.boolean(if request { &REQUEST } else { &RESPONSE }, none, true)?);
        if plan.undecodable {
            let header = if matches!(
                plan.wire,
                WirePlan::Xor {
                    len_header: Some(_)
                }
            ) {
                HEADER_LEN
            } else {
                0
            };
            tree.bytes_item(
                &DATA,
                Span {
                    tvb: span.tvb,
                    offset: span.offset + header,
                    len: span.len.saturating_sub(header),
                },
            )?;
        } else if plain_len > 0 {
            tree.string(&PLAINTEXT, text, plan.plaintext)?;
        }
        // One subtree per method: its result code and message, and the device fields when
        // they are read from its result (`system.get_sysinfo`, `get_device_info`).
        let device_in = plan
            .device
            .filter(|d| !d.generated)
            .and_then(|_| plan.methods.iter().position(|m| m.carries_device));
        for (i, m) in plan.methods.iter().enumerate() {
            let item = tree.string(&METHOD, text, m.name)?;
            let sub = match item {
                Some(item) => {
                    if !m.result_text.is_empty() {
                        item.append_text(m.result_text)?;
                    }
                    item.subtree(&ETT_METHOD)?
                }
                None => None,
            }
            .unwrap_or(tree);
            if let Some(code) = m.err_code {
                sub.int(&ERR_CODE, text, code)?;
            }
            if let Some(msg) = m.err_msg {
                sub.string(&ERR_MSG, text, msg)?;
            }
            if device_in == Some(i)
                && let Some(d) = plan.device
            {
                render_device(sub, text, d)?;
            }
        }
        if let Some(s) = plan.context_source {
            tree.string(&CONTEXT_SOURCE, text, s)?;
        }
        for id in plan.child_ids {
            tree.string(&CONTEXT_CHILD_ID, text, id)?;
        }
        if let Some(d) = plan.device
            && device_in.is_none()
        {
            render_device(tree, if d.generated { none } else { text }, d)?;
        }
        for &f in plan.response_in {
            generated(tree.uint(&RESPONSE_IN, none, f)?);
        }
        if let Some((f, t)) = plan.response_to {
            generated(tree.uint(&RESPONSE_TO, none, f)?);
            generated(tree.time(&TIME, none, t)?);
        }
        if let Some(f) = plan.duplicate_of {
            generated(tree.uint(&DUPLICATE, none, f)?);
        }
    }
    for p in plan.problems {
        pinfo.expert(item, p.ei, p.text)?;
    }
    for f in plan.findings {
        // Under its own field where the tree is built, else under the protocol item.
        let at = match subtree {
            Some(tree) => {
                let none = Span {
                    tvb: c.tvb,
                    offset: 0,
                    len: 0,
                };
                let i = tree.string(f.hf, none, f.text)?;
                if let Some(i) = i {
                    i.set_generated();
                }
                i
            }
            None => None,
        };
        pinfo.expert(at.or(item), f.ei, f.text)?;
    }
    if let Some(f) = plan.duplicate_of {
        let text = pinfo.pool().format(|w| {
            write!(w, "Copy of the datagram in frame {f} (mirror port or any-interface capture): not paired")
        });
        pinfo.expert(item, &EI_DUPLICATE, text)?;
    }
    if plan.json_ok
        && let Some(child) = child
        && let Some(root) = c.tree
        && json::wanted(c.tree)
    {
        // Inside the Kasa layer, as part of the message (a subtree made for it when the
        // plugin's own items were not wanted, e.g. only a `json.*` filter refers to it).
        let parent = match (subtree, item) {
            (Some(t), _) => t,
            (None, Some(i)) => i.subtree(&ETT_KASA)?.unwrap_or(root),
            (None, None) => root,
        };
        // Last: whatever the JSON dissector throws is rethrown as soon as we return.
        json::show(c, parent, child, plaintext)?;
    }
    Ok(())
}

/// The layer's title: what the frame is and how it travelled, "TP-Link Kasa Smart Home (XOR
/// over TCP), Request system.get_sysinfo". `what` starts with ", ".
fn title<'p>(pool: Pool<'p>, item: Item<'p>, t: Transport, what: &CStr) -> Result<(), Thrown> {
    let label = transport_label(t).to_str().unwrap_or("");
    item.append_text(pool.format(|w| write!(w, " ({label})")))?;
    item.append_text(what)
}

/// The generated `kasa.transport` item: its value the filter name (`xor-tcp`), its label in
/// words ("Transport: XOR over TCP").
pub fn transport_item<'p>(
    pool: Pool<'p>,
    tree: Tree<'p>,
    none: Span<'p>,
    t: Transport,
) -> Result<(), Thrown> {
    if let Some(i) = tree.string(&TRANSPORT, none, transport_name(t))? {
        let label = transport_label(t).to_str().unwrap_or("");
        i.set_text(pool.format(|w| write!(w, "Transport: {label}")))?;
        i.set_generated();
    }
    Ok(())
}

/// The device fields (generated when they come from an earlier frame of the device).
fn render_device<'p>(tree: Tree<'p>, at: Span<'p>, d: DevicePlan<'p>) -> Result<(), Thrown> {
    for (hf, v) in [
        (&DEVICE_MODEL, d.model),
        (&DEVICE_ALIAS, d.alias),
        (&DEVICE_MAC, d.mac),
        (&DEVICE_ID, d.id),
        (&DEVICE_SW_VER, d.sw_ver),
        (&DEVICE_HW_VER, d.hw_ver),
        (&DEVICE_TYPE, d.kind),
    ] {
        if let Some(v) = v
            && let Some(i) = tree.string(hf, at, v)?
            && d.generated
        {
            i.set_generated();
        }
    }
    Ok(())
}

/// A PDU that is no message (a header above the cap, an empty zero-length message).
pub fn problem_only<'p>(
    c: &Call<'p>,
    span: Span<'p>,
    via: Via,
    meta: Meta,
    framing: Framing,
) -> Result<(), Thrown> {
    let pinfo = c.pinfo;
    let pool = pinfo.pool();
    let seen = seen(pinfo, via, meta.transport());
    let visited = pinfo.visited();
    let texts = catch_unwind(AssertUnwindSafe(|| {
        let p = framing.problem()?;
        let shown = state::with(|s| {
            if visited {
                s.orphan_shown(seen.id).unwrap_or(false)
            } else {
                s.orphan(&seen)
            }
        });
        if !shown {
            return None;
        }
        let text = p.to_string();
        Some((
            expert_for(&p),
            pool.cstr(&text),
            pool.cstr(&format!("Malformed: {text}")),
        ))
    }));
    let Ok(Some((ei, text, info))) = texts else {
        return Ok(());
    };
    pinfo.claim_columns(c"KASA");
    pinfo.col_append_fenced(Col::Info, c" | ", info);
    let item = match c.tree {
        Some(t) => t.protocol(span)?,
        None => None,
    };
    let subtree = match item {
        Some(i) => {
            title(
                pool,
                i,
                meta.transport(),
                pool.format(|w| write!(w, ", {}", info.to_string_lossy())),
            )?;
            i.subtree(&ETT_KASA)?
        }
        None => None,
    };
    // No `kasa.transport` item: that marks a message (the title names the transport).
    if let (Some(t), Some(h)) = (subtree, meta.len_header()) {
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
    pinfo.expert(item, ei, text)
}

/// A panic escaped an entry point's inner guards: say so on the packet.
pub fn report_panic(pinfo: Pinfo<'_>) {
    let text = {
        let t = epan::internal_error_text();
        pinfo.pool().cstr(&t)
    };
    let _ = pinfo.expert(None, &EI_INTERNAL_ERROR, text);
}
