//! TCP reassembly + XOR framing of one connection, fed arbitrary segment sequences (SYN,
//! absolute and relative sequence numbers, overlaps, holes, snaplen cuts, ACKs past holes,
//! FIN, RST), wired as `capture::Decoder` wires them. Asserts: no panic; no empty chunk; a
//! message never claims more plaintext than the cap allows; heap growth bounded by the caps
//! and the input size, never by a length header or a sequence number.
#![no_main]

use kasa_decoder::conv::stream::{End, Event};
use kasa_decoder::conv::{Chunk, Framer, Reassembler};
use kasa_fuzz::Bytes;
use kasa_fuzz::alloc::{self, Counting};
use kasa_fuzz::tcp::{self, Op, SeqRef};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[global_allocator]
static A: Counting = Counting;

struct Dir {
    reasm: Reassembler,
    framer: Framer,
    /// Sequence number after the last segment sent in this direction.
    cursor: u32,
    closed: bool,
}

struct Stats {
    segments: usize,
    biggest: usize,
}

/// Checks one chunk and hands it to the framer.
fn feed(framer: &mut Framer, c: Chunk<'_>, cap: u32) {
    match c {
        Chunk::Data { bytes, .. } => assert!(!bytes.is_empty(), "empty data chunk"),
        Chunk::Gap { len, .. } => assert!(len > 0, "empty gap"),
    }
    framer.push(c, &mut |e| check(e, cap));
}

fn check(e: Event, cap: u32) {
    if let Event::Message(m) = e {
        // At most the cap, plus what a length-mismatch rescan reads past a short header (less
        // than the cap, plus the last segment).
        let most = 2 * cap as usize + (1 << 16);
        assert!(
            m.plaintext.len() <= most,
            "message of {} bytes, cap {cap}",
            m.plaintext.len()
        );
        assert!(
            m.frames.windows(2).all(|w| w[0] < w[1]),
            "frames not ascending: {:?}",
            m.frames
        );
    }
}

fn close(d: &mut Dir, end: End, frame: u64, t: Duration, cap: u32) {
    if d.closed {
        return;
    }
    d.closed = true;
    let Dir { reasm, framer, .. } = d;
    reasm.close(frame, t, &mut |c| feed(framer, c, cap));
    framer.close(end, &mut |e| check(e, cap));
}

fn run(data: &[u8]) -> Stats {
    let mut b = Bytes::new(data);
    let cfg = tcp::config(&mut b);
    let cap = cfg.cap;
    let mut dirs: [Dir; 2] = std::array::from_fn(|_| Dir {
        reasm: Reassembler::new(cfg.limit),
        framer: Framer::new(cap),
        cursor: 0,
        closed: false,
    });
    let mut stats = Stats {
        segments: 0,
        biggest: 0,
    };
    let mut frame = 0u64;
    while let Some(op) = tcp::op(&mut b) {
        frame += 1;
        let t = Duration::from_millis(frame);
        match op {
            Op::Syn { dir, seq } => {
                dirs[dir].reasm.syn(seq);
                dirs[dir].cursor = seq.wrapping_add(1);
            }
            Op::Seg {
                dir,
                seq,
                missing,
                payload,
            } => {
                stats.segments += 1;
                stats.biggest = stats.biggest.max(payload.len());
                let d = &mut dirs[dir];
                let seq = match seq {
                    SeqRef::Absolute(s) => s,
                    SeqRef::Cursor(delta) => d.cursor.wrapping_add(delta as i32 as u32),
                };
                d.cursor = seq
                    .wrapping_add(payload.len() as u32)
                    .wrapping_add(missing as u32);
                let Dir { reasm, framer, .. } = d;
                reasm.segment(seq, payload, missing, frame, t, &mut |c| {
                    feed(framer, c, cap)
                });
            }
            Op::Ack { dir, delta } => {
                let other = &mut dirs[1 - dir];
                let ack = other.cursor.wrapping_add(delta as u32);
                let Dir { reasm, framer, .. } = other;
                reasm.ack(ack, frame, t, &mut |c| feed(framer, c, cap));
            }
            Op::Fin { dir } => close(&mut dirs[dir], End::Fin { frame, time: t }, frame, t, cap),
            Op::Rst => {
                for d in dirs.iter_mut() {
                    close(d, End::Fin { frame, time: t }, frame, t, cap);
                }
            }
        }
    }
    for d in dirs.iter_mut() {
        close(d, End::Capture, frame, Duration::ZERO, cap);
    }
    stats
}

fuzz_target!(|data: &[u8]| {
    let cfg = tcp::config(&mut Bytes::new(data));
    let (stats, grew) = alloc::measure(|| run(data));
    // Budget: the pending limit plus one segment, a few copies of one message (buffer,
    // decryption, the emitted plaintext, Vec doubling), per-segment bookkeeping (BTreeMap node,
    // Vec header, frame origin), all independent of header values and sequence numbers.
    let budget = 2 * (cfg.limit + stats.biggest)
        + 8 * (cfg.cap as usize + stats.biggest + 64)
        + 256 * stats.segments
        + (64 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for a {}-byte input (budget {budget}; limit {}, cap {}, {} segments)",
        data.len(),
        cfg.limit,
        cfg.cap,
        stats.segments
    );
});
