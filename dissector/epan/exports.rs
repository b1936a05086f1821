//! What the loader and epan call: the exported plugin symbols and every `extern "C"` entry
//! point. Each entry point runs its Rust body under `catch_unwind`; a panic never crosses into C.

use super::{CBool, Call, Pinfo, TcpInfo, Tree, Tvb, c_bool};
use crate::sys;
use crate::{register, render, xor};
use core::ffi::{c_int, c_uint, c_void};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

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

/// Called while plugins are scanned: registers the protocol plugin and nothing else.
#[unsafe(no_mangle)]
pub extern "C" fn plugin_register() {
    set_quiet_panic_hook();
    // SAFETY: PLUGIN is 'static and immutable.
    unsafe { sys::proto_register_plugin(&PLUGIN) }
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
fn guard_dissect(pinfo: Pinfo<'_>, consumed: c_int, f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(n) => n,
        Err(_) => {
            render::report_panic(pinfo);
            consumed
        }
    }
}

extern "C" fn register_protoinfo() {
    guard((), register::register_protoinfo);
}

extern "C" fn register_handoff() {
    guard((), register::register_handoff);
}

pub(super) extern "C" fn prefs_apply() {
    guard((), register::apply_prefs);
}

pub(super) extern "C" fn init_routine() {
    guard((), register::reset_state);
}

pub(super) extern "C" fn cleanup_routine() {
    guard((), register::reset_state);
}

fn call<'p>(
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
    let Some(c) = call(tvb, pinfo, tree) else {
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
    guard_dissect(pinfo, len, || xor::dissect_tcp(&c, ctx))
}

pub(super) unsafe extern "C" fn dissect_tcp_port(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    tcp_entry(tvb, pinfo, tree, data, true)
}

pub(super) unsafe extern "C" fn dissect_tcp_conv(
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
    let Some(c) = call(tvb, pinfo, tree) else {
        return 0;
    };
    let via = if port {
        Via::Port(c.pinfo.match_uint())
    } else {
        Via::Conversation
    };
    let len = c.tvb.captured_len() as c_int;
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || xor::dissect_udp(&c, via))
}

pub(super) unsafe extern "C" fn dissect_udp_port(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    udp_entry(tvb, pinfo, tree, true)
}

pub(super) unsafe extern "C" fn dissect_udp_conv(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> c_int {
    udp_entry(tvb, pinfo, tree, false)
}

#[cfg(ws_ge_4_4)]
type HeurRet = bool;
#[cfg(not(ws_ge_4_4))]
type HeurRet = sys::gboolean;

pub(super) unsafe extern "C" fn heur_tcp(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> HeurRet {
    let Some(c) = call(tvb, pinfo, tree) else {
        return c_bool(false);
    };
    let tcp = tcp_info(data);
    let pinfo = c.pinfo;
    let claimed = guard_dissect(pinfo, 0, || {
        xor::heur_tcp(
            &c,
            PduCtx {
                via: Via::Conversation,
                tcp,
            },
        ) as c_int
    });
    c_bool(claimed != 0)
}

pub(super) unsafe extern "C" fn heur_udp(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    _data: *mut c_void,
) -> HeurRet {
    let Some(c) = call(tvb, pinfo, tree) else {
        return c_bool(false);
    };
    let pinfo = c.pinfo;
    let claimed = guard_dissect(pinfo, 0, || xor::heur_udp(&c) as c_int);
    c_bool(claimed != 0)
}

/// `tcp_dissect_pdus` with a 4-byte fixed part. May throw (a bounds error on a bad length):
/// callers hold no Rust owner across it.
pub fn tcp_dissect_pdus(c: &Call<'_>, ctx: PduCtx) {
    let data = c.pinfo.pool().slice(&[ctx]).as_ptr() as *mut c_void;
    let tree = c.tree.map_or(core::ptr::null_mut(), |t| t.raw.as_ptr());
    // SAFETY: live tvb/pinfo/tree; ctx lives in the packet pool for the whole call.
    unsafe {
        sys::tcp_dissect_pdus(
            c.tvb.raw.as_ptr(),
            c.pinfo.raw.as_ptr(),
            tree,
            c_bool(true),
            crate::xor::FIXED_LEN as c_uint,
            Some(get_pdu_len),
            Some(dissect_pdu),
            data,
        )
    }
}

unsafe extern "C" fn get_pdu_len(
    pinfo: *mut sys::packet_info,
    tvb: *mut sys::tvbuff_t,
    offset: c_int,
    _data: *mut c_void,
) -> c_uint {
    let (Some(tvb), Some(pinfo)) = (Tvb::from_raw(tvb), Pinfo::from_raw(pinfo)) else {
        return 0;
    };
    let offset = offset.max(0) as usize;
    // On a panic, claim the rest of the segment: it is then reported by dissect_pdu.
    let rest = tvb.remaining(offset) as c_uint;
    guard(rest, || xor::pdu_len(pinfo, tvb, offset) as c_uint)
}

unsafe extern "C" fn dissect_pdu(
    tvb: *mut sys::tvbuff_t,
    pinfo: *mut sys::packet_info,
    tree: *mut sys::proto_tree,
    data: *mut c_void,
) -> c_int {
    let Some(c) = call(tvb, pinfo, tree) else {
        return 0;
    };
    if data.is_null() {
        return 0;
    }
    // SAFETY: data is the PduCtx that tcp_dissect_pdus was given, in the packet pool.
    let ctx = unsafe { *(data as *const PduCtx) };
    let len = c.tvb.captured_len() as c_int;
    let pinfo = c.pinfo;
    guard_dissect(pinfo, len, || xor::dissect_tcp_pdu(&c, ctx))
}
