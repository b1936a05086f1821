//! kasa-decoder: the TP-Link Kasa smart-home protocols, decoded without Wireshark.
//!
//! Data flows one way, and the modules follow it:
//!
//! * [`wire`]: checked views and representations of the bytes (the XOR cipher and its framing);
//! * [`msg`]: the transport-neutral message model (methods, error codes, device, problems) for
//!   both JSON dialects, IOT (`{"module":{"method":..}}`) and SMART JSON-RPC ([`msg::Dialect`]);
//! * [`conv`]: conversations: TCP reassembly, message framing in a stream, request/response
//!   pairing;
//! * [`capture`]: pcap/pcapng replay down to TCP and UDP payloads, and the [`capture::Decoder`]
//!   that turns a whole capture into messages.
//!
//! Nothing here panics on input, allocates beyond what a capture really holds, or uses `unsafe`.
#![forbid(unsafe_code)]

pub mod capture;
pub mod conv;
pub mod msg;
pub mod wire;
