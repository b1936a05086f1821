//! kasa-dissector: a Wireshark plugin for the TP-Link Kasa smart-home protocols.
//!
//! A thin shell over [`kasa_decoder`]: bytes → decoder → plan → Wireshark tree.
//!
//! * [`sys`]: the epan bindings bindgen generates at build time (never committed);
//! * [`epan`]: the only module with `unsafe`: lifetime-bound views (`Tvb<'p>`, `Pinfo<'p>`,
//!   `Tree<'p>`), registration helpers, the exported plugin symbols and the `extern "C"` entry
//!   points, each guarded by `catch_unwind`;
//! * [`fields`]: the one table of fields, subtrees and expert infos;
//! * [`register`]: the protocol, preferences, handles, port table and heuristics;
//! * [`xor`]: the XOR transport's entry points (TCP PDUs, UDP datagrams, heuristics);
//! * [`render`]: the per-message pipeline: decoder → session → plan → columns and tree;
//! * [`state`]: the capture's session (the decoder crate's, remembering its decisions).
#![deny(unsafe_code)]

pub mod epan;
pub mod fields;
pub mod register;
pub mod render;
pub mod state;
pub mod sys;
pub mod xor;
