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

use crate::epan::{self, Call, Col, Item, PduMemo, Pinfo, Pool, Span, Thrown, Tvb, Via};
use crate::fields::*;
use crate::register::{JSON_HANDLE, TCP_PORTS, UDP_PORTS, json_tree};
use crate::state;
use core::ffi::CStr;
use kasa_decoder::conv::{Found, MessageId, Record, Seen};
use kasa_decoder::msg::{self, Body, Direction, Meta, Problem, Transport};
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
#[derive(Debug, Clone, Copy)]
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
    let pool = pinfo.pool();
    let mut head = [0u8; 8];
    let n = head.len().min(bytes.len());
    head[..n].copy_from_slice(&bytes[..n]);
    pinfo.set_pdu_memo(PduMemo {
        total: cut.total,
        head,
        mismatch: cut.mismatch.is_some(),
        plaintext: cut.plaintext.as_deref().map(|p| pool.slice(p)),
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
    len_header: Option<u32>,
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
    problems: &'p [ProblemPlan<'p>],
    json_ok: bool,
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

/// Dissects one message; returns whether it is shown (the session may reject it: a heuristic
/// claim proved wrong, a datagram on trial that is not JSON), or that epan threw.
pub fn dissect_message<'p>(c: &Call<'p>, span: Span<'p>, w: Wire<'p>) -> Result<bool, Thrown> {
    let pinfo = c.pinfo;
    let pool = pinfo.pool();
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
    let seen = seen(pinfo, w.via, w.meta.transport());
    let visited = pinfo.visited();
    let want_tree = c.tree.is_some();
    let plan = catch_unwind(AssertUnwindSafe(|| {
        plan(pool, w, seen, visited, plaintext, want_tree)
    }));
    match plan {
        Ok(None) => Ok(false),
        Ok(Some(plan)) => {
            let child = c.tvb.child(plaintext)?;
            pinfo.add_data_source(child, c"Decrypted Kasa");
            render(c, span, child, plaintext.len(), plan)?;
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

/// The session's decision: made on the first pass, read back on a frame seen before (a frame
/// seen before whose message the session never decided — the same bytes offered again by
/// another dissector table in the same pass, e.g. the UDP heuristics after the conversation's
/// dissector declined them — is not shown: deciding it now would change what the first pass
/// showed).
fn decide(seen: &Seen, visited: bool, meta: &Meta, body: &Body) -> (Option<Record>, Vec<u32>) {
    state::with(|s| {
        let record = if visited {
            s.record(seen.id).flatten().cloned()
        } else {
            s.message(seen, meta, body)
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

/// `want_tree`: whether the tree parts are needed (summary runs pass a null tree).
fn plan<'p>(
    pool: Pool<'p>,
    w: Wire<'_>,
    seen: Seen,
    visited: bool,
    plaintext: &[u8],
    want_tree: bool,
) -> Option<Plan<'p>> {
    if let Some(t) = panic_trigger()
        && plaintext.windows(t.len()).any(|win| win == t)
    {
        panic!("KASA_TEST_PANIC trigger found in frame {}", seen.id.frame);
    }
    let test_throw =
        throw_trigger().is_some_and(|t| plaintext.windows(t.len()).any(|win| win == t));
    let mut problems: Vec<Problem> = w.framing.problem().into_iter().collect();
    let body = Body::analyse(plaintext, &mut problems);
    let (record, response_in) = decide(&seen, visited, &w.meta, &body);
    let record = record?;

    // The protocol item's text is ", " + the Info text: one string, one copy into the pool.
    let mut item_text = String::from(", ");
    let _ = msg::summary(&mut item_text, record.direction, &body);
    let item_text = pool.cstr(&item_text);
    let info = CStr::from_bytes_with_nul(&item_text.to_bytes_with_nul()[2..]).unwrap_or(c"");
    let problems: Vec<ProblemPlan<'p>> = problems
        .iter()
        .map(|p| ProblemPlan {
            ei: expert_for(p),
            text: pool.cstr(&p.to_string()),
        })
        .collect();
    let mut plan = Plan {
        transport: w.meta.transport(),
        len_header: w.meta.len_header(),
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
        problems: pool.slice(&problems),
        json_ok: body.json_ok,
        test_throw,
    };
    if !want_tree {
        return Some(plan);
    }
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
    plan.device = body
        .device
        .as_ref()
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
    plan.item_text = item_text;
    plan.plaintext = pool.cstr(&msg::display_text(plaintext));
    plan.methods = pool.slice(&methods);
    plan.context_source = opt(&body.context.source);
    plan.child_ids = pool.slice(&child_ids);
    plan.response_in = pool.slice(&response_in);
    plan.response_to = record.response_to.map(|l| (l.request.frame as u32, l.time));
    Some(plan)
}

/// Columns, tree, expert infos and the JSON hand-off of one message. Only plain data and pool
/// memory are alive here. Stops at the first [`Thrown`].
fn render<'p>(
    c: &Call<'p>,
    span: Span<'p>,
    child: Tvb<'p>,
    plain_len: usize,
    plan: Plan<'p>,
) -> Result<(), Thrown> {
    let pinfo = c.pinfo;
    pinfo.claim_columns(c"KASA");
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
        generated(tree.string(&TRANSPORT, none, transport_name(plan.transport))?);
        if plan.test_throw {
            // 16 bytes starting 16 bytes past the end of the plaintext: a bounds error. The
            // marker (a column call, which cannot throw) shows that Rust got control back.
            if let Err(thrown) = tree.unchecked_item(&PLAINTEXT, child, plain_len + 16, 16) {
                pinfo.col_append_fenced(Col::Info, c" ", c"[KASA_TEST_THROW caught]");
                return Err(thrown);
            }
        }
        if let Some(h) = plan.len_header {
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
        tree.string(&PLAINTEXT, text, plan.plaintext)?;
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
    if json_tree() && plan.json_ok {
        // Last: whatever JSON throws is rethrown as soon as we return.
        pinfo.call_protected(&JSON_HANDLE, child, c.tree)?;
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
        Some(i) => i.subtree(&ETT_KASA)?,
        None => None,
    };
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
