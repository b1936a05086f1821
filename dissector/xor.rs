//! The XOR transport in Wireshark: TCP through `tcp_dissect_pdus` (length header, with the
//! decoder's cut rule for wrong headers), UDP one datagram per message, and the two heuristics.
//! Each hands a [`Wire`] to the pipeline in [`crate::render`]; nothing here decides direction,
//! admission or pairing (the decoder crate's session does).

use crate::epan::{Call, PduCtx, Pinfo, Span, Tvb, Via};
use crate::register::{TCP_CONV_HANDLE, UDP_CONV_HANDLE, max_message};
use crate::render::{self, Framing, Wire};
use crate::state;
use core::ffi::c_int;
use kasa_decoder::conv::Admission;
use kasa_decoder::msg::Meta;
use kasa_decoder::wire::xor::{self, HEADER_LEN, Header, Start};

/// The fixed part `tcp_dissect_pdus` reads before asking for the PDU length.
pub const FIXED_LEN: usize = HEADER_LEN;

/// The length callback of `tcp_dissect_pdus` (inside TLS: [`crate::cloud::pdu_len`]). Where the bytes are at hand, the decoder's cut
/// rule decides where the message ends (a client that counted characters, not UTF-8 bytes,
/// writes a wrong header); what it learned (the plaintext, the mismatch) is kept for the
/// dissect call that follows. Bytes that start no frame — a header above the cap, a plausible
/// length without the first ciphertext byte of a JSON object — run to the next plausible header
/// in the segment ([`xor::next_header`], as the decoder's framer resynchronises), or to its end:
/// nothing waits for bytes that will never come. A zero header claims the rest of the segment
/// (`dissect_tcp` has already asked for everything up to FIN).
pub fn pdu_len(pinfo: Pinfo<'_>, tvb: Tvb<'_>, offset: usize, ctx: PduCtx) -> usize {
    if ctx.via == Via::Tls {
        return crate::cloud::pdu_len(pinfo, tvb, offset);
    }
    let rest = tvb.remaining(offset);
    let mut head = [0u8; HEADER_LEN + 1];
    let n = head.len().min(rest);
    if !tvb.copy_into(offset, &mut head[..n]) {
        return rest;
    }
    let Some(start) = Start::parse(&head[..n], max_message()) else {
        return rest;
    };
    let skip_from = match start {
        Start::Message { len } => {
            let announced = HEADER_LEN + len as usize;
            if rest < announced && !may_end_early(tvb, offset, rest) {
                // Fewer bytes than announced that cannot hold a whole JSON text: wait.
                return announced;
            }
            let at_hand = rest.min(2 * announced + 64);
            let Some(bytes) = tvb.copy(pinfo.pool(), offset, at_hand) else {
                return announced;
            };
            return match xor::frame_cut(bytes, max_message()) {
                Some(cut) => {
                    render::remember_cut(pinfo, bytes, &cut);
                    cut.total
                }
                None => announced,
            };
        }
        Start::ZeroLength => return rest.max(HEADER_LEN),
        Start::AboveCap { .. } => HEADER_LEN,
        Start::NotAnObject => 1,
    };
    // Not a frame: skip to the next one that is plausible.
    tvb.copy(pinfo.pool(), offset, rest)
        .and_then(|bytes| xor::next_header(&bytes[skip_from..], max_message()))
        .map_or(rest, |at| skip_from + at)
        .max(HEADER_LEN.min(rest))
}

/// Whether the `rest` bytes at `offset` (fewer than the header announces) may already end a
/// JSON text ([`xor::may_end_json`] on their last two bytes), so that a message arriving in many
/// segments is not decrypted at every one of them.
fn may_end_early(tvb: Tvb<'_>, offset: usize, rest: usize) -> bool {
    let mut tail = [0u8; 2];
    rest >= HEADER_LEN + 2 && tvb.copy_into(offset + rest - 2, &mut tail) && xor::may_end_json(tail)
}

/// TCP from the port table, Decode As or a claimed conversation.
pub fn dissect_tcp(c: &Call<'_>, ctx: PduCtx) -> c_int {
    let len = c.tvb.captured_len();
    let conv = c.pinfo.conversation().into();
    if ctx.via == Via::Conversation && state::with(|s| s.admission(conv)) == Admission::Rejected {
        // The heuristic's claim proved wrong: leave the conversation to others.
        return 0;
    }
    if matches!(ctx.via, Via::Port(_)) {
        // Clear text on the port (HTTP to 9999, a banner) is another protocol's: returning 0
        // lets TCP offer it to the other dissectors (HTTP's heuristic). The session judges the
        // conversation's first bytes once and keeps the answer.
        let mut prefix = [0u8; HEADER_LEN];
        let n = len.min(HEADER_LEN);
        if c.tvb.copy_into(0, &mut prefix[..n])
            && state::with(|s| s.clear_text_stream(conv, &prefix[..n], max_message()))
        {
            return 0;
        }
    }
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
    // On Err epan threw: the shim's trampoline rethrows once we return, whatever we return.
    let _ = crate::epan::tcp_dissect_pdus(c, FIXED_LEN, ctx);
    len as c_int
}

/// One PDU (header + ciphertext) as cut by `tcp_dissect_pdus`.
pub fn dissect_tcp_pdu(c: &Call<'_>, ctx: PduCtx) -> c_int {
    if ctx.via == Via::Tls {
        return crate::cloud::dissect_pdu(c);
    }
    let total = c.tvb.captured_len();
    let mut head = [0u8; HEADER_LEN + 1];
    let n = head.len().min(total);
    let start = c
        .tvb
        .copy_into(0, &mut head[..n])
        .then(|| Start::parse(&head[..n], max_message()));
    let Some(Some(start)) = start else {
        return total as c_int;
    };
    let header = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let have = total - HEADER_LEN;
    let cut = render::recall_cut(c.pinfo, c.tvb, total);
    let (framing, cipher_len) = match start {
        // Bytes that start no frame, up to the next plausible header (see pdu_len).
        Start::NotAnObject => (Framing::Garbage { bytes: total }, 0),
        // pdu_len cut this PDU where the JSON ends, not where the header said.
        Start::Message { len } if have != len as usize && cut.is_some_and(|c| c.mismatch) => (
            Framing::Mismatch {
                header: len,
                actual: have,
            },
            have,
        ),
        Start::Message { len } if have < len as usize => (
            Framing::Truncated {
                expected: Some(len as usize),
                got: have,
            },
            have,
        ),
        Start::Message { len } => (Framing::Whole, len as usize),
        Start::ZeroLength => (Framing::ZeroLength, have),
        Start::AboveCap { len, cap } => (Framing::AboveCap { len, cap }, 0),
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len: total,
    };
    let meta = Meta::XorTcp { len_header: header };
    if cipher_len == 0 {
        // On Err (epan threw) the trampoline rethrows once we return.
        let _ = render::problem_only(c, span, ctx.via, meta, framing);
    } else {
        let w = Wire {
            meta,
            via: ctx.via,
            cipher_at: HEADER_LEN,
            cipher_len,
            framing,
            plaintext: cut.and_then(|c| c.plaintext.filter(|p| p.len() == cipher_len)),
        };
        let _ = render::dissect_message(c, span, w);
    }
    total as c_int
}

/// One UDP datagram: one message. Returns 0 when it is not shown (a datagram on trial that did
/// not parse).
pub fn dissect_udp(c: &Call<'_>, via: Via) -> c_int {
    let len = c.tvb.captured_len();
    if len == 0 {
        return 0;
    }
    if crate::tdp::is_tdp(c, via) {
        return crate::tdp::dissect_udp(c, via);
    }
    // Clear text (another protocol's probe sent to the port) is left to other dissectors.
    let mut head = [0u8; 4];
    if c.tvb.copy_into(0, &mut head[..len.min(4)]) && xor::clear_datagram(&head[..len.min(4)]) {
        return 0;
    }
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
    let w = Wire {
        meta: Meta::XorUdp,
        via,
        cipher_at: 0,
        cipher_len: len,
        framing,
        plaintext: None,
    };
    match render::dissect_message(c, span, w) {
        Ok(false) => 0,
        // Shown, or epan threw while showing it (rethrown once we return).
        Ok(true) | Err(_) => len as c_int,
    }
}

/// TCP heuristic: the cheap 6-byte test of the decoder; the session puts the conversation on
/// probation (its first message must parse) or rejects it for good.
pub fn heur_tcp(c: &Call<'_>, ctx: PduCtx) -> bool {
    let mut prefix = [0u8; 6];
    let passed = c.tvb.copy_into(0, &mut prefix) && xor::tcp_heuristic(&prefix, max_message());
    let conv = c.pinfo.conversation().into();
    if !state::with(|s| s.claim_stream(conv, passed)) {
        return false;
    }
    c.pinfo.set_conversation_dissector(&TCP_CONV_HANDLE);
    dissect_tcp(c, ctx);
    true
}

/// UDP heuristic: the cheap 2-byte test, then the session judges the datagram (it must parse
/// as JSON until its flow is confirmed).
pub fn heur_udp(c: &Call<'_>) -> bool {
    let mut prefix = [0u8; 2];
    let tdp = crate::tdp::is_tdp(c, Via::Conversation);
    if !tdp && (!c.tvb.copy_into(0, &mut prefix) || !xor::udp_heuristic(&prefix)) {
        return false;
    }
    if dissect_udp(c, Via::Conversation) == 0 {
        return false;
    }
    c.pinfo.set_conversation_dissector(&UDP_CONV_HANDLE);
    true
}
