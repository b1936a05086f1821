//! Where an XOR frame really ends: the length header, checked against the JSON after it.
//!
//! A client that counted characters instead of UTF-8 bytes writes a header that is too short or
//! too long. `judge` (for the stream framer, [`crate::conv::framer`]) and [`frame_cut`] (for a
//! PDU-length callback, the plugin's `tcp_dissect_pdus`) decide the real end by one rule: the
//! JSON's own end ([`json_extent`]), when the bytes after it start a plausible next frame.

use super::{HEADER_LEN, Header};
use crate::msg::Problem;
use crate::wire::json::{Extent, json_extent};
use crate::wire::xor;

/// What [`judge`] decided about the frame at the start of a buffer.
pub(crate) enum Verdict {
    /// More bytes are needed to decide.
    Wait,
    Emit {
        plaintext: Vec<u8>,
        problems: Vec<Problem>,
    },
}

/// A whole frame is at the start of `buf`: decides where the message really ends.
pub(crate) fn judge(buf: &[u8], len: usize, cap: u32, ending: bool) -> Verdict {
    let cipher = &buf[HEADER_LEN..HEADER_LEN + len];
    let plaintext = xor::decrypt(cipher);
    let mismatch = |actual: usize| {
        vec![Problem::LengthMismatch {
            header: len as u32,
            actual,
        }]
    };
    match json_extent(&plaintext) {
        Extent::Complete(end) => {
            if end < len
                && !plaintext[end..].iter().all(u8::is_ascii_whitespace)
                && xor::tcp_heuristic(&buf[HEADER_LEN + end..], cap)
            {
                // The header counted too many bytes; a new frame starts at `end`.
                let mut plaintext = plaintext;
                plaintext.truncate(end);
                return Verdict::Emit {
                    plaintext,
                    problems: mismatch(end),
                };
            }
            Verdict::Emit {
                plaintext,
                problems: Vec::new(),
            }
        }
        Extent::Invalid => Verdict::Emit {
            plaintext,
            problems: Vec::new(),
        },
        Extent::Incomplete => {
            // The header may have counted too few bytes: read on, up to the next plausible
            // header, and see whether the JSON ends there.
            let after = &buf[HEADER_LEN + len..];
            let next = (0..after.len())
                .find(|&i| xor::tcp_heuristic(&after[i..], cap))
                .unwrap_or(after.len());
            if next == 0 && !after.is_empty() {
                return Verdict::Emit {
                    plaintext,
                    problems: Vec::new(),
                };
            }
            let extended = xor::decrypt(&buf[HEADER_LEN..HEADER_LEN + len + next]);
            match json_extent(&extended) {
                Extent::Complete(end) => {
                    let mut extended = extended;
                    extended.truncate(end);
                    Verdict::Emit {
                        plaintext: extended,
                        problems: mismatch(end),
                    }
                }
                Extent::Incomplete
                    if !ending && next == after.len() && len + next < cap as usize =>
                {
                    Verdict::Wait
                }
                _ => Verdict::Emit {
                    plaintext,
                    problems: Vec::new(),
                },
            }
        }
    }
}

/// How a frame that starts `buf` (header included) is cut, as [`crate::conv::Framer`] cuts it, decided from
/// the bytes at hand: for a PDU-length callback (the plugin's `tcp_dissect_pdus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCut {
    /// Header plus message bytes.
    pub total: usize,
    /// Set when the header disagrees with where the JSON ends.
    pub mismatch: Option<Problem>,
    /// The decrypted message (`total - 4` bytes), when it was at hand: the caller need not
    /// decrypt it again.
    pub plaintext: Option<Vec<u8>>,
}

/// Where the frame at the start of `buf` ends. `None` for fewer than 4 bytes, a zero length
/// header or one above `cap` (those follow their own rules). With fewer bytes than the header
/// announces, the frame is taken as the bytes at hand only when they already hold a whole JSON
/// text and nothing else (a header that counted too much); otherwise more bytes are needed.
pub fn frame_cut(buf: &[u8], cap: u32) -> Option<FrameCut> {
    let &[a, b, c, d, ..] = buf else { return None };
    let Header::Message { len } = Header::parse([a, b, c, d], cap) else {
        return None;
    };
    let len = len as usize;
    let whole = |total, plaintext| {
        Some(FrameCut {
            total,
            mismatch: None,
            plaintext,
        })
    };
    if buf.len() < HEADER_LEN + len {
        let plaintext = xor::decrypt(&buf[HEADER_LEN..]);
        return match json_extent(&plaintext) {
            Extent::Complete(end) if plaintext[end..].iter().all(u8::is_ascii_whitespace) => {
                let actual = plaintext.len();
                Some(FrameCut {
                    total: buf.len(),
                    mismatch: Some(Problem::LengthMismatch {
                        header: len as u32,
                        actual,
                    }),
                    plaintext: Some(plaintext),
                })
            }
            _ => whole(HEADER_LEN + len, None),
        };
    }
    match judge(buf, len, cap, true) {
        Verdict::Emit {
            plaintext,
            problems,
        } if plaintext.len() != len => Some(FrameCut {
            total: HEADER_LEN + plaintext.len(),
            mismatch: problems.into_iter().next(),
            plaintext: Some(plaintext),
        }),
        Verdict::Emit { plaintext, .. } => whole(HEADER_LEN + len, Some(plaintext)),
        Verdict::Wait => whole(HEADER_LEN + len, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::xor::XorRepr;

    fn frame(text: &str) -> Vec<u8> {
        XorRepr {
            plaintext: text.as_bytes(),
        }
        .to_tcp()
    }

    #[test]
    fn frame_cut_agrees_with_the_framer() {
        let text = r#"{"system":{"set_dev_alias":{"alias":"Küche"}}}"#;
        let mut short = frame(text);
        short[3] -= 1;
        let n = text.len();
        let mismatch = |header: usize| {
            Some(Problem::LengthMismatch {
                header: header as u32,
                actual: n,
            })
        };
        let cut = |buf: &[u8]| frame_cut(buf, 1 << 20).map(|c| (c.total, c.mismatch));
        assert_eq!(cut(&short), Some((4 + n, mismatch(n - 1))));
        assert_eq!(
            frame_cut(&short, 1 << 20).unwrap().plaintext.as_deref(),
            Some(text.as_bytes())
        );
        let mut long = frame(text);
        long[3] += 3;
        assert_eq!(cut(&long), Some((4 + n, mismatch(n + 3))));
        let good = frame(text);
        assert_eq!(cut(&good), Some((4 + n, None)));
        assert_eq!(
            frame_cut(&good, 1 << 20).unwrap().plaintext.as_deref(),
            Some(text.as_bytes())
        );
        // Half a message: the header's length stands, and nothing is decrypted for it.
        assert_eq!(cut(&good[..20]), Some((4 + n, None)));
        assert_eq!(frame_cut(&good[..20], 1 << 20).unwrap().plaintext, None);
        assert_eq!(frame_cut(&[0, 0, 0, 0, 0xd0], 1 << 20), None);
        assert_eq!(frame_cut(&[0xff; 8], 1 << 20), None);
    }
}
