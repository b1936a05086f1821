//! kasa-dissector: a Wireshark plugin for the TP-Link Kasa smart-home protocols.
//!
//! A thin shell over [`kasa_decoder`]: bytes → decoder → plan → Wireshark tree.
//!
//! * [`sys`]: the epan bindings bindgen generates at build time (never committed);
//! * [`epan`]: the only module with `unsafe`: lifetime-bound views (`Tvb<'p>`, `Pinfo<'p>`,
//!   `Tree<'p>`), registration helpers, the exported plugin symbols and the `extern "C"` entry
//!   points, each guarded by `catch_unwind`;
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
