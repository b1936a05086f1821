//! HTTP bodies: KLAP, the AES transport, SslAes and Linkie (the last two inside TLS that
//! Wireshark decrypted) ride inside HTTP/1.x POST bodies. HTTP hands each
//! body over with an [`HttpCtx`] (see `epan/http.rs` for the ways in and what each Wireshark
//! version tells); this module decides what the plugin does with it.
//!
//! The body becomes an [`HttpView`] for the decoder's session, which says whether it is KLAP or
//! AES (or SslAes, Linkie, TPAP), which step it is, and decrypts it when the user's secrets
//! allow; the result goes through the same pipeline as every message ([`crate::render::show`]).
//! Nothing here parses a transport. A body that is none of them is not taken (returns `false`:
//! it goes back to `json`, `data`, `urlencoded-form`, `data-text-lines` or the next heuristic,
//! so other HTTP shows exactly as without the plugin).
//!
//! In the test probe mode, with `KASA_TEST_HTTP_PROBE` set (read once), it takes every body
//! and adds one
//! `kasa.http.probe` item saying what it was handed ([`probe_line`]); with
//! `KASA_TEST_SECRETS_PROBE` also set, a second one saying what the secrets accessors return
//! ([`secrets_line`]: counts, usernames and lengths, never a password or key).

use crate::epan::{Call, HttpCtx, HttpKind, Span, Thrown, Via};
use crate::fields::{ETT_KASA, HTTP_PROBE};
use crate::render::{self, Input};
use crate::{secrets, state};
use kasa_decoder::conv::HttpView;
use kasa_decoder::wire::http::is_kasa_target;
use std::fmt::Write;
use std::sync::OnceLock;

/// Whether the plugin takes this body (and has dissected it).
pub fn dissect_body(c: &Call<'_>, ctx: &HttpCtx<'_>) -> bool {
    if probe_mode() {
        // On Err epan threw: the trampoline rethrows once we return, whatever we return.
        let _ = probe(c, ctx);
        return true;
    }
    let request = match ctx.kind {
        HttpKind::Request => match ctx.uri {
            // Only `/app…` can be KLAP or AES, `/` and `/stok=…/ds` SslAes, `/data/LINKIE2.json`
            // Linkie, and TPAP goes to an endpoint discovery announced: other bodies cost
            // nothing more.
            Some(uri) if is_kasa_target(uri) || state::with(|s| s.is_tpap(c.pinfo.dst())) => {
                Some(("POST", uri))
            }
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
        seq: ctx.seq,
        tapo_tag: ctx.tapo_tag,
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

/// `KASA_TEST_HTTP_PROBE` is set.
fn probe_mode() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| std::env::var_os("KASA_TEST_HTTP_PROBE").is_some())
}

/// `KASA_TEST_SECRETS_PROBE` is set (with `KASA_TEST_HTTP_PROBE`).
fn secrets_probe_mode() -> bool {
    static PROBE: OnceLock<bool> = OnceLock::new();
    *PROBE.get_or_init(|| std::env::var_os("KASA_TEST_SECRETS_PROBE").is_some())
}

/// What the secrets accessors return, without a secret:
///
/// `kasa secrets: credentials=2 usernames=a,user@example.com password_lengths=1,6 aes_keys=1 rsa_private_key=/k.pem generation=5`
pub fn secrets_line() -> String {
    let creds = secrets::credentials();
    let join = |v: Vec<String>| v.join(",");
    format!(
        "kasa secrets: credentials={} usernames={} password_lengths={} aes_keys={} rsa_private_key={} generation={}",
        creds.len(),
        join(creds.iter().map(|(u, _)| u.clone()).collect()),
        join(creds.iter().map(|(_, p)| p.len().to_string()).collect()),
        secrets::aes_keys().len(),
        secrets::rsa_key_path().unwrap_or_default(),
        secrets::secrets_generation()
    )
}

/// The probe's text for a body of `len` bytes: every field of the context, empty where `None`:
///
/// `kasa http: kind=request uri=/app/request?seq=5 req_frame= status= cookie=TP_SESSIONID=abc set_cookie= content_type=application/octet-stream len=48`
pub fn probe_line(ctx: &HttpCtx<'_>, len: usize) -> String {
    let kind = match ctx.kind {
        HttpKind::Request => "request",
        HttpKind::Response => "response",
    };
    let mut s = format!("kasa http: kind={kind} uri={}", ctx.uri.unwrap_or(""));
    let _ = write!(s, " req_frame=");
    if let Some(f) = ctx.req_frame {
        let _ = write!(s, "{f}");
    }
    let _ = write!(s, " status=");
    if let Some(st) = ctx.status {
        let _ = write!(s, "{st}");
    }
    let _ = write!(
        s,
        " cookie={} set_cookie={} content_type={} len={len}",
        ctx.cookie.unwrap_or(""),
        ctx.set_cookie.unwrap_or(""),
        ctx.content_type.unwrap_or("")
    );
    s
}

/// The kasa protocol item over the body with the probe's text under it.
fn probe(c: &Call<'_>, ctx: &HttpCtx<'_>) -> Result<(), Thrown> {
    let len = c.tvb.captured_len();
    let text = {
        let line = probe_line(ctx, len);
        c.pinfo.pool().cstr(&line)
    };
    let secrets_text = secrets_probe_mode().then(|| {
        let line = secrets_line();
        c.pinfo.pool().cstr(&line)
    });
    let Some(tree) = c.tree else {
        return Ok(());
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len,
    };
    let sub = match tree.protocol(span)? {
        Some(item) => item.subtree(&ETT_KASA)?.unwrap_or(tree),
        None => tree,
    };
    sub.string(&HTTP_PROBE, span, text)?;
    if let Some(t) = secrets_text {
        sub.string(&HTTP_PROBE, span, t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_line_names_every_field_and_leaves_unknowns_empty() {
        let request = HttpCtx {
            kind: HttpKind::Request,
            uri: Some("/app/request?seq=5"),
            req_frame: None,
            status: None,
            cookie: Some("TP_SESSIONID=abc"),
            set_cookie: None,
            content_type: None,
            seq: None,
            tapo_tag: None,
        };
        assert_eq!(
            probe_line(&request, 48),
            "kasa http: kind=request uri=/app/request?seq=5 req_frame= status= \
             cookie=TP_SESSIONID=abc set_cookie= content_type= len=48"
        );
        let response = HttpCtx {
            kind: HttpKind::Response,
            uri: None,
            req_frame: Some(4),
            status: Some(200),
            cookie: None,
            set_cookie: Some("TP_SESSIONID=ABCD;TIMEOUT=86400"),
            content_type: Some("application/octet-stream"),
            seq: None,
            tapo_tag: None,
        };
        assert_eq!(
            probe_line(&response, 0),
            "kasa http: kind=response uri= req_frame=4 status=200 cookie= \
             set_cookie=TP_SESSIONID=ABCD;TIMEOUT=86400 content_type=application/octet-stream len=0"
        );
    }
}
