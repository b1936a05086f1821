//! Everything that can be wrong with a message, with the expert-info name each maps to.

use core::fmt;

/// How bad a problem is; mirrors Wireshark's expert severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

/// A problem found while decoding. `Display` is the text of the expert info and of the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The length header is above the cap; the bytes after it were skipped to resynchronise.
    LengthAboveCap { len: u32, cap: u32 },
    /// The length header disagrees with where the JSON really ends; the real extent was decoded.
    LengthMismatch { header: u32, actual: usize },
    /// The message is cut short: by a gap in the capture, a small snaplen, or the end of the file.
    Truncated { expected: Option<usize>, got: usize },
    /// A zero length header: the rest of the direction up to FIN is the message.
    ZeroLength,
    /// The plaintext is not a JSON object.
    Json { detail: String },
    /// The plaintext is not valid UTF-8 from this byte on (kept as it is).
    Utf8 { valid_up_to: usize },
    /// A method answered with a non-zero `err_code` (IOT) or `error_code` (SMART). `method` is
    /// empty for a SMART response that names no method.
    ErrCode {
        method: String,
        code: i64,
        msg: Option<String>,
    },
    /// Bytes that do not start a plausible message were skipped.
    Garbage { bytes: usize },
    /// A TDP datagram's CRC does not verify.
    TdpCrc { stored: u32, computed: u32 },
    /// A TDP header's size disagrees with the body that follows it.
    TdpSize { header: u16, actual: usize },
    /// A KLAP body has the wrong size for its step.
    KlapBody {
        step: &'static str,
        expected: usize,
        got: usize,
    },
    /// No credential (the user's, or a known default) matches a KLAP handshake.
    KlapNoCredentials,
    /// A KLAP request or response whose session's handshake is not in the capture.
    KlapNoHandshake,
    /// A KLAP request's signature does not verify with the session's keys.
    KlapSignature,
    /// A KLAP handshake2 `client_hash` differs from the one the matched credential gives.
    KlapClientHash,
    /// Ciphertext with a known key did not decrypt (bad padding, not base64, wrong length).
    Decrypt { detail: String },
    /// An AES session whose key is not known: neither the key and IV nor the client's RSA
    /// private key was given.
    AesNoKey,
    /// An SslAes session whose key is not known: no credential matches its login's
    /// `device_confirm` (or the login is not in the capture), and no key and IV decrypts it.
    SslAesNoKey,
    /// An SslAes data request's `Tapo_tag` does not verify with the session's password.
    SslAesTag,
    /// A Linkie body that is not a form with base64, or not base64.
    Linkie(crate::wire::linkie::LinkieError),
    /// A connection shows the device's answers but none of the requests they answer: only
    /// one direction was captured (a monitor-mode radio that missed the client's stream).
    OneSided,
}

impl Problem {
    /// The expert-info name (`kasa.…`) the plugin reports this as.
    pub fn expert(&self) -> &'static str {
        match self {
            Problem::LengthAboveCap { .. }
            | Problem::LengthMismatch { .. }
            | Problem::Garbage { .. } => "kasa.malformed.length",
            Problem::Truncated { .. } => "kasa.truncated",
            Problem::ZeroLength => "kasa.zero_length",
            Problem::Json { .. } => "kasa.malformed.json",
            Problem::Utf8 { .. } => "kasa.malformed.utf8",
            Problem::ErrCode { .. } => "kasa.err_code.nonzero",
            Problem::TdpCrc { .. } => "kasa.tdp.crc.bad",
            Problem::TdpSize { .. } => "kasa.tdp.size.bad",
            Problem::KlapBody { .. } => "kasa.klap.malformed",
            Problem::KlapNoCredentials => "kasa.klap.no_credentials",
            Problem::KlapNoHandshake => "kasa.klap.no_handshake",
            Problem::KlapSignature => "kasa.klap.bad_signature",
            Problem::KlapClientHash => "kasa.klap.client_hash.bad",
            Problem::Decrypt { .. } => "kasa.decrypt_failed",
            Problem::AesNoKey | Problem::SslAesNoKey => "kasa.aes.no_key",
            Problem::SslAesTag => "kasa.ssl_aes.bad_tag",
            Problem::Linkie(_) => "kasa.linkie.malformed",
            Problem::OneSided => "kasa.one_sided",
        }
    }

    /// The short key used in the CLI's JSON output (`expert` without `kasa.`).
    pub fn key(&self) -> &'static str {
        &self.expert()["kasa.".len()..]
    }

    pub fn severity(&self) -> Severity {
        match self {
            Problem::ZeroLength
            | Problem::ErrCode { .. }
            | Problem::KlapNoCredentials
            | Problem::KlapNoHandshake
            | Problem::AesNoKey
            | Problem::SslAesNoKey
            | Problem::OneSided => Severity::Note,
            Problem::Truncated { .. }
            | Problem::KlapSignature
            | Problem::KlapClientHash
            | Problem::SslAesTag => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// Whether this makes the message malformed (as opposed to a note about it).
    pub fn is_malformed(&self) -> bool {
        self.severity() != Severity::Note
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::LengthAboveCap { len, cap } => {
                write!(
                    f,
                    "length header {len} is above the maximum message size {cap}"
                )
            }
            Problem::LengthMismatch { header, actual } => write!(
                f,
                "length header {header} disagrees with the message, which is {actual} bytes"
            ),
            Problem::Truncated {
                expected: Some(e),
                got,
            } => {
                write!(f, "message truncated: {got} of {e} bytes captured")
            }
            Problem::Truncated {
                expected: None,
                got,
            } => {
                write!(f, "message truncated after {got} bytes")
            }
            Problem::ZeroLength => {
                f.write_str("zero length header: the message runs to the end of the stream")
            }
            Problem::Json { detail } => write!(f, "not a JSON object: {detail}"),
            Problem::Utf8 { valid_up_to } => {
                write!(f, "invalid UTF-8 at byte {valid_up_to} (kept as it is)")
            }
            Problem::ErrCode { method, code, msg } => {
                if method.is_empty() {
                    write!(f, "the response returned error code {code}")?;
                } else {
                    write!(f, "{method} returned err_code {code}")?;
                }
                match msg {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
            Problem::Garbage { bytes } => {
                write!(f, "{bytes} bytes skipped: not a plausible message")
            }
            Problem::TdpCrc { stored, computed } => write!(
                f,
                "bad TDP checksum 0x{stored:08x} (should be 0x{computed:08x})"
            ),
            Problem::TdpSize { header, actual } => write!(
                f,
                "TDP header says {header} body bytes, the datagram has {actual}"
            ),
            Problem::KlapBody {
                step,
                expected,
                got,
            } => write!(f, "KLAP {step} body is {got} bytes, not {expected}"),
            Problem::KlapNoCredentials => f.write_str(
                "no credential matches this KLAP handshake: add the account (kasa_credentials, --credential) to decrypt the session",
            ),
            Problem::KlapNoHandshake => f.write_str(
                "the handshake of this KLAP session is not in the capture: it cannot be decrypted",
            ),
            Problem::KlapSignature => f.write_str("KLAP signature does not verify"),
            Problem::KlapClientHash => f.write_str(
                "handshake2 client_hash differs from the matched credential's: the client used another account",
            ),
            Problem::Decrypt { detail } => write!(f, "cannot decrypt: {detail}"),
            Problem::AesNoKey => f.write_str(
                "AES session key unknown: give its key and IV (kasa_aes_keys, --aes-key) or the client's RSA private key",
            ),
            Problem::SslAesNoKey => f.write_str(
                "SslAes session key unknown: give the account (kasa_credentials, --credential) with its login in the capture, or the key and IV (kasa_aes_keys, --aes-key)",
            ),
            Problem::SslAesTag => {
                f.write_str("SslAes Tapo_tag does not verify with the session's password")
            }
            Problem::Linkie(e) => write!(f, "{e}"),
            Problem::OneSided => f.write_str(
                "only the device's side of this connection was captured (answers, no requests); a monitor-mode radio may miss the other direction",
            ),
        }
    }
}
