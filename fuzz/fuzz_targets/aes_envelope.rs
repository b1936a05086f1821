//! AES securePassthrough: the request and response envelopes (`parse_request`,
//! `parse_response`), the session cipher on base64 text from them or from the input, the RSA
//! handshake with a fixed test key (`handshake_keys`, `key_matches`, and `rsa_public_key` on
//! the client key text), and `rsa_private_key` on the raw input. Asserts: no panic; a
//! decryption is shorter than its ciphertext and encrypts back to it; `encrypt_b64` then
//! `decrypt_b64` round-trips; heap growth bounded by the input (RSA work is sized by the
//! 1024-bit test key).
#![no_main]

use kasa_decoder::wire::aes::{self, AesKeys};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[global_allocator]
static A: Counting = Counting;

fn test_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        aes::rsa_private_key(include_bytes!("../../fixtures/keys/rsa1024.pkcs8.pem"))
            .expect("the committed test key")
    })
}

fn session() -> AesKeys {
    AesKeys::from_hex(
        "388902faf558731ca120489a82c7d909",
        "393df81b53cd30b58969bafd5e399ffa",
    )
    .expect("hex")
}

fn try_decrypt(keys: &AesKeys, b64: &str) {
    if let Ok(pt) = keys.decrypt_b64(b64) {
        assert!(pt.len() < b64.len());
        let again = keys.encrypt_b64(&pt);
        assert_eq!(keys.decrypt_b64(&again).unwrap(), pt);
    }
}

fuzz_target!(|data: &[u8]| {
    let key = test_key();
    let keys = session();
    let (_, grew) = alloc::measure(|| {
        if let Some(req) = aes::parse_request(data) {
            if let Some(pem) = &req.key_pem {
                let _ = aes::key_matches(pem, key);
                let _ = aes::rsa_public_key(pem);
            }
            if let Some(b64) = &req.request_b64 {
                try_decrypt(&keys, b64);
            }
            let _ = req.method.as_str();
        }
        if let Some(resp) = aes::parse_response(data) {
            if let Some(b64) = &resp.key_b64 {
                if let Ok(k) = aes::handshake_keys(b64, key) {
                    let _ = format!("{k:?}");
                }
            }
            if let Some(text) = &resp.response {
                try_decrypt(&keys, text);
            }
        }
        let text = String::from_utf8_lossy(data);
        try_decrypt(&keys, &text);
        let _ = aes::key_matches(&text, key);
        let _ = aes::handshake_keys(&text, key);
        assert_eq!(keys.decrypt_b64(&keys.encrypt_b64(data)).unwrap(), data);
    });
    let budget = 16 * data.len() + (64 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
    // User-supplied key files: no panic (not measured: a key's size is the user's).
    let _ = aes::rsa_private_key(data);
});
