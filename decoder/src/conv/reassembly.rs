//! One direction of a TCP connection, put back in sequence order.
//!
//! Segments go in with their sequence number; [`Chunk`]s come out in stream order: new bytes,
//! or a [`Chunk::Gap`] where the capture lost bytes for good. Retransmitted and overlapping
//! bytes are delivered once. A hole is declared lost when the peer acknowledges past it (the
//! bytes were sent, the capture missed them), when buffered out-of-order data exceeds a bound,
//! or when the direction closes.

use std::collections::BTreeMap;
use std::time::Duration;

/// Out-of-order bytes buffered per direction before a hole is declared lost.
pub const DEFAULT_PENDING_LIMIT: usize = 4 << 20;

/// A piece of the reassembled stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// New bytes, first seen in `frame`.
    Data {
        bytes: &'a [u8],
        frame: u64,
        time: Duration,
    },
    /// `len` bytes the capture does not hold, noticed in `frame`.
    Gap {
        len: u64,
        frame: u64,
        time: Duration,
    },
}

#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    /// Bytes of this segment beyond the capture's snaplen.
    missing: u64,
    frame: u64,
    time: Duration,
}

/// Reassembly state of one direction.
#[derive(Debug)]
pub struct Reassembler {
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Stream offset of the next byte to deliver.
    next: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    /// The frames of `pending`, counted ([`Reassembler::oldest_frame`]).
    pending_frames: BTreeMap<u64, usize>,
    limit: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(DEFAULT_PENDING_LIMIT)
    }
}

impl Reassembler {
    pub fn new(limit: usize) -> Self {
        Reassembler {
            base: None,
            next: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            pending_frames: BTreeMap::new(),
            limit,
        }
    }

    /// A SYN fixes the initial sequence number: data starts at `seq + 1`.
    pub fn syn(&mut self, seq: u32) {
        if self.base.is_none() {
            self.base = Some(seq.wrapping_add(1));
        }
    }

    /// Stream offset of a sequence number, near the current position (handles wrap-around).
    fn offset(&self, seq: u32) -> Option<i64> {
        let base = self.base?;
        let rel = seq.wrapping_sub(base);
        let diff = rel.wrapping_sub(self.next as u32) as i32;
        Some(self.next as i64 + diff as i64)
    }

    /// A segment: `payload` as captured, `missing` bytes of it cut off by the snaplen.
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        missing: u64,
        frame: u64,
        time: Duration,
        out: &mut impl FnMut(Chunk<'_>),
    ) {
        if payload.is_empty() && missing == 0 {
            return;
        }
        if self.base.is_none() {
            // Capture started mid-connection: this segment is offset 0.
            self.base = Some(seq);
        }
        let Some(start) = self.offset(seq) else {
            return;
        };
        let end = start + payload.len() as i64 + missing as i64;
        let next = self.next as i64;
        if end <= next {
            return; // a retransmission of delivered bytes
        }
        if start <= next {
            let skip = (next - start) as usize;
            self.deliver(
                &payload[skip.min(payload.len())..],
                missing,
                skip.saturating_sub(payload.len()) as u64,
                frame,
                time,
                out,
            );
            self.drain(out);
            return;
        }
        // Out of order: keep it (the longer copy wins on an identical start).
        let start = start as u64;
        let keep = self
            .pending
            .get(&start)
            .is_none_or(|p| (p.bytes.len() as u64 + p.missing) < payload.len() as u64 + missing);
        if keep {
            if let Some(old) = self.pending.insert(
                start,
                Pending {
                    bytes: payload.to_vec(),
                    missing,
                    frame,
                    time,
                },
            ) {
                self.pending_bytes -= old.bytes.len();
                self.forget_frame(old.frame);
            }
            self.pending_bytes += payload.len();
            *self.pending_frames.entry(frame).or_default() += 1;
        }
        while self.pending_bytes > self.limit {
            // Give up on the first hole.
            let Some(first) = self.pending.keys().next().copied() else {
                break;
            };
            self.gap_to(first, frame, time, out);
            self.drain(out);
        }
    }

    /// The peer acknowledged everything before `ack`: a hole before it was lost by the capture.
    pub fn ack(&mut self, ack: u32, frame: u64, time: Duration, out: &mut impl FnMut(Chunk<'_>)) {
        let Some(acked) = self.offset(ack) else {
            return;
        };
        if acked <= self.next as i64 {
            return;
        }
        let acked = acked as u64;
        // Do not jump over buffered data: fill up to the first pending segment, or to `acked`.
        let target = match self.pending.keys().next() {
            Some(&first) => first.min(acked),
            None => acked,
        };
        self.gap_to(target, frame, time, out);
        self.drain(out);
    }

    /// The oldest frame among the segments buffered out of order (`None` when nothing waits):
    /// data delivered later carries its own frame, so nothing this direction still holds can
    /// complete a message before it.
    pub fn oldest_frame(&self) -> Option<u64> {
        self.pending_frames.keys().next().copied()
    }

    fn forget_frame(&mut self, frame: u64) {
        if let Some(n) = self.pending_frames.get_mut(&frame) {
            *n -= 1;
            if *n == 0 {
                self.pending_frames.remove(&frame);
            }
        }
    }

    /// The direction ended (FIN, RST, or end of capture): flush buffered data around its holes.
    pub fn close(&mut self, frame: u64, time: Duration, out: &mut impl FnMut(Chunk<'_>)) {
        while let Some(first) = self.pending.keys().next().copied() {
            self.gap_to(first, frame, time, out);
            self.drain(out);
        }
    }

    fn gap_to(&mut self, to: u64, frame: u64, time: Duration, out: &mut impl FnMut(Chunk<'_>)) {
        if to > self.next {
            out(Chunk::Gap {
                len: to - self.next,
                frame,
                time,
            });
            self.next = to;
        }
    }

    fn deliver(
        &mut self,
        bytes: &[u8],
        missing: u64,
        missing_skipped: u64,
        frame: u64,
        time: Duration,
        out: &mut impl FnMut(Chunk<'_>),
    ) {
        if !bytes.is_empty() {
            out(Chunk::Data { bytes, frame, time });
            self.next += bytes.len() as u64;
        }
        let missing = missing.saturating_sub(missing_skipped);
        if missing > 0 {
            out(Chunk::Gap {
                len: missing,
                frame,
                time,
            });
            self.next += missing;
        }
    }

    fn drain(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.bytes.len();
            self.forget_frame(p.frame);
            let skip = self.next - start;
            let end = start + p.bytes.len() as u64 + p.missing;
            if end <= self.next {
                continue;
            }
            let from = (skip as usize).min(p.bytes.len());
            self.deliver(
                &p.bytes[from..],
                p.missing,
                skip.saturating_sub(p.bytes.len() as u64),
                p.frame,
                p.time,
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segments: &[(u32, &[u8], u64)]) -> Vec<(Vec<u8>, u64)> {
        let mut r = Reassembler::default();
        r.syn(99);
        let mut got = Vec::new();
        let mut push = |c: Chunk<'_>| match c {
            Chunk::Data { bytes, frame, .. } => got.push((bytes.to_vec(), frame)),
            Chunk::Gap { len, frame, .. } => got.push((vec![b'?'; len as usize], frame)),
        };
        for &(seq, data, frame) in segments {
            r.segment(seq, data, 0, frame, Duration::ZERO, &mut push);
        }
        r.close(0, Duration::ZERO, &mut push);
        got
    }

    fn joined(chunks: &[(Vec<u8>, u64)]) -> Vec<u8> {
        chunks.iter().flat_map(|c| c.0.clone()).collect()
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let got = run(&[
            (100, b"abc", 1),
            (106, b"ghi", 2),
            (103, b"def", 3),
            (103, b"def", 4),
            (101, b"bcdefg", 5),
        ]);
        assert_eq!(joined(&got), b"abcdefghi");
        assert_eq!(got.iter().map(|c| c.1).collect::<Vec<_>>(), [1, 3, 2]);
    }

    #[test]
    fn overlap_delivers_only_new_bytes() {
        let got = run(&[(100, b"abcd", 1), (102, b"cdef", 2)]);
        assert_eq!(got, [(b"abcd".to_vec(), 1), (b"ef".to_vec(), 2)]);
    }

    #[test]
    fn hole_at_close_becomes_gap() {
        let got = run(&[(100, b"ab", 1), (105, b"fg", 2)]);
        assert_eq!(joined(&got), b"ab???fg");
    }

    #[test]
    fn ack_past_a_hole_declares_it_lost() {
        let mut r = Reassembler::default();
        r.syn(0);
        let mut gaps = Vec::new();
        let mut push = |c: Chunk<'_>| {
            if let Chunk::Gap { len, frame, .. } = c {
                gaps.push((len, frame));
            }
        };
        r.segment(1, b"abc", 0, 1, Duration::ZERO, &mut push);
        r.ack(10, 2, Duration::ZERO, &mut push);
        assert_eq!(gaps, [(6, 2)]);
    }

    #[test]
    fn sequence_wraps() {
        let mut r = Reassembler::default();
        r.syn(u32::MAX - 2);
        let mut got = Vec::new();
        let mut push = |c: Chunk<'_>| {
            if let Chunk::Data { bytes, .. } = c {
                got.extend_from_slice(bytes);
            }
        };
        r.segment(u32::MAX - 1, b"ab", 0, 1, Duration::ZERO, &mut push);
        r.segment(0, b"cd", 0, 2, Duration::ZERO, &mut push);
        assert_eq!(got, b"abcd");
    }
}
