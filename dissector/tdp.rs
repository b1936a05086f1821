//! TDP discovery in Wireshark (UDP 20002 and 20004, and the UDP heuristic elsewhere): the
//! datagram goes to the decoder's [`datagram`] (header, CRC, size, discovery hints), then
//! through the same pipeline as every message ([`crate::render::show`]). The JSON body is
//! clear text: it is shown where it is in the datagram, not as a decrypted source.

use crate::epan::{Call, Span, Via};
use crate::render::{self, Input};
use core::ffi::c_int;
use kasa_decoder::conv::stream::datagram;
use kasa_decoder::msg::Transport;
use kasa_decoder::wire::tdp;

/// The standard TDP ports.
pub const PORTS: [u16; 2] = [20002, 20004];

/// Whether a UDP datagram is TDP: it came through a TDP port, or it passes the decoder's strong
/// test (header fields consistent, CRC verifies).
pub fn is_tdp(c: &Call<'_>, via: Via) -> bool {
    if let Via::Port(m) = via
        && PORTS.iter().any(|&p| u32::from(p) == m)
    {
        return true;
    }
    let len = c.tvb.captured_len();
    len >= tdp::HEADER_LEN
        && c.tvb
            .copy(c.pinfo.pool(), 0, len)
            .is_some_and(|b| tdp::heuristic(b))
}

/// One TDP datagram. Returns 0 when it is not shown.
pub fn dissect_udp(c: &Call<'_>, via: Via) -> c_int {
    let len = c.tvb.captured_len();
    let pool = c.pinfo.pool();
    let Some(bytes) = c.tvb.copy(pool, 0, len) else {
        return 0;
    };
    let missing = c.tvb.reported_len().saturating_sub(len);
    let Some(raw) = datagram(
        Transport::Tdp,
        bytes,
        missing,
        c.pinfo.num().into(),
        c.pinfo.time(),
    ) else {
        return 0;
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len,
    };
    let input = Input::Message {
        meta: raw.meta,
        plaintext: pool.slice(&raw.plaintext),
        problems: raw.problems,
        decrypted: false,
        text_at: tdp::HEADER_LEN,
    };
    match render::show(c, span, via, input) {
        Ok(false) => 0,
        Ok(true) | Err(_) => len as c_int,
    }
}
