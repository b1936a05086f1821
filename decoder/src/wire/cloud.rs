//! What runs inside the cloud link's TLS, once Wireshark has decrypted it (PROTOCOL.md §7).
//!
//! The device-side protocol has not been published. A dissector therefore recognises, at the
//! start of each message, the framings this protocol family uses elsewhere, and nothing else:
//!
//! | framing | bytes | end of the message |
//! |---|---|---|
//! | [`Framing::XorLength`] | 4-byte big-endian length, then autokey XOR (as on TCP 9999) | the length |
//! | [`Framing::Xor`] | autokey XOR without a length (as on UDP 9999) | where the decrypted JSON object ends |
//! | [`Framing::JsonLength`] | 4-byte big-endian length, then clear JSON | the length |
//! | [`Framing::Json`] | clear JSON | where the object ends |
//!
//! A message may end in a later TLS record, and one record may hold several messages: the
//! caller feeds the application data as a stream and asks [`cut`] where the message at its
//! start ends. Bytes that start none of these are [`Cut::Unknown`]: shown as data, never
//! decoded as something they may not be.

use super::json::{self, Extent};
use super::xor;

/// The length of the optional big-endian length prefix.
pub const PREFIX_LEN: usize = 4;

/// How one message on the cloud link is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// A 4-byte length, then the XOR ciphertext.
    XorLength,
    /// The XOR ciphertext alone.
    Xor,
    /// A 4-byte length, then clear JSON.
    JsonLength,
    /// Clear JSON alone.
    Json,
}

impl Framing {
    /// The value of the `kasa.cloud.framing` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::XorLength => "xor-length",
            Framing::Xor => "xor",
            Framing::JsonLength => "json-length",
            Framing::Json => "json",
        }
    }

    /// Whether the message carries the 4-byte length prefix.
    pub fn has_prefix(self) -> bool {
        matches!(self, Framing::XorLength | Framing::JsonLength)
    }

    /// Whether the message is XOR ciphertext.
    pub fn is_xor(self) -> bool {
        matches!(self, Framing::XorLength | Framing::Xor)
    }

    /// Whether a framing is distinctive enough to claim a TLS connection not otherwise known
    /// to be a cloud link: the XOR cipher's first bytes decrypt to `{"`, which random data and
    /// other protocols' clear text almost never do; clear JSON is everybody's.
    pub fn distinctive(self) -> bool {
        self.is_xor()
    }
}

/// Where the message at the start of some bytes ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// A message of this framing takes the first `len` bytes (prefix included).
    Message { framing: Framing, len: usize },
    /// A message of this framing starts here but has not ended yet: at least `at_least` bytes
    /// are needed (the prefix's length when there is one, else one more than at hand).
    NeedMore { framing: Framing, at_least: usize },
    /// Too few bytes to tell (fewer than [`PREFIX_LEN`] + 2).
    TooShort,
    /// Not a message in a known framing: the bytes from here to the next message start (or to
    /// the end of what is at hand) are unknown data.
    Unknown { len: usize },
}

/// The first bytes of a message of `framing` decrypted (two are enough to tell `{"`).
fn starts_object(framing: Framing, body: &[u8]) -> bool {
    match (framing.is_xor(), body) {
        (true, [a, b, ..]) => *a == xor::FIRST_BYTE && (*b ^ *a) == b'"',
        (false, [b'{', b'"', ..]) => true,
        // `{}` and `{ "…` in clear JSON.
        (false, [b'{', b'}' | b' ' | b'\n' | b'\r' | b'\t', ..]) => true,
        _ => false,
    }
}

/// The framing of the message at the start of `bytes`, from its first 6 bytes, or `None`.
pub fn framing(bytes: &[u8], cap: u32) -> Option<Framing> {
    if bytes.len() < PREFIX_LEN + 2 {
        // Short messages without a prefix: `{}` is the shortest object.
        return [Framing::Xor, Framing::Json]
            .into_iter()
            .find(|&f| starts_object(f, bytes));
    }
    let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let body = &bytes[PREFIX_LEN..];
    if (2..=cap).contains(&len)
        && let Some(f) = [Framing::XorLength, Framing::JsonLength]
            .into_iter()
            .find(|&f| starts_object(f, body))
    {
        return Some(f);
    }
    [Framing::Xor, Framing::Json]
        .into_iter()
        .find(|&f| starts_object(f, bytes))
}

/// Where the message at the start of `bytes` ends (see [`Cut`]). `cap` bounds a length prefix
/// and the search for the end of an unprefixed object.
pub fn cut(bytes: &[u8], cap: u32) -> Cut {
    let Some(framing) = framing(bytes, cap) else {
        if bytes.len() < PREFIX_LEN + 2 && could_start(bytes) {
            return Cut::TooShort;
        }
        return Cut::Unknown {
            len: next_start(bytes, cap).unwrap_or(bytes.len()),
        };
    };
    if framing.has_prefix() {
        let len =
            PREFIX_LEN + u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        return if bytes.len() >= len {
            Cut::Message { framing, len }
        } else {
            Cut::NeedMore {
                framing,
                at_least: len,
            }
        };
    }
    let cap = cap as usize;
    let window = &bytes[..bytes.len().min(cap)];
    let extent = if framing.is_xor() {
        json::json_extent(&xor::decrypt(window))
    } else {
        json::json_extent(window)
    };
    match extent {
        Extent::Complete(len) => Cut::Message { framing, len },
        Extent::Incomplete if bytes.len() < cap => Cut::NeedMore {
            framing,
            at_least: bytes.len() + 1,
        },
        // No end within the cap (or not an object after all): unknown data.
        Extent::Incomplete | Extent::Invalid => Cut::Unknown {
            len: next_start(&bytes[1..], cap as u32).map_or(bytes.len(), |at| at + 1),
        },
    }
}

/// Whether a few bytes may still grow into a message start (a prefix, `{`, or the XOR `{`).
fn could_start(bytes: &[u8]) -> bool {
    match bytes.first() {
        None => true,
        Some(&b) => b == 0 || b == b'{' || b == xor::FIRST_BYTE,
    }
}

/// The offset of the next plausible message start after unknown bytes: a prefixed start, or
/// an object start of either cipher right after a `}` (the end of an earlier message).
fn next_start(bytes: &[u8], cap: u32) -> Option<usize> {
    (1..bytes.len().saturating_sub(1)).find(|&i| {
        let rest = &bytes[i..];
        match framing(rest, cap) {
            Some(f) if f.has_prefix() => true,
            Some(Framing::Json) => bytes[i - 1] == b'}',
            Some(Framing::Xor) => xor::decrypt(&bytes[i - 1..=i]).get(1) == Some(&b'}'),
            _ => false,
        }
    })
}

/// The plaintext of a whole message of `framing` (`message` as [`cut`] delimited it: prefix
/// included): the decrypted or clear JSON text.
pub fn plaintext(framing: Framing, message: &[u8]) -> Vec<u8> {
    let body = if framing.has_prefix() {
        message.get(PREFIX_LEN..).unwrap_or_default()
    } else {
        message
    };
    if framing.is_xor() {
        xor::decrypt(body)
    } else {
        body.to_vec()
    }
}

/// Writes `text` in `framing` (for fixtures and round-trip tests).
pub fn emit(framing: Framing, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + PREFIX_LEN);
    if framing.has_prefix() {
        out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    }
    if framing.is_xor() {
        out.extend_from_slice(&xor::encrypt(text));
    } else {
        out.extend_from_slice(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: u32 = 1 << 20;
    const PUSH: &[u8] = br#"{"system":{"set_relay_state":{"state":1}}}"#;
    const ANSWER: &[u8] = br#"{"system":{"set_relay_state":{"err_code":0}}}"#;
    const ALL: [Framing; 4] = [
        Framing::XorLength,
        Framing::Xor,
        Framing::JsonLength,
        Framing::Json,
    ];

    #[test]
    fn each_framing_is_recognised_and_cut_where_the_message_ends() {
        for f in ALL {
            let msg = emit(f, PUSH);
            let mut stream = msg.clone();
            stream.extend_from_slice(&emit(f, ANSWER));
            assert_eq!(framing(&stream, CAP), Some(f), "{f:?}");
            assert_eq!(
                cut(&stream, CAP),
                Cut::Message {
                    framing: f,
                    len: msg.len()
                },
                "{f:?}"
            );
            assert_eq!(plaintext(f, &msg), PUSH);
            let second = &stream[msg.len()..];
            assert_eq!(
                cut(second, CAP),
                Cut::Message {
                    framing: f,
                    len: second.len()
                }
            );
            assert_eq!(plaintext(f, second), ANSWER);
        }
    }

    #[test]
    fn a_message_split_across_records_asks_for_more() {
        for f in ALL {
            let msg = emit(f, PUSH);
            for split in 6..msg.len() {
                match cut(&msg[..split], CAP) {
                    Cut::NeedMore { framing, at_least } => {
                        assert_eq!(framing, f);
                        assert!(at_least > split && at_least <= msg.len(), "{f:?} {split}");
                    }
                    other => panic!("{f:?} cut at {split}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn the_xor_prefix_is_the_tcp_9999_framing() {
        // The same bytes the legacy TCP framing writes (wire::xor), byte for byte.
        let mut legacy = (PUSH.len() as u32).to_be_bytes().to_vec();
        legacy.extend_from_slice(&xor::encrypt(PUSH));
        assert_eq!(emit(Framing::XorLength, PUSH), legacy);
        assert_eq!(&legacy[..5], &[0, 0, 0, 42, 0xD0]);
    }

    #[test]
    fn unknown_bytes_are_not_decoded() {
        // A binary header, an HTTP request, random bytes: never a message.
        for bytes in [
            &b"\x01\x02\x03\x04\x05\x06\x07\x08"[..],
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x00\x00\x00\x10hello world, not json",
            b"{not json at all, just a brace and text that never closes",
        ] {
            match cut(bytes, 64) {
                Cut::Unknown { len } => assert!(len > 0 && len <= bytes.len()),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
            }
        }
    }

    #[test]
    fn unknown_bytes_end_where_a_message_starts() {
        let mut stream = b"\x07\x07garbage}".to_vec();
        let at = stream.len();
        stream.extend_from_slice(&emit(Framing::XorLength, PUSH));
        assert_eq!(cut(&stream, CAP), Cut::Unknown { len: at });
        assert!(matches!(cut(&stream[at..], CAP), Cut::Message { .. }));
    }

    #[test]
    fn a_prefix_above_the_cap_is_not_a_prefix() {
        let mut big = (CAP + 1).to_be_bytes().to_vec();
        big.extend_from_slice(&xor::encrypt(PUSH));
        assert!(matches!(cut(&big, CAP), Cut::Unknown { .. }));
    }

    #[test]
    fn an_unprefixed_object_without_an_end_within_the_cap_is_unknown() {
        let open = br#"{"a":"#.repeat(40);
        assert!(matches!(cut(&open, 64), Cut::Unknown { .. }));
        assert!(matches!(cut(&open, 1 << 20), Cut::NeedMore { .. }));
    }

    #[test]
    fn short_input_waits_or_is_unknown() {
        assert_eq!(cut(b"", CAP), Cut::TooShort);
        assert_eq!(cut(b"\x00\x00", CAP), Cut::TooShort);
        assert!(matches!(cut(b"ab", CAP), Cut::Unknown { .. }));
        assert_eq!(
            cut(b"{}", CAP),
            Cut::Message {
                framing: Framing::Json,
                len: 2
            }
        );
    }

    #[test]
    fn only_xor_is_distinctive() {
        assert!(Framing::XorLength.distinctive() && Framing::Xor.distinctive());
        assert!(!Framing::Json.distinctive() && !Framing::JsonLength.distinctive());
    }
}
