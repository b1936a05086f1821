//! Wire formats: checked views over byte buffers and their representations.
//!
//! The contract every module here keeps (after smoltcp's `wire`):
//!
//! * `View::new_checked(buf)` is the only way untrusted bytes enter; once it returned `Ok`, no
//!   accessor of the view panics, whatever the bytes are.
//! * `parse` functions never panic and never allocate more than the input they were handed.
//! * `emit` functions write a complete message into a buffer of exactly `buffer_len()` bytes; they
//!   serve the fixture generator and round-trip tests, never the decoding path.
//! * Crypto functions (`decrypt`, `decrypt_b64`, `handshake_keys`, …) return a
//!   [`crypto::CryptoError`] for any bad input and allocate no more than the ciphertext they
//!   decrypt; RSA work is bounded by the key, which comes from the user, not the capture.
//! * Secrets (passwords, auth hashes, session keys) never show in `Debug` output.
//!
//! One module per format:
//!
//! * [`xor`]: the legacy cipher, its TCP framing and where a frame really ends;
//! * [`json`]: where a JSON text ends, for every transport;
//! * [`json_tree`]: a JSON text as the nodes of a tree, with their byte ranges (the plugin's
//!   `json.*` items);
//! * [`tdp`]: the TDP discovery header (UDP 20002/20004), its CRC and strong heuristic, what a
//!   reply says about the device's transports, and the cameras' `encrypt_info`;
//! * [`klap`]: KLAP v1/v2 auth and handshake hashes, finding the credential behind a
//!   handshake, session keys, request/response crypto, its URIs;
//! * [`aes`]: AES securePassthrough envelopes, the RSA handshake and the session cipher;
//! * [`ssl_aes`]: SslAes (HTTPS): its clear login, the key and IV from nonces and a password,
//!   the `Tapo_tag` header; the envelopes are [`aes`]'s;
//! * [`linkie`]: Linkie v2 (HTTPS): base64 XOR without header in a form body;
//! * [`crypto`]: what those share (AES-128-CBC/PKCS7, base64, hex, PEM, [`crypto::CryptoError`]);
//! * [`cloud`]: the framings recognised inside the cloud link's decrypted TLS;
//! * [`http`]: a request target's path and query, a cookie's value;
//! * [`dns`]: the addresses a DNS response gives for the name asked (CNAMEs followed);
//! * [`tls`]: TLS records, handshake messages across records, the ClientHello's SNI and the
//!   Certificate message's DER certificates, as a passive observer sees them (no decryption);
//! * [`x509`]: the names in a DER certificate (subject and issuer CN and O, DNS names).
//!
//! JSON bodies are read leniently by a private module: a member of an unexpected type reads as
//! `None`, never as an error for the whole body, and no `serde_json::Value` tree is built.

pub mod aes;
pub mod cloud;
pub mod crypto;
pub mod dns;
pub mod http;
pub mod json;
pub mod json_tree;
pub mod klap;
mod lenient;
pub mod linkie;
pub mod ssl_aes;
pub mod tdp;
pub mod tls;
pub mod x509;
pub mod xor;
