//! One reassembled byte stream, transport-neutral: which frames carried which bytes
//! ([`StreamBuf`]), what a transport's stream decoder hands out ([`Event`]), and the stream
//! decoders of all transports behind one enum ([`StreamDecoder`]); and [`datagram`], the same
//! for one datagram of a datagram transport.

use super::framer::{Framer, RawMessage};
use super::http::{HttpMessage, HttpSplitter};
use super::reassembly::Chunk;
use crate::msg::{Meta, Problem, TdpMeta, Transport};
use crate::wire::{tdp, xor};
use std::collections::VecDeque;
use std::time::Duration;

/// What a stream decoder hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(RawMessage),
    /// An HTTP message (KLAP and AES ride in HTTP bodies; the session decides whether it is
    /// one of theirs).
    Http(HttpMessage),
    /// A problem that belongs to no message (skipped bytes, a header above the cap).
    Problem {
        frame: u64,
        time: Duration,
        problem: Problem,
    },
}

/// Why the stream (or the current stretch of it) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// FIN or RST in this frame.
    Fin { frame: u64, time: Duration },
    /// The capture ended.
    Capture,
    /// The capture lost bytes here.
    Gap,
}

/// The stream decoder of one direction, per transport.
#[derive(Debug)]
pub enum StreamDecoder {
    /// Length-prefixed XOR.
    Xor(Framer),
    /// HTTP/1.x, for KLAP, AES, SslAes and Linkie.
    Http(HttpSplitter),
}

impl StreamDecoder {
    /// The decoder for a stream transport (`None` for datagram transports).
    pub fn new(transport: Transport, cap: u32) -> Option<Self> {
        match transport {
            Transport::XorTcp => Some(StreamDecoder::Xor(Framer::new(cap))),
            Transport::Klap | Transport::Aes | Transport::Linkie => {
                Some(StreamDecoder::Http(HttpSplitter::new(cap)))
            }
            // The cloud link is TLS: kasa-decode does not decrypt it (the plugin reads it from
            // Wireshark's decrypted records, wire::cloud).
            Transport::XorUdp | Transport::Tdp | Transport::Tpap | Transport::Cloud => None,
        }
    }

    /// The transport this decoder reads (HTTP carries KLAP and AES alike: [`Transport::Klap`]).
    pub fn transport(&self) -> Transport {
        match self {
            StreamDecoder::Xor(_) => Transport::XorTcp,
            StreamDecoder::Http(_) => Transport::Klap,
        }
    }

    /// Feeds one chunk of the reassembled stream.
    pub fn push(&mut self, chunk: Chunk<'_>, out: &mut impl FnMut(Event)) {
        match self {
            StreamDecoder::Xor(f) => f.push(chunk, out),
            StreamDecoder::Http(h) => h.push(chunk, out),
        }
    }

    /// The direction ended: whatever is buffered is decided now.
    pub fn close(&mut self, end: End, out: &mut impl FnMut(Event)) {
        match self {
            StreamDecoder::Xor(f) => f.close(end, out),
            StreamDecoder::Http(h) => h.close(end, out),
        }
    }

    /// The oldest frame whose bytes the decoder still holds (`None` when it holds nothing): no
    /// event it hands out later belongs to an earlier frame, except through chunks not yet
    /// pushed.
    pub fn oldest_frame(&self) -> Option<u64> {
        match self {
            StreamDecoder::Xor(f) => f.oldest_frame(),
            StreamDecoder::Http(h) => h.oldest_frame(),
        }
    }
}

/// One datagram of a datagram transport as a message: `payload` is what was captured, `missing`
/// the bytes of the datagram the capture did not keep (snaplen). `None` for stream transports.
pub fn datagram(
    transport: Transport,
    payload: &[u8],
    missing: usize,
    frame: u64,
    time: Duration,
) -> Option<RawMessage> {
    let mut problems = Vec::new();
    let (plaintext, meta) = match transport {
        Transport::XorUdp => (xor::decrypt(payload), Meta::XorUdp),
        Transport::Tdp => tdp_datagram(payload, missing, &mut problems),
        Transport::XorTcp
        | Transport::Klap
        | Transport::Aes
        | Transport::Tpap
        | Transport::Cloud
        | Transport::Linkie => return None,
    };
    if missing > 0 {
        problems.insert(
            0,
            Problem::Truncated {
                expected: Some(payload.len() + missing),
                got: payload.len(),
            },
        );
    }
    Some(RawMessage {
        plaintext,
        frames: vec![frame],
        time,
        meta,
        problems,
        analysed: None,
    })
}

/// A TDP datagram: the header, its CRC checked (when the capture kept every byte), the size
/// checked, and the body as plaintext.
fn tdp_datagram(payload: &[u8], missing: usize, problems: &mut Vec<Problem>) -> (Vec<u8>, Meta) {
    let header = tdp::TdpHeader::parse(payload).ok();
    let body = payload.get(tdp::HEADER_LEN..).unwrap_or_default();
    let mut meta = TdpMeta {
        header,
        crc_ok: None,
        crc_computed: None,
        discovery: None,
        probe_key: None,
        encrypt_info: None,
    };
    let Some(h) = header else {
        if missing == 0 {
            problems.push(Problem::Truncated {
                expected: Some(tdp::HEADER_LEN),
                got: payload.len(),
            });
        }
        return (Vec::new(), Meta::Tdp(Box::new(meta)));
    };
    if missing == 0 {
        let computed = tdp::crc(payload);
        meta.crc_ok = computed.map(|c| c == h.crc);
        if let Some(c) = computed.filter(|&c| c != h.crc) {
            meta.crc_computed = Some(c);
            problems.push(Problem::TdpCrc {
                stored: h.crc,
                computed: c,
            });
        }
        if usize::from(h.size) != body.len() {
            problems.push(Problem::TdpSize {
                header: h.size,
                actual: body.len(),
            });
        }
    }
    meta.discovery = tdp::discovery(body).map(Box::new);
    meta.probe_key = tdp::probe_key(body);
    (body.to_vec(), Meta::Tdp(Box::new(meta)))
}

#[derive(Debug, Clone, Copy)]
struct Origin {
    start: u64,
    end: u64,
    frame: u64,
    time: Duration,
}

/// The bytes of a stream not yet cut into messages, with the frames they came in.
#[derive(Debug, Default)]
pub struct StreamBuf {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: u64,
    origins: VecDeque<Origin>,
    /// The smallest frame in `origins` (meaningless when it is empty).
    oldest: u64,
}

impl StreamBuf {
    /// The buffered bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The smallest frame among those that brought the buffered bytes.
    pub fn oldest_frame(&self) -> Option<u64> {
        self.origins.front().map(|_| self.oldest)
    }

    /// Appends bytes that `frame` brought.
    pub fn push(&mut self, bytes: &[u8], frame: u64, time: Duration) {
        self.oldest = if self.origins.is_empty() {
            frame
        } else {
            self.oldest.min(frame)
        };
        let end = self.start + (self.buf.len() + bytes.len()) as u64;
        self.origins.push_back(Origin {
            start: end - bytes.len() as u64,
            end,
            frame,
            time,
        });
        self.buf.extend_from_slice(bytes);
    }

    /// Drops the first `n` buffered bytes.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.start += n as u64;
        let mut dropped_oldest = false;
        while self.origins.front().is_some_and(|o| o.end <= self.start) {
            dropped_oldest |= self
                .origins
                .pop_front()
                .is_some_and(|o| o.frame == self.oldest);
        }
        if dropped_oldest {
            self.oldest = self.origins.iter().map(|o| o.frame).min().unwrap_or(0);
        }
    }

    /// Counts `n` stream bytes that pass by without being buffered (skipped by count, or lost).
    pub fn pass(&mut self, n: u64) {
        debug_assert!(self.buf.is_empty());
        self.start += n;
    }

    /// Drops everything buffered, and `lost` bytes after it that the capture never had.
    pub fn clear(&mut self, lost: u64) {
        self.start += self.buf.len() as u64 + lost;
        self.buf.clear();
        self.origins.clear();
    }

    /// The frame (and its time) that brought the first buffered byte; the last frame seen if
    /// nothing is buffered.
    pub fn first_origin(&self) -> (u64, Duration) {
        let offset = self.start;
        self.origins
            .iter()
            .find(|o| o.start <= offset && offset < o.end)
            .or(self.origins.back())
            .map_or((0, Duration::ZERO), |o| (o.frame, o.time))
    }

    /// The frames that carried the first `n` buffered bytes, ascending, and the time of the last.
    pub fn carriers(&self, n: usize) -> (Vec<u64>, Duration) {
        let to = self.start + n as u64;
        let carriers = || {
            self.origins
                .iter()
                .filter(|o| o.start < to && o.end > self.start)
        };
        let mut frames: Vec<u64> = carriers().map(|o| o.frame).collect();
        frames.sort_unstable();
        frames.dedup();
        let time = carriers()
            .max_by_key(|o| o.frame)
            .map_or(Duration::ZERO, |o| o.time);
        (frames, time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriers_follow_consumption() {
        let mut s = StreamBuf::default();
        let t = |ms| Duration::from_millis(ms);
        s.push(b"abc", 1, t(1));
        s.push(b"def", 2, t(2));
        s.push(b"g", 3, t(3));
        assert_eq!(s.carriers(4), (vec![1, 2], t(2)));
        s.consume(3);
        assert_eq!(s.first_origin(), (2, t(2)));
        assert_eq!(s.carriers(4), (vec![2, 3], t(3)));
        s.clear(10);
        assert!(s.is_empty());
        s.push(b"h", 4, t(4));
        assert_eq!(s.carriers(1), (vec![4], t(4)));
    }
}
