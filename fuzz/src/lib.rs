//! Helpers shared by the fuzz targets and the seed generator.
//!
//! * [`alloc`]: a counting global allocator, so a target can assert that memory stays bounded
//!   (peak live heap during one input, against a budget derived from the input and the caps);
//! * [`Bytes`]: a cursor over the fuzz input that never fails (missing bytes read as zero), for
//!   the small binary input formats below, which the seed generator can also *write*;
//! * [`tcp`]: the input format of the `reassembly` target (segment sequences);
//! * [`records`]: the input format of the `link` and `decoder` targets (link type + frame);
//! * [`temp_capture`]: writes bytes to a per-process file, for targets that need a path.
//!
//! Adding a target: a file in `fuzz_targets/`, a `[[bin]]` in `Cargo.toml`, a line in
//! `tests/fuzz/run-cargo-fuzz.sh`'s `TARGETS`, and (optionally) seeds in `src/bin/seed.rs`.

use kasa_decoder::capture::LinkType;

pub mod alloc {
    //! A global allocator that counts live bytes and the peak since [`reset_peak`].
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Put `#[global_allocator] static A: Counting = Counting;` in a target to use it.
    pub struct Counting;

    fn grew(n: usize) {
        let live = LIVE.fetch_add(n, Relaxed) + n;
        PEAK.fetch_max(live, Relaxed);
    }

    // SAFETY: forwards every call to the system allocator unchanged; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as the caller's.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as the caller's.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size(), Relaxed);
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: same contract as the caller's.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                if new_size >= layout.size() {
                    grew(new_size - layout.size());
                } else {
                    LIVE.fetch_sub(layout.size() - new_size, Relaxed);
                }
            }
            p
        }
    }

    /// Live bytes now.
    pub fn live() -> usize {
        LIVE.load(Relaxed)
    }

    /// Starts a new measurement: the peak becomes the live count.
    pub fn reset_peak() {
        PEAK.store(LIVE.load(Relaxed), Relaxed);
    }

    /// Highest live count since [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Relaxed)
    }

    /// Runs `f` and returns its result with the heap growth it caused at its peak.
    pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let before = live();
        reset_peak();
        let r = f();
        (r, peak().saturating_sub(before))
    }
}

/// A cursor over fuzz input; reads past the end give zeros, so every input is valid.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn u8(&mut self) -> u8 {
        let (b, rest) = self
            .data
            .split_first()
            .map_or((0, &[][..]), |(b, r)| (*b, r));
        self.data = rest;
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }
}

/// Link types the decoder reads, indexed by a selector byte.
pub const LINKS: [LinkType; 10] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(12),
    LinkType(14),
];

pub fn link_of(selector: u8) -> LinkType {
    LINKS[usize::from(selector) % LINKS.len()]
}

pub fn selector_of(link: LinkType) -> u8 {
    LINKS.iter().position(|l| *l == link).unwrap_or(0) as u8
}

pub mod records {
    //! `[selector u8][orig_len extra u16][len u16][data]`, repeated: frames with a link type and
    //! an original length of `data.len() + extra` (a snaplen cut when `extra > 0`).
    use super::*;

    pub struct Frame<'a> {
        pub link: LinkType,
        pub orig_len: u32,
        pub data: &'a [u8],
    }

    pub fn read<'a>(b: &mut Bytes<'a>) -> Option<Frame<'a>> {
        if b.is_empty() {
            return None;
        }
        let link = link_of(b.u8());
        let extra = b.u16();
        let len = b.u16();
        let data = b.take(usize::from(len));
        Some(Frame {
            link,
            orig_len: data.len() as u32 + u32::from(extra),
            data,
        })
    }

    pub fn write(out: &mut Vec<u8>, link: LinkType, orig_len: u32, data: &[u8]) {
        let data = &data[..data.len().min(usize::from(u16::MAX))];
        out.push(selector_of(link));
        let extra = orig_len
            .saturating_sub(data.len() as u32)
            .min(u32::from(u16::MAX)) as u16;
        out.extend_from_slice(&extra.to_le_bytes());
        out.extend_from_slice(&(data.len() as u16).to_le_bytes());
        out.extend_from_slice(data);
    }
}

pub mod tcp {
    //! Input of the `reassembly` target: a 4-byte configuration, then operations on the two
    //! directions of one connection.
    //!
    //! ```text
    //! config: limit u16 (pending limit = 64 + 4*limit bytes), cap u16 (cap = 16 + 16*cap)
    //! op byte: low 3 bits = kind, bit 3 = direction, high 4 bits = small length
    //!   0 SYN      seq u32
    //!   1 SEG      seq u32, missing u16, len u16, payload        (absolute)
    //!   2 SEG      delta u16 (as i16, from the direction's cursor), missing u8, len u16, payload
    //!   3 ACK      delta u32 (as i32, from the other direction's cursor)
    //!   4 FIN      (close this direction)
    //!   5 RST      (close both)
    //!   6,7 SEG    at the cursor, len = high 4 bits, payload   (tiny in-order segments)
    //! ```
    use super::Bytes;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Config {
        pub limit: usize,
        pub cap: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Op<'a> {
        Syn {
            dir: usize,
            seq: u32,
        },
        Seg {
            dir: usize,
            seq: SeqRef,
            missing: u64,
            payload: &'a [u8],
        },
        Ack {
            dir: usize,
            delta: i32,
        },
        Fin {
            dir: usize,
        },
        Rst,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SeqRef {
        Absolute(u32),
        Cursor(i16),
    }

    pub fn config(b: &mut Bytes<'_>) -> Config {
        Config {
            limit: 64 + 4 * usize::from(b.u16()),
            cap: 16 + 16 * u32::from(b.u16()),
        }
    }

    pub fn op<'a>(b: &mut Bytes<'a>) -> Option<Op<'a>> {
        if b.is_empty() {
            return None;
        }
        let op = b.u8();
        let dir = usize::from(op >> 3 & 1);
        Some(match op & 7 {
            0 => Op::Syn { dir, seq: b.u32() },
            1 => {
                let seq = SeqRef::Absolute(b.u32());
                let missing = u64::from(b.u16());
                let len = b.u16();
                Op::Seg {
                    dir,
                    seq,
                    missing,
                    payload: b.take(usize::from(len)),
                }
            }
            2 => {
                let seq = SeqRef::Cursor(b.u16() as i16);
                let missing = u64::from(b.u8());
                let len = b.u16();
                Op::Seg {
                    dir,
                    seq,
                    missing,
                    payload: b.take(usize::from(len)),
                }
            }
            3 => Op::Ack {
                dir,
                delta: b.u32() as i32,
            },
            4 => Op::Fin { dir },
            5 => Op::Rst,
            _ => Op::Seg {
                dir,
                seq: SeqRef::Cursor(0),
                missing: 0,
                payload: b.take(usize::from(op >> 4)),
            },
        })
    }

    /// Encodes a configuration (values rounded down to what the format can say).
    pub fn write_config(out: &mut Vec<u8>, limit: usize, cap: u32) {
        let l = (limit.saturating_sub(64) / 4).min(usize::from(u16::MAX)) as u16;
        let c = (cap.saturating_sub(16) / 16).min(u32::from(u16::MAX)) as u16;
        out.extend_from_slice(&l.to_le_bytes());
        out.extend_from_slice(&c.to_le_bytes());
    }

    pub fn write_syn(out: &mut Vec<u8>, dir: usize, seq: u32) {
        out.push((dir as u8) << 3);
        out.extend_from_slice(&seq.to_le_bytes());
    }

    pub fn write_seg(out: &mut Vec<u8>, dir: usize, seq: u32, missing: u16, payload: &[u8]) {
        let payload = &payload[..payload.len().min(usize::from(u16::MAX))];
        out.push(1 | (dir as u8) << 3);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&missing.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        out.extend_from_slice(payload);
    }

    pub fn write_fin(out: &mut Vec<u8>, dir: usize) {
        out.push(4 | (dir as u8) << 3);
    }
}

/// Writes `data` to a file private to this process and returns its path (overwritten by the
/// next call).
pub fn temp_capture(data: &[u8]) -> std::path::PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("kasa-fuzz-{}.cap", std::process::id()));
    std::fs::write(&path, data).expect("write the temporary capture");
    path
}
