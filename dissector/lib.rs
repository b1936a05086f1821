//! kasa-dissector: a Wireshark plugin for the TP-Link Kasa smart-home protocols.
//!
//! A thin shell over [`kasa_decoder`]: bytes → decoder → plan → Wireshark tree.
//!
//! * [`sys`]: the epan bindings bindgen generates at build time (never committed);
//! * [`epan`]: the only module with `unsafe` (besides `plugin_register` below): lifetime-bound
//!   views (`Tvb<'p>`, `Pinfo<'p>`, `Tree<'p>`), registration helpers, the exported plugin data
//!   symbols and the `extern "C"` entry points, each guarded by `catch_unwind`, over the C shim
//!   `epan/shim.c` through which every throwing epan call goes;
//! * [`fields`]: the one table of fields, subtrees and expert infos;
//! * [`plugin`]: registration, handoff, the TCP/UDP/heuristic entry points and the per-message
//!   pipeline;
//! * [`state`]: the first pass's memory (direction, pairing, device identity).
#![deny(unsafe_code)]

pub mod epan;
pub mod fields;
pub mod plugin;
pub mod state;
pub mod sys;

/// The one function Wireshark's loader calls into the plugin. The crate root is where the two
/// halves meet: [`epan`] never names [`plugin`]; the plugin hands epan its table of safe
/// callbacks here.
#[allow(unsafe_code)] // `no_mangle` only; everything else unsafe lives in `epan`.
#[unsafe(no_mangle)]
pub extern "C" fn plugin_register() {
    epan::register_plugin(&plugin::CALLBACKS);
}
