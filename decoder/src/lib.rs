//! kasa-decoder: the TP-Link Kasa smart-home protocols, decoded without Wireshark.
//!
//! Data flows one way, and the modules follow it:
//!
//! * [`wire`]: checked views and representations of the bytes (the XOR cipher, its framing and
//!   cut rule; where a JSON text ends);
//! * [`msg`]: the transport-neutral message model: what the transport said ([`msg::Meta`], one
//!   variant per transport), methods, error codes, device, problems, for both JSON dialects,
//!   IOT (`{"module":{"method":..}}`) and SMART JSON-RPC ([`msg::Dialect`]);
//! * [`conv`]: conversations: TCP reassembly, a stream decoder per transport
//!   ([`conv::StreamDecoder`]), and the [`conv::Session`] that decides admission, direction,
//!   pairing and device identity for every front end (the plugin and `kasa-decode` alike);
//! * [`capture`]: pcap/pcapng replay down to TCP and UDP payloads, and the [`capture::Decoder`]
//!   that turns a whole capture into messages;
//! * [`stats`]: counts per device, transport and method (`kasa-decode --stats`, the plugin's
//!   stats tree).
//!
//! Nothing here panics on input, allocates beyond what a capture really holds, or uses `unsafe`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod capture;
pub mod conv;
pub mod inventory;
pub mod msg;
pub mod stats;
pub mod wire;
