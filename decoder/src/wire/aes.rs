//! AES "securePassthrough" (HTTP `POST /app`, TCP 80; PROTOCOL.md §5): the JSON envelopes,
//! the session key from the RSA handshake, and the per-message AES-128-CBC.
//!
//! ```text
//! POST /app  {"method":"handshake","params":{"key":"<PEM SPKI, RSA-1024>"}}
//!         <- {"error_code":0,"result":{"key":"<b64 RSA-PKCS1v15(key16 ‖ iv16)>"}}
//! POST /app  {"method":"securePassthrough","params":{"request":"<b64 AES-CBC(inner JSON)>"}}
//!         <- {"error_code":0,"result":{"response":"<b64 AES-CBC(inner JSON)>"}}
//! ```
//!
//! One key and one IV serve every message of a session, in both directions; each message is a
//! fresh CBC chain. A passive observer gets them from the handshake reply only with the
//! client's RSA private key ([`rsa_private_key`], [`handshake_keys`]), or from the user
//! ([`AesKeys::from_hex`]). Some firmware answers with clear JSON in `response`: try
//! [`AesKeys::decrypt_b64`] first, then read it as JSON.

use super::crypto::{self, CryptoError};
use super::lenient::{self, Object, set, skip};
use core::fmt;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use serde::de::MapAccess;

/// The outer `method` of a request envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeMethod {
    /// `handshake`: the client's RSA public key.
    Handshake,
    /// `securePassthrough`: an encrypted inner request.
    SecurePassthrough,
    /// `login_device` sent outside the passthrough.
    LoginDevice,
    /// SslAes's clear `login` (`POST /` over HTTPS, [`super::ssl_aes`]); never read from an
    /// `/app` body by [`parse_request`].
    Login,
}

impl EnvelopeMethod {
    /// The method name as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeMethod::Handshake => "handshake",
            EnvelopeMethod::SecurePassthrough => "securePassthrough",
            EnvelopeMethod::LoginDevice => "login_device",
            EnvelopeMethod::Login => "login",
        }
    }
}

/// A request envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEnvelope {
    pub method: EnvelopeMethod,
    /// `params.key` of a handshake: the client's public key, PEM.
    pub key_pem: Option<String>,
    /// `params.request` of a securePassthrough: base64 ciphertext.
    pub request_b64: Option<String>,
}

/// A response envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseEnvelope {
    /// The outer `error_code` (`None` if absent or not an integer).
    pub error_code: Option<i64>,
    /// `result.key` of a handshake reply: base64 of the RSA-wrapped key ‖ IV.
    pub key_b64: Option<String>,
    /// `result.response`: base64 ciphertext, or (some firmware) clear JSON text.
    pub response: Option<String>,
}

/// A request envelope; `None` if the body is not JSON or its `method` is none of
/// `handshake`, `securePassthrough`, `login_device`.
pub fn parse_request(body: &[u8]) -> Option<RequestEnvelope> {
    let doc = lenient::from_slice::<RequestDoc>(body)?;
    let method = match doc.method?.as_str() {
        "handshake" => EnvelopeMethod::Handshake,
        "securePassthrough" => EnvelopeMethod::SecurePassthrough,
        "login_device" => EnvelopeMethod::LoginDevice,
        _ => return None,
    };
    let params = doc.params.unwrap_or_default();
    Some(RequestEnvelope {
        method,
        key_pem: params.key,
        request_b64: params.request,
    })
}

/// A response envelope; `None` if the body is not a JSON object with `error_code` or
/// `result`.
pub fn parse_response(body: &[u8]) -> Option<ResponseEnvelope> {
    let doc = lenient::from_slice::<ResponseDoc>(body)?;
    if !doc.error_code_present && !doc.result_present {
        return None;
    }
    let result = doc.result.unwrap_or_default();
    Some(ResponseEnvelope {
        error_code: doc.error_code,
        key_b64: result.key,
        response: result.response,
    })
}

/// A session's AES-128 key and IV. `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKeys {
    key: [u8; 16],
    iv: [u8; 16],
}

impl fmt::Debug for AesKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKeys(..)")
    }
}

impl AesKeys {
    pub fn new(key: [u8; 16], iv: [u8; 16]) -> Self {
        AesKeys { key, iv }
    }

    /// From 32 hex digits each (either case; blanks around and a `0x` prefix allowed).
    pub fn from_hex(key_hex: &str, iv_hex: &str) -> Option<Self> {
        Some(AesKeys::new(
            crypto::hex_array(key_hex)?,
            crypto::hex_array(iv_hex)?,
        ))
    }

    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    pub fn iv(&self) -> &[u8; 16] {
        &self.iv
    }

    /// Decrypts the base64 ciphertext of `params.request` or `result.response`.
    pub fn decrypt_b64(&self, b64: &str) -> Result<Vec<u8>, CryptoError> {
        let ct = crypto::b64_decode(b64)?;
        crypto::cbc_decrypt(&self.key, &self.iv, &ct)
    }

    /// Encrypts `plaintext` into the base64 text of an envelope.
    pub fn encrypt_b64(&self, plaintext: &[u8]) -> String {
        crypto::b64_encode(&crypto::cbc_encrypt(&self.key, &self.iv, plaintext))
    }
}

/// An RSA private key from a file's bytes: PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE
/// KEY`, text around the block allowed), base64 of PKCS#8 DER (python-kasa's
/// `aes_keys.private`), or raw DER (PKCS#8 or PKCS#1). Encrypted keys are not supported.
pub fn rsa_private_key(bytes: &[u8]) -> Result<rsa::RsaPrivateKey, CryptoError> {
    let text = core::str::from_utf8(bytes).ok();
    if let Some(text) = text.filter(|t| t.contains("-----BEGIN ")) {
        let strict = match text.trim() {
            t if t.starts_with("-----BEGIN PRIVATE KEY-----") => {
                rsa::RsaPrivateKey::from_pkcs8_pem(t).ok()
            }
            t if t.starts_with("-----BEGIN RSA PRIVATE KEY-----") => {
                rsa::RsaPrivateKey::from_pkcs1_pem(t).ok()
            }
            _ => None,
        };
        if let Some(key) = strict {
            return Ok(key);
        }
        return match crypto::pem_block(text) {
            Some(("PRIVATE KEY", der)) => rsa::RsaPrivateKey::from_pkcs8_der(&der).ok(),
            Some(("RSA PRIVATE KEY", der)) => rsa::RsaPrivateKey::from_pkcs1_der(&der).ok(),
            _ => None,
        }
        .ok_or(CryptoError::KeyFormat);
    }
    let der_private = |der: &[u8]| {
        rsa::RsaPrivateKey::from_pkcs8_der(der)
            .ok()
            .or_else(|| rsa::RsaPrivateKey::from_pkcs1_der(der).ok())
    };
    if let Some(key) = text
        .and_then(|t| crypto::b64_decode(t).ok())
        .and_then(|der| der_private(&der))
    {
        return Ok(key);
    }
    der_private(bytes).ok_or(CryptoError::KeyFormat)
}

/// An RSA public key from PEM text: SPKI (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`), as in a
/// handshake's `params.key` or a TDP probe's `rsa_key`.
pub fn rsa_public_key(pem: &str) -> Result<rsa::RsaPublicKey, CryptoError> {
    match crypto::pem_block(pem) {
        Some(("PUBLIC KEY", der)) => rsa::RsaPublicKey::from_public_key_der(&der).ok(),
        Some(("RSA PUBLIC KEY", der)) => rsa::RsaPublicKey::from_pkcs1_der(&der).ok(),
        _ => None,
    }
    .ok_or(CryptoError::KeyFormat)
}

/// The handshake reply's `result.key`: base64 of RSA PKCS#1 v1.5 to the client's key,
/// 32 bytes of AES key ‖ IV.
pub fn handshake_keys(key_b64: &str, private: &rsa::RsaPrivateKey) -> Result<AesKeys, CryptoError> {
    let wrapped = crypto::b64_decode(key_b64)?;
    let key_iv = private
        .decrypt(rsa::Pkcs1v15Encrypt, &wrapped)
        .map_err(|_| CryptoError::Rsa)?;
    let (key, iv) = super::tdp::split_key_iv(&key_iv)?;
    Ok(AesKeys::new(key, iv))
}

/// Whether a client's handshake public key (PEM, SPKI or PKCS#1) belongs to `private` (same
/// modulus and exponent), so a front end with several RSA keys picks the right one.
pub fn key_matches(key_pem: &str, private: &rsa::RsaPrivateKey) -> bool {
    rsa_public_key(key_pem)
        .is_ok_and(|public| public.n() == private.n() && public.e() == private.e())
}

// ---------------------------------------------------------------------------------------------
// The JSON documents, read leniently.

#[derive(Default)]
struct RequestDoc {
    method: Option<String>,
    params: Option<RequestParams>,
}

impl Object for RequestDoc {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "method" => set(&mut self.method, map),
            "params" => set(&mut self.params, map),
            _ => skip(map),
        }
    }
}

#[derive(Default)]
struct RequestParams {
    key: Option<String>,
    request: Option<String>,
}

impl Object for RequestParams {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "key" => set(&mut self.key, map),
            "request" => set(&mut self.request, map),
            _ => skip(map),
        }
    }
}

#[derive(Default)]
struct ResponseDoc {
    error_code: Option<i64>,
    error_code_present: bool,
    result: Option<ResponseResult>,
    result_present: bool,
}

impl Object for ResponseDoc {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "error_code" => {
                self.error_code_present = true;
                set(&mut self.error_code, map)
            }
            "result" => {
                self.result_present = true;
                set(&mut self.result, map)
            }
            _ => skip(map),
        }
    }
}

#[derive(Default)]
struct ResponseResult {
    key: Option<String>,
    response: Option<String>,
}

impl Object for ResponseResult {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "key" => set(&mut self.key, map),
            "response" => set(&mut self.response, map),
            _ => skip(map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    // PROTOCOL.md §5.3.
    static KEY_HEX: &str = "388902faf558731ca120489a82c7d909";
    static IV_HEX: &str = "393df81b53cd30b58969bafd5e399ffa";
    static FOO_BAR: &[u8] = br#"{"foo": 1, "bar": 2}"#;
    static FOO_BAR_B64: &str = "DkA51mu3WNL+sN5mgEkH4r9plCWV0ZPLzJhEHczN4Ro=";
    static ENVELOPE: &[u8] = br#"{"method":"securePassthrough","params":{"request":"DkA51mu3WNL+sN5mgEkH4r9plCWV0ZPLzJhEHczN4Ro="}}"#;

    static PKCS8_PEM: &[u8] = include_bytes!("../../../fixtures/keys/rsa1024.pkcs8.pem");
    static PKCS1_PEM: &[u8] = include_bytes!("../../../fixtures/keys/rsa1024.pkcs1.pem");
    static PKCS8_DER: &[u8] = include_bytes!("../../../fixtures/keys/rsa1024.pkcs8.der");
    static PKCS8_B64: &[u8] = include_bytes!("../../../fixtures/keys/rsa1024.pkcs8.b64");
    static PUB_PEM: &str = include_str!("../../../fixtures/keys/rsa1024.pub.pem");
    static PUB_PKCS1_PEM: &str = include_str!("../../../fixtures/keys/rsa1024.pkcs1.pub.pem");
    static OTHER_PEM: &[u8] = include_bytes!("../../../fixtures/keys/rsa2048.pkcs8.pem");
    static OTHER_PUB_PEM: &str = include_str!("../../../fixtures/keys/rsa2048.pub.pem");

    fn keys() -> AesKeys {
        AesKeys::from_hex(KEY_HEX, IV_HEX).unwrap()
    }

    #[test]
    fn the_vector() {
        assert_eq!(keys().decrypt_b64(FOO_BAR_B64).unwrap(), FOO_BAR);
        assert_eq!(keys().encrypt_b64(FOO_BAR), FOO_BAR_B64);
        // The fixed IV: the same text encrypts the same way twice.
        assert_eq!(keys().encrypt_b64(FOO_BAR), keys().encrypt_b64(FOO_BAR));
        assert_eq!(keys().key(), &crypto::hex_array::<16>(KEY_HEX).unwrap());
        assert_eq!(keys().iv(), &crypto::hex_array::<16>(IV_HEX).unwrap());
        assert_eq!(
            AesKeys::from_hex(&KEY_HEX.to_uppercase(), IV_HEX),
            Some(keys())
        );
        assert_eq!(AesKeys::from_hex(KEY_HEX, &IV_HEX[2..]), None);
        assert_eq!(AesKeys::from_hex("", IV_HEX), None);
        assert_eq!(format!("{:?}", keys()), "AesKeys(..)");
    }

    #[test]
    fn decrypt_errors() {
        assert_eq!(keys().decrypt_b64("not base64!"), Err(CryptoError::Base64));
        assert_eq!(
            keys().decrypt_b64("AAAA"),
            Err(CryptoError::NotBlockAligned { len: 3 })
        );
        assert_eq!(keys().decrypt_b64(""), Err(CryptoError::Padding));
        // Clear JSON (some firmware) is not base64.
        assert!(keys().decrypt_b64(r#"{"error_code":0}"#).is_err());
        let other = AesKeys::new([0xa5; 16], [0; 16]);
        assert_eq!(other.decrypt_b64(FOO_BAR_B64), Err(CryptoError::Padding));
    }

    #[test]
    fn request_envelopes() {
        assert_eq!(
            parse_request(ENVELOPE),
            Some(RequestEnvelope {
                method: EnvelopeMethod::SecurePassthrough,
                key_pem: None,
                request_b64: Some(FOO_BAR_B64.into()),
            })
        );
        let hs = format!(
            r#"{{"method":"handshake","params":{{"key":{}}},"requestTimeMils":0}}"#,
            serde_json::to_string(PUB_PEM).unwrap()
        );
        assert_eq!(
            parse_request(hs.as_bytes()),
            Some(RequestEnvelope {
                method: EnvelopeMethod::Handshake,
                key_pem: Some(PUB_PEM.into()),
                request_b64: None,
            })
        );
        let login = br#"{"method":"login_device","params":{"username":"x","password":"y"}}"#;
        assert_eq!(
            parse_request(login).map(|r| (r.method, r.key_pem, r.request_b64)),
            Some((EnvelopeMethod::LoginDevice, None, None))
        );
        // Lenient: params of the wrong type, or missing.
        assert_eq!(
            parse_request(br#"{"method":"securePassthrough","params":{"request":7}}"#)
                .map(|r| r.request_b64),
            Some(None)
        );
        assert_eq!(
            parse_request(br#"{"params":"x","method":"handshake"}"#).map(|r| r.method),
            Some(EnvelopeMethod::Handshake)
        );
        for not in [
            &br#"{"method":"get_device_info","params":{}}"#[..],
            br#"{"method":1}"#,
            br#"{"params":{}}"#,
            br#"["handshake"]"#,
            b"",
            &ENVELOPE[..ENVELOPE.len() - 1],
        ] {
            assert_eq!(parse_request(not), None, "{}", String::from_utf8_lossy(not));
        }
        assert_eq!(
            EnvelopeMethod::SecurePassthrough.as_str(),
            "securePassthrough"
        );
    }

    #[test]
    fn response_envelopes() {
        assert_eq!(
            parse_response(br#"{"error_code":0,"result":{"key":"a2V5"}}"#),
            Some(ResponseEnvelope {
                error_code: Some(0),
                key_b64: Some("a2V5".into()),
                response: None,
            })
        );
        assert_eq!(
            parse_response(br#"{"result":{"response":"DkA5"},"error_code":-1501}"#),
            Some(ResponseEnvelope {
                error_code: Some(-1501),
                key_b64: None,
                response: Some("DkA5".into()),
            })
        );
        assert_eq!(
            parse_response(br#"{"result":{"response":"DkA5"}}"#),
            Some(ResponseEnvelope {
                error_code: None,
                key_b64: None,
                response: Some("DkA5".into()),
            })
        );
        assert_eq!(
            parse_response(br#"{"error_code":9999}"#),
            Some(ResponseEnvelope {
                error_code: Some(9999),
                key_b64: None,
                response: None,
            })
        );
        // Present but of the wrong type still makes an envelope.
        assert_eq!(
            parse_response(br#"{"error_code":"x","result":null}"#),
            Some(ResponseEnvelope {
                error_code: None,
                key_b64: None,
                response: None,
            })
        );
        let clear = br#"{"error_code":0,"result":{"response":"{\"error_code\":0}"}}"#;
        assert_eq!(
            parse_response(clear).unwrap().response.as_deref(),
            Some(r#"{"error_code":0}"#)
        );
        for not in [&b"{}"[..], br#"{"method":"x"}"#, b"[]", b"", b"{"] {
            assert_eq!(parse_response(not), None);
        }
    }

    #[test]
    fn private_key_formats() {
        let key = rsa_private_key(PKCS8_PEM).unwrap();
        assert_eq!(key.size(), 128);
        assert_eq!(rsa_private_key(PKCS1_PEM).unwrap(), key);
        assert_eq!(rsa_private_key(PKCS8_DER).unwrap(), key);
        assert_eq!(rsa_private_key(PKCS8_B64).unwrap(), key);
        // Text around the block, CR LF, one long line: the lenient path.
        let pem = std::str::from_utf8(PKCS8_PEM).unwrap();
        let bagged = format!(
            "Bag Attributes\n    localKeyID: 01\n{}",
            pem.replace('\n', "\r\n")
        );
        assert_eq!(rsa_private_key(bagged.as_bytes()).unwrap(), key);
        let pkcs1 = std::str::from_utf8(PKCS1_PEM).unwrap();
        let bagged = format!("Bag Attributes\n{}", pkcs1.replace('\n', "\r\n"));
        assert_eq!(rsa_private_key(bagged.as_bytes()).unwrap(), key);
        let mut lines = pem.lines();
        let (head, body, tail): (&str, Vec<&str>, &str) = {
            let head = lines.next().unwrap();
            let mut body: Vec<_> = lines.collect();
            let tail = body.pop().unwrap();
            (head, body, tail)
        };
        let one_line = format!("{head}\n{}\n{tail}\n", body.concat());
        assert_eq!(rsa_private_key(one_line.as_bytes()).unwrap(), key);
        // Not private keys.
        for not in [
            PUB_PEM.as_bytes(),
            b"",
            b"garbage",
            &PKCS8_DER[..PKCS8_DER.len() - 1],
            &PKCS8_B64[..100],
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ] {
            assert_eq!(rsa_private_key(not), Err(CryptoError::KeyFormat));
        }
    }

    #[test]
    fn public_keys_and_matching() {
        let key = rsa_private_key(PKCS8_PEM).unwrap();
        let public = rsa::RsaPublicKey::from(&key);
        assert_eq!(rsa_public_key(PUB_PEM).unwrap(), public);
        assert_eq!(rsa_public_key(PUB_PKCS1_PEM).unwrap(), public);
        assert!(key_matches(PUB_PEM, &key));
        assert!(key_matches(PUB_PKCS1_PEM, &key));
        assert!(key_matches(&PUB_PEM.replace('\n', "\\n"), &key));
        let other = rsa_private_key(OTHER_PEM).unwrap();
        assert!(!key_matches(PUB_PEM, &other));
        assert!(key_matches(OTHER_PUB_PEM, &other));
        assert!(!key_matches(OTHER_PUB_PEM, &key));
        // The synthetic TDP probe's key is no key; a private PEM is no public key.
        assert!(!key_matches(
            "-----BEGIN PUBLIC KEY-----\nMFwwDQ==\n-----END PUBLIC KEY-----\n",
            &key
        ));
        assert!(!key_matches(std::str::from_utf8(PKCS8_PEM).unwrap(), &key));
        assert!(!key_matches("", &key));
    }

    fn wrap(key_iv: &[u8], to: &rsa::RsaPrivateKey) -> String {
        let ct = rsa::RsaPublicKey::from(to)
            .encrypt(
                &mut ChaCha8Rng::seed_from_u64(5),
                rsa::Pkcs1v15Encrypt,
                key_iv,
            )
            .unwrap();
        crypto::b64_encode(&ct)
    }

    #[test]
    fn handshake_reply_gives_the_session_keys() {
        let key = rsa_private_key(PKCS8_PEM).unwrap();
        let key_iv = crypto::hex_array::<32>(&format!("{KEY_HEX}{IV_HEX}")).unwrap();
        let reply = wrap(&key_iv, &key);
        let session = handshake_keys(&reply, &key).unwrap();
        assert_eq!(session, keys());
        assert_eq!(session.decrypt_b64(FOO_BAR_B64).unwrap(), FOO_BAR);

        let other = rsa_private_key(OTHER_PEM).unwrap();
        assert_eq!(handshake_keys(&reply, &other), Err(CryptoError::Rsa));
        assert_eq!(
            handshake_keys(&wrap(&key_iv[..31], &key), &key),
            Err(CryptoError::KeyLength { len: 31 })
        );
        let oaep = rsa::RsaPublicKey::from(&key)
            .encrypt(
                &mut ChaCha8Rng::seed_from_u64(5),
                rsa::Oaep::new::<sha1::Sha1>(),
                &key_iv,
            )
            .unwrap();
        assert_eq!(
            handshake_keys(&crypto::b64_encode(&oaep), &key),
            Err(CryptoError::Rsa)
        );
        assert_eq!(handshake_keys("!", &key), Err(CryptoError::Base64));
        assert_eq!(handshake_keys("", &key), Err(CryptoError::Rsa));
        assert_eq!(
            handshake_keys(&crypto::b64_encode(&[0xff; 200]), &key),
            Err(CryptoError::Rsa)
        );
    }
}
