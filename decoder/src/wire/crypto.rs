//! What KLAP, AES securePassthrough and TDP's `encrypt_info` share: AES-128-CBC with PKCS#7
//! padding, base64 and hex text, PEM armour, and one error type.
//!
//! ```text
//! ct = AES-128-CBC(key, iv, PKCS7(pt))      pt = unpad(AES-128-CBC⁻¹(key, iv, ct))
//! ```
//!
//! Every message is a fresh CBC chain from its IV. Nothing here panics on input, and nothing
//! allocates more than the ciphertext or text it was handed. Error texts never carry key
//! material, only lengths.
//!
//! The block cipher is RustCrypto's `aes` (0.8, default features off), which picks its backend
//! at run time: on x86 and x86-64 it asks the CPU (`cpufeatures`) for AES-NI and uses it, else
//! its constant-time software AES. Nothing in this workspace sets the `aes_force_soft` cfg that
//! would turn the detection off. On AArch64, `aes` 0.8 uses the ARMv8 instructions only when
//! built with `RUSTFLAGS="--cfg aes_armv8"` (then also detected at run time); without it, the
//! software AES. CBC decryption hands the backend eight blocks at a time (AES-NI pipelines
//! them); CBC encryption is a chain, one block after the other. `cargo bench -p kasa-decoder
//! --bench parts` measures both (AES-NI here: about 9 GiB/s decrypting 64 KiB, 4.7 GiB/s a
//! 640-byte message).

use aes::Aes128;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use core::fmt;

/// AES block size: ciphertexts are whole blocks.
pub const BLOCK_LEN: usize = 16;

/// Why a decryption or a key did not work out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The text is not base64.
    Base64,
    /// A CBC ciphertext whose length is not a multiple of 16.
    NotBlockAligned { len: usize },
    /// The last block does not end in valid PKCS#7 padding (the wrong key or IV, or a
    /// ciphertext cut short), or the ciphertext is empty.
    Padding,
    /// The RSA operation failed (the wrong private key, or not an RSA ciphertext for it).
    Rsa,
    /// The bytes are no RSA key in a known format.
    KeyFormat,
    /// Key material of the wrong length: `len` bytes where the format needs another count.
    KeyLength { len: usize },
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Base64 => f.write_str("not valid base64"),
            CryptoError::NotBlockAligned { len } => write!(
                f,
                "ciphertext of {len} bytes is not a whole number of {BLOCK_LEN}-byte AES blocks"
            ),
            CryptoError::Padding => f.write_str(
                "bad PKCS#7 padding after AES-CBC decryption (wrong key or IV, or cut short)",
            ),
            CryptoError::Rsa => f.write_str("RSA decryption failed (wrong private key?)"),
            CryptoError::KeyFormat => f.write_str(
                "not an RSA key in a known format (PEM PKCS#8/PKCS#1/SPKI, base64 or DER)",
            ),
            CryptoError::KeyLength { len } => write!(f, "key material of unexpected length {len}"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// Decrypts one AES-128-CBC message and removes its PKCS#7 padding.
pub fn cbc_decrypt(key: &[u8; 16], iv: &[u8; 16], ct: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if !ct.len().is_multiple_of(BLOCK_LEN) {
        return Err(CryptoError::NotBlockAligned { len: ct.len() });
    }
    let mut buf = ct.to_vec();
    let len = cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map_err(|_| CryptoError::Padding)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Pads `pt` with PKCS#7 and encrypts it with AES-128-CBC: `pt.len() / 16 + 1` blocks.
pub fn cbc_encrypt(key: &[u8; 16], iv: &[u8; 16], pt: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(pt)
}

/// Standard base64 (RFC 4648 alphabet), padding optional on input, always written on output.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes standard base64 (with or without `=` padding); ASCII whitespace (line breaks of
/// wrapped text) is skipped.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, CryptoError> {
    if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        return B64.decode(compact).map_err(|_| CryptoError::Base64);
    }
    B64.decode(text).map_err(|_| CryptoError::Base64)
}

/// Standard padded base64.
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Reads exactly `N` bytes of hex (either case; surrounding whitespace and one `0x` prefix are
/// allowed).
pub fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim_ascii();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *o = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The first PEM block in `text`: its label (`PRIVATE KEY`, `RSA PUBLIC KEY`, …) and the
/// base64 between its boundaries, decoded. Lenient where RFC 7468's strict form is not: text
/// before the block (openssl's "Bag Attributes"), CR LF, unwrapped or long lines, and the
/// two-character sequence `\n` left over from JSON text quoted twice.
pub(crate) fn pem_block(text: &str) -> Option<(&str, Vec<u8>)> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let start = text.find(BEGIN)? + BEGIN.len();
    let rest = text.get(start..)?;
    let label_end = rest.find(DASHES)?;
    let label = rest.get(..label_end)?;
    let body = rest.get(label_end + DASHES.len()..)?;
    let end = body.find("-----END ")?;
    let body = body.get(..end)?;
    let compact: Vec<u8> = body
        .replace("\\n", "\n")
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = B64.decode(compact).ok()?;
    Some((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    // PROTOCOL.md 5.3 / aes.json "foo_bar".
    static KEY: [u8; 16] = [
        0x38, 0x89, 0x02, 0xfa, 0xf5, 0x58, 0x73, 0x1c, 0xa1, 0x20, 0x48, 0x9a, 0x82, 0xc7, 0xd9,
        0x09,
    ];
    static IV: [u8; 16] = [
        0x39, 0x3d, 0xf8, 0x1b, 0x53, 0xcd, 0x30, 0xb5, 0x89, 0x69, 0xba, 0xfd, 0x5e, 0x39, 0x9f,
        0xfa,
    ];
    static FOO_BAR: &[u8] = br#"{"foo": 1, "bar": 2}"#;
    static FOO_BAR_CT: [u8; 32] = [
        0x0e, 0x40, 0x39, 0xd6, 0x6b, 0xb7, 0x58, 0xd2, 0xfe, 0xb0, 0xde, 0x66, 0x80, 0x49, 0x07,
        0xe2, 0xbf, 0x69, 0x94, 0x25, 0x95, 0xd1, 0x93, 0xcb, 0xcc, 0x98, 0x44, 0x1d, 0xcc, 0xcd,
        0xe1, 0x1a,
    ];

    #[test]
    fn encrypt_and_decrypt_the_vector() {
        assert_eq!(cbc_encrypt(&KEY, &IV, FOO_BAR), FOO_BAR_CT);
        assert_eq!(cbc_decrypt(&KEY, &IV, &FOO_BAR_CT).unwrap(), FOO_BAR);
    }

    #[test]
    fn padding_is_always_added() {
        for len in [0, 1, 15, 16, 17, 32] {
            let pt = vec![0xa5; len];
            let ct = cbc_encrypt(&KEY, &IV, &pt);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(cbc_decrypt(&KEY, &IV, &ct).unwrap(), pt);
        }
    }

    #[test]
    fn bad_ciphertexts_are_errors() {
        assert_eq!(cbc_decrypt(&KEY, &IV, &[]), Err(CryptoError::Padding));
        for cut in 1..FOO_BAR_CT.len() {
            let want = if cut == 16 {
                // One whole block that does not end in valid padding.
                CryptoError::Padding
            } else {
                CryptoError::NotBlockAligned { len: cut }
            };
            assert_eq!(cbc_decrypt(&KEY, &IV, &FOO_BAR_CT[..cut]), Err(want));
        }
        let mut iv = IV;
        iv[0] ^= 1;
        // A wrong IV only changes the first block: the padding still verifies.
        let wrong = cbc_decrypt(&KEY, &iv, &FOO_BAR_CT).unwrap();
        assert_ne!(wrong, FOO_BAR);
        let mut key = KEY;
        key[0] ^= 1;
        assert_eq!(
            cbc_decrypt(&key, &IV, &FOO_BAR_CT),
            Err(CryptoError::Padding)
        );
    }

    #[test]
    fn base64() {
        let text = "DkA51mu3WNL+sN5mgEkH4r9plCWV0ZPLzJhEHczN4Ro=";
        assert_eq!(b64_decode(text).unwrap(), FOO_BAR_CT);
        assert_eq!(b64_decode(text.trim_end_matches('=')).unwrap(), FOO_BAR_CT);
        assert_eq!(
            b64_decode("DkA51mu3WNL+sN5mgEkH4r9p\nlCWV0ZPLzJhEHczN4Ro=\n").unwrap(),
            FOO_BAR_CT
        );
        assert_eq!(b64_encode(&FOO_BAR_CT), text);
        assert_eq!(b64_decode("DkA5!"), Err(CryptoError::Base64));
        assert_eq!(b64_decode("A"), Err(CryptoError::Base64));
        assert_eq!(b64_decode("").unwrap(), b"");
    }

    #[test]
    fn hex() {
        assert_eq!(
            hex_array::<16>("388902faf558731ca120489a82c7d909"),
            Some(KEY)
        );
        assert_eq!(
            hex_array::<16>(" 0x388902FAF558731CA120489A82C7D909\n"),
            Some(KEY)
        );
        assert_eq!(hex_array::<16>("388902faf558731ca120489a82c7d9"), None);
        assert_eq!(hex_array::<16>("388902faf558731ca120489a82c7d9090"), None);
        assert_eq!(hex_array::<2>("zz00"), None);
        assert_eq!(hex_array::<2>("é0"), None);
        assert_eq!(hex_array::<1>("0x"), None);
    }

    #[test]
    fn pem() {
        let text = "junk\r\n-----BEGIN PUBLIC KEY-----\r\nDkA51mu3WNL+sN5mgEkH4r9p\r\nlCWV0ZPLzJhEHczN4Ro=\r\n-----END PUBLIC KEY-----\r\n";
        let (label, der) = pem_block(text).unwrap();
        assert_eq!(label, "PUBLIC KEY");
        assert_eq!(der, FOO_BAR_CT);
        let escaped =
            "-----BEGIN X-----\\nDkA51mu3WNL+sN5mgEkH4r9plCWV0ZPLzJhEHczN4Ro=\\n-----END X-----";
        assert_eq!(pem_block(escaped).unwrap().1, FOO_BAR_CT);
        assert_eq!(pem_block("-----BEGIN X-----\nAAAA"), None);
        assert_eq!(pem_block("-----BEGIN "), None);
        assert_eq!(pem_block("-----BEGIN X-----\n!!\n-----END X-----"), None);
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            CryptoError::NotBlockAligned { len: 17 }.to_string(),
            "ciphertext of 17 bytes is not a whole number of 16-byte AES blocks"
        );
        assert_eq!(
            CryptoError::KeyLength { len: 31 }.to_string(),
            "key material of unexpected length 31"
        );
    }
}
