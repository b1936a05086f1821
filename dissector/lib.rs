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
//! * [`register`]: the protocol, preferences, handles, port table and heuristics, and the
//!   table of callbacks handed to [`epan`];
//! * [`xor`]: the XOR transport's entry points (TCP PDUs, UDP datagrams, heuristics);
//! * [`tdp`]: TDP discovery datagrams (UDP 20002/20004 and the UDP heuristic);
//! * [`tpap`]: the postdissector that marks connections to announced TPAP endpoints;
//! * [`http`]: HTTP/1.x bodies (KLAP, AES) as HTTP hands them over;
//! * [`secrets`]: the user's credentials, AES keys and RSA key file;
//! * [`render`]: the per-message pipeline: decoder → session → plan → columns and tree;
//! * [`state`]: the capture's session (the decoder crate's, remembering its decisions);
//! * [`stats`]: the stats tree (`tshark -z kasa,tree`) over the decoder's statistics.
#![deny(unsafe_code)]

pub mod cloud;
pub mod epan;
pub mod fields;
pub mod http;
pub mod json;
pub mod register;
pub mod render;
pub mod secrets;
pub mod state;
pub mod stats;
pub mod sys;
pub mod tdp;
pub mod tpap;
pub mod xor;

/// The one function Wireshark's loader calls into the plugin. The crate root is where the two
/// halves meet: [`epan`] never names the plugin's modules; [`register`] hands epan its table of
/// safe callbacks here.
#[allow(unsafe_code)] // `no_mangle` only; everything else unsafe lives in `epan`.
#[unsafe(no_mangle)]
pub extern "C" fn plugin_register() {
    epan::register_plugin(&register::CALLBACKS);
}
