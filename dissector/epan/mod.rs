//! The only module with `unsafe`: safe, lifetime-bound views over epan's C objects, the
//! registration helpers and the `extern "C"` entry points, over the C shim `shim.c`.
//!
//! Rules kept here (WIRESHARK.md §4–§7):
//!
//! * **Every epan call that can throw goes through the shim; Rust never has a frame between a
//!   THROW and its CATCH.** A Wireshark exception is a `longjmp`. The throwing calls (tree
//!   items, subtrees, item text, expert infos, `call_dissector`, `tcp_dissect_pdus`,
//!   `tvb_memcpy`, new tvbs) are not even in the bindings: Rust reaches them only as
//!   `sys::kasa_shim_*` wrappers, which run them under `TRY`/`CATCH_ALL` and report a throw as
//!   [`Thrown`]. The views below return `Result<_, Thrown>` (or `None`/`false` where noted); on
//!   `Err` the caller stops and returns. epan calls into the plugin only through the shim's C
//!   trampolines, which rethrow the caught exception once the Rust entry point has returned, so
//!   epan sees the same exception a C dissector would have thrown ("Malformed Packet",
//!   `tcp_dissect_pdus` going on with the next PDU). While an exception is pending every
//!   wrapper refuses to call epan.
//! * Every offset and length is still checked against the tvb's captured length before a tvb
//!   or tree call ([`Span`] clamps), so in normal operation nothing throws at all.
//! * Strings that epan keeps are `&'static CStr`; per-packet text lives in the packet's wmem
//!   pool ([`Pool`]).
//! * `'p` is one dissector call: a [`Tvb<'p>`], [`Tree<'p>`] or `&'p [u8]` from the pool cannot
//!   outlive the packet.
#![allow(unsafe_code)]

mod exports;
mod http;
mod secrets;
mod stats;

pub use exports::{
    Callbacks, PduCtx, Via, internal_error_text, register_plugin, set_quiet_panic_hook,
    tcp_dissect_pdus,
};
pub use http::{HttpCtx, HttpKind, add_http_hooks, register_http};
pub use secrets::{
    aes_keys, credentials, register_secrets, release_secrets, rsa_key_path, secrets_generation,
};
pub use stats::{Node, StatsTree, register_tap, tapping};

/// epan threw inside a shim wrapper (or an exception was already pending, and epan was not
/// called). The exception is pending in the shim; the C trampoline that called the current
/// entry point rethrows it as soon as that entry point returns. Stop and return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thrown;

/// A tree item, `None` when epan returned none; `Err` when epan threw.
pub type Added<'p> = Result<Option<Item<'p>>, Thrown>;

/// The status of a `kasa_shim_*` wrapper.
fn shim(status: c_int) -> Result<(), Thrown> {
    if status == sys::KASA_OK as c_int {
        Ok(())
    } else {
        Err(Thrown)
    }
}

use crate::sys;
use core::cell::UnsafeCell;
use core::ffi::{CStr, c_int, c_void};
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering::Relaxed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// C booleans across versions.

/// A boolean coming back from epan: glib's `gboolean` (`i32`) up to 4.2, C `bool` from 4.4.
/// `.truthy()` reads either, so no `ws_ge_4_4` cfg is needed where epan returns or stores one.
pub(crate) trait CBool {
    fn truthy(self) -> bool;
}
impl CBool for bool {
    fn truthy(self) -> bool {
        self
    }
}
impl CBool for i32 {
    fn truthy(self) -> bool {
        self != 0
    }
}

// ---------------------------------------------------------------------------------------------
// Ids that Wireshark writes at registration.

/// A header-field id (`hf_…`), written by `proto_register_field_array`.
pub struct Hf(AtomicI32);
impl Hf {
    pub const fn new() -> Self {
        Hf(AtomicI32::new(-1))
    }
    pub fn get(&self) -> c_int {
        self.0.load(Relaxed)
    }
    /// Another protocol's field, found by name at hand-off ([`field_id`]).
    pub fn set(&self, id: c_int) {
        self.0.store(id, Relaxed)
    }
}
impl Default for Hf {
    fn default() -> Self {
        Self::new()
    }
}

/// A subtree id (`ett_…`), written by `proto_register_subtree_array`.
pub struct Ett(AtomicI32);
impl Ett {
    pub const fn new() -> Self {
        Ett(AtomicI32::new(-1))
    }
    pub fn get(&self) -> c_int {
        self.0.load(Relaxed)
    }
}
impl Default for Ett {
    fn default() -> Self {
        Self::new()
    }
}

/// An `expert_field`, written by `expert_register_field_array`.
pub struct Ei(UnsafeCell<sys::expert_field>);
// SAFETY: written once by Wireshark at registration (single-threaded), only read afterwards.
unsafe impl Sync for Ei {}
impl Ei {
    pub const fn new() -> Self {
        Ei(UnsafeCell::new(sys::expert_field { ei: -1, hf: -1 }))
    }
    fn ptr(&self) -> *mut sys::expert_field {
        self.0.get()
    }
}
impl Default for Ei {
    fn default() -> Self {
        Self::new()
    }
}

/// The protocol id.
pub static PROTO: Hf = Hf::new();

/// Field types the plugin uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    U32,
    I32,
    Bool,
    /// A boolean shown with its own words for true and false (a `true_false_string`).
    Flag(&'static CStr, &'static CStr),
    /// A frame number pointing at the request.
    FrameRequest,
    /// A frame number pointing at the response.
    FrameResponse,
    /// A frame number pointing at the original of a copy.
    FrameOriginal,
    RelativeTime,
    /// Raw bytes (seeds, hashes, signatures, ciphertext).
    Bytes,
    /// An unsigned number shown in hex.
    Hex32,
    /// Wireshark's checksum status: 0 Bad, 1 Good, 2 Unverified (as `proto_checksum_vals`).
    ChecksumStatus,
}

/// The values of [`Kind::ChecksumStatus`].
pub const CHECKSUM_BAD: u32 = 0;
pub const CHECKSUM_GOOD: u32 = 1;
pub const CHECKSUM_UNVERIFIED: u32 = 2;

/// One row of the field table.
pub struct FieldDef {
    pub id: &'static Hf,
    pub name: &'static CStr,
    pub abbrev: &'static CStr,
    pub kind: Kind,
    pub blurb: &'static CStr,
}

/// Expert-info groups used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Malformed,
    Sequence,
    Protocol,
    ResponseCode,
    Undecoded,
    Checksum,
    Security,
}

/// Expert-info severities used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Note,
    Warning,
    Error,
}

/// One row of the expert table.
pub struct ExpertDef {
    pub id: &'static Ei,
    pub abbrev: &'static CStr,
    pub group: Group,
    pub level: Level,
    pub summary: &'static CStr,
}

/// The value strings of [`Kind::ChecksumStatus`], leaked once (epan keeps the pointer).
fn checksum_vals() -> *const sys::value_string {
    static VALS: AtomicPtr<sys::value_string> = AtomicPtr::new(ptr::null_mut());
    let p = VALS.load(Relaxed);
    if !p.is_null() {
        return p;
    }
    let vals = vec![
        sys::value_string {
            value: CHECKSUM_BAD,
            strptr: c"Bad".as_ptr(),
        },
        sys::value_string {
            value: CHECKSUM_GOOD,
            strptr: c"Good".as_ptr(),
        },
        sys::value_string {
            value: CHECKSUM_UNVERIFIED,
            strptr: c"Unverified".as_ptr(),
        },
        sys::value_string {
            value: 0,
            strptr: ptr::null(),
        },
    ];
    let p = Box::leak(vals.into_boxed_slice()).as_mut_ptr();
    VALS.store(p, Relaxed);
    p
}

/// Registers the protocol, its fields, subtrees and expert infos. The `hf_register_info` and
/// `ei_register_info` arrays are leaked on purpose: Wireshark keeps pointers into them.
pub fn register_protocol(
    name: &'static CStr,
    short: &'static CStr,
    filter: &'static CStr,
    fields: &'static [FieldDef],
    etts: &'static [&'static Ett],
    experts: &'static [ExpertDef],
) {
    // SAFETY: called from register_protoinfo; all strings are 'static; arrays leaked below.
    unsafe {
        let id = sys::proto_register_protocol(name.as_ptr(), short.as_ptr(), filter.as_ptr());
        PROTO.0.store(id, Relaxed);

        let hf: Vec<sys::hf_register_info> = fields
            .iter()
            .map(|f| {
                let (type_, display, strings) = match f.kind {
                    Kind::String => (sys::FT_STRING, sys::BASE_NONE, ptr::null()),
                    Kind::U32 => (sys::FT_UINT32, sys::BASE_DEC, ptr::null()),
                    Kind::I32 => (sys::FT_INT32, sys::BASE_DEC, ptr::null()),
                    Kind::Bool => (sys::FT_BOOLEAN, sys::BASE_NONE, ptr::null()),
                    Kind::Flag(yes, no) => (
                        sys::FT_BOOLEAN,
                        sys::BASE_NONE,
                        // Leaked: Wireshark keeps the pointer.
                        Box::leak(Box::new(sys::true_false_string {
                            true_string: yes.as_ptr(),
                            false_string: no.as_ptr(),
                        })) as *const sys::true_false_string
                            as *const c_void,
                    ),
                    Kind::FrameRequest => (
                        sys::FT_FRAMENUM,
                        sys::BASE_NONE,
                        sys::FT_FRAMENUM_REQUEST as usize as *const c_void,
                    ),
                    Kind::FrameResponse => (
                        sys::FT_FRAMENUM,
                        sys::BASE_NONE,
                        sys::FT_FRAMENUM_RESPONSE as usize as *const c_void,
                    ),
                    Kind::FrameOriginal => (
                        sys::FT_FRAMENUM,
                        sys::BASE_NONE,
                        sys::FT_FRAMENUM_DUP_ACK as usize as *const c_void,
                    ),
                    Kind::RelativeTime => (sys::FT_RELATIVE_TIME, sys::BASE_NONE, ptr::null()),
                    Kind::Bytes => (sys::FT_BYTES, sys::BASE_NONE, ptr::null()),
                    Kind::Hex32 => (sys::FT_UINT32, sys::BASE_HEX, ptr::null()),
                    Kind::ChecksumStatus => (
                        sys::FT_UINT8,
                        sys::BASE_NONE,
                        checksum_vals() as *const c_void,
                    ),
                };
                sys::hf_register_info {
                    p_id: f.id.0.as_ptr(),
                    hfinfo: sys::header_field_info {
                        name: f.name.as_ptr(),
                        abbrev: f.abbrev.as_ptr(),
                        type_,
                        display: display as c_int,
                        strings,
                        bitmask: 0,
                        blurb: f.blurb.as_ptr(),
                        // HFILL
                        id: -1,
                        parent: 0,
                        ref_type: sys::HF_REF_TYPE_NONE,
                        same_name_prev_id: -1,
                        same_name_next: ptr::null_mut(),
                    },
                }
            })
            .collect();
        let hf: &'static mut [sys::hf_register_info] = Box::leak(hf.into_boxed_slice());
        sys::proto_register_field_array(id, hf.as_mut_ptr(), hf.len() as c_int);

        // Only the indices are written through these pointers: a temporary array is enough.
        let mut ett: Vec<*mut c_int> = etts.iter().map(|e| e.0.as_ptr()).collect();
        sys::proto_register_subtree_array(ett.as_mut_ptr() as _, ett.len() as c_int);

        let ei: Vec<sys::ei_register_info> = experts
            .iter()
            .map(|e| {
                let group = match e.group {
                    Group::Malformed => sys::PI_MALFORMED,
                    Group::Sequence => sys::PI_SEQUENCE,
                    Group::Protocol => sys::PI_PROTOCOL,
                    Group::ResponseCode => sys::PI_RESPONSE_CODE,
                    Group::Undecoded => sys::PI_UNDECODED,
                    Group::Checksum => sys::PI_CHECKSUM,
                    Group::Security => sys::PI_SECURITY,
                };
                let severity = match e.level {
                    Level::Note => sys::PI_NOTE,
                    Level::Warning => sys::PI_WARN,
                    Level::Error => sys::PI_ERROR,
                };
                let mut info = sys::expert_field_info {
                    name: e.abbrev.as_ptr(),
                    group: group as c_int,
                    severity: severity as c_int,
                    summary: e.summary.as_ptr(),
                    ..Default::default()
                };
                // EXPFILL
                info.id = 0;
                info.hf_info.p_id = ptr::null_mut();
                info.hf_info.hfinfo.id = -1;
                info.hf_info.hfinfo.same_name_prev_id = -1;
                sys::ei_register_info {
                    ids: e.id.ptr(),
                    eiinfo: info,
                }
            })
            .collect();
        let ei: &'static mut [sys::ei_register_info] = Box::leak(ei.into_boxed_slice());
        let module = sys::expert_register_protocol(id);
        sys::expert_register_field_array(module, ei.as_mut_ptr(), ei.len() as c_int);
    }
}

// ---------------------------------------------------------------------------------------------
// Preferences.

/// A `guint` preference variable.
pub struct PrefUint(AtomicU32);
impl PrefUint {
    pub const fn new(v: u32) -> Self {
        PrefUint(AtomicU32::new(v))
    }
    pub fn get(&self) -> u32 {
        self.0.load(Relaxed)
    }
}

#[cfg(ws_ge_4_4)]
type BoolCell = core::sync::atomic::AtomicBool;
#[cfg(not(ws_ge_4_4))]
type BoolCell = AtomicI32;

/// A boolean preference variable (`gboolean` up to 4.2, `bool` from 4.4).
pub struct PrefBool(BoolCell);
impl PrefBool {
    pub const fn new(v: bool) -> Self {
        #[cfg(ws_ge_4_4)]
        {
            PrefBool(BoolCell::new(v))
        }
        #[cfg(not(ws_ge_4_4))]
        {
            PrefBool(BoolCell::new(v as i32))
        }
    }
    pub fn get(&self) -> bool {
        #[cfg(ws_ge_4_4)]
        {
            self.0.load(Relaxed)
        }
        #[cfg(not(ws_ge_4_4))]
        {
            self.0.load(Relaxed) != 0
        }
    }
}

/// The protocol's preference module.
pub struct Prefs(*mut sys::module_t);

/// Registers the preference module; `plugin::apply_prefs` runs whenever a preference changes.
pub fn register_prefs() -> Prefs {
    // SAFETY: the protocol is registered; the callback is valid for the process lifetime.
    Prefs(unsafe { sys::prefs_register_protocol(PROTO.get(), Some(exports::prefs_apply)) })
}

impl Prefs {
    pub fn uint(
        &self,
        name: &'static CStr,
        title: &'static CStr,
        desc: &'static CStr,
        var: &'static PrefUint,
    ) {
        // SAFETY: 'static strings and variable.
        unsafe {
            sys::prefs_register_uint_preference(
                self.0,
                name.as_ptr(),
                title.as_ptr(),
                desc.as_ptr(),
                10,
                var.0.as_ptr(),
            )
        }
    }
    pub fn boolean(
        &self,
        name: &'static CStr,
        title: &'static CStr,
        desc: &'static CStr,
        var: &'static PrefBool,
    ) {
        // SAFETY: 'static strings and variable.
        unsafe {
            sys::prefs_register_bool_preference(
                self.0,
                name.as_ptr(),
                title.as_ptr(),
                desc.as_ptr(),
                var.0.as_ptr(),
            )
        }
    }
}

impl Prefs {
    /// A port-range preference (`kasa.<name>`), read back with [`PortRange::reload`].
    pub fn range(
        &self,
        name: &'static CStr,
        title: &'static CStr,
        desc: &'static CStr,
        default: &'static CStr,
        var: &'static PortRange,
    ) {
        let mut r: *mut sys::range_t = ptr::null_mut();
        // SAFETY: 'static strings; the range is allocated in epan's scope and owned by the pref.
        unsafe {
            sys::range_convert_str(sys::wmem_epan_scope(), &mut r, default.as_ptr(), 65535);
        }
        var.0.store(r, Relaxed);
        // SAFETY: 'static strings; the preference keeps the pointer to the AtomicPtr's cell,
        // which has the layout of a `range_t *`.
        unsafe {
            sys::prefs_register_range_preference(
                self.0,
                name.as_ptr(),
                title.as_ptr(),
                desc.as_ptr(),
                var.0.as_ptr(),
                65535,
            )
        }
    }
}

/// A port-range preference of this protocol, re-read when preferences change.
pub struct PortRange(AtomicPtr<sys::range_t>);
impl PortRange {
    pub const fn new() -> Self {
        PortRange(AtomicPtr::new(ptr::null_mut()))
    }
    /// Re-reads `kasa.<name>` (e.g. `tcp.port`).
    pub fn reload(&self, module: &'static CStr, name: &'static CStr) {
        // SAFETY: 'static strings; the returned range is owned by the prefs module.
        let r = unsafe { sys::prefs_get_range_value(module.as_ptr(), name.as_ptr()) };
        self.0.store(r, Relaxed);
    }
    /// The ports in the range (ranges above 65535 are clipped).
    pub fn ports(&self) -> Vec<u16> {
        let r = self.0.load(Relaxed);
        if r.is_null() {
            return Vec::new();
        }
        // SAFETY: the live range of the preference: `nranges` entries follow the header.
        let ranges = unsafe {
            let n = (*r).nranges as usize;
            core::slice::from_raw_parts((*r).ranges.as_ptr(), n)
        };
        let mut out = Vec::new();
        for rg in ranges {
            let (lo, hi) = (rg.low.min(65535), rg.high.min(65535));
            for p in lo..=hi {
                if out.len() >= 1024 {
                    return out;
                }
                out.push(p as u16);
            }
        }
        out
    }
    pub fn contains(&self, port: u32) -> bool {
        let r = self.0.load(Relaxed);
        // SAFETY: r is null or the live range of the preference (replaced only between packets,
        // followed by reload in the apply callback).
        !r.is_null() && unsafe { sys::value_is_in_range(r, port) }.truthy()
    }
}
impl Default for PortRange {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Handles and handoff.

/// A dissector handle, set at registration.
pub struct Handle(AtomicPtr<sys::dissector_handle>);
impl Handle {
    pub const fn new() -> Self {
        Handle(AtomicPtr::new(ptr::null_mut()))
    }
    fn get(&self) -> sys::dissector_handle_t {
        self.0.load(Relaxed)
    }
    pub fn is_set(&self) -> bool {
        !self.get().is_null()
    }
}
impl Default for Handle {
    fn default() -> Self {
        Self::new()
    }
}

/// Which entry point a handle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// TCP from the port table or Decode As.
    TcpPort,
    /// TCP from a conversation the heuristic claimed.
    TcpConv,
    UdpPort,
    UdpConv,
    /// The postdissector (every frame).
    Post,
    /// Decrypted TLS application data (the cloud link).
    Tls,
}

pub fn register_dissector(handle: &Handle, name: &'static CStr, entry: Entry) {
    // The shim's trampolines, which call exports' entry points.
    let f: unsafe extern "C" fn(
        *mut sys::tvbuff_t,
        *mut sys::packet_info,
        *mut sys::proto_tree,
        *mut c_void,
    ) -> c_int = match entry {
        Entry::TcpPort => sys::kasa_tramp_tcp_port,
        Entry::TcpConv => sys::kasa_tramp_tcp_conv,
        Entry::UdpPort => sys::kasa_tramp_udp_port,
        Entry::UdpConv => sys::kasa_tramp_udp_conv,
        Entry::Post => sys::kasa_tramp_post,
        Entry::Tls => sys::kasa_tramp_tls,
    };
    // SAFETY: 'static name, valid function.
    let h = unsafe { sys::register_dissector(name.as_ptr(), Some(f), PROTO.get()) };
    handle.0.store(h, Relaxed);
}

/// `dissector_add_uint_range_with_preference(table, ports, handle)`.
pub fn add_port_range(table: &'static CStr, ports: &'static CStr, handle: &Handle) {
    // SAFETY: 'static strings, registered handle.
    unsafe {
        sys::dissector_add_uint_range_with_preference(table.as_ptr(), ports.as_ptr(), handle.get())
    }
}

/// Registers `handle` (an [`Entry::Post`] handle) as a postdissector.
pub fn register_postdissector(handle: &Handle) {
    // SAFETY: registered handle.
    unsafe { sys::register_postdissector(handle.get()) }
}

/// `dissector_add_uint(table, port, handle)`: a fixed port, without a preference.
pub fn add_port(table: &'static CStr, port: u16, handle: &Handle) {
    // SAFETY: 'static string, registered handle.
    unsafe { sys::dissector_add_uint(table.as_ptr(), port.into(), handle.get()) }
}

/// Adds the TCP or UDP heuristic (enabled).
pub fn add_heuristic(
    list: &'static CStr,
    display: &'static CStr,
    internal: &'static CStr,
    udp: bool,
) {
    // The shim's trampolines, which call exports' entry points.
    let f = if udp {
        sys::kasa_tramp_heur_udp
    } else {
        sys::kasa_tramp_heur_tcp
    };
    // SAFETY: 'static strings, valid function.
    unsafe {
        sys::heur_dissector_add(
            list.as_ptr(),
            Some(f),
            display.as_ptr(),
            internal.as_ptr(),
            PROTO.get(),
            sys::HEURISTIC_ENABLE,
        )
    }
}

/// Adds the heuristic on the `tls` list (decrypted application data on any port).
pub fn add_tls_heuristic(display: &'static CStr, internal: &'static CStr) {
    // SAFETY: 'static strings, valid function.
    unsafe {
        sys::heur_dissector_add(
            c"tls".as_ptr(),
            Some(sys::kasa_tramp_heur_tls),
            display.as_ptr(),
            internal.as_ptr(),
            PROTO.get(),
            sys::HEURISTIC_ENABLE,
        )
    }
}

/// `ssl_dissector_add(port, handle)`: TCP `port` is TLS, its application data `handle`'s.
pub fn tls_port_add(port: u16, handle: &Handle) {
    // SAFETY: registered handle (handoff time).
    unsafe { sys::kasa_tls_port_add(port.into(), handle.get()) }
}

/// Undoes [`tls_port_add`].
pub fn tls_port_delete(port: u16, handle: &Handle) {
    // SAFETY: registered handle (handoff or preference time).
    unsafe { sys::kasa_tls_port_delete(port.into(), handle.get()) }
}

/// A registered field's or protocol's id by its filter name (`None` when unknown).
pub fn field_id(filter_name: &CStr) -> Option<c_int> {
    // SAFETY: NUL-terminated string; a lookup only.
    let id = unsafe { sys::kasa_field_id(filter_name.as_ptr()) };
    (id > 0).then_some(id)
}

/// The display names of protocol `proto`'s fields (at most 4096).
pub fn protocol_field_names(proto: c_int) -> Vec<String> {
    (0..4096u32)
        // SAFETY: a lookup; the name is a static string of the registered field.
        .map_while(|i| unsafe { NonNull::new(sys::kasa_protocol_field_name(proto, i) as *mut _) })
        // SAFETY: NUL-terminated, alive as long as the field is registered.
        .map(|p| {
            unsafe { CStr::from_ptr(p.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// A boolean preference of another module (`json`, `compact_form`), `fallback` when unknown.
pub fn pref_bool(module: &CStr, name: &CStr, fallback: bool) -> bool {
    // SAFETY: NUL-terminated strings; a lookup only.
    unsafe { sys::kasa_pref_bool(module.as_ptr(), name.as_ptr(), c_int::from(fallback)) != 0 }
}

/// Whether GLib counts `c` as printable (`g_unichar_isprint`), as the JSON dissector asks.
pub fn glib_printable(c: char) -> bool {
    // SAFETY: a pure function of its argument.
    unsafe { sys::g_unichar_isprint(c as u32) != 0 }
}

/// The fields a postdissector needs in the tree (`set_postdissector_wanted_hfids`); a tree is
/// then built for every frame, tshark's summary mode included.
pub fn set_postdissector_wanted(handle: &Handle, ids: &[c_int]) {
    // SAFETY: registered handle; the shim copies the ids into a GArray that epan owns.
    unsafe { sys::kasa_set_postdissector_wanted(handle.get(), ids.as_ptr(), ids.len() as u32) }
}

/// The TLS heuristic's `data`: where a match says which handle takes the session's later
/// records (a `dissector_handle_t *` in 4.0, a `struct tlsinfo *` from 4.4: the shim knows).
#[derive(Clone, Copy)]
pub struct TlsSlot(*mut c_void);
impl TlsSlot {
    pub(crate) fn new(data: *mut c_void) -> Self {
        TlsSlot(data)
    }
    /// Later records of this TLS session go straight to `handle`.
    pub fn claim(self, handle: &Handle) {
        // SAFETY: the pointer TLS handed this heuristic call (or null, ignored by the shim).
        unsafe { sys::kasa_tls_set_app_handle(self.0, handle.get()) }
    }
}

/// `find_dissector(name)`, kept in `handle`.
pub fn find_dissector(handle: &Handle, name: &'static CStr) {
    // SAFETY: 'static name.
    handle
        .0
        .store(unsafe { sys::find_dissector(name.as_ptr()) }, Relaxed);
}

/// Registers the capture-start and capture-end routines.
pub fn register_init_cleanup() {
    // SAFETY: valid functions for the process lifetime.
    unsafe {
        sys::register_init_routine(Some(exports::init_routine));
        sys::register_cleanup_routine(Some(exports::cleanup_routine));
    }
}

// ---------------------------------------------------------------------------------------------
// Per-packet views.

/// The packet's wmem pool: memory freed with the packet.
#[derive(Clone, Copy)]
pub struct Pool<'p> {
    raw: *mut sys::wmem_allocator_t,
    _p: PhantomData<&'p ()>,
}

impl<'p> Pool<'p> {
    fn alloc_bytes(&self, n: usize, align: usize) -> *mut u8 {
        // wmem allocators return memory aligned to 8 bytes at least.
        assert!(align <= 8);
        // SAFETY: the pool is live for 'p; wmem_alloc aborts on OOM, never returns null for n>0.
        unsafe { sys::wmem_alloc(self.raw, n.max(1)) as *mut u8 }
    }

    /// A zeroed byte buffer of `n` bytes.
    pub fn bytes(&self, n: usize) -> &'p mut [u8] {
        let p = self.alloc_bytes(n, 1);
        // SAFETY: p points at n fresh bytes valid for 'p.
        unsafe {
            ptr::write_bytes(p, 0, n);
            core::slice::from_raw_parts_mut(p, n)
        }
    }

    /// Copies `items` (plain data, never dropped) into the pool.
    pub fn slice<T: Copy>(&self, items: &[T]) -> &'p [T] {
        if items.is_empty() {
            return &[];
        }
        let bytes = core::mem::size_of_val(items);
        let p = self.alloc_bytes(bytes, core::mem::align_of::<T>()) as *mut T;
        // SAFETY: fresh, aligned, large enough; T: Copy has no drop glue.
        unsafe {
            ptr::copy_nonoverlapping(items.as_ptr(), p, items.len());
            core::slice::from_raw_parts(p, items.len())
        }
    }

    /// A NUL-terminated copy of `s`; interior NULs become U+FFFD's first byte cannot be used,
    /// so they are replaced by `?`.
    pub fn cstr(&self, s: &str) -> &'p CStr {
        let n = s.len();
        let p = self.alloc_bytes(n + 1, 1);
        // SAFETY: fresh buffer of n+1 bytes, NUL-terminated below with no interior NUL.
        unsafe {
            let buf = core::slice::from_raw_parts_mut(p, n + 1);
            for (d, &b) in buf.iter_mut().zip(s.as_bytes()) {
                *d = if b == 0 { b'?' } else { b };
            }
            buf[n] = 0;
            CStr::from_bytes_with_nul_unchecked(buf)
        }
    }

    /// What `write` formats, as a NUL-terminated string in packet memory: formatted on the
    /// stack (the heap only past 512 bytes), then copied once ([`Pool::cstr`]). For texts made
    /// per message (the Info column, method names), which would otherwise cost a `String` each.
    pub fn format(
        &self,
        write: impl FnOnce(&mut dyn core::fmt::Write) -> core::fmt::Result,
    ) -> &'p CStr {
        let mut text = StackText::default();
        let _ = write(&mut text);
        self.cstr(text.as_str())
    }
}

/// A text formatted on the stack; longer texts spill to the heap.
struct StackText {
    buf: [u8; 512],
    len: usize,
    spill: Option<String>,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 512],
            len: 0,
            spill: None,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        match &self.spill {
            Some(s) => s,
            // Only whole `str`s are ever copied in.
            None => core::str::from_utf8(&self.buf[..self.len]).unwrap_or(""),
        }
    }
}

impl core::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if let Some(spill) = &mut self.spill {
            spill.push_str(s);
        } else if let Some(dst) = self.buf.get_mut(self.len..self.len + s.len()) {
            dst.copy_from_slice(s.as_bytes());
            self.len += s.len();
        } else {
            let mut spill = String::with_capacity(2 * (self.len + s.len()));
            spill.push_str(core::str::from_utf8(&self.buf[..self.len]).unwrap_or(""));
            spill.push_str(s);
            self.spill = Some(spill);
        }
        Ok(())
    }
}

/// A tvb alive for one dissector call.
#[derive(Clone, Copy)]
pub struct Tvb<'p> {
    raw: NonNull<sys::tvbuff_t>,
    _p: PhantomData<&'p ()>,
}

impl<'p> Tvb<'p> {
    fn from_raw(raw: *mut sys::tvbuff_t) -> Option<Self> {
        NonNull::new(raw).map(|raw| Tvb {
            raw,
            _p: PhantomData,
        })
    }
    pub fn captured_len(&self) -> usize {
        // SAFETY: live tvb.
        unsafe { sys::tvb_captured_length(self.raw.as_ptr()) as usize }
    }
    pub fn reported_len(&self) -> usize {
        // SAFETY: live tvb.
        unsafe { sys::tvb_reported_length(self.raw.as_ptr()) as usize }
    }
    /// Captured bytes from `offset` on (0 if beyond).
    pub fn remaining(&self, offset: usize) -> usize {
        self.captured_len().saturating_sub(offset)
    }
    /// Copies `out.len()` bytes at `offset`; `false` (nothing copied) if they are not captured,
    /// or if epan threw all the same (then the exception is pending: stop).
    pub fn copy_into(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset
            .checked_add(out.len())
            .is_none_or(|end| end > self.captured_len())
        {
            return false;
        }
        if out.is_empty() {
            return true;
        }
        // SAFETY: out is writable for out.len() bytes; the shim catches any throw.
        shim(unsafe {
            sys::kasa_shim_tvb_memcpy(
                self.raw.as_ptr(),
                out.as_mut_ptr() as *mut c_void,
                offset as c_int,
                out.len(),
            )
        })
        .is_ok()
    }
    /// Copies captured bytes `offset..offset+len` into the pool.
    pub fn copy(&self, pool: Pool<'p>, offset: usize, len: usize) -> Option<&'p mut [u8]> {
        let buf = pool.bytes(len);
        self.copy_into(offset, buf).then_some(buf)
    }
    /// A child tvb over pool bytes (shown in the packet bytes pane as its own source).
    pub fn child(&self, data: &'p [u8]) -> Result<Tvb<'p>, Thrown> {
        let mut raw = ptr::null_mut();
        // SAFETY: data lives as long as the packet, which outlives the child tvb; the shim
        // catches any throw.
        shim(unsafe {
            sys::kasa_shim_tvb_new_child_real_data(
                &mut raw,
                self.raw.as_ptr(),
                data.as_ptr(),
                data.len() as _,
                data.len() as _,
            )
        })?;
        Ok(Tvb::from_raw(raw).unwrap_or(*self))
    }
    /// A subset `offset..offset+len` of captured bytes; `None` if out of range, or if epan threw
    /// all the same (then the exception is pending: stop).
    pub fn subset(&self, offset: usize, len: usize) -> Option<Tvb<'p>> {
        if offset.checked_add(len)? > self.captured_len() {
            return None;
        }
        let mut raw = ptr::null_mut();
        // SAFETY: live tvb; the shim catches any throw.
        shim(unsafe {
            sys::kasa_shim_tvb_new_subset_length(
                &mut raw,
                self.raw.as_ptr(),
                offset as c_int,
                len as c_int,
            )
        })
        .ok()?;
        Tvb::from_raw(raw)
    }
}

/// `packet_info` for one dissector call.
#[derive(Clone, Copy)]
pub struct Pinfo<'p> {
    raw: NonNull<sys::packet_info>,
    _p: PhantomData<&'p ()>,
}

/// The columns used.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    Protocol,
    Info,
}
impl Col {
    fn id(self) -> c_int {
        (match self {
            Col::Protocol => sys::COL_PROTOCOL,
            Col::Info => sys::COL_INFO,
        }) as c_int
    }
}

impl<'p> Pinfo<'p> {
    fn from_raw(raw: *mut sys::packet_info) -> Option<Self> {
        NonNull::new(raw).map(|raw| Pinfo {
            raw,
            _p: PhantomData,
        })
    }
    fn get(&self) -> &'p sys::packet_info {
        // SAFETY: live for the call; read-only access to plain fields.
        unsafe { self.raw.as_ref() }
    }
    pub fn pool(&self) -> Pool<'p> {
        Pool {
            raw: self.get().pool,
            _p: PhantomData,
        }
    }
    /// Frame number (1-based).
    pub fn num(&self) -> u32 {
        self.get().num
    }
    /// Whether this frame was already dissected once (second pass, or a GUI click).
    pub fn visited(&self) -> bool {
        // SAFETY: live pinfo; the shim reads the bit-field as the C compiler laid it out.
        unsafe { sys::kasa_shim_visited(self.raw.as_ptr()) != 0 }
    }
    /// Absolute capture time since the Unix epoch.
    pub fn time(&self) -> Duration {
        let ts = self.get().abs_ts;
        Duration::new(ts.secs.max(0) as u64, ts.nsecs.max(0) as u32)
    }
    /// Whether the frame's transport is TCP (`pinfo->ptype`).
    pub fn is_tcp(&self) -> bool {
        self.get().ptype == sys::PT_TCP
    }
    pub fn src(&self) -> SocketAddr {
        socket_addr(&self.get().src, self.get().srcport)
    }
    pub fn dst(&self) -> SocketAddr {
        socket_addr(&self.get().dst, self.get().destport)
    }
    /// The value the dissector table matched on (the port, for tcp.port/udp.port).
    pub fn match_uint(&self) -> u32 {
        self.get().match_uint
    }
    pub fn can_desegment(&self) -> bool {
        self.get().can_desegment > 0
    }
    /// Asks TCP for the rest of the direction up to FIN, starting at `offset`.
    pub fn desegment_until_fin(&self, offset: usize) {
        // SAFETY: plain field writes on the live pinfo, as C dissectors do.
        unsafe {
            let p = self.raw.as_ptr();
            (*p).desegment_offset = offset as c_int;
            (*p).desegment_len = sys::DESEGMENT_UNTIL_FIN;
        }
    }
    /// The index of this packet's conversation (created if needed).
    pub fn conversation(&self) -> u32 {
        // SAFETY: live pinfo; the conversation is non-null (WS_RETNONNULL).
        unsafe { (*sys::find_or_create_conversation(self.raw.as_ptr())).conv_index }
    }
    /// Hands the rest of this conversation to `handle`.
    pub fn set_conversation_dissector(&self, handle: &Handle) {
        // SAFETY: live pinfo, registered handle.
        unsafe {
            sys::conversation_set_dissector(
                sys::find_or_create_conversation(self.raw.as_ptr()),
                handle.get(),
            )
        }
    }
    pub fn col_set(&self, col: Col, text: &'static CStr) {
        // SAFETY: col_set_str keeps the pointer: 'static.
        unsafe { sys::col_set_str(self.get().cinfo, col.id(), text.as_ptr()) }
    }
    pub fn col_clear(&self, col: Col) {
        // SAFETY: live cinfo (may be null: epan checks).
        unsafe { sys::col_clear(self.get().cinfo, col.id()) }
    }
    /// Appends `text` with `sep` (copied) and sets a fence after it.
    pub fn col_append_fenced(&self, col: Col, sep: &'static CStr, text: &CStr) {
        // SAFETY: both copied by epan.
        unsafe {
            sys::col_append_sep_str(self.get().cinfo, col.id(), sep.as_ptr(), text.as_ptr());
            sys::col_set_fence(self.get().cinfo, col.id());
        }
    }
    // Returns void up to 4.4 and a pointer from 4.6: ignored either way.
    #[allow(clippy::let_unit_value)]
    pub fn add_data_source(&self, tvb: Tvb<'p>, name: &'static CStr) {
        // SAFETY: add_new_data_source keeps the name: 'static.
        let _ =
            unsafe { sys::add_new_data_source(self.raw.as_ptr(), tvb.raw.as_ptr(), name.as_ptr()) };
    }
    /// Adds an expert info with dynamic text to `item` (or to the packet, if `item` is `None`).
    /// It adds a tree item, so it can throw (e.g. a tree over `gui_max_tree_items`).
    pub fn expert(
        &self,
        item: Option<Item<'p>>,
        ei: &'static Ei,
        text: &CStr,
    ) -> Result<(), Thrown> {
        let item = item.map_or(ptr::null_mut(), |i| i.raw.as_ptr());
        // SAFETY: live pinfo, registered ei; the shim formats "%s" with the text (copied) and
        // catches any throw.
        shim(unsafe {
            sys::kasa_shim_expert_add_info(self.raw.as_ptr(), item, ei.ptr(), text.as_ptr())
        })
    }
    /// Sets the Protocol column to `protocol` and, the first time in this packet, clears the
    /// Info column (what a lower layer wrote there); later calls keep the messages appended.
    pub fn claim_columns(&self, protocol: &'static CStr) {
        let pool = self.get().pool;
        // SAFETY: key 2 of this protocol marks, in the packet pool, that the columns are ours.
        unsafe {
            if sys::p_get_proto_data(pool, self.raw.as_ptr(), PROTO.get(), 2).is_null() {
                let mark = self.pool().bytes(1).as_mut_ptr() as *mut c_void;
                sys::p_add_proto_data(pool, self.raw.as_ptr(), PROTO.get(), 2, mark);
                sys::col_clear(self.get().cinfo, Col::Info.id());
            }
        }
        self.col_set(Col::Protocol, protocol);
    }
    /// What the PDU-length callback learned about the PDU it cut last in this packet.
    pub fn pdu_memo(&self) -> Option<PduMemo<'p>> {
        // SAFETY: key 1 of this protocol holds a PduMemo<'p> in the packet pool (set below).
        unsafe {
            let p = sys::p_get_proto_data(self.get().pool, self.raw.as_ptr(), PROTO.get(), 1)
                as *const PduMemo<'p>;
            (!p.is_null()).then(|| p.read())
        }
    }
    /// Keeps `memo` for the dissect call that follows (replacing an earlier one).
    pub fn set_pdu_memo(&self, memo: PduMemo<'p>) {
        let pool = self.get().pool;
        // SAFETY: packet-scope proto data in the packet pool; PduMemo is plain data whose
        // borrowed bytes live in the same pool.
        unsafe {
            let p =
                sys::p_get_proto_data(pool, self.raw.as_ptr(), PROTO.get(), 1) as *mut PduMemo<'p>;
            if p.is_null() {
                let p = self.pool().slice(&[memo]).as_ptr() as *mut PduMemo<'p>;
                sys::p_add_proto_data(pool, self.raw.as_ptr(), PROTO.get(), 1, p as *mut c_void);
            } else {
                p.write(memo);
            }
        }
    }
    /// A per-packet counter (starts at 0) that survives across PDUs of this dissection.
    pub fn next_message_index(&self) -> u32 {
        let pool = self.get().pool;
        let proto = PROTO.get();
        // SAFETY: packet-scope proto data, allocated in the packet pool.
        unsafe {
            let p = sys::p_get_proto_data(pool, self.raw.as_ptr(), proto, 0) as *mut u32;
            if p.is_null() {
                let p = sys::wmem_alloc(pool, 4) as *mut u32;
                p.write(1);
                sys::p_add_proto_data(pool, self.raw.as_ptr(), proto, 0, p as *mut c_void);
                0
            } else {
                let n = p.read();
                p.write(n + 1);
                n
            }
        }
    }
    /// Calls `handle` (e.g. `json`) on `tvb`, with the columns write-protected (the shim makes
    /// them writable again on every path, a throw in the callee included).
    pub fn call_protected(
        &self,
        handle: &Handle,
        tvb: Tvb<'p>,
        tree: Option<Tree<'p>>,
    ) -> Result<(), Thrown> {
        if !handle.is_set() {
            return Ok(());
        }
        let tree = tree.map_or(ptr::null_mut(), |t| t.raw.as_ptr());
        let mut consumed: c_int = 0;
        // SAFETY: registered handle, live tvb/pinfo/tree; the shim catches any throw.
        shim(unsafe {
            sys::kasa_shim_call_dissector(
                &mut consumed,
                handle.get(),
                tvb.raw.as_ptr(),
                self.raw.as_ptr(),
                tree,
            )
        })
    }
}

fn socket_addr(a: &sys::address, port: u32) -> SocketAddr {
    let port = port as u16;
    let bytes = |n: usize| -> Option<&[u8]> {
        (a.len as usize == n && !a.data.is_null())
            // SAFETY: an address of type IPv4/IPv6 points at len bytes.
            .then(|| unsafe { core::slice::from_raw_parts(a.data as *const u8, n) })
    };
    let ip = match a.type_ as u32 {
        sys::AT_IPv4 => bytes(4).map(|b| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        sys::AT_IPv6 => bytes(16).map(|b| {
            let mut o = [0u8; 16];
            o.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(o))
        }),
        _ => None,
    };
    SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port)
}

/// A protocol tree (never null: a null tree is `None` at the boundary).
#[derive(Clone, Copy)]
pub struct Tree<'p> {
    raw: NonNull<sys::proto_tree>,
    _p: PhantomData<&'p ()>,
}

/// A tree item.
#[derive(Clone, Copy)]
pub struct Item<'p> {
    raw: NonNull<sys::proto_item>,
    _p: PhantomData<&'p ()>,
}

fn item<'p>(raw: *mut sys::proto_item) -> Option<Item<'p>> {
    NonNull::new(raw).map(|raw| Item {
        raw,
        _p: PhantomData,
    })
}

/// A byte range of a tvb that an item points at; checked before each call.
#[derive(Clone, Copy)]
pub struct Span<'p> {
    pub tvb: Tvb<'p>,
    pub offset: usize,
    pub len: usize,
}

impl<'p> Span<'p> {
    /// The span, clamped to what is captured so that no tree call throws.
    fn checked(&self) -> (*mut sys::tvbuff_t, c_int, c_int) {
        let cap = self.tvb.captured_len();
        let offset = self.offset.min(cap);
        let len = self.len.min(cap - offset);
        (self.tvb.raw.as_ptr(), offset as c_int, len as c_int)
    }
}

impl<'p> Tree<'p> {
    /// Where the items of field `hf` are in this frame's tree (a field the postdissector
    /// asked for with [`set_postdissector_wanted`]), at most `max`, in tree order.
    pub fn field_spans(&self, hf: c_int, max: usize) -> Vec<Span<'p>> {
        // Most frames hold no item of the field, or one or two: a small buffer on the stack
        // first, the heap only when it fills up.
        const SMALL: usize = 8;
        let mut small = [sys::kasa_field_span::default(); SMALL];
        let cap = max.min(SMALL);
        // SAFETY: live tree; `small` has room for `cap` spans.
        let n =
            unsafe { sys::kasa_field_spans(self.raw.as_ptr(), hf, small.as_mut_ptr(), cap as u32) }
                as usize;
        let spans = |raw: &[sys::kasa_field_span]| -> Vec<Span<'p>> {
            raw.iter()
                .filter_map(|s| {
                    Some(Span {
                        tvb: Tvb::from_raw(s.tvb)?,
                        offset: usize::try_from(s.start).ok()?,
                        len: usize::try_from(s.length).ok()?,
                    })
                })
                .collect()
        };
        if n < cap || cap == max {
            return spans(&small[..n.min(cap)]);
        }
        let mut raw = vec![sys::kasa_field_span::default(); max];
        // SAFETY: live tree; `raw` has room for `max` spans.
        let n =
            unsafe { sys::kasa_field_spans(self.raw.as_ptr(), hf, raw.as_mut_ptr(), max as u32) }
                as usize;
        spans(&raw[..n.min(max)])
    }

    /// Whether anything will look at items of protocol or field `id` in this tree
    /// (`proto_field_is_referenced`): the tree is shown (`-V`, `-T fields`, `-T json`, the
    /// GUI's details pane); or a display filter, a colouring rule or a postdissector refers to
    /// it or to one of its fields; or, for a protocol, a tap such as the protocol hierarchy
    /// counts protocol items.
    pub fn references(&self, id: c_int) -> bool {
        // SAFETY: live tree; a lookup only.
        unsafe { sys::kasa_field_referenced(self.raw.as_ptr(), id) != 0 }
    }

    fn from_raw(raw: *mut sys::proto_tree) -> Option<Self> {
        NonNull::new(raw).map(|raw| Tree {
            raw,
            _p: PhantomData,
        })
    }
    /// Runs one `kasa_shim_tree_add_*` wrapper, which writes the item through its first argument.
    fn add(&self, f: impl FnOnce(*mut *mut sys::proto_item) -> c_int) -> Added<'p> {
        let mut out = ptr::null_mut();
        shim(f(&mut out))?;
        Ok(item(out))
    }
    /// The protocol item over `span`.
    pub fn protocol(&self, span: Span<'p>) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_item(out, self.raw.as_ptr(), PROTO.get(), t, o, l, sys::ENC_NA)
        })
    }
    /// A bytes field over the span (seeds, hashes, ciphertext).
    pub fn bytes_item(&self, hf: &Hf, span: Span<'p>) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_item(out, self.raw.as_ptr(), hf.get(), t, o, l, sys::ENC_NA)
        })
    }
    /// A string field read from the tvb as ASCII (`json.value.number`).
    pub fn ascii_item(&self, hf: &Hf, span: Span<'p>) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_item(out, self.raw.as_ptr(), hf.get(), t, o, l, sys::ENC_ASCII)
        })
    }
    /// The root item of protocol `proto` over the first `len` bytes of `tvb`, with the protocol
    /// added to the frame's layers, as `call_dissector` and the JSON dissector would
    /// (`kasa_shim_json_root`).
    pub fn json_root(&self, pinfo: Pinfo<'p>, proto: &Hf, tvb: Tvb<'p>, len: usize) -> Added<'p> {
        let len = len.min(tvb.captured_len()) as c_int;
        // SAFETY: live tree, pinfo and tvb; the length is within the tvb; the shim catches any
        // throw.
        self.add(|out| unsafe {
            sys::kasa_shim_json_root(
                out,
                self.raw.as_ptr(),
                pinfo.raw.as_ptr(),
                proto.get(),
                tvb.raw.as_ptr(),
                len,
            )
        })
    }
    /// A string field read from the tvb as UTF-8 (invalid sequences shown as U+FFFD).
    pub fn utf8_item(&self, hf: &Hf, span: Span<'p>) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_item(out, self.raw.as_ptr(), hf.get(), t, o, l, sys::ENC_UTF_8)
        })
    }
    /// Test only (`KASA_TEST_THROW`): a UTF-8 item over `offset..offset+len` of `tvb` exactly as
    /// given, *not* clamped to the captured bytes, so that epan throws a bounds error inside
    /// the shim. Safe all the same: epan checks the range and throws; the shim catches.
    #[doc(hidden)]
    pub fn unchecked_item(&self, hf: &Hf, tvb: Tvb<'p>, offset: usize, len: usize) -> Added<'p> {
        let (o, l) = (offset as c_int, len as c_int);
        // SAFETY: live tree and tvb; the shim catches the throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_item(
                out,
                self.raw.as_ptr(),
                hf.get(),
                tvb.raw.as_ptr(),
                o,
                l,
                sys::ENC_UTF_8,
            )
        })
    }
    pub fn string(&self, hf: &Hf, span: Span<'p>, value: &CStr) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the value is copied; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_string(
                out,
                self.raw.as_ptr(),
                hf.get(),
                t,
                o,
                l,
                value.as_ptr(),
            )
        })
    }
    pub fn uint(&self, hf: &Hf, span: Span<'p>, value: u32) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_uint(out, self.raw.as_ptr(), hf.get(), t, o, l, value)
        })
    }
    pub fn int(&self, hf: &Hf, span: Span<'p>, value: i32) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_int(out, self.raw.as_ptr(), hf.get(), t, o, l, value)
        })
    }
    pub fn boolean(&self, hf: &Hf, span: Span<'p>, value: bool) -> Added<'p> {
        let (t, o, l) = span.checked();
        // SAFETY: live tree; checked span; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_boolean(
                out,
                self.raw.as_ptr(),
                hf.get(),
                t,
                o,
                l,
                c_int::from(value),
            )
        })
    }
    pub fn time(&self, hf: &Hf, span: Span<'p>, value: Duration) -> Added<'p> {
        let (t, o, l) = span.checked();
        let ns = sys::nstime_t {
            secs: value.as_secs() as _,
            nsecs: value.subsec_nanos() as c_int,
        };
        // SAFETY: live tree; checked span; the time is copied; the shim catches any throw.
        self.add(|out| unsafe {
            sys::kasa_shim_tree_add_time(out, self.raw.as_ptr(), hf.get(), t, o, l, &ns)
        })
    }
}

impl<'p> Item<'p> {
    pub fn subtree(&self, ett: &Ett) -> Result<Option<Tree<'p>>, Thrown> {
        let mut out = ptr::null_mut();
        // SAFETY: live item; the ett is registered; the shim catches any throw.
        shim(unsafe { sys::kasa_shim_item_add_subtree(&mut out, self.raw.as_ptr(), ett.get()) })?;
        Ok(Tree::from_raw(out))
    }
    /// Marks the item as generated (`[…]`), with proto.h's own `static inline` helper (compiled
    /// into the shim). Never throws.
    pub fn set_generated(&self) {
        // SAFETY: live item (proto_item_set_generated also accepts faked items).
        unsafe { sys::kasa_shim_item_set_generated(self.raw.as_ptr()) }
    }
    /// Hides the item (shown only with "show hidden fields"). Never throws.
    pub fn set_hidden(&self) {
        // SAFETY: live item (proto_item_set_hidden also accepts faked items).
        unsafe { sys::kasa_shim_item_set_hidden(self.raw.as_ptr()) }
    }
    pub fn append_text(&self, text: &CStr) -> Result<(), Thrown> {
        // SAFETY: live item; the shim formats "%s" with the text (copied) and catches any throw.
        shim(unsafe { sys::kasa_shim_item_append_text(self.raw.as_ptr(), text.as_ptr()) })
    }
    /// Replaces the item's whole label (its value, what filters compare, is unchanged).
    pub fn set_text(&self, text: &CStr) -> Result<(), Thrown> {
        // SAFETY: live item; the shim formats "%s" with the text (copied) and catches any throw.
        shim(unsafe { sys::kasa_shim_item_set_text(self.raw.as_ptr(), text.as_ptr()) })
    }
}

/// What a PDU-length callback learned about one PDU (plain data in the packet pool): its
/// length, its first bytes (to recognise it), whether its header disagreed with its content,
/// and its plaintext when it was decrypted.
#[derive(Clone, Copy, Debug)]
pub struct PduMemo<'p> {
    pub total: usize,
    pub head: [u8; 8],
    pub mismatch: bool,
    pub plaintext: Option<&'p [u8]>,
}

/// The TCP information TCP hands its subdissectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpInfo {
    pub is_reassembled: bool,
    pub fin: bool,
}

/// The context of one dissector call, handed to the safe plugin code.
pub struct Call<'p> {
    pub tvb: Tvb<'p>,
    pub pinfo: Pinfo<'p>,
    pub tree: Option<Tree<'p>>,
}
