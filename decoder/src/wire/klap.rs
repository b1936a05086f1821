//! KLAP (HTTP, TCP 80 by default): the handshake hashes, finding the credential behind a
//! handshake, the session keys, and the request/response crypto (PROTOCOL.md §4).
//!
//! ```text
//! POST /app/handshake1          local_seed (16)            -> remote_seed (16) ‖ server_hash (32)
//! POST /app/handshake2          client_hash (32)           -> 200, empty
//! POST /app/request?seq=<N>     sig (32) ‖ AES-CBC(pt)     -> sig (32) ‖ AES-CBC(pt), same IV
//! ```
//!
//! | | v1 (IOT.KLAP) | v2 (SMART.KLAP, IOT.KLAP with `lv >= 2`) |
//! |---|---|---|
//! | `auth_hash` | `MD5(MD5(u) ‖ MD5(p))` | `SHA256(SHA1(u) ‖ SHA1(p))` |
//! | `server_hash` | `SHA256(local ‖ auth)` | `SHA256(local ‖ remote ‖ auth)` |
//! | `client_hash` | `SHA256(remote ‖ auth)` | `SHA256(remote ‖ local ‖ auth)` |
//!
//! Session keys are derived the same way for both versions from `LH = local ‖ remote ‖ auth`
//! ([`KlapKeys::derive`]). A passive observer sees both seeds and `server_hash`, so it can test
//! candidate credentials offline ([`find_credential`]); a match gives the version and the keys.
//!
//! Secrets (auth hashes, passwords, keys) never show in `Debug` output.

use super::crypto::{self, CryptoError};
use core::fmt;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub use super::http::cookie;

/// Bytes of each handshake seed.
pub const SEED_LEN: usize = 16;
/// Bytes of `server_hash`, `client_hash` and the request/response signature.
pub const HASH_LEN: usize = 32;
/// Bytes of the signature in front of a request or response ciphertext.
pub const SIGNATURE_LEN: usize = 32;

/// The two hash families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KlapVersion {
    V1,
    V2,
}

impl KlapVersion {
    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            KlapVersion::V1 => 1,
            KlapVersion::V2 => 2,
        }
    }
}

impl fmt::Display for KlapVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KLAP v{}", self.number())
    }
}

/// The credential hash a KLAP session is keyed with: 16 bytes (v1) or 32 (v2). Its length is
/// its version.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHash(Hash);

#[derive(Clone, PartialEq, Eq)]
enum Hash {
    V1([u8; 16]),
    V2([u8; 32]),
}

impl fmt::Debug for AuthHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthHash(..)")
    }
}

/// The auth hash of a user name and password (UTF-8, exactly as typed).
pub fn auth_hash(version: KlapVersion, username: &str, password: &str) -> AuthHash {
    match version {
        KlapVersion::V1 => {
            let (u, p) = (Md5::digest(username), Md5::digest(password));
            AuthHash(Hash::V1(
                Md5::new().chain_update(u).chain_update(p).finalize().into(),
            ))
        }
        KlapVersion::V2 => {
            let (u, p) = (Sha1::digest(username), Sha1::digest(password));
            AuthHash(Hash::V2(
                Sha256::new()
                    .chain_update(u)
                    .chain_update(p)
                    .finalize()
                    .into(),
            ))
        }
    }
}

impl AuthHash {
    /// A raw auth hash: 16 bytes is v1, 32 bytes v2, anything else `None`.
    pub fn from_bytes(b: &[u8]) -> Option<AuthHash> {
        if let Ok(h) = <[u8; 16]>::try_from(b) {
            return Some(AuthHash(Hash::V1(h)));
        }
        <[u8; 32]>::try_from(b).ok().map(|h| AuthHash(Hash::V2(h)))
    }

    /// python-kasa's `credentials_hash` for KLAP: base64 of the auth hash.
    pub fn from_b64(text: &str) -> Option<AuthHash> {
        AuthHash::from_bytes(&crypto::b64_decode(text).ok()?)
    }

    /// The version its length says.
    pub fn version(&self) -> KlapVersion {
        match self.0 {
            Hash::V1(_) => KlapVersion::V1,
            Hash::V2(_) => KlapVersion::V2,
        }
    }

    /// The hash itself (16 or 32 bytes).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Hash::V1(h) => h,
            Hash::V2(h) => h,
        }
    }

    /// base64 of the hash (python-kasa's `credentials_hash`).
    pub fn to_b64(&self) -> String {
        crypto::b64_encode(self.as_bytes())
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The `server_hash` of the handshake1 reply, by the formula of `auth`'s version.
pub fn server_hash(local_seed: &[u8; 16], remote_seed: &[u8; 16], auth: &AuthHash) -> [u8; 32] {
    match auth.version() {
        KlapVersion::V1 => sha256(&[local_seed, auth.as_bytes()]),
        KlapVersion::V2 => sha256(&[local_seed, remote_seed, auth.as_bytes()]),
    }
}

/// The `client_hash`, the handshake2 request body, by the formula of `auth`'s version.
pub fn client_hash(local_seed: &[u8; 16], remote_seed: &[u8; 16], auth: &AuthHash) -> [u8; 32] {
    match auth.version() {
        KlapVersion::V1 => sha256(&[remote_seed, auth.as_bytes()]),
        KlapVersion::V2 => sha256(&[remote_seed, local_seed, auth.as_bytes()]),
    }
}

/// A credential to try. `Debug` shows the label and user name, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Where it came from, for the user: `"default:kasa"`, `"user:1"`, …
    pub label: String,
    pub username: String,
    password: String,
}

impl Credential {
    pub fn new(
        label: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Credential {
            label: label.into(),
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The credential's auth hash for `version`.
    pub fn auth_hash(&self, version: KlapVersion) -> AuthHash {
        auth_hash(version, &self.username, &self.password)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("label", &self.label)
            .field("username", &self.username)
            .field("password", &format_args!(".."))
            .finish()
    }
}

/// The credentials python-kasa tries when the user's own do not match (PROTOCOL.md §4.2),
/// labelled `default:blank`, `default:kasa`, `default:tapo`, `default:kasacamera`,
/// `default:tapocamera`, `default:tapocamera_lv3`.
pub fn default_credentials() -> Vec<Credential> {
    [
        ("default:blank", "", ""),
        ("default:kasa", "kasa@tp-link.net", "kasaSetup"),
        ("default:tapo", "test@tp-link.net", "test"),
        // The password is the hex MD5 of "admin", as python-kasa stores it.
        (
            "default:kasacamera",
            "admin",
            "21232f297a57a5a743894a0e4a801fc3",
        ),
        ("default:tapocamera", "admin", "admin"),
        ("default:tapocamera_lv3", "admin", "TPL075526460603"),
    ]
    .into_iter()
    .map(|(l, u, p)| Credential::new(l, u, p))
    .collect()
}

/// Tries each credential with v1, then v2, and returns the first whose `server_hash` matches:
/// its index in `candidates` and its auth hash.
pub fn find_credential(
    candidates: &[Credential],
    local_seed: &[u8; 16],
    remote_seed: &[u8; 16],
    server_hash: &[u8; 32],
) -> Option<(usize, AuthHash)> {
    candidates.iter().enumerate().find_map(|(i, c)| {
        [KlapVersion::V1, KlapVersion::V2]
            .into_iter()
            .map(|v| c.auth_hash(v))
            .find(|auth| self::server_hash(local_seed, remote_seed, auth) == *server_hash)
            .map(|auth| (i, auth))
    })
}

/// Tries raw auth hashes (user-supplied, e.g. python-kasa's `credentials_hash`): the index
/// of the first whose `server_hash` matches.
pub fn find_auth_hash(
    candidates: &[AuthHash],
    local_seed: &[u8; 16],
    remote_seed: &[u8; 16],
    server_hash: &[u8; 32],
) -> Option<usize> {
    candidates
        .iter()
        .position(|auth| self::server_hash(local_seed, remote_seed, auth) == *server_hash)
}

/// A session's keys (PROTOCOL.md §4.3). `Debug` shows `initial_seq` only.
#[derive(Clone)]
pub struct KlapKeys {
    key: [u8; 16],
    iv_prefix: [u8; 12],
    sig_key: [u8; 28],
    /// The seq before the first request (which uses `initial_seq + 1`).
    pub initial_seq: i32,
}

impl fmt::Debug for KlapKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KlapKeys")
            .field("initial_seq", &self.initial_seq)
            .finish_non_exhaustive()
    }
}

impl KlapKeys {
    /// Derives the session keys from `LH = local_seed ‖ remote_seed ‖ auth_hash`.
    pub fn derive(local_seed: &[u8; 16], remote_seed: &[u8; 16], auth: &AuthHash) -> KlapKeys {
        let lh: [&[u8]; 3] = [local_seed, remote_seed, auth.as_bytes()];
        let with = |label: &[u8]| sha256(&[label, lh[0], lh[1], lh[2]]);
        let (key, iv, sig) = (with(b"lsk"), with(b"iv"), with(b"ldk"));
        let mut out = KlapKeys {
            key: [0; 16],
            iv_prefix: [0; 12],
            sig_key: [0; 28],
            initial_seq: i32::from_be_bytes([iv[28], iv[29], iv[30], iv[31]]),
        };
        out.key.copy_from_slice(&key[..16]);
        out.iv_prefix.copy_from_slice(&iv[..12]);
        out.sig_key.copy_from_slice(&sig[..28]);
        out
    }

    /// The AES-128 key.
    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    /// The first 12 bytes of every IV.
    pub fn iv_prefix(&self) -> &[u8; 12] {
        &self.iv_prefix
    }

    /// The signature key.
    pub fn sig_key(&self) -> &[u8; 28] {
        &self.sig_key
    }

    /// `iv_prefix ‖ BE32(seq)` (two's complement).
    pub fn iv(&self, seq: i32) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..12].copy_from_slice(&self.iv_prefix);
        iv[12..].copy_from_slice(&seq.to_be_bytes());
        iv
    }

    /// `SHA256(sig_key ‖ BE32(seq) ‖ ciphertext)`.
    pub fn signature(&self, seq: i32, ciphertext: &[u8]) -> [u8; 32] {
        sha256(&[&self.sig_key, &seq.to_be_bytes(), ciphertext])
    }

    /// Decrypts a ciphertext (the body after its 32-byte signature) of message `seq`.
    pub fn decrypt(&self, seq: i32, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        crypto::cbc_decrypt(&self.key, &self.iv(seq), ciphertext)
    }

    /// Encrypts `plaintext` as message `seq`: the ciphertext only.
    pub fn encrypt(&self, seq: i32, plaintext: &[u8]) -> Vec<u8> {
        crypto::cbc_encrypt(&self.key, &self.iv(seq), plaintext)
    }

    /// A whole request body, `signature ‖ ciphertext` (fixture generator, tests).
    pub fn seal(&self, seq: i32, plaintext: &[u8]) -> Vec<u8> {
        let ct = self.encrypt(seq, plaintext);
        let mut body = Vec::with_capacity(SIGNATURE_LEN + ct.len());
        body.extend_from_slice(&self.signature(seq, &ct));
        body.extend_from_slice(&ct);
        body
    }

    /// Whether a body's signature is the one this session computes for `seq`. Requests carry
    /// it; that responses are signed the same way is an assumption (PROTOCOL.md §4.3).
    pub fn verify(&self, seq: i32, body: &[u8]) -> bool {
        split_body(body).is_some_and(|(sig, ct)| self.signature(seq, ct) == *sig)
    }
}

/// A request or response body: `(signature, ciphertext)`; `None` if shorter than the
/// signature.
pub fn split_body(body: &[u8]) -> Option<(&[u8; SIGNATURE_LEN], &[u8])> {
    let (sig, ct) = body.split_first_chunk::<SIGNATURE_LEN>()?;
    Some((sig, ct))
}

/// The seq of a request URI: `"/app/request?seq=-1663874910"` → `Some(-1663874910)`; the
/// `seq` parameter anywhere in the query (`"?a=b&seq=5"`); `None` if absent or not an i32.
pub fn uri_seq(uri: &str) -> Option<i32> {
    super::http::query_param(uri, "seq")?.parse().ok()
}

/// Which KLAP step an HTTP request URI is (its path; query ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlapUri {
    Handshake1,
    Handshake2,
    Request,
}

/// The KLAP step of a request URI: `/app/handshake1`, `/app/handshake2`, `/app/request`;
/// `None` for any other path.
pub fn klap_uri(uri: &str) -> Option<KlapUri> {
    match super::http::path(uri) {
        "/app/handshake1" => Some(KlapUri::Handshake1),
        "/app/handshake2" => Some(KlapUri::Handshake2),
        "/app/request" => Some(KlapUri::Request),
        _ => None,
    }
}

/// A handshake body; the URI says which step, the fixed length which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlapHandshake<'a> {
    /// `POST /app/handshake1`.
    Hello { local_seed: &'a [u8; 16] },
    /// Its reply.
    HelloReply {
        remote_seed: &'a [u8; 16],
        server_hash: &'a [u8; 32],
    },
    /// `POST /app/handshake2`.
    Confirm { client_hash: &'a [u8; 32] },
    /// Its (empty) reply.
    ConfirmReply,
}

/// A handshake body of an unexpected length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLenError {
    pub step: KlapUri,
    pub len: usize,
}

impl fmt::Display for HandshakeLenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = match self.step {
            KlapUri::Handshake1 => "16 (request) or 48 (reply)",
            KlapUri::Handshake2 => "32 (request) or 0 (reply)",
            KlapUri::Request => "no handshake body",
        };
        write!(
            f,
            "KLAP {:?} body of {} bytes, expected {expected}",
            self.step, self.len
        )
    }
}

impl std::error::Error for HandshakeLenError {}

impl<'a> KlapHandshake<'a> {
    /// Reads a handshake body of step `step` (16 or 48 bytes for handshake1, 32 or 0 for
    /// handshake2).
    pub fn parse(step: KlapUri, body: &'a [u8]) -> Result<Self, HandshakeLenError> {
        let err = HandshakeLenError {
            step,
            len: body.len(),
        };
        match (step, body.len()) {
            (KlapUri::Handshake1, 16) => body
                .try_into()
                .map(|local_seed| KlapHandshake::Hello { local_seed })
                .map_err(|_| err),
            (KlapUri::Handshake1, 48) => {
                let (remote_seed, rest) = body.split_first_chunk::<16>().ok_or(err)?;
                let server_hash = rest.try_into().map_err(|_| err)?;
                Ok(KlapHandshake::HelloReply {
                    remote_seed,
                    server_hash,
                })
            }
            (KlapUri::Handshake2, 32) => body
                .try_into()
                .map(|client_hash| KlapHandshake::Confirm { client_hash })
                .map_err(|_| err),
            (KlapUri::Handshake2, 0) => Ok(KlapHandshake::ConfirmReply),
            _ => Err(err),
        }
    }

    /// Bytes of the body.
    pub fn buffer_len(&self) -> usize {
        match self {
            KlapHandshake::Hello { .. } => 16,
            KlapHandshake::HelloReply { .. } => 48,
            KlapHandshake::Confirm { .. } => 32,
            KlapHandshake::ConfirmReply => 0,
        }
    }

    /// The body (fixture generator, tests).
    pub fn to_bytes(&self) -> Vec<u8> {
        match *self {
            KlapHandshake::Hello { local_seed } => local_seed.to_vec(),
            KlapHandshake::HelloReply {
                remote_seed,
                server_hash,
            } => [&remote_seed[..], server_hash].concat(),
            KlapHandshake::Confirm { client_hash } => client_hash.to_vec(),
            KlapHandshake::ConfirmReply => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static LOCAL: [u8; 16] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ];
    static REMOTE: [u8; 16] = [
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
        0x1f,
    ];
    /// v1, blank credentials (PROTOCOL.md §4.5).
    static V1_BLANK_AUTH: [u8; 16] = [
        0x58, 0x73, 0xdd, 0x45, 0xed, 0xd0, 0x1f, 0x09, 0xc1, 0xef, 0x2e, 0x78, 0x19, 0x36, 0x9e,
        0x8e,
    ];
    static V1_BLANK_SERVER: [u8; 32] = [
        0x1c, 0xa7, 0xb0, 0x80, 0x6c, 0xd3, 0xeb, 0x85, 0xab, 0x4b, 0x46, 0xba, 0x1d, 0x15, 0x40,
        0x50, 0xa0, 0xd3, 0x6b, 0xf3, 0xfc, 0x00, 0x33, 0x17, 0xd8, 0x18, 0x8b, 0xa7, 0x85, 0x70,
        0xed, 0xe0,
    ];
    static V1_BLANK_CLIENT: [u8; 32] = [
        0xb5, 0xfe, 0xfc, 0x23, 0xbc, 0x52, 0x8a, 0x30, 0x32, 0x3e, 0x6a, 0x62, 0x46, 0x31, 0x16,
        0xa3, 0x98, 0x8b, 0xb8, 0x58, 0x94, 0x5c, 0x21, 0xee, 0x2b, 0x94, 0xbf, 0x7b, 0x83, 0xda,
        0xb7, 0x9c,
    ];
    static V1_BLANK_KEY: [u8; 16] = [
        0x56, 0xfc, 0xc2, 0x6a, 0x17, 0xef, 0xad, 0xa2, 0x03, 0xf6, 0xc2, 0x48, 0xd2, 0x81, 0x3d,
        0x38,
    ];
    static V1_BLANK_IV: [u8; 16] = [
        0xfc, 0xc8, 0x0e, 0x56, 0xb6, 0xeb, 0x0a, 0x84, 0xfc, 0xbc, 0xf0, 0xf3, 0x9c, 0xd3, 0x48,
        0xa2,
    ];
    static V1_BLANK_SIG: [u8; 28] = [
        0xb1, 0xef, 0xd4, 0x56, 0x6c, 0xc7, 0xba, 0x6a, 0xf5, 0x03, 0xbf, 0xe3, 0xa1, 0x3c, 0xbc,
        0x91, 0x5f, 0xc1, 0x4b, 0x5a, 0xad, 0xf4, 0xf0, 0xb7, 0x49, 0x66, 0x28, 0xdc,
    ];
    /// The first request body of that session: signature ‖ ciphertext.
    static V1_BLANK_REQUEST: [u8; 64] = [
        0xe9, 0xc1, 0xa8, 0x9e, 0x37, 0x50, 0x49, 0xe9, 0x3d, 0x18, 0x0d, 0x62, 0x3c, 0xbe, 0xc7,
        0xc1, 0x6e, 0x1e, 0xdf, 0x4d, 0x77, 0xcc, 0x49, 0x18, 0x72, 0xd2, 0x7f, 0x90, 0x78, 0xc3,
        0xb5, 0x6d, 0x98, 0x9d, 0xfc, 0xec, 0xe9, 0xe0, 0xdc, 0xfd, 0x06, 0x83, 0xac, 0xce, 0x15,
        0x70, 0x0d, 0x6a, 0x8e, 0x43, 0x96, 0xef, 0xff, 0xd4, 0x07, 0xb6, 0x55, 0x09, 0x4e, 0xbc,
        0x1c, 0xd0, 0xa6, 0x41,
    ];
    static GET_SYSINFO: &[u8] = br#"{"system":{"get_sysinfo":{}}}"#;
    const V1_BLANK_SEQ0: i32 = -1_663_874_911;
    /// v2, user@example.com / secret.
    static V2_USER_AUTH: [u8; 32] = [
        0xb0, 0x39, 0x21, 0x65, 0x32, 0xfc, 0x84, 0x4e, 0x9a, 0xe0, 0xcc, 0x8f, 0xe3, 0xea, 0x91,
        0x1c, 0x9b, 0xa0, 0x9c, 0x64, 0x1b, 0xb9, 0x6a, 0x3e, 0x1f, 0x77, 0x6d, 0x93, 0xf7, 0xb5,
        0xae, 0x9b,
    ];
    static V2_USER_SERVER: [u8; 32] = [
        0x8e, 0xd3, 0xb9, 0x05, 0xe6, 0x54, 0xfb, 0xee, 0x23, 0x90, 0x0d, 0x02, 0x44, 0x15, 0x6a,
        0x33, 0x02, 0x9c, 0x02, 0x5b, 0x71, 0xb0, 0x3b, 0xfc, 0xc6, 0x01, 0xef, 0xf3, 0x3a, 0xae,
        0xbb, 0x70,
    ];
    static V2_USER_CLIENT: [u8; 32] = [
        0x1e, 0x59, 0x0e, 0x7a, 0x4d, 0xc1, 0x28, 0xda, 0x48, 0xed, 0x17, 0xe0, 0x6f, 0xe2, 0x3d,
        0xdb, 0x6e, 0xc6, 0x46, 0xbb, 0x6d, 0xa2, 0xeb, 0x00, 0x70, 0x8d, 0x59, 0x0f, 0x19, 0x42,
        0x01, 0xd7,
    ];
    const V2_USER_SEQ0: i32 = -903_964_344;
    /// v2 blank: a positive initial seq.
    const V2_BLANK_SEQ0: i32 = 628_693_304;

    fn v1_blank() -> AuthHash {
        auth_hash(KlapVersion::V1, "", "")
    }

    fn v2_user() -> AuthHash {
        auth_hash(KlapVersion::V2, "user@example.com", "secret")
    }

    #[test]
    fn auth_hashes() {
        assert_eq!(v1_blank().as_bytes(), V1_BLANK_AUTH);
        assert_eq!(v1_blank().version(), KlapVersion::V1);
        assert_eq!(v2_user().as_bytes(), V2_USER_AUTH);
        assert_eq!(v2_user().version(), KlapVersion::V2);
        assert_eq!(AuthHash::from_bytes(&V1_BLANK_AUTH), Some(v1_blank()));
        assert_eq!(AuthHash::from_bytes(&V2_USER_AUTH), Some(v2_user()));
        assert_eq!(AuthHash::from_bytes(&V2_USER_AUTH[..20]), None);
        assert_eq!(AuthHash::from_bytes(&[]), None);
        assert_eq!(
            AuthHash::from_b64("WHPdRe3QHwnB7y54GTaejg=="),
            Some(v1_blank())
        );
        assert_eq!(v1_blank().to_b64(), "WHPdRe3QHwnB7y54GTaejg==");
        assert_eq!(AuthHash::from_b64("WHPd"), None);
        // Case-sensitive, no trimming.
        assert_ne!(
            auth_hash(KlapVersion::V2, "User@example.com", "secret"),
            v2_user()
        );
        assert_eq!((KlapVersion::V1.number(), KlapVersion::V2.number()), (1, 2));
    }

    #[test]
    fn handshake_hashes() {
        assert_eq!(server_hash(&LOCAL, &REMOTE, &v1_blank()), V1_BLANK_SERVER);
        assert_eq!(client_hash(&LOCAL, &REMOTE, &v1_blank()), V1_BLANK_CLIENT);
        assert_eq!(server_hash(&LOCAL, &REMOTE, &v2_user()), V2_USER_SERVER);
        assert_eq!(client_hash(&LOCAL, &REMOTE, &v2_user()), V2_USER_CLIENT);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let text = format!("{:?}", v2_user());
        assert_eq!(text, "AuthHash(..)");
        let c = Credential::new("user:1", "user@example.com", "hunter2");
        let text = format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("user@example.com") && text.contains("user:1"));
        assert_eq!(c.password(), "hunter2");
        let keys = KlapKeys::derive(&LOCAL, &REMOTE, &v1_blank());
        let text = format!("{keys:?}");
        assert_eq!(text, "KlapKeys { initial_seq: -1663874911, .. }");
    }

    #[test]
    fn defaults_are_found() {
        let defaults = default_credentials();
        let labels: Vec<_> = defaults.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "default:blank",
                "default:kasa",
                "default:tapo",
                "default:kasacamera",
                "default:tapocamera",
                "default:tapocamera_lv3"
            ]
        );
        assert_eq!(
            find_credential(&defaults, &LOCAL, &REMOTE, &V1_BLANK_SERVER),
            Some((0, v1_blank()))
        );
        let user = Credential::new("user", "user@example.com", "secret");
        let mut all = defaults.clone();
        all.push(user.clone());
        assert_eq!(
            find_credential(&all, &LOCAL, &REMOTE, &V2_USER_SERVER),
            Some((6, v2_user()))
        );
        assert_eq!(
            find_credential(&defaults, &LOCAL, &REMOTE, &V2_USER_SERVER),
            None
        );
        assert_eq!(find_credential(&[], &LOCAL, &REMOTE, &V2_USER_SERVER), None);
        // Swapped seeds do not match.
        assert_eq!(
            find_credential(&all, &REMOTE, &LOCAL, &V2_USER_SERVER),
            None
        );
        let hashes = [v1_blank(), v2_user()];
        assert_eq!(
            find_auth_hash(&hashes, &LOCAL, &REMOTE, &V2_USER_SERVER),
            Some(1)
        );
        assert_eq!(
            find_auth_hash(&hashes[..1], &LOCAL, &REMOTE, &V2_USER_SERVER),
            None
        );
    }

    #[test]
    fn session_keys() {
        let k = KlapKeys::derive(&LOCAL, &REMOTE, &v1_blank());
        assert_eq!(*k.key(), V1_BLANK_KEY);
        assert_eq!(k.iv_prefix()[..], V1_BLANK_IV[..12]);
        assert_eq!(*k.sig_key(), V1_BLANK_SIG);
        assert_eq!(k.initial_seq, V1_BLANK_SEQ0);
        let seq = V1_BLANK_SEQ0 + 1;
        assert_eq!(k.iv(seq), V1_BLANK_IV);
        assert_eq!(
            KlapKeys::derive(&LOCAL, &REMOTE, &v2_user()).initial_seq,
            V2_USER_SEQ0
        );
        let v2_blank = auth_hash(KlapVersion::V2, "", "");
        assert_eq!(
            KlapKeys::derive(&LOCAL, &REMOTE, &v2_blank).initial_seq,
            V2_BLANK_SEQ0
        );
    }

    #[test]
    fn first_request() {
        let k = KlapKeys::derive(&LOCAL, &REMOTE, &v1_blank());
        let seq = V1_BLANK_SEQ0 + 1;
        let (sig, ct) = split_body(&V1_BLANK_REQUEST).unwrap();
        assert_eq!(k.signature(seq, ct), *sig);
        assert!(k.verify(seq, &V1_BLANK_REQUEST));
        assert!(!k.verify(seq + 1, &V1_BLANK_REQUEST));
        assert_eq!(k.decrypt(seq, ct).unwrap(), GET_SYSINFO);
        assert_eq!(k.encrypt(seq, GET_SYSINFO), ct);
        assert_eq!(k.seal(seq, GET_SYSINFO), V1_BLANK_REQUEST);
        // The wrong seq: only the first block's IV differs, so the padding may survive, but
        // the text does not.
        assert_ne!(k.decrypt(seq + 1, ct).ok().as_deref(), Some(GET_SYSINFO));
        assert_eq!(split_body(&V1_BLANK_REQUEST[..31]), None);
        assert_eq!(split_body(&V1_BLANK_REQUEST[..32]).unwrap().1, b"");
        assert_eq!(k.decrypt(seq, b""), Err(CryptoError::Padding));
        assert_eq!(
            k.decrypt(seq, &ct[..17]),
            Err(CryptoError::NotBlockAligned { len: 17 })
        );
    }

    #[test]
    fn seq_extremes_wrap_as_twos_complement() {
        let k = KlapKeys::derive(&LOCAL, &REMOTE, &v1_blank());
        assert_eq!(k.iv(-1)[12..], [0xff; 4]);
        assert_eq!(k.iv(i32::MIN)[12..], [0x80, 0, 0, 0]);
        assert_eq!(k.iv(i32::MAX)[12..], [0x7f, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn uris() {
        assert_eq!(
            uri_seq("/app/request?seq=-1663874910"),
            Some(-1_663_874_910)
        );
        assert_eq!(uri_seq("/app/request?a=b&seq=5"), Some(5));
        assert_eq!(uri_seq("/app/request?seq=2147483648"), None);
        assert_eq!(uri_seq("/app/request?seq=-2147483648"), Some(i32::MIN));
        assert_eq!(uri_seq("/app/request?seq="), None);
        assert_eq!(uri_seq("/app/request?seq=0x10"), None);
        assert_eq!(uri_seq("/app/request"), None);
        assert_eq!(klap_uri("/app/handshake1"), Some(KlapUri::Handshake1));
        assert_eq!(klap_uri("/app/handshake2?x"), Some(KlapUri::Handshake2));
        assert_eq!(klap_uri("/app/request?seq=1"), Some(KlapUri::Request));
        assert_eq!(
            klap_uri("http://10.0.0.1:80/app/request?seq=1"),
            Some(KlapUri::Request)
        );
        for other in [
            "/app",
            "/app/",
            "/app/request/",
            "/APP/request",
            "/app/handshake3",
            "",
        ] {
            assert_eq!(klap_uri(other), None, "{other}");
        }
        assert_eq!(
            cookie("TP_SESSIONID=abc;TIMEOUT=86400", "TP_SESSIONID"),
            Some("abc")
        );
    }

    #[test]
    fn handshake_bodies() {
        let hello = KlapHandshake::parse(KlapUri::Handshake1, &LOCAL).unwrap();
        assert_eq!(hello, KlapHandshake::Hello { local_seed: &LOCAL });
        let reply_bytes = [&REMOTE[..], &V1_BLANK_SERVER].concat();
        let reply = KlapHandshake::parse(KlapUri::Handshake1, &reply_bytes).unwrap();
        assert_eq!(
            reply,
            KlapHandshake::HelloReply {
                remote_seed: &REMOTE,
                server_hash: &V1_BLANK_SERVER
            }
        );
        assert_eq!(reply.to_bytes(), reply_bytes);
        assert_eq!(reply.buffer_len(), 48);
        let confirm = KlapHandshake::parse(KlapUri::Handshake2, &V1_BLANK_CLIENT).unwrap();
        assert_eq!(confirm.to_bytes(), V1_BLANK_CLIENT);
        assert_eq!(
            KlapHandshake::parse(KlapUri::Handshake2, b""),
            Ok(KlapHandshake::ConfirmReply)
        );
        for (step, len) in [
            (KlapUri::Handshake1, 0),
            (KlapUri::Handshake1, 15),
            (KlapUri::Handshake1, 32),
            (KlapUri::Handshake1, 47),
            (KlapUri::Handshake1, 49),
            (KlapUri::Handshake2, 16),
            (KlapUri::Handshake2, 31),
            (KlapUri::Request, 16),
        ] {
            let body = vec![0xa5; len];
            assert_eq!(
                KlapHandshake::parse(step, &body),
                Err(HandshakeLenError { step, len })
            );
        }
        assert_eq!(
            HandshakeLenError {
                step: KlapUri::Handshake1,
                len: 3
            }
            .to_string(),
            "KLAP Handshake1 body of 3 bytes, expected 16 (request) or 48 (reply)"
        );
    }
}
