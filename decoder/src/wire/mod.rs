//! Wire formats: checked views over byte buffers and their representations.
//!
//! The contract every module here keeps (after smoltcp's `wire`):
//!
//! * `View::new_checked(buf)` is the only way untrusted bytes enter; once it returned `Ok`, no
//!   accessor of the view panics, whatever the bytes are.
//! * `parse` functions never panic and never allocate more than the input they were handed.
//! * `emit` functions write a complete message into a buffer of exactly `buffer_len()` bytes; they
//!   serve the fixture generator and round-trip tests, never the decoding path.
//!
//! One module per format: [`xor`] (the cipher, its TCP framing and where a frame really ends) and
//! [`json`] (where a JSON text ends, for every transport); TDP, KLAP and AES join them as their
//! issues land.

pub mod crypto;
pub mod http;
pub mod json;
pub mod klap;
mod lenient;
pub mod tdp;
pub mod xor;
