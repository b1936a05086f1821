//! Connections to the TLS endpoints a TDP reply announced: TPAP (its `tpap.port`, 4433 by
//! default), KLAP or AES over HTTPS (`is_support_https`: SslAes on 443, KLAP on 4433), a Kasa
//! camera's Linkie (10443). Every frame of such a TCP connection, from its first SYN, is marked
//! `kasa.transport` with the announced transport. The TLS records stay TLS's: the mark is a
//! postdissector's item beside them. Without the TLS secrets this is all that can be known of
//! such a connection; with them the messages inside are shown by the HTTP path
//! ([`crate::http`]) — except TPAP's data frames, whose SPAKE2+ session keys cannot be recovered
//! passively. The decision — which endpoints discovery announced — is the decoder's session's.

use crate::epan::{Call, Span};
use crate::fields::ETT_KASA;
use crate::state;

/// Every frame: the mark, on a TCP frame to or from an announced endpoint.
pub fn postdissect(c: &Call<'_>) {
    let Some(tree) = c.tree else {
        return;
    };
    let pinfo = c.pinfo;
    if !pinfo.is_tcp() {
        return;
    }
    let (src, dst) = (pinfo.src(), pinfo.dst());
    let Some(transport) = state::with(|s| s.announced(dst).or_else(|| s.announced(src))) else {
        return;
    };
    let none = Span {
        tvb: c.tvb,
        offset: 0,
        len: 0,
    };
    let text = pinfo.pool().cstr(&format!(
        ", {} connection (to the endpoint a TDP reply announced)",
        transport.as_str().to_uppercase()
    ));
    // On Err epan threw: the trampoline rethrows once we return.
    let _ = (|| {
        let Some(item) = tree.protocol(none)? else {
            return Ok(());
        };
        item.append_text(text)?;
        if let Some(sub) = item.subtree(&ETT_KASA)? {
            crate::render::transport_item(pinfo.pool(), sub, none, transport)?;
        }
        Ok::<(), crate::epan::Thrown>(())
    })();
}
