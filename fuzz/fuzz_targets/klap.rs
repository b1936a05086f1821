//! KLAP: handshake bodies by step (`KlapHandshake::parse`), request bodies (`split_body`,
//! `KlapKeys::decrypt`/`verify` with keys derived from seeds and an auth hash taken from the
//! input), the credential search, and the URI and cookie helpers on the input as text.
//! Asserts: no panic; handshake bodies parse exactly at their fixed lengths and re-emit
//! themselves; `encrypt` then `decrypt` gives the plaintext back and `seal` verifies; a
//! decryption is never longer than its ciphertext; heap growth bounded by the input.
#![no_main]

use kasa_decoder::wire::klap::{self, AuthHash, KlapHandshake, KlapKeys, KlapUri, KlapVersion};
use kasa_fuzz::Bytes;
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        for step in [KlapUri::Handshake1, KlapUri::Handshake2, KlapUri::Request] {
            let fixed = matches!(
                (step, data.len()),
                (KlapUri::Handshake1, 16 | 48) | (KlapUri::Handshake2, 0 | 32)
            );
            match KlapHandshake::parse(step, data) {
                Ok(h) => {
                    assert!(fixed);
                    assert_eq!(h.buffer_len(), data.len());
                    assert_eq!(h.to_bytes(), data);
                }
                Err(e) => {
                    assert!(!fixed);
                    assert_eq!((e.step, e.len), (step, data.len()));
                    let _ = e.to_string();
                }
            }
        }

        let mut b = Bytes::new(data);
        let local: [u8; 16] = core::array::from_fn(|_| b.u8());
        let remote: [u8; 16] = core::array::from_fn(|_| b.u8());
        let v2 = b.u8() & 1 == 1;
        let auth = AuthHash::from_bytes(b.take(if v2 { 32 } else { 16 }))
            .unwrap_or_else(|| klap::auth_hash(KlapVersion::V1, "", ""));
        let seq = b.u32() as i32;
        let body = b.rest();

        let keys = KlapKeys::derive(&local, &remote, &auth);
        let _ = format!("{keys:?} {auth:?}");
        if let Some((sig, ct)) = klap::split_body(body) {
            assert_eq!(sig.len() + ct.len(), body.len());
            assert_eq!(keys.verify(seq, body), keys.signature(seq, ct) == *sig);
            if let Ok(pt) = keys.decrypt(seq, ct) {
                assert!(pt.len() < ct.len());
                assert_eq!(keys.encrypt(seq, &pt), ct);
            }
        } else {
            assert!(body.len() < klap::SIGNATURE_LEN);
        }
        let sealed = keys.seal(seq, body);
        assert!(keys.verify(seq, &sealed));
        let (_, ct) = klap::split_body(&sealed).unwrap();
        assert_eq!(keys.decrypt(seq, ct).unwrap(), body);

        let server = klap::server_hash(&local, &remote, &auth);
        let found = klap::find_auth_hash(std::slice::from_ref(&auth), &local, &remote, &server);
        assert_eq!(found, Some(0));
        let defaults = klap::default_credentials();
        if let Some((i, a)) = klap::find_credential(&defaults, &local, &remote, &server) {
            assert_eq!(klap::server_hash(&local, &remote, &a), server);
            assert_eq!(defaults[i].auth_hash(a.version()), a);
        }

        let text = String::from_utf8_lossy(data);
        if let Some(s) = klap::uri_seq(&text) {
            assert_eq!(klap::uri_seq(&format!("/app/request?seq={s}")), Some(s));
        }
        let _ = klap::klap_uri(&text);
        if let Some(v) = klap::cookie(&text, "TP_SESSIONID") {
            assert!(text.contains(v));
        }
    });
    let budget = 4 * data.len() + (16 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
