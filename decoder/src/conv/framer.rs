//! Cutting one reassembled TCP direction into XOR messages.
//!
//! The framer reads a length header, waits for that many bytes, and hands out the decrypted
//! message with the frames that carried it. What real streams add:
//!
//! * a **zero length header** (pre-2017 firmware): the rest of the direction up to FIN is the
//!   message;
//! * a header **above the cap**: reported, nothing is allocated for it, and the framer
//!   resynchronises on the next plausible header (see [`xor::tcp_heuristic`]);
//! * a header that **disagrees** with the JSON after it (a client that counted characters, not
//!   UTF-8 bytes): the real end of the JSON is found by a structural scan, the message is decoded
//!   whole and flagged;
//! * a **gap** in the capture: the message in progress ends as truncated and the framer
//!   resynchronises after the gap.
//!
//! Memory is bounded by the cap: a message is buffered only up to the bytes it announces (at most
//! `cap`), a resynchronising scan keeps five bytes.

use super::reassembly::Chunk;
use crate::msg::Problem;
use crate::wire::xor::{self, HEADER_LEN, Header};
use std::collections::VecDeque;
use std::time::Duration;

/// A message cut out of a stream, before it is given its endpoints and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    pub plaintext: Vec<u8>,
    /// Frames that carried its bytes, ascending; the last is where it completes.
    pub frames: Vec<u64>,
    pub time: Duration,
    pub len_header: Option<u32>,
    pub problems: Vec<Problem>,
}

/// What the framer hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(RawMessage),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    ZeroLength,
    /// Looking for the next plausible header; `report` says whether skipped bytes are news.
    Resync {
        report: bool,
    },
    /// A gap cut the message in [`Framer::held`]; its `remaining` bytes (after the gap) pass
    /// by before the next header.
    Lost {
        remaining: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Origin {
    start: u64,
    end: u64,
    frame: u64,
    time: Duration,
}

/// The framer of one direction.
#[derive(Debug)]
pub struct Framer {
    cap: u32,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: u64,
    origins: VecDeque<Origin>,
    state: State,
    skipped: usize,
    skipped_at: Option<(u64, Duration)>,
    /// After an undecided look past a header, judge again only once the buffer is this long
    /// (doubling), so that a stream of tiny segments costs linear time.
    rejudge_at: usize,
    /// A message truncated by a gap, waiting for the rest of its announced length to pass.
    held: Option<RawMessage>,
}

/// How far a JSON text goes, from a structural scan (brackets outside strings). Validation is
/// left to the JSON parser; this only finds the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The first value ends before this byte.
    Complete(usize),
    /// The text ends inside the value.
    Incomplete,
    /// It does not start like an object or array.
    Invalid,
}

/// Finds where the first JSON object or array in `text` ends.
pub fn json_extent(text: &[u8]) -> Extent {
    let Some(first) = text.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Extent::Incomplete;
    };
    if !matches!(text[first], b'{' | b'[') {
        return Extent::Invalid;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in text.iter().enumerate().skip(first) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Extent::Complete(i + 1);
                }
            }
            _ => {}
        }
    }
    Extent::Incomplete
}

enum Verdict {
    Wait,
    Emit {
        plaintext: Vec<u8>,
        problems: Vec<Problem>,
    },
}

/// A whole frame is at the start of `buf`: decides where the message really ends.
fn judge(buf: &[u8], len: usize, cap: u32, ending: bool) -> Verdict {
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

/// How a frame that starts `buf` (header included) is cut, as [`Framer`] cuts it, decided from
/// the bytes at hand: for a PDU-length callback (the plugin's `tcp_dissect_pdus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCut {
    /// Header plus message bytes.
    pub total: usize,
    /// Set when the header disagrees with where the JSON ends.
    pub mismatch: Option<Problem>,
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
    let whole = |total| {
        Some(FrameCut {
            total,
            mismatch: None,
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
                })
            }
            _ => whole(HEADER_LEN + len),
        };
    }
    match judge(buf, len, cap, true) {
        Verdict::Emit {
            plaintext,
            problems,
        } if plaintext.len() != len => Some(FrameCut {
            total: HEADER_LEN + plaintext.len(),
            mismatch: problems.into_iter().next(),
        }),
        _ => whole(HEADER_LEN + len),
    }
}

impl Framer {
    pub fn new(cap: u32) -> Self {
        Framer {
            cap,
            buf: Vec::new(),
            start: 0,
            origins: VecDeque::new(),
            state: State::Header,
            skipped: 0,
            skipped_at: None,
            rejudge_at: 0,
            held: None,
        }
    }

    /// Feeds one chunk of the reassembled stream.
    pub fn push(&mut self, chunk: Chunk<'_>, out: &mut impl FnMut(Event)) {
        match chunk {
            Chunk::Data {
                mut bytes,
                frame,
                time,
            } => {
                if let State::Lost { remaining } = self.state {
                    // The tail of a message cut by a gap: it only adds its frame.
                    let n = remaining.min(bytes.len() as u64);
                    if let Some(held) = &mut self.held
                        && held.frames.last().is_none_or(|&f| f < frame)
                    {
                        held.frames.push(frame);
                        held.time = time;
                    }
                    self.start += n;
                    bytes = &bytes[n as usize..];
                    if n == remaining {
                        self.release_held(out);
                        self.state = State::Header;
                    } else {
                        self.state = State::Lost {
                            remaining: remaining - n,
                        };
                    }
                    if bytes.is_empty() {
                        return;
                    }
                }
                let end = self.start + (self.buf.len() + bytes.len()) as u64;
                self.origins.push_back(Origin {
                    start: end - bytes.len() as u64,
                    end,
                    frame,
                    time,
                });
                self.buf.extend_from_slice(bytes);
                self.process(None, out);
            }
            Chunk::Gap { len, .. } => {
                if self.gap_in_message(len, out) {
                    return;
                }
                self.process(Some(End::Gap), out);
                self.start += self.buf.len() as u64 + len;
                self.buf.clear();
                self.origins.clear();
                self.state = State::Resync { report: false };
            }
        }
    }

    /// The direction ended: whatever is buffered is decided now.
    pub fn close(&mut self, end: End, out: &mut impl FnMut(Event)) {
        self.release_held(out);
        self.process(Some(end), out);
        self.flush_skipped(out);
    }

    /// A gap of `len` bytes inside a message whose header is known: the message is truncated,
    /// and the bytes of it after the gap are skipped by count, so the next header is found
    /// exactly. Returns whether the gap was handled so.
    fn gap_in_message(&mut self, len: u64, out: &mut impl FnMut(Event)) -> bool {
        if let State::Lost { remaining } = self.state {
            self.start += len;
            if len < remaining {
                self.state = State::Lost {
                    remaining: remaining - len,
                };
            } else {
                self.release_held(out);
                self.state = if len == remaining {
                    State::Header
                } else {
                    State::Resync { report: false }
                };
            }
            return true;
        }
        let State::Header = self.state else {
            return false;
        };
        let Some(&[a, b, c, d]) = self.buf.get(..HEADER_LEN) else {
            return false;
        };
        let Header::Message { len: announced } = Header::parse([a, b, c, d], self.cap) else {
            return false;
        };
        let have = self.buf.len() - HEADER_LEN;
        if have >= announced as usize
            || self
                .buf
                .get(HEADER_LEN)
                .is_some_and(|&b| b != xor::FIRST_BYTE)
        {
            return false;
        }
        let plaintext = xor::decrypt(&self.buf[HEADER_LEN..]);
        let problems = vec![Problem::Truncated {
            expected: Some(announced as usize),
            got: have,
        }];
        let Some(raw) = self.take_message(plaintext, Some(announced), problems, None) else {
            return false;
        };
        self.held = Some(raw);
        self.state = State::Lost {
            remaining: u64::from(announced) - have as u64,
        };
        self.gap_in_message(len, out)
    }

    fn release_held(&mut self, out: &mut impl FnMut(Event)) {
        if let Some(raw) = self.held.take() {
            out(Event::Message(raw));
        }
    }

    fn process(&mut self, ending: Option<End>, out: &mut impl FnMut(Event)) {
        loop {
            match self.state {
                State::Lost { .. } => return,
                State::Resync { report } => {
                    if !self.resync(report, ending.is_some(), out) {
                        return;
                    }
                }
                State::ZeroLength => {
                    self.zero_length(ending, out);
                    return;
                }
                State::Header => {
                    if !self.header(ending, out) {
                        return;
                    }
                }
            }
        }
    }

    /// At a header boundary. Returns whether to go on.
    fn header(&mut self, ending: Option<End>, out: &mut impl FnMut(Event)) -> bool {
        let Some(&[a, b, c, d]) = self.buf.get(..HEADER_LEN) else {
            if ending.is_some() && !self.buf.is_empty() {
                let (frame, time) = self.origin_of(self.start);
                let got = self.buf.len();
                out(Event::Problem {
                    frame,
                    time,
                    problem: Problem::Truncated {
                        expected: Some(HEADER_LEN),
                        got,
                    },
                });
                self.consume(got);
            }
            return false;
        };
        match Header::parse([a, b, c, d], self.cap) {
            Header::ZeroLength => {
                self.state = State::ZeroLength;
                true
            }
            Header::AboveCap { len, cap } => {
                let (frame, time) = self.origin_of(self.start);
                out(Event::Problem {
                    frame,
                    time,
                    problem: Problem::LengthAboveCap { len, cap },
                });
                self.consume(HEADER_LEN);
                self.state = State::Resync { report: false };
                true
            }
            Header::Message { len } => {
                if self
                    .buf
                    .get(HEADER_LEN)
                    .is_some_and(|&b| b != xor::FIRST_BYTE)
                {
                    self.state = State::Resync { report: true };
                    return true;
                }
                let total = HEADER_LEN + len as usize;
                if self.buf.len() < total {
                    if ending.is_none() {
                        return false;
                    }
                    let got = self.buf.len() - HEADER_LEN;
                    let plaintext = xor::decrypt(&self.buf[HEADER_LEN..]);
                    // The stream ended cleanly after a whole JSON text: the header was wrong,
                    // nothing was lost.
                    let whole = ending != Some(End::Gap)
                        && matches!(json_extent(&plaintext), Extent::Complete(end)
                            if plaintext[end..].iter().all(u8::is_ascii_whitespace));
                    let problems = if whole {
                        vec![Problem::LengthMismatch {
                            header: len,
                            actual: got,
                        }]
                    } else {
                        vec![Problem::Truncated {
                            expected: Some(len as usize),
                            got,
                        }]
                    };
                    self.emit(plaintext, Some(len), problems, None, out);
                    return false;
                }
                if ending.is_none() && self.buf.len() < self.rejudge_at {
                    return false;
                }
                match judge(&self.buf, len as usize, self.cap, ending.is_some()) {
                    Verdict::Wait => {
                        self.rejudge_at = (self.buf.len() * 2).max(self.buf.len() + 64);
                        false
                    }
                    Verdict::Emit {
                        plaintext,
                        problems,
                    } => {
                        self.emit(plaintext, Some(len), problems, None, out);
                        true
                    }
                }
            }
        }
    }

    fn zero_length(&mut self, ending: Option<End>, out: &mut impl FnMut(Event)) {
        let body = self.buf.len() - HEADER_LEN;
        let over_cap = body > self.cap as usize;
        let Some(end) = ending.or(over_cap.then_some(End::Gap)) else {
            return;
        };
        if body == 0 {
            let (frame, time) = self.origin_of(self.start);
            out(Event::Problem {
                frame,
                time,
                problem: Problem::ZeroLength,
            });
            self.consume(HEADER_LEN);
            self.state = State::Header;
            return;
        }
        let body = body.min(self.cap as usize);
        let mut problems = vec![Problem::ZeroLength];
        if end == End::Gap {
            problems.push(Problem::Truncated {
                expected: None,
                got: body,
            });
        }
        let plaintext = xor::decrypt(&self.buf[HEADER_LEN..HEADER_LEN + body]);
        let fin = match end {
            End::Fin { frame, time } => Some((frame, time)),
            _ => None,
        };
        self.emit(plaintext, Some(0), problems, fin, out);
        self.state = if over_cap {
            State::Resync { report: false }
        } else {
            State::Header
        };
    }

    /// Skips bytes until a plausible header starts the buffer. Returns whether one does.
    fn resync(&mut self, report: bool, ending: bool, out: &mut impl FnMut(Event)) -> bool {
        let found = (0..self.buf.len()).find(|&i| xor::tcp_heuristic(&self.buf[i..], self.cap));
        let skip = match found {
            Some(i) => i,
            None if ending => self.buf.len(),
            None => self.buf.len().saturating_sub(5),
        };
        if skip > 0 {
            if report && self.skipped_at.is_none() {
                self.skipped_at = Some(self.origin_of(self.start));
            }
            if report {
                self.skipped += skip;
            }
            self.consume(skip);
        }
        if found.is_some() {
            self.flush_skipped(out);
            self.state = State::Header;
            return true;
        }
        false
    }

    fn flush_skipped(&mut self, out: &mut impl FnMut(Event)) {
        if let Some((frame, time)) = self.skipped_at.take() {
            out(Event::Problem {
                frame,
                time,
                problem: Problem::Garbage {
                    bytes: self.skipped,
                },
            });
            self.skipped = 0;
        }
    }

    /// Emits the message that starts the buffer, of `HEADER_LEN + plaintext.len()` bytes.
    fn emit(
        &mut self,
        plaintext: Vec<u8>,
        len_header: Option<u32>,
        problems: Vec<Problem>,
        completed_at: Option<(u64, Duration)>,
        out: &mut impl FnMut(Event),
    ) {
        if let Some(raw) = self.take_message(plaintext, len_header, problems, completed_at) {
            out(Event::Message(raw));
        }
    }

    /// Cuts the message that starts the buffer (`HEADER_LEN + plaintext.len()` bytes) out of it,
    /// with the frames that carried those bytes.
    fn take_message(
        &mut self,
        plaintext: Vec<u8>,
        len_header: Option<u32>,
        problems: Vec<Problem>,
        completed_at: Option<(u64, Duration)>,
    ) -> Option<RawMessage> {
        let n = (HEADER_LEN + plaintext.len()).min(self.buf.len());
        let to = self.start + n as u64;
        let carriers = || {
            self.origins
                .iter()
                .filter(|o| o.start < to && o.end > self.start)
        };
        let mut frames: Vec<u64> = carriers().map(|o| o.frame).collect();
        frames.sort_unstable();
        frames.dedup();
        let mut time = carriers()
            .max_by_key(|o| o.frame)
            .map_or(Duration::ZERO, |o| o.time);
        if let Some((frame, t)) = completed_at
            && frames.last().is_none_or(|&last| last < frame)
        {
            frames.push(frame);
            time = t;
        }
        self.consume(n);
        self.rejudge_at = 0;
        Some(RawMessage {
            plaintext,
            frames,
            time,
            len_header,
            problems,
        })
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.start += n as u64;
        while self.origins.front().is_some_and(|o| o.end <= self.start) {
            self.origins.pop_front();
        }
    }

    fn origin_of(&self, offset: u64) -> (u64, Duration) {
        self.origins
            .iter()
            .find(|o| o.start <= offset && offset < o.end)
            .or(self.origins.back())
            .map_or((0, Duration::ZERO), |o| (o.frame, o.time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::xor::XorRepr;

    const T: Duration = Duration::ZERO;

    fn frame(text: &str) -> Vec<u8> {
        XorRepr {
            plaintext: text.as_bytes(),
        }
        .to_tcp()
    }

    /// A piece of a test stream: bytes seen in a frame, or bytes the capture lost.
    enum Piece<'a> {
        Data(&'a [u8], u64),
        Gap(u64, u64),
    }

    /// Feeds the pieces, then closes; returns messages and orphan problems.
    fn feed(pieces: &[Piece<'_>], end: End) -> (Vec<RawMessage>, Vec<(u64, Problem)>) {
        let mut f = Framer::new(1 << 20);
        let (mut msgs, mut probs) = (Vec::new(), Vec::new());
        let mut sink = |e: Event| match e {
            Event::Message(m) => msgs.push(m),
            Event::Problem { frame, problem, .. } => probs.push((frame, problem)),
        };
        for piece in pieces {
            let chunk = match *piece {
                Piece::Data(bytes, frame) => Chunk::Data {
                    bytes,
                    frame,
                    time: T,
                },
                Piece::Gap(len, frame) => Chunk::Gap {
                    len,
                    frame,
                    time: T,
                },
            };
            f.push(chunk, &mut sink);
        }
        f.close(end, &mut sink);
        (msgs, probs)
    }

    /// Feeds `(bytes, frame)` pieces, then closes.
    fn run(pieces: &[(&[u8], u64)], end: End) -> (Vec<RawMessage>, Vec<(u64, Problem)>) {
        let pieces: Vec<Piece<'_>> = pieces.iter().map(|&(b, f)| Piece::Data(b, f)).collect();
        feed(&pieces, end)
    }

    fn texts(msgs: &[RawMessage]) -> Vec<String> {
        msgs.iter()
            .map(|m| String::from_utf8_lossy(&m.plaintext).into_owned())
            .collect()
    }

    #[test]
    fn several_per_chunk_and_one_over_many() {
        let (a, b) = (
            frame(r#"{"a":{"x":{}}}"#),
            frame(r#"{"b":{"y":{"err_code":0}}}"#),
        );
        let mut both = a.clone();
        both.extend_from_slice(&b[..10]);
        let (msgs, probs) = run(&[(&both, 1), (&b[10..20], 2), (&b[20..], 3)], End::Capture);
        assert!(probs.is_empty());
        assert_eq!(
            texts(&msgs),
            [r#"{"a":{"x":{}}}"#, r#"{"b":{"y":{"err_code":0}}}"#]
        );
        assert_eq!(msgs[0].frames, [1]);
        assert_eq!(msgs[1].frames, [1, 2, 3]);
    }

    #[test]
    fn header_counting_characters_is_recovered() {
        let text = r#"{"system":{"set_dev_alias":{"alias":"Küche"}}}"#;
        let mut wire = frame(text);
        wire[3] -= 1; // one 2-byte character counted as one byte
        let next = frame(r#"{"system":{"get_sysinfo":{}}}"#);
        wire.extend_from_slice(&next);
        let (msgs, probs) = run(&[(&wire, 1)], End::Capture);
        assert!(probs.is_empty(), "{probs:?}");
        assert_eq!(texts(&msgs), [text, r#"{"system":{"get_sysinfo":{}}}"#]);
        let n = text.len();
        assert_eq!(
            msgs[0].problems,
            [Problem::LengthMismatch {
                header: n as u32 - 1,
                actual: n
            }]
        );
        assert!(msgs[1].problems.is_empty());
    }

    #[test]
    fn header_counting_too_many_is_recovered() {
        let text = r#"{"a":{"b":{}}}"#;
        let mut wire = frame(text);
        wire[3] += 3;
        wire.extend_from_slice(&frame(r#"{"c":{"d":{}}}"#));
        let (msgs, _) = run(&[(&wire, 1)], End::Capture);
        assert_eq!(texts(&msgs), [text, r#"{"c":{"d":{}}}"#]);
        assert_eq!(
            msgs[0].problems,
            [Problem::LengthMismatch {
                header: text.len() as u32 + 3,
                actual: text.len()
            }]
        );
    }

    #[test]
    fn above_cap_resynchronises_without_allocating() {
        let mut wire = vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5];
        wire.extend_from_slice(&frame(r#"{"a":{"b":{}}}"#));
        let (msgs, probs) = run(&[(&wire, 7)], End::Capture);
        assert_eq!(texts(&msgs), [r#"{"a":{"b":{}}}"#]);
        assert_eq!(
            probs,
            [(
                7,
                Problem::LengthAboveCap {
                    len: u32::MAX,
                    cap: 1 << 20
                }
            )]
        );
    }

    #[test]
    fn garbage_is_reported_once() {
        let mut wire = b"GARBAGE GARBAGE GARBAGE".to_vec();
        wire[0..4].copy_from_slice(&[0, 0, 0, 9]);
        wire.extend_from_slice(&frame(r#"{"a":{"b":{}}}"#));
        let (msgs, probs) = run(&[(&wire[..10], 2), (&wire[10..], 3)], End::Capture);
        assert_eq!(texts(&msgs), [r#"{"a":{"b":{}}}"#]);
        assert_eq!(probs, [(2, Problem::Garbage { bytes: 23 })]);
    }

    #[test]
    fn zero_length_runs_to_fin() {
        let text = r#"{"system":{"get_sysinfo":{"err_code":0}}}"#;
        let mut wire = vec![0, 0, 0, 0];
        wire.extend_from_slice(&xor::encrypt(text.as_bytes()));
        let (msgs, _) = run(
            &[(&wire[..20], 3), (&wire[20..], 4)],
            End::Fin { frame: 5, time: T },
        );
        assert_eq!(texts(&msgs), [text]);
        assert_eq!(msgs[0].problems, [Problem::ZeroLength]);
        assert_eq!(msgs[0].frames, [3, 4, 5]);
        assert_eq!(msgs[0].len_header, Some(0));
    }

    #[test]
    fn gap_truncates_then_resynchronises() {
        let first = frame(r#"{"a":{"b":{"err_code":0,"long":"xxxxxxxxxxxxxxxxxxxx"}}}"#);
        let second = frame(r#"{"c":{"d":{}}}"#);
        let (msgs, _) = feed(
            &[
                Piece::Data(&first[..20], 1),
                Piece::Gap(20, 2),
                Piece::Data(&first[40..], 3),
                Piece::Data(&second, 4),
            ],
            End::Capture,
        );
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[0].problems,
            [Problem::Truncated {
                expected: Some(first.len() - 4),
                got: 16
            }]
        );
        // Frame 3 carries the rest of the first message, skipped by count.
        assert_eq!(msgs[0].frames, [1, 3]);
        assert_eq!(msgs[1].plaintext, br#"{"c":{"d":{}}}"#);
        assert_eq!(msgs[1].frames, [4]);
    }

    #[test]
    fn gap_past_the_message_end_resynchronises() {
        let first = frame(r#"{"a":{"b":{"err_code":0,"long":"xxxxxxxxxxxxxxxxxxxx"}}}"#);
        let second = frame(r#"{"c":{"d":{}}}"#);
        let third = frame(r#"{"e":{"f":{}}}"#);
        let lost = first.len() - 20 + 5; // the tail of the first and 5 bytes of the second
        let (msgs, _) = feed(
            &[
                Piece::Data(&first[..20], 1),
                Piece::Gap(lost as u64, 2),
                Piece::Data(&second[5..], 3),
                Piece::Data(&third, 4),
            ],
            End::Capture,
        );
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(msgs[0].frames, [1]);
        assert_eq!(msgs[1].plaintext, br#"{"e":{"f":{}}}"#);
    }

    #[test]
    fn capture_ending_mid_header_or_mid_message() {
        let wire = frame(r#"{"a":{"b":{}}}"#);
        let (msgs, probs) = run(&[(&wire[..2], 1)], End::Capture);
        assert!(msgs.is_empty());
        assert_eq!(
            probs,
            [(
                1,
                Problem::Truncated {
                    expected: Some(4),
                    got: 2
                }
            )]
        );
        let (msgs, _) = run(&[(&wire[..9], 1)], End::Capture);
        assert_eq!(
            msgs[0].problems,
            [Problem::Truncated {
                expected: Some(wire.len() - 4),
                got: 5
            }]
        );
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
        assert_eq!(
            frame_cut(&short, 1 << 20),
            Some(FrameCut {
                total: 4 + n,
                mismatch: mismatch(n - 1)
            })
        );
        let mut long = frame(text);
        long[3] += 3;
        assert_eq!(
            frame_cut(&long, 1 << 20),
            Some(FrameCut {
                total: 4 + n,
                mismatch: mismatch(n + 3)
            })
        );
        let good = frame(text);
        assert_eq!(
            frame_cut(&good, 1 << 20),
            Some(FrameCut {
                total: 4 + n,
                mismatch: None
            })
        );
        // Half a message: the header's length stands.
        assert_eq!(
            frame_cut(&good[..20], 1 << 20),
            Some(FrameCut {
                total: 4 + n,
                mismatch: None
            })
        );
        assert_eq!(frame_cut(&[0, 0, 0, 0, 0xd0], 1 << 20), None);
        assert_eq!(frame_cut(&[0xff; 8], 1 << 20), None);
    }

    #[test]
    fn json_extent_scans_strings() {
        assert_eq!(json_extent(br#" {"a":"}{\"]"} tail"#), Extent::Complete(14));
        assert_eq!(json_extent(br#"{"a":[1,2"#), Extent::Incomplete);
        assert_eq!(json_extent(b"nope"), Extent::Invalid);
    }
}
