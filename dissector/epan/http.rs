//! HTTP bodies (WIRESHARK.md §13): the plugin's hooks into HTTP/1.x and the safe view of what
//! HTTP tells about the message whose body it hands over.
//!
//! How a body reaches the plugin:
//!
//! * **`media_type` table**, for `application/json`, `application/octet-stream`,
//!   `application/x-www-form-urlencoded` (Linkie's requests), `text/html` and `text/plain` (what
//!   a Linkie reply may be labelled): one handle per type replaces the former owner (`json`,
//!   `data`, `urlencoded-form`, `data-text-lines`). Its protocol is a helper protocol
//!   ("in name only") under HTTP, so that it adds no layer to the frame and follows HTTP's
//!   enabled state, not kasa's. It runs the body hook through the kasa-protocol handle below
//!   (so `kasa` joins the frame's layers only when the hook takes the body, and a disabled
//!   kasa protocol is never asked), and when the hook says no, hands the body to the former
//!   owner with HTTP's own `data`, returning what it returns: the display is then exactly what
//!   it was without the plugin, with no "body subdissector failed" note.
//! * **`http` heuristics** (enabled by default), for bodies with another or no Content-Type.
//!
//! Both end in [`Callbacks::dissect_http_body`](super::Callbacks) with an [`HttpCtx`].
//!
//! What each version gives (the C shim reads it, `kasa_shim_http_info`, compiled against that
//! version's headers). Everything is read on the first, sequential pass and kept per frame and
//! body for later passes (`tshark -2`, GUI clicks): 4.0's conversation and 4.6's header map
//! describe other messages by then.
//!
//! | | 4.0 | 4.4, 4.6 |
//! |---|---|---|
//! | `uri` | the conversation's last request line (wrong for pipelined requests) | the frame's `http_req_res_t` (a response's: its request's URI) |
//! | `req_frame` (responses) | `http_req_res_t.req_framenum` | same |
//! | `status` (responses) | the conversation's last status line | `http_req_res_t.response_code` |
//! | `cookie`, `set_cookie`, `content_type` | the header map, from the `media_type` table only; `None` from the heuristic (HTTP passes no data) | the header map, both ways in |
//!
//! Responses with an empty body (KLAP handshake2's) never reach a subdissector.

use super::exports::{call, callbacks, guard_dissect};
use super::{Handle, PROTO, Pinfo, Pool, shim};
use crate::sys;
use core::ffi::{CStr, c_char, c_int, c_void};
use core::ptr;
use core::sync::atomic::Ordering::Relaxed;

/// Whether the body is a request's or a response's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpKind {
    Request,
    Response,
}

/// What HTTP says about the message whose body the plugin is handed, for one dissector call.
/// `None` where the version (or the way in) does not say; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCtx<'p> {
    pub kind: HttpKind,
    /// Request: its URI, query included. Response: its request's URI, where the version says.
    pub uri: Option<&'p str>,
    /// Response: the frame of its request (`http_req_res_t.req_framenum`).
    pub req_frame: Option<u32>,
    /// Response: the status code.
    pub status: Option<u16>,
    /// This message's `Cookie` header.
    pub cookie: Option<&'p str>,
    /// This message's `Set-Cookie` header (the last one, if repeated).
    pub set_cookie: Option<&'p str>,
    /// This message's `Content-Type` header, parameters included.
    pub content_type: Option<&'p str>,
    /// This message's `Seq` header (SslAes).
    pub seq: Option<&'p str>,
    /// This message's `Tapo_tag` header (SslAes).
    pub tapo_tag: Option<&'p str>,
}

/// The media types taken over, with the dissector each belonged to (the fallback when the
/// `media_type` table had no entry for it).
const MEDIA_TYPES: [(&CStr, &CStr); MEDIA_COUNT] = [
    (c"application/json", c"json"),
    (c"application/octet-stream", c"data"),
    (c"application/x-www-form-urlencoded", c"urlencoded-form"),
    (c"text/html", c"data-text-lines"),
    (c"text/plain", c"data-text-lines"),
];
const MEDIA_COUNT: usize = 5;

/// The `media_type` handles (helper protocol), in [`MEDIA_TYPES`] order.
static MEDIA: [Handle; MEDIA_COUNT] = [const { Handle::new() }; MEDIA_COUNT];
/// The former owners of [`MEDIA_TYPES`], called when the hook does not take a body.
static FORMER: [Handle; MEDIA_COUNT] = [const { Handle::new() }; MEDIA_COUNT];
/// The body hook under the kasa protocol, called by the `media_type` handles.
static BODY: Handle = Handle::new();

/// In `register_protoinfo`: the helper protocol (under HTTP) and the handles. Does nothing when
/// this Wireshark has no `http` protocol.
pub fn register_http(name: &'static CStr, short: &'static CStr, filter: &'static CStr) {
    // SAFETY: 'static strings; the C functions are the shim's trampolines. HTTP is registered
    // before plugins' register_protoinfo runs. Each media_type handle has its own description:
    // 4.6 warns about two handles of one table sharing one (the helper protocol's name).
    unsafe {
        let http = sys::proto_get_id_by_filter_name(c"http".as_ptr());
        if http < 0 {
            return;
        }
        let helper = sys::proto_register_protocol_in_name_only(
            name.as_ptr(),
            short.as_ptr(),
            filter.as_ptr(),
            http,
            sys::FT_PROTOCOL,
        );
        let media: [(sys::dissector_t, &CStr, &CStr); MEDIA_COUNT] = [
            (
                Some(sys::kasa_tramp_http_media_json),
                c"kasa_http_json",
                c"TP-Link Kasa over HTTP (application/json, else JSON)",
            ),
            (
                Some(sys::kasa_tramp_http_media_octet),
                c"kasa_http_octet_stream",
                c"TP-Link Kasa over HTTP (application/octet-stream, else data)",
            ),
            (
                Some(sys::kasa_tramp_http_media_form),
                c"kasa_http_form",
                c"TP-Link Kasa over HTTP (application/x-www-form-urlencoded, else the form)",
            ),
            (
                Some(sys::kasa_tramp_http_media_text_html),
                c"kasa_http_text_html",
                c"TP-Link Kasa over HTTP (text/html, else line-based text)",
            ),
            (
                Some(sys::kasa_tramp_http_media_text_plain),
                c"kasa_http_text_plain",
                c"TP-Link Kasa over HTTP (text/plain, else line-based text)",
            ),
        ];
        for (handle, (f, name, description)) in MEDIA.iter().zip(media) {
            handle.0.store(
                sys::create_dissector_handle_with_name_and_description(
                    f,
                    helper,
                    name.as_ptr(),
                    description.as_ptr(),
                ),
                Relaxed,
            );
        }
        BODY.0.store(
            sys::create_dissector_handle(Some(sys::kasa_tramp_http_body), PROTO.get()),
            Relaxed,
        );
    }
}

/// In `register_handoff` (after every built-in handoff, so the former owners are in place): the
/// `media_type` entries and the heuristic on the `http` list (enabled).
pub fn add_http_hooks(display: &'static CStr, internal: &'static CStr) {
    if !BODY.is_set() {
        return;
    }
    // SAFETY: 'static strings; registered handles; the trampoline is valid for the process.
    unsafe {
        let table = sys::find_dissector_table(c"media_type".as_ptr());
        for (i, (media_type, fallback)) in MEDIA_TYPES.iter().enumerate() {
            let mut former = if table.is_null() {
                ptr::null_mut()
            } else {
                sys::dissector_get_string_handle(table, media_type.as_ptr())
            };
            if former.is_null() {
                former = sys::find_dissector(fallback.as_ptr());
            }
            FORMER[i].0.store(former, Relaxed);
            sys::dissector_add_string(c"media_type".as_ptr(), media_type.as_ptr(), MEDIA[i].get());
        }
        sys::heur_dissector_add(
            c"http".as_ptr(),
            Some(sys::kasa_tramp_heur_http),
            display.as_ptr(),
            internal.as_ptr(),
            PROTO.get(),
            sys::HEURISTIC_ENABLE,
        );
    }
}

/// `s` as UTF-8: itself when valid, otherwise a lossy copy in the pool.
fn str_lossy<'p>(pool: Pool<'p>, s: &'p CStr) -> &'p str {
    let bytes = s.to_bytes();
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => {
            let lossy = String::from_utf8_lossy(bytes);
            let buf = pool.bytes(lossy.len());
            buf.copy_from_slice(lossy.as_bytes());
            let buf: &'p [u8] = buf;
            // The String is dropped here; nothing above can throw (wmem_alloc aborts on OOM).
            core::str::from_utf8(buf).unwrap_or_default()
        }
    }
}

/// The view of what HTTP handed over with this body (`data` as the caller got it), or `None`
/// when the caller is not HTTP/1.x or the message neither a request nor a response.
fn http_ctx<'p>(pinfo: Pinfo<'p>, data: *mut c_void) -> Option<HttpCtx<'p>> {
    let mut info = sys::kasa_http_info {
        kind: 0,
        uri: ptr::null(),
        req_frame: 0,
        status: 0,
        cookie: ptr::null(),
        set_cookie: ptr::null(),
        content_type: ptr::null(),
        seq: ptr::null(),
        tapo_tag: ptr::null(),
    };
    // SAFETY: live pinfo; data is what epan passed this dissector; the shim never throws.
    let ok =
        unsafe { sys::kasa_shim_http_info(&mut info, pinfo.raw.as_ptr(), data, PROTO.get()) != 0 };
    if !ok {
        return None;
    }
    let pool = pinfo.pool();
    let text = |p: *const c_char| -> Option<&'p str> {
        // SAFETY: NUL-terminated strings in the packet's or the capture's wmem scope, both
        // alive for at least this dissector call ('p).
        (!p.is_null()).then(|| str_lossy(pool, unsafe { CStr::from_ptr(p) }))
    };
    Some(HttpCtx {
        kind: if info.kind == sys::KASA_HTTP_RESPONSE as c_int {
            HttpKind::Response
        } else {
            HttpKind::Request
        },
        uri: text(info.uri),
        req_frame: (info.req_frame != 0).then_some(info.req_frame),
        status: u16::try_from(info.status).ok().filter(|s| *s != 0),
        cookie: text(info.cookie),
        set_cookie: text(info.set_cookie),
        content_type: text(info.content_type),
        seq: text(info.seq),
        tapo_tag: text(info.tapo_tag),
    })
}

/// A `media_type` handle: the body hook under kasa's handle, else the former owner.
fn media(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
    former: &Handle,
) -> c_int {
    if tvb.is_null() || pinfo.is_null() {
        return 0;
    }
    let mut taken: c_int = 0;
    // SAFETY: live tvb/pinfo/tree from epan; registered handle; the shim catches any throw (on
    // Err the exception is pending and the trampoline rethrows it once this returns).
    if shim(unsafe {
        sys::kasa_shim_call_dissector_only(&mut taken, BODY.get(), tvb, pinfo, tree, data)
    })
    .is_err()
    {
        return 0;
    }
    if taken > 0 || !former.is_set() {
        return taken;
    }
    let mut shown: c_int = 0;
    // SAFETY: as above, with the former owner's handle and HTTP's own data.
    let _ = shim(unsafe {
        sys::kasa_shim_call_dissector_only(&mut shown, former.get(), tvb, pinfo, tree, data)
    });
    shown
}

pub(super) unsafe extern "C" fn http_media_json(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    media(tvb, pinfo, tree, data, &FORMER[0])
}

pub(super) unsafe extern "C" fn http_media_octet(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    media(tvb, pinfo, tree, data, &FORMER[1])
}

pub(super) unsafe extern "C" fn http_media_form(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    media(tvb, pinfo, tree, data, &FORMER[2])
}

pub(super) unsafe extern "C" fn http_media_text_html(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    media(tvb, pinfo, tree, data, &FORMER[3])
}

pub(super) unsafe extern "C" fn http_media_text_plain(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    media(tvb, pinfo, tree, data, &FORMER[4])
}

/// The body hook (kasa's handle, called by [`media`]): the body's length when the plugin takes
/// it, 0 when not.
pub(super) unsafe extern "C" fn http_body(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let Some(ctx) = http_ctx(c.pinfo, data) else {
        return 0;
    };
    let len = (c.tvb.captured_len() as c_int).max(1);
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || {
        if (cb.dissect_http_body)(&c, &ctx) {
            len
        } else {
            0
        }
    })
}

/// The heuristic on the `http` list: 1 when the plugin took the body.
pub(super) unsafe extern "C" fn heur_http(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let Some(ctx) = http_ctx(c.pinfo, data) else {
        return 0;
    };
    let pinfo = c.pinfo;
    guard_dissect(pinfo, 0, || (cb.dissect_http_body)(&c, &ctx) as c_int)
}
