//! The `kasa` tap and the stats tree (`dissector/epan/stats.c`): records queued from the
//! dissection, the tree's packet callback into the plugin, and a view of the tree
//! ([`StatsTree`]) whose methods set its nodes.
//!
//! The tap's record is the decoder's [`Sample`], copied into the packet's pool (plain data,
//! never dropped): epan hands it to the tree's callback before the packet's memory is freed.

use super::Pinfo;
use super::exports::callbacks;
use crate::sys;
use core::ffi::{CStr, c_int, c_void};
use core::marker::PhantomData;
use core::ptr::NonNull;
use kasa_decoder::stats::Sample;
use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// In `plugin_register`: the tap plugin (the stats tree is registered when Wireshark registers
/// tap listeners, before tshark reads its `-z` options).
pub(super) fn register_stats_plugin() {
    // SAFETY: plain registration calls with 'static functions, once, at plugin load.
    unsafe {
        sys::kasa_stats_set_entries(Some(stats_packet), Some(stats_cleanup));
        sys::kasa_stats_register_plugin();
    }
}

/// In `register_protoinfo`: the `kasa` tap.
pub fn register_tap() {
    // SAFETY: called once, at protocol registration.
    unsafe { sys::kasa_stats_register_tap() }
}

/// Whether a listener wants the tap's records now.
pub fn tapping() -> bool {
    // SAFETY: reads epan's tap list; no allocation, no throw.
    unsafe { sys::kasa_stats_tapping() != 0 }
}

impl<'p> Pinfo<'p> {
    /// Queues `sample` (already in this packet's pool) for the frame's tap listeners.
    pub fn tap(&self, sample: &'p Sample<'p>) {
        // SAFETY: the record lives in the packet's pool until after epan hands the queue to
        // the listeners; tap_queue_packet only appends to epan's queue (it does not throw).
        unsafe {
            sys::kasa_stats_queue(
                self.raw.as_ptr(),
                sample as *const Sample<'p> as *const c_void,
            )
        }
    }
}

/// A node of the stats tree: its id (the root is [`Node::ROOT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node(c_int);

impl Node {
    pub const ROOT: Node = Node(0);
}

/// The stats tree a callback was handed, for the duration of that callback.
#[derive(Clone, Copy)]
pub struct StatsTree<'t> {
    raw: NonNull<sys::stats_tree>,
    _p: PhantomData<&'t ()>,
}

/// A node name as C wants it (a NUL in it becomes `?`).
fn c_name(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

fn count(n: u64) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

impl StatsTree<'_> {
    /// Identifies the tree (one per open statistics window, or per `-z kasa,tree`).
    pub fn key(&self) -> usize {
        self.raw.as_ptr() as usize
    }

    /// Sets the count of the node `name` under `parent` (made when missing), returns it.
    pub fn set_node(&self, parent: Node, name: &str, value: u64) -> Node {
        let name = c_name(name);
        // SAFETY: the live tree of the current callback; `parent` is an id epan returned for
        // this tree (or the root); the name is copied by epan.
        Node(unsafe {
            sys::kasa_stats_set_node(self.raw.as_ptr(), name.as_ptr(), parent.0, count(value))
        })
    }

    /// The same for a node without children.
    pub fn set_leaf(&self, parent: Node, name: &CStr, value: u64) {
        // SAFETY: as in `set_node`.
        unsafe {
            sys::kasa_stats_set_leaf(self.raw.as_ptr(), name.as_ptr(), parent.0, count(value))
        }
    }

    /// Adds a value to the averaging node `name` under `parent`.
    pub fn add_value(&self, parent: Node, name: &CStr, value: f64) {
        // SAFETY: as in `set_node`.
        unsafe {
            sys::kasa_stats_add_value(self.raw.as_ptr(), name.as_ptr(), parent.0, value as f32)
        }
    }

    /// Renames the node `from` under `parent` (nothing when there is none, or `to` exists).
    pub fn rename(&self, parent: Node, from: &str, to: &str) {
        let (from, to) = (c_name(from), c_name(to));
        // SAFETY: as in `set_node`; epan keeps its own copy of the new name.
        unsafe { sys::kasa_stats_rename(self.raw.as_ptr(), parent.0, from.as_ptr(), to.as_ptr()) }
    }
}

/// The tree's packet callback: one record of the `kasa` tap.
unsafe extern "C" fn stats_packet(st: *mut sys::stats_tree, record: *const c_void) {
    let (Some(raw), Some(cb)) = (NonNull::new(st), callbacks()) else {
        return;
    };
    if record.is_null() {
        return;
    }
    // SAFETY: the `kasa` tap's records are only ever `Sample`s in the packet's pool
    // (`Pinfo::tap`), alive for this callback.
    let sample = unsafe { &*(record as *const Sample<'_>) };
    let tree = StatsTree {
        raw,
        _p: PhantomData,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| (cb.stats_packet)(tree, sample)));
}

/// The tree is freed.
unsafe extern "C" fn stats_cleanup(st: *mut sys::stats_tree) {
    if let Some(cb) = callbacks() {
        let key = st as usize;
        let _ = catch_unwind(AssertUnwindSafe(|| (cb.stats_cleanup)(key)));
    }
}
