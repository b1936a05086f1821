//! KLAP and AES in Wireshark: an HTTP body that Wireshark's HTTP dissector hands over (the
//! `media_type` entries and the `http` heuristic, see [`crate::epan`]'s HTTP access) becomes an
//! [`HttpView`] for the decoder's session, which says whether it is KLAP or AES, which step it
//! is, and decrypts it when the user's secrets allow; the result goes through the same
//! pipeline as every message ([`crate::render::show`]). Nothing here parses KLAP or AES.

use crate::epan::{Call, HttpCtx, HttpKind, Span, Via};
use crate::render::{self, Input};
use kasa_decoder::conv::HttpView;

/// One HTTP body: whether it was KLAP or AES (shown), or stays HTTP's.
pub fn dissect_body(c: &Call<'_>, ctx: &HttpCtx<'_>) -> bool {
    let request = match ctx.kind {
        HttpKind::Request => match ctx.uri {
            // Only `/app…` can be KLAP or AES: other bodies cost nothing more.
            Some(uri) if uri.starts_with("/app") => Some(("POST", uri)),
            _ => return false,
        },
        HttpKind::Response => None,
    };
    let len = c.tvb.captured_len();
    let Some(body) = c.tvb.copy(c.pinfo.pool(), 0, len) else {
        return false;
    };
    let view = HttpView {
        request,
        status: ctx.status,
        answers: ctx.req_frame.map(u64::from),
        cookie: ctx.cookie,
        set_cookie: ctx.set_cookie,
        body,
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len,
    };
    // On Err epan threw while showing it: rethrown once we return; it was ours.
    !matches!(
        render::show(c, span, Via::Conversation, Input::Http { view }),
        Ok(false)
    )
}
