//! TPAP in Wireshark: a TCP connection to the endpoint a TDP reply announced as TPAP (its
//! `tpap.port`, 4433 by default) is marked `kasa.transport == "tpap"` on every frame, from its
//! first SYN. The TLS records stay TLS's: the mark is a postdissector's item beside them (TPAP's
//! SPAKE2+ session keys cannot be recovered passively; when Wireshark has the TLS secrets, the
//! login steps inside are shown by the HTTP path, [`crate::http`]). The decision — which
//! endpoints discovery announced — is the decoder's session's.

use crate::epan::{Call, Span};
use crate::fields::{ETT_KASA, TRANSPORT};
use crate::state;

/// Every frame: the mark, on a TCP frame to or from an announced TPAP endpoint.
pub fn postdissect(c: &Call<'_>) {
    let Some(tree) = c.tree else {
        return;
    };
    let pinfo = c.pinfo;
    if !pinfo.is_tcp() {
        return;
    }
    let (src, dst) = (pinfo.src(), pinfo.dst());
    if !state::with(|s| s.is_tpap(src) || s.is_tpap(dst)) {
        return;
    }
    let none = Span {
        tvb: c.tvb,
        offset: 0,
        len: 0,
    };
    // On Err epan threw: the trampoline rethrows once we return.
    let _ = (|| {
        let Some(item) = tree.protocol(none)? else {
            return Ok(());
        };
        item.append_text(c", TPAP connection (to the port a TDP reply announced)")?;
        if let Some(sub) = item.subtree(&ETT_KASA)? {
            if let Some(i) = sub.string(&TRANSPORT, none, c"tpap")? {
                i.set_generated();
            }
        }
        Ok::<(), crate::epan::Thrown>(())
    })();
}
