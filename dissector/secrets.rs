//! The user's secrets for the encrypted transports, as owned copies: the `kasa_credentials`
//! UAT (KLAP), the `kasa_aes_keys` UAT and the `kasa.rsa_private_key` preference (AES), and a
//! generation counter that moves whenever any of them may have changed (rebuild what was
//! derived from them). Registered in [`crate::register`]; implemented in `epan/secrets.rs` and
//! `epan/secrets.c`. Never log or show these values.

pub use crate::epan::{aes_keys, credentials, rsa_key_path, secrets_generation};
