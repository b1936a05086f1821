//! The "autokey XOR" cipher of the legacy Smart Home protocol and its TCP framing.
//!
//! ```text
//! TCP 9999:  +----------------+---------------------------+
//!            | length (BE u32)| ciphertext (length bytes) |
//!            +----------------+---------------------------+
//! UDP 9999:  ciphertext only, one datagram = one message
//! ```
//!
//! Encryption: `k = 0xAB; c = p ^ k; k = c`. Decryption needs no chain at all:
//! `p[0] = c[0] ^ 0xAB`, `p[i] = c[i] ^ c[i-1]`, which is what makes [`decrypt_into`] a plain
//! element-wise XOR of the ciphertext with itself shifted by one byte (the compiler vectorises it).
//! Every message, in each direction, starts again at 0xAB; the length prefix is not encrypted.

pub mod cut;

pub use cut::{FrameCut, frame_cut};

use core::fmt;

/// The key the chain starts with for every message.
pub const INITIAL_KEY: u8 = 0xAB;
/// Bytes of the TCP length prefix.
pub const HEADER_LEN: usize = 4;
/// First ciphertext byte of every JSON object: `'{' ^ 0xAB`.
pub const FIRST_BYTE: u8 = b'{' ^ INITIAL_KEY;
/// Default cap on the length header (1 MiB); above it a header is malformed.
pub const DEFAULT_MAX_MESSAGE: u32 = 1 << 20;

mod field {
    use core::ops::{Range, RangeFrom};
    pub const LENGTH: Range<usize> = 0..4;
    pub const PAYLOAD: RangeFrom<usize> = 4..;
}

/// Encrypts `plain` into a new buffer (no length prefix).
pub fn encrypt(plain: &[u8]) -> Vec<u8> {
    let mut out = plain.to_vec();
    encrypt_in_place(&mut out);
    out
}

/// Encrypts in place. The key chain is a prefix scan (`c[i] = p[i] ^ c[i-1]`): within eight
/// bytes read as one little-endian `u64`, three shift-and-XOR steps give every byte the XOR of
/// the bytes before it, and only the last byte of each word is carried to the next, so the
/// chain from word to word is a few instructions instead of one per byte.
pub fn encrypt_in_place(buf: &mut [u8]) {
    const LOW: u64 = 0x0101_0101_0101_0101;
    let mut key = INITIAL_KEY;
    let mut words = buf.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let mut x = u64::from_le_bytes(bytes);
        x ^= x << 8;
        x ^= x << 16;
        x ^= x << 32;
        x ^= u64::from(key) * LOW;
        word.copy_from_slice(&x.to_le_bytes());
        key = (x >> 56) as u8;
    }
    for b in words.into_remainder() {
        *b ^= key;
        key = *b;
    }
}

/// Decrypts `cipher` into a new buffer (written once, not zeroed first).
pub fn decrypt(cipher: &[u8]) -> Vec<u8> {
    let Some((&first, _)) = cipher.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(cipher.len());
    out.push(first ^ INITIAL_KEY);
    out.extend(after_first(cipher));
    out
}

/// Decrypts `cipher` into `out`; writes `min(cipher.len(), out.len())` bytes.
pub fn decrypt_into(cipher: &[u8], out: &mut [u8]) {
    let n = cipher.len().min(out.len());
    let (cipher, out) = (&cipher[..n], &mut out[..n]);
    let Some((first, rest)) = out.split_first_mut() else {
        return;
    };
    *first = cipher[0] ^ INITIAL_KEY;
    for (p, plain) in rest.iter_mut().zip(after_first(cipher)) {
        *p = plain;
    }
}

/// The plaintext of every byte of `cipher` after the first: the byte XORed with the ciphertext
/// byte before it. Two slices zipped (not `windows`), with no loop-carried dependency: the
/// compiler makes vector XORs of it.
#[inline(always)]
fn after_first(cipher: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let before_last = cipher.len().saturating_sub(1);
    cipher
        .get(1..)
        .unwrap_or_default()
        .iter()
        .zip(&cipher[..before_last])
        .map(|(c, prev)| c ^ prev)
}

/// Decrypts in place, in blocks so that each block is again an element-wise XOR.
pub fn decrypt_in_place(buf: &mut [u8]) {
    const BLOCK: usize = 64;
    let mut prev = INITIAL_KEY;
    for chunk in buf.chunks_mut(BLOCK) {
        let mut shifted = [0u8; BLOCK];
        let len = chunk.len();
        shifted[0] = prev;
        shifted[1..len].copy_from_slice(&chunk[..len - 1]);
        prev = chunk[len - 1];
        for (c, s) in chunk.iter_mut().zip(&shifted[..len]) {
            *c ^= s;
        }
    }
}

/// What a 4-byte TCP length header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// A message of `len` ciphertext bytes follows.
    Message { len: u32 },
    /// Pre-2017 firmware: the rest of the direction, up to FIN, is one message.
    ZeroLength,
    /// The header claims more than the configured cap: malformed.
    AboveCap { len: u32, cap: u32 },
}

impl Header {
    /// Classifies a length header against `cap`. Pure and total: the plugin's PDU-length
    /// callback relies on it never failing.
    pub fn parse(bytes: [u8; HEADER_LEN], cap: u32) -> Header {
        match u32::from_be_bytes(bytes) {
            0 => Header::ZeroLength,
            len if len > cap => Header::AboveCap { len, cap },
            len => Header::Message { len },
        }
    }
}

/// What the bytes at a frame boundary of a TCP stream are: the length header ([`Header::parse`])
/// and, for a plausible length, whether the first ciphertext byte opens a JSON object
/// ([`FIRST_BYTE`]). The one rule for the decoder's framer and the plugin's PDU-length callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A frame of `len` ciphertext bytes (its first byte not yet at hand, or `0xD0`).
    Message { len: u32 },
    /// A zero header: the rest of the direction, up to FIN.
    ZeroLength,
    /// A header above the cap.
    AboveCap { len: u32, cap: u32 },
    /// A plausible length, but the bytes after it are no JSON object: not a frame.
    NotAnObject,
}

impl Start {
    /// Reads the start of `bytes` (header and, if at hand, the first ciphertext byte); `None`
    /// with fewer than four bytes.
    pub fn parse(bytes: &[u8], cap: u32) -> Option<Start> {
        let &[a, b, c, d, ..] = bytes else {
            return None;
        };
        Some(match Header::parse([a, b, c, d], cap) {
            Header::Message { .. } if bytes.get(HEADER_LEN).is_some_and(|&f| f != FIRST_BYTE) => {
                Start::NotAnObject
            }
            Header::Message { len } => Start::Message { len },
            Header::ZeroLength => Start::ZeroLength,
            Header::AboveCap { len, cap } => Start::AboveCap { len, cap },
        })
    }
}

/// Whether a ciphertext whose last two bytes are `tail` may end a JSON text: its last plaintext
/// byte (`c[n-1] ^ c[n-2]`, the autokey needs nothing else) is `}`, `]` or blank. An O(1) test
/// before decrypting bytes that fall short of what their header announced.
pub fn may_end_json(tail: [u8; 2]) -> bool {
    matches!(
        tail[1] ^ tail[0],
        b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'
    )
}

/// A checked view of one TCP frame: length header plus (possibly fewer) ciphertext bytes.
#[derive(Debug, Clone)]
pub struct XorFrame<T: AsRef<[u8]>> {
    buffer: T,
}

/// Why bytes do not form a whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the header, or than the header announces.
    Len { required: usize, actual: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Len { required, actual } => write!(
                f,
                "not enough data for an XOR frame: {required} bytes needed, {actual} present"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

impl<T: AsRef<[u8]>> XorFrame<T> {
    /// Wraps a buffer without checking it; accessors may then panic.
    pub const fn new_unchecked(buffer: T) -> Self {
        XorFrame { buffer }
    }

    /// Wraps a buffer that holds at least the header and the announced ciphertext.
    pub fn new_checked(buffer: T) -> Result<Self, FrameError> {
        let frame = XorFrame { buffer };
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that the buffer holds the header and `length` bytes after it.
    pub fn check_len(&self) -> Result<(), FrameError> {
        let actual = self.buffer.as_ref().len();
        if actual < HEADER_LEN {
            return Err(FrameError::Len {
                required: HEADER_LEN,
                actual,
            });
        }
        let required = HEADER_LEN.saturating_add(self.length() as usize);
        if actual < required {
            return Err(FrameError::Len { required, actual });
        }
        Ok(())
    }

    /// The length header.
    pub fn length(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Bytes of this frame: header plus announced payload.
    pub fn total_len(&self) -> usize {
        HEADER_LEN.saturating_add(self.length() as usize)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<'a> XorFrame<&'a [u8]> {
    /// Splits one frame off the front of `bytes`: `(frame, rest)`.
    pub fn from_slice(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), FrameError> {
        let frame = XorFrame::new_checked(bytes)?;
        let (this, rest) = bytes.split_at(frame.total_len());
        Ok((XorFrame { buffer: this }, rest))
    }

    /// The ciphertext the header announces.
    pub fn payload(&self) -> &'a [u8] {
        let end = self.total_len();
        &self.buffer[field::PAYLOAD][..end - HEADER_LEN]
    }
}

/// A message as it goes on the wire: its plaintext. `emit_*` build the TCP frame or the UDP
/// datagram; decoding goes the other way through [`decrypt_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XorRepr<'a> {
    pub plaintext: &'a [u8],
}

impl XorRepr<'_> {
    /// Length of the TCP frame.
    pub fn tcp_len(&self) -> usize {
        HEADER_LEN + self.plaintext.len()
    }

    /// Writes the TCP frame (header + ciphertext) into `buf[..tcp_len()]`, with the given
    /// length header (normally `plaintext.len()`; fixtures pass wrong ones on purpose).
    pub fn emit_tcp_with_header(&self, header: u32, buf: &mut [u8]) {
        buf[field::LENGTH].copy_from_slice(&header.to_be_bytes());
        let payload = &mut buf[field::PAYLOAD][..self.plaintext.len()];
        payload.copy_from_slice(self.plaintext);
        encrypt_in_place(payload);
    }

    /// The TCP frame with a correct header.
    pub fn to_tcp(&self) -> Vec<u8> {
        let mut buf = vec![0; self.tcp_len()];
        self.emit_tcp_with_header(self.plaintext.len() as u32, &mut buf);
        buf
    }

    /// The UDP datagram (no header).
    pub fn to_udp(&self) -> Vec<u8> {
        encrypt(self.plaintext)
    }
}

/// Cheap first test for a TCP segment that starts an XOR frame, before any JSON parse:
/// at least 6 bytes, header 0 or 2..=cap, first ciphertext byte 0xD0, second plaintext byte a
/// quote, a closing brace or whitespace.
pub fn tcp_heuristic(prefix: &[u8], cap: u32) -> bool {
    let [a, b, c, d, first, second, ..] = *prefix else {
        return false;
    };
    let len = u32::from_be_bytes([a, b, c, d]);
    (len == 0 || (2..=cap).contains(&len)) && first == FIRST_BYTE && plausible_second(first, second)
}

/// Whether the first bytes of a stream are clear text that is no XOR frame: a length header
/// above `cap` whose four bytes are printable ASCII (an HTTP request or status line, a banner:
/// `GET ` reads as a header of 1,195,725,856 bytes). Such a stream is another protocol's.
pub fn clear_text(prefix: &[u8], cap: u32) -> bool {
    let [a, b, c, d, ..] = *prefix else {
        return false;
    };
    [a, b, c, d].into_iter().all(is_text)
        && matches!(Header::parse([a, b, c, d], cap), Header::AboveCap { .. })
}

/// Whether a datagram is clear text that is no XOR message: its first four bytes printable
/// ASCII (an XOR message of JSON starts with 0xD0, the encrypted `{`; an SSDP or other text
/// probe sent to the port does not). Such a datagram is another protocol's.
pub fn clear_datagram(datagram: &[u8]) -> bool {
    datagram.len() >= 4 && datagram[..4].iter().all(|&x| is_text(x))
}

fn is_text(x: u8) -> bool {
    (0x20..=0x7e).contains(&x) || matches!(x, b'\t' | b'\r' | b'\n')
}

/// Where the next plausible frame ([`tcp_heuristic`]) starts in `buf`, if anywhere: how a stream
/// that lost its framing (a header above the cap, bytes that are no frame) finds it again. The
/// framer and the plugin's PDU-length callback both resynchronise with it.
pub fn next_header(buf: &[u8], cap: u32) -> Option<usize> {
    (0..buf.len()).find(|&i| tcp_heuristic(&buf[i..], cap))
}

/// Cheap first test for a UDP datagram holding one XOR message.
pub fn udp_heuristic(datagram: &[u8]) -> bool {
    let [first, second, ..] = *datagram else {
        return false;
    };
    first == FIRST_BYTE && plausible_second(first, second)
}

fn plausible_second(first: u8, second: u8) -> bool {
    matches!(second ^ first, b'"' | b'}' | b' ' | b'\t' | b'\r' | b'\n')
}

#[cfg(test)]
mod tests {

    #[test]
    fn clear_text_is_no_frame() {
        let cap = 1 << 20;
        assert!(clear_text(b"GET / HTTP/1.1\r\n", cap));
        assert!(clear_text(b"HTTP/1.1 200 OK", cap));
        assert!(clear_text(b"SSH-2.0-OpenSSH", cap));
        // Shorter than a header, a frame's header, binary junk: not judged as text.
        assert!(!clear_text(b"GET", cap));
        assert!(!clear_text(&[0, 0, 0, 29, 0xd0, 0xf2], cap));
        assert!(!clear_text(&[0xd5, 0xcc, 0x10, 0x7f], cap));
        // Printable, but a plausible length under a raised cap.
        assert!(!clear_text(b"GET /", u32::MAX));
    }

    #[test]
    fn clear_datagram_is_no_message() {
        assert!(clear_datagram(b"M-SEARCH * HTTP/1.1\r\n"));
        assert!(clear_datagram(b"help\r\n"));
        // An XOR message (the encrypted `{`), binary junk, too short to judge: ours to show.
        let msg = XorRepr {
            plaintext: b"{\"system\":{\"get_sysinfo\":{}}}",
        }
        .to_udp();
        assert!(!clear_datagram(&msg));
        assert!(!clear_datagram(&[0x41, 0x42, 0x43, 0x00]));
        assert!(!clear_datagram(b"GET"));
    }
    use super::*;

    static GET_SYSINFO: &[u8] = b"{\"system\":{\"get_sysinfo\":{}}}";
    static GET_SYSINFO_FRAME: [u8; 33] = [
        0x00, 0x00, 0x00, 0x1d, 0xd0, 0xf2, 0x81, 0xf8, 0x8b, 0xff, 0x9a, 0xf7, 0xd5, 0xef, 0x94,
        0xb6, 0xd1, 0xb4, 0xc0, 0x9f, 0xec, 0x95, 0xe6, 0x8f, 0xe1, 0x87, 0xe8, 0xca, 0xf0, 0x8b,
        0xf6, 0x8b, 0xf6,
    ];

    #[test]
    fn frame_start_is_the_header_and_the_first_ciphertext_byte() {
        let cap = 1 << 20;
        assert_eq!(Start::parse(&[0, 0, 0], cap), None);
        assert_eq!(
            Start::parse(&[0, 0, 0, 9], cap),
            Some(Start::Message { len: 9 })
        );
        assert_eq!(
            Start::parse(&[0, 0, 0, 9, FIRST_BYTE], cap),
            Some(Start::Message { len: 9 })
        );
        assert_eq!(
            Start::parse(&[0, 0, 0, 9, b'G'], cap),
            Some(Start::NotAnObject)
        );
        assert_eq!(
            Start::parse(&[0, 0, 0, 0, b'G'], cap),
            Some(Start::ZeroLength)
        );
        assert_eq!(
            Start::parse(&[0xff, 0xff, 0xff, 0xff, FIRST_BYTE], cap),
            Some(Start::AboveCap { len: u32::MAX, cap })
        );
    }

    #[test]
    fn may_end_json_reads_the_last_plaintext_byte() {
        let cipher = encrypt(br#"{"a":{}}"#);
        let n = cipher.len();
        assert!(may_end_json([cipher[n - 2], cipher[n - 1]]));
        // Cut one byte earlier, the text ends in `}` still; two earlier, in `{`.
        assert!(may_end_json([cipher[n - 3], cipher[n - 2]]));
        assert!(!may_end_json([cipher[n - 4], cipher[n - 3]]));
    }

    #[test]
    fn test_deconstruct() {
        let frame = XorFrame::new_checked(&GET_SYSINFO_FRAME[..]).unwrap();
        assert_eq!(frame.length(), 29);
        assert_eq!(frame.total_len(), 33);
        let (frame, rest) = XorFrame::from_slice(&GET_SYSINFO_FRAME[..]).unwrap();
        assert!(rest.is_empty());
        assert_eq!(decrypt(frame.payload()), GET_SYSINFO);
    }

    #[test]
    fn test_construct() {
        let repr = XorRepr {
            plaintext: GET_SYSINFO,
        };
        let mut buf = vec![0xa5; repr.tcp_len()];
        repr.emit_tcp_with_header(29, &mut buf);
        assert_eq!(buf, GET_SYSINFO_FRAME);
    }

    #[test]
    fn test_truncated() {
        for cut in 0..GET_SYSINFO_FRAME.len() {
            let err = XorFrame::new_checked(&GET_SYSINFO_FRAME[..cut]).unwrap_err();
            let required = if cut < HEADER_LEN { HEADER_LEN } else { 33 };
            assert_eq!(
                err,
                FrameError::Len {
                    required,
                    actual: cut
                }
            );
        }
    }

    #[test]
    fn test_impossible_len() {
        let buf = [0xff, 0xff, 0xff, 0xff, 0xd0];
        let err = XorFrame::new_checked(&buf[..]).unwrap_err();
        assert_eq!(
            err,
            FrameError::Len {
                required: 4 + 0xffff_ffff,
                actual: 5
            }
        );
        assert_eq!(
            Header::parse([0xff; 4], DEFAULT_MAX_MESSAGE),
            Header::AboveCap {
                len: u32::MAX,
                cap: DEFAULT_MAX_MESSAGE
            }
        );
        assert_eq!(Header::parse([0; 4], 10), Header::ZeroLength);
        assert_eq!(
            Header::parse([0, 0, 0, 10], 10),
            Header::Message { len: 10 }
        );
        assert_eq!(
            Header::parse([0, 0, 0, 11], 10),
            Header::AboveCap { len: 11, cap: 10 }
        );
    }

    #[test]
    fn two_frames_in_one_buffer() {
        let mut two = GET_SYSINFO_FRAME.to_vec();
        two.extend_from_slice(&GET_SYSINFO_FRAME);
        let (first, rest) = XorFrame::from_slice(&two).unwrap();
        let (second, rest) = XorFrame::from_slice(rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(first.payload(), second.payload());
    }

    /// The autokey cipher one byte at a time, as the protocol defines it: the references the
    /// word-wise encryption and the vectorised decryption are held to.
    fn encrypt_bytewise(plain: &[u8]) -> Vec<u8> {
        let mut key = INITIAL_KEY;
        plain
            .iter()
            .map(|&p| {
                key ^= p;
                key
            })
            .collect()
    }

    fn decrypt_bytewise(cipher: &[u8]) -> Vec<u8> {
        let mut key = INITIAL_KEY;
        cipher
            .iter()
            .map(|&c| {
                let p = c ^ key;
                key = c;
                p
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn word_and_vector_forms_are_the_byte_loops(plain in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let cipher = encrypt_bytewise(&plain);
            proptest::prop_assert_eq!(&encrypt(&plain), &cipher);
            proptest::prop_assert_eq!(&decrypt(&cipher), &plain);
            proptest::prop_assert_eq!(&decrypt_bytewise(&cipher), &plain);
            let mut out = vec![0xa5; cipher.len()];
            decrypt_into(&cipher, &mut out);
            proptest::prop_assert_eq!(&out, &plain);
            let mut in_place = cipher.clone();
            decrypt_in_place(&mut in_place);
            proptest::prop_assert_eq!(&in_place, &plain);
        }
    }

    #[test]
    fn in_place_matches_into_across_blocks() {
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let cipher = encrypt(&plain);
        let mut in_place = cipher.clone();
        decrypt_in_place(&mut in_place);
        assert_eq!(in_place, plain);
        assert_eq!(decrypt(&cipher), plain);
    }

    #[test]
    fn heuristics() {
        assert!(tcp_heuristic(&GET_SYSINFO_FRAME, DEFAULT_MAX_MESSAGE));
        assert!(udp_heuristic(&GET_SYSINFO_FRAME[4..]));
        assert!(!tcp_heuristic(&GET_SYSINFO_FRAME[..5], DEFAULT_MAX_MESSAGE));
        assert!(!tcp_heuristic(b"GET / HTTP/1.1\r\n", DEFAULT_MAX_MESSAGE));
        assert!(!udp_heuristic(b"\x02\x00\x00\x01"));
        assert!(!tcp_heuristic(&GET_SYSINFO_FRAME, 28));
    }
}
