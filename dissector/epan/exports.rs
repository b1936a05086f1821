//! What the loader and epan call: the exported plugin data symbols and every `extern "C"` entry
//! point, and the table of the plugin's safe [`Callbacks`] they run.
//!
//! epan never calls these entry points directly during dissection: it calls the C trampolines
//! of `shim.c`, which call these, then rethrow any Wireshark exception a shim wrapper caught
//! meanwhile. Each entry point runs its Rust body under `catch_unwind`, so it never unwinds (a
//! panic never crosses into C) and never throws (it reaches epan's throwing calls only through
//! the shim).

use super::http::{self, HttpCtx};
use super::stats::StatsTree;
use super::{CBool, Call, Pinfo, TcpInfo, Thrown, TlsSlot, Tree, Tvb, shim};
use crate::sys;
use core::ffi::{c_int, c_uint, c_void};
use kasa_decoder::stats::Sample;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

const VERSION: &str = env!("CARGO_PKG_VERSION");

const fn nul_terminated<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < b.len() {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// The plugin's version, NUL-terminated, for `tshark -G plugins`.
#[unsafe(no_mangle)]
pub static plugin_version: [u8; VERSION.len() + 1] =
    nul_terminated::<{ VERSION.len() + 1 }>(VERSION);
/// The Wireshark major version this binary was built for (from pkg-config, via build.rs).
#[unsafe(no_mangle)]
pub static plugin_want_major: c_int = sys::WS_MAJOR;
/// The Wireshark minor version this binary was built for.
#[unsafe(no_mangle)]
pub static plugin_want_minor: c_int = sys::WS_MINOR;

static PLUGIN: sys::proto_plugin = sys::proto_plugin {
    register_protoinfo: Some(register_protoinfo),
    register_handoff: Some(register_handoff),
};

/// The plugin's safe callbacks: what each entry point runs once the C trampoline and the Rust
/// guard let it through. Registered once, by [`register_plugin`]; epan never names the plugin
/// module.
///
/// Every dissection callback may call epan only through this module's views, whose throwing
/// calls go through the C shim; when one reports [`Thrown`](super::Thrown), the callback stops
/// and returns (its return value is then ignored: the trampoline rethrows).
pub struct Callbacks {
    /// `register_protoinfo`: the protocol, fields, preferences and dissector handles.
    pub register_protoinfo: fn(),
    /// `register_handoff`: ports, heuristics, the handles of other dissectors.
    pub register_handoff: fn(),
    /// A preference changed.
    pub apply_prefs: fn(),
    /// A capture starts or ends.
    pub reset_state: fn(),
    /// A panic escaped a callback's own guards: say so on the packet.
    pub report_panic: fn(Pinfo<'_>),
    /// TCP, from the port table (`Via::Port`) or a claimed conversation.
    pub dissect_tcp: fn(&Call<'_>, PduCtx) -> c_int,
    /// `tcp_dissect_pdus`' length callback: the PDU's length at `offset` (0: one more segment).
    pub pdu_len: fn(Pinfo<'_>, Tvb<'_>, usize, PduCtx) -> usize,
    /// `tcp_dissect_pdus`' PDU callback.
    pub dissect_tcp_pdu: fn(&Call<'_>, PduCtx) -> c_int,
    /// UDP, from the port table or a claimed conversation.
    pub dissect_udp: fn(&Call<'_>, Via) -> c_int,
    /// The TCP heuristic: whether the segment was claimed (and dissected).
    pub heur_tcp: fn(&Call<'_>, PduCtx) -> bool,
    /// The UDP heuristic.
    pub heur_udp: fn(&Call<'_>) -> bool,
    /// An HTTP/1.x body (from the `media_type` table or the `http` heuristics): whether the
    /// plugin took it. When not, the body goes back to its former owner (`json`, `data`) or on
    /// to the next heuristic, as if the plugin were not there.
    pub dissect_http_body: fn(&Call<'_>, &HttpCtx<'_>) -> bool,
    /// The postdissector: every frame, after every other dissector.
    pub postdissect: fn(&Call<'_>),
    /// Decrypted TLS application data, from `tls.port` or a session the TLS heuristic claimed.
    pub dissect_tls: fn(&Call<'_>) -> c_int,
    /// The heuristic on the `tls` list: whether the record was claimed (and dissected); a
    /// claim stores the plugin's handle in the [`TlsSlot`].
    pub heur_tls: fn(&Call<'_>, TlsSlot) -> bool,
    /// A record of the `kasa` tap for a stats tree.
    pub stats_packet: fn(StatsTree<'_>, &Sample<'_>),
    /// A stats tree ([`StatsTree::key`]) is freed.
    pub stats_cleanup: fn(usize),
}

static CALLBACKS: OnceLock<&'static Callbacks> = OnceLock::new();

pub(super) fn callbacks() -> Option<&'static Callbacks> {
    CALLBACKS.get().copied()
}

/// What the exported `plugin_register` runs (the crate root wires in the plugin's table):
/// keeps the callbacks, hands the shim its Rust entry points, and registers the protocol
/// plugin and the tap plugin (the stats tree), nothing else.
pub fn register_plugin(callbacks: &'static Callbacks) {
    set_quiet_panic_hook();
    let _ = CALLBACKS.set(callbacks);
    let entries = sys::kasa_rust_entries {
        tcp_port: Some(dissect_tcp_port),
        tcp_conv: Some(dissect_tcp_conv),
        udp_port: Some(dissect_udp_port),
        udp_conv: Some(dissect_udp_conv),
        heur_tcp: Some(heur_tcp),
        heur_udp: Some(heur_udp),
        pdu_len: Some(get_pdu_len),
        pdu: Some(dissect_pdu),
        http_media_json: Some(http::http_media_json),
        http_media_octet: Some(http::http_media_octet),
        http_media_form: Some(http::http_media_form),
        http_media_text_html: Some(http::http_media_text_html),
        http_media_text_plain: Some(http::http_media_text_plain),
        http_body: Some(http::http_body),
        heur_http: Some(http::heur_http),
        post: Some(postdissect),
        tls: Some(dissect_tls),
        heur_tls: Some(heur_tls),
    };
    // SAFETY: the shim copies the table; PLUGIN is 'static and immutable.
    unsafe {
        sys::kasa_shim_set_entries(&entries);
        sys::proto_register_plugin(&PLUGIN);
    }
    super::stats::register_stats_plugin();
}

/// `WS_PLUGIN_DESC_DISSECTOR`; read by Wireshark 4.4 and later, ignored before.
#[unsafe(no_mangle)]
pub extern "C" fn plugin_describe() -> u32 {
    1
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the default hook (message and backtrace on stderr) with one that keeps the message
/// for the `kasa.internal_error` expert info. Each cdylib has its own std: this affects only us.
pub fn set_quiet_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_owned()
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
    }));
}

/// The text of the last caught panic (taken).
pub fn internal_error_text() -> String {
    let msg = LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_default();
    format!("Plugin internal error (Rust panic caught): {msg}")
}

fn guard<R>(default: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// A dissector body under a guard; a panic that escaped the inner guards is reported on the
/// packet and the bytes are taken as consumed.
pub(super) fn guard_dissect(pinfo: Pinfo<'_>, consumed: c_int, f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(n) => n,
        Err(_) => {
            if let Some(cb) = callbacks() {
                (cb.report_panic)(pinfo);
            }
            consumed
        }
    }
}

/// Runs one of the registration-time callbacks under a guard.
fn run(f: impl FnOnce(&'static Callbacks) -> fn()) {
    if let Some(cb) = callbacks() {
        guard((), f(cb));
    }
}

extern "C" fn register_protoinfo() {
    run(|cb| cb.register_protoinfo);
}

extern "C" fn register_handoff() {
    run(|cb| cb.register_handoff);
}

pub(super) extern "C" fn prefs_apply() {
    run(|cb| cb.apply_prefs);
}

pub(super) extern "C" fn init_routine() {
    run(|cb| cb.reset_state);
}

pub(super) extern "C" fn cleanup_routine() {
    run(|cb| cb.reset_state);
}

pub(super) fn call<'p>(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
) -> Option<Call<'p>> {
    Some(Call {
        tvb: Tvb::from_raw(tvb)?,
        pinfo: Pinfo::from_raw(pinfo)?,
        tree: Tree::from_raw(tree),
    })
}

fn tcp_info(data: *mut c_void) -> TcpInfo {
    if data.is_null() {
        return TcpInfo::default();
    }
    // SAFETY: TCP passes its `struct tcpinfo *` as the data of its subdissectors.
    let t = unsafe { &*(data as *const sys::tcpinfo) };
    TcpInfo {
        is_reassembled: t.is_reassembled.truthy(),
        fin: t.flags & 0x01 != 0,
    }
}

/// How a TCP or UDP dissector was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// From the port table (or Decode As): the matched port is the device's.
    Port(u32),
    /// From a conversation claimed by the heuristic.
    Conversation,
    /// Decrypted TLS application data (the cloud link).
    Tls,
}

/// What `tcp_dissect_pdus` hands both callbacks; plain data in the packet pool.
#[derive(Debug, Clone, Copy)]
pub struct PduCtx {
    pub via: Via,
    pub tcp: TcpInfo,
}

fn tcp_entry(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
    port: bool,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let via = if port {
        Via::Port(c.pinfo.match_uint())
    } else {
        Via::Conversation
    };
    let ctx = PduCtx {
        via,
        tcp: tcp_info(data),
    };
    let len = c.tvb.captured_len() as c_int;
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || (cb.dissect_tcp)(&c, ctx))
}

unsafe extern "C" fn dissect_tcp_port(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    tcp_entry(tvb, pinfo, tree, data, true)
}

unsafe extern "C" fn dissect_tcp_conv(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    tcp_entry(tvb, pinfo, tree, data, false)
}

fn udp_entry(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    port: bool,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let via = if port {
        Via::Port(c.pinfo.match_uint())
    } else {
        Via::Conversation
    };
    let len = c.tvb.captured_len() as c_int;
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || (cb.dissect_udp)(&c, via))
}

unsafe extern "C" fn dissect_udp_port(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    udp_entry(tvb, pinfo, tree, true)
}

unsafe extern "C" fn dissect_udp_conv(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    udp_entry(tvb, pinfo, tree, false)
}

unsafe extern "C" fn postdissect(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let pinfo = c.pinfo;
    guard_dissect(pinfo, 0, || {
        (cb.postdissect)(&c);
        0
    })
}

unsafe extern "C" fn dissect_tls(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let len = c.tvb.captured_len() as c_int;
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || (cb.dissect_tls)(&c))
}

unsafe extern "C" fn heur_tls(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let pinfo = c.pinfo;
    guard_dissect(pinfo, 0, || (cb.heur_tls)(&c, TlsSlot::new(data)) as c_int)
}

// The heuristics return 0 or 1; the C trampoline turns that into the header's own return type
// (gboolean up to 4.2, bool from 4.4).

unsafe extern "C" fn heur_tcp(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let tcp = tcp_info(data);
    let pinfo = c.pinfo;
    guard_dissect(pinfo, 0, || {
        (cb.heur_tcp)(
            &c,
            PduCtx {
                via: Via::Conversation,
                tcp,
            },
        ) as c_int
    })
}

unsafe extern "C" fn heur_udp(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    let pinfo = c.pinfo;
    guard_dissect(pinfo, 0, || (cb.heur_udp)(&c) as c_int)
}

/// `tcp_dissect_pdus` (desegmenting) with a `fixed_len`-byte fixed part, through the shim: its
/// callbacks are the shim's trampolines, which run [`Callbacks::pdu_len`] and
/// [`Callbacks::dissect_tcp_pdu`]. `Err` when epan threw (e.g. a bounds error on a bad length
/// that `tcp_dissect_pdus` itself does not catch): stop and return.
pub fn tcp_dissect_pdus(c: &Call<'_>, fixed_len: usize, ctx: PduCtx) -> Result<(), Thrown> {
    let data = c.pinfo.pool().slice(&[ctx]).as_ptr() as *mut c_void;
    let tree = c.tree.map_or(core::ptr::null_mut(), |t| t.raw.as_ptr());
    // SAFETY: live tvb/pinfo/tree; ctx lives in the packet pool for the whole call.
    shim(unsafe {
        sys::kasa_shim_tcp_dissect_pdus(
            c.tvb.raw.as_ptr(),
            c.pinfo.raw.as_ptr(),
            tree,
            fixed_len as c_uint,
            data,
        )
    })
}

unsafe extern "C" fn get_pdu_len(
    pinfo: *mut sys::packet_info,
    tvb: *mut sys::tvbuff_t,
    offset: c_int,
    data: *mut c_void,
) -> c_uint {
    let (Some(tvb), Some(pinfo), Some(cb)) =
        (Tvb::from_raw(tvb), Pinfo::from_raw(pinfo), callbacks())
    else {
        return 0;
    };
    let offset = offset.max(0) as usize;
    // On a panic, claim the rest of the segment: it is then reported by dissect_pdu.
    let rest = tvb.remaining(offset) as c_uint;
    if data.is_null() {
        return rest;
    }
    // SAFETY: data is the PduCtx that tcp_dissect_pdus was given, in the packet pool.
    let ctx = unsafe { *(data as *const PduCtx) };
    guard(rest, || (cb.pdu_len)(pinfo, tvb, offset, ctx) as c_uint)
}

unsafe extern "C" fn dissect_pdu(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    let (Some(c), Some(cb)) = (call(tvb, pinfo, tree), callbacks()) else {
        return 0;
    };
    if data.is_null() {
        return 0;
    }
    // SAFETY: data is the PduCtx that tcp_dissect_pdus was given, in the packet pool.
    let ctx = unsafe { *(data as *const PduCtx) };
    let len = c.tvb.captured_len() as c_int;
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || (cb.dissect_tcp_pdu)(&c, ctx))
}
