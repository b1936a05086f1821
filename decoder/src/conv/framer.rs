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
use super::stream::{End, Event, StreamBuf};
use crate::msg::{Body, Meta, Problem};
use crate::wire::json::{Extent, json_extent};
use crate::wire::xor::cut::{Verdict, judge};
use crate::wire::xor::{self, HEADER_LEN, Header, Start};
use std::time::Duration;

/// A message cut out of a stream, before it is given its endpoints and direction.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    pub plaintext: Vec<u8>,
    /// Frames that carried its bytes, ascending; the last is where it completes.
    pub frames: Vec<u64>,
    pub time: Duration,
    /// What the transport said about it (the length header).
    pub meta: Meta,
    pub problems: Vec<Problem>,
    /// The plaintext already read, when the framer read it to find where the message ends.
    pub analysed: Option<Box<Analysed>>,
}

impl RawMessage {
    /// The plaintext's [`Body`], read once: taken from [`RawMessage::analysed`] when the framer
    /// read it, otherwise read now. What reading it found follows `problems`.
    pub fn body(&mut self) -> Body {
        match self.analysed.take() {
            Some(a) => {
                let Analysed { body, problems } = *a;
                self.problems.extend(problems);
                body
            }
            None => Body::analyse(&self.plaintext, &mut self.problems),
        }
    }
}

/// A plaintext's [`Body`] and the problems reading it found (what [`Body::analyse`] adds).
///
/// Only a plaintext that is one whole JSON object is kept so: then reading it does not depend on
/// the problems said before it (a truncated message's JSON error is left unsaid, see
/// [`Body::analyse`]), so the result is the same whenever it is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysed {
    pub body: Body,
    pub problems: Vec<Problem>,
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

/// The framer of one direction.
#[derive(Debug)]
pub struct Framer {
    cap: u32,
    stream: StreamBuf,
    state: State,
    skipped: usize,
    skipped_at: Option<(u64, Duration)>,
    /// After an undecided look past a header, judge again only once the buffer is this long
    /// (doubling), so that a stream of tiny segments costs linear time.
    rejudge_at: usize,
    /// A message truncated by a gap, waiting for the rest of its announced length to pass
    /// (boxed: rare, and every connection's two framers carry the field).
    held: Option<Box<RawMessage>>,
}

impl Framer {
    pub fn new(cap: u32) -> Self {
        Framer {
            cap,
            stream: StreamBuf::default(),
            state: State::Header,
            skipped: 0,
            skipped_at: None,
            rejudge_at: 0,
            held: None,
        }
    }

    /// The oldest frame whose bytes are held: buffered, in a message cut by a gap, or skipped
    /// and not yet reported.
    pub fn oldest_frame(&self) -> Option<u64> {
        let held = self.held.as_ref().and_then(|m| m.frames.first().copied());
        let skipped = self.skipped_at.map(|(f, _)| f);
        [self.stream.oldest_frame(), held, skipped]
            .into_iter()
            .flatten()
            .min()
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
                    self.stream.pass(n);
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
                self.stream.push(bytes, frame, time);
                self.process(None, out);
            }
            Chunk::Gap { len, .. } => {
                if self.gap_in_message(len, out) {
                    return;
                }
                self.process(Some(End::Gap), out);
                self.stream.clear(len);
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
            self.stream.pass(len);
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
        let Some(&[a, b, c, d]) = self.stream.bytes().get(..HEADER_LEN) else {
            return false;
        };
        let Header::Message { len: announced } = Header::parse([a, b, c, d], self.cap) else {
            return false;
        };
        let have = self.stream.len() - HEADER_LEN;
        if have >= announced as usize
            || self
                .stream
                .bytes()
                .get(HEADER_LEN)
                .is_some_and(|&b| b != xor::FIRST_BYTE)
        {
            return false;
        }
        let plaintext = xor::decrypt(&self.stream.bytes()[HEADER_LEN..]);
        let problems = vec![Problem::Truncated {
            expected: Some(announced as usize),
            got: have,
        }];
        let Some(raw) = self.take_message(plaintext, announced, problems, None) else {
            return false;
        };
        self.held = Some(Box::new(raw));
        self.state = State::Lost {
            remaining: u64::from(announced) - have as u64,
        };
        self.gap_in_message(len, out)
    }

    fn release_held(&mut self, out: &mut impl FnMut(Event)) {
        if let Some(raw) = self.held.take() {
            out(Event::Message(*raw));
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
        let Some(start) = Start::parse(self.stream.bytes(), self.cap) else {
            if ending.is_some() && !self.stream.is_empty() {
                let (frame, time) = self.stream.first_origin();
                let got = self.stream.len();
                out(Event::Problem {
                    frame,
                    time,
                    problem: Problem::Truncated {
                        expected: Some(HEADER_LEN),
                        got,
                    },
                });
                self.stream.consume(got);
            }
            return false;
        };
        match start {
            Start::ZeroLength => {
                self.state = State::ZeroLength;
                true
            }
            Start::AboveCap { len, cap } => {
                let (frame, time) = self.stream.first_origin();
                out(Event::Problem {
                    frame,
                    time,
                    problem: Problem::LengthAboveCap { len, cap },
                });
                self.stream.consume(HEADER_LEN);
                self.state = State::Resync { report: false };
                true
            }
            Start::NotAnObject => {
                self.state = State::Resync { report: true };
                true
            }
            Start::Message { len } => {
                let total = HEADER_LEN + len as usize;
                if self.stream.len() < total {
                    if ending.is_none() {
                        return false;
                    }
                    let got = self.stream.len() - HEADER_LEN;
                    let plaintext = xor::decrypt(&self.stream.bytes()[HEADER_LEN..]);
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
                    self.emit(plaintext, len, problems, None, out);
                    return false;
                }
                if self.rejudge_at == 0
                    && let Some((plaintext, analysed)) = self.whole_object(len as usize)
                {
                    // The common case: the header's bytes hold one whole JSON object and
                    // nothing else. Reading its body here is the one scan of it; the
                    // structural scan (`judge`) would tell nothing more.
                    if let Some(mut raw) = self.take_message(plaintext, len, Vec::new(), None) {
                        raw.analysed = Some(analysed);
                        out(Event::Message(raw));
                    }
                    return true;
                }
                if ending.is_none() && self.stream.len() < self.rejudge_at {
                    return false;
                }
                match judge(
                    self.stream.bytes(),
                    len as usize,
                    self.cap,
                    ending.is_some(),
                ) {
                    Verdict::Wait => {
                        self.rejudge_at = (self.stream.len() * 2).max(self.stream.len() + 64);
                        false
                    }
                    Verdict::Emit {
                        plaintext,
                        problems,
                    } => {
                        self.emit(plaintext, len, problems, None, out);
                        true
                    }
                }
            }
        }
    }

    /// The `len` bytes after the header decrypted and read, when they are one whole JSON object
    /// (with nothing but whitespace after it), as [`Body::analyse`] judges it.
    fn whole_object(&self, len: usize) -> Option<(Vec<u8>, Box<Analysed>)> {
        let plaintext = xor::decrypt(self.stream.bytes().get(HEADER_LEN..HEADER_LEN + len)?);
        // Most of what is not a whole object is told by its last byte, without reading it.
        if plaintext.iter().rev().find(|b| !b.is_ascii_whitespace()) != Some(&b'}') {
            return None;
        }
        let mut problems = Vec::new();
        let body = Body::analyse(&plaintext, &mut problems);
        body.json_ok
            .then(|| (plaintext, Box::new(Analysed { body, problems })))
    }

    fn zero_length(&mut self, ending: Option<End>, out: &mut impl FnMut(Event)) {
        let body = self.stream.len() - HEADER_LEN;
        let over_cap = body > self.cap as usize;
        let Some(end) = ending.or(over_cap.then_some(End::Gap)) else {
            return;
        };
        if body == 0 {
            let (frame, time) = self.stream.first_origin();
            out(Event::Problem {
                frame,
                time,
                problem: Problem::ZeroLength,
            });
            self.stream.consume(HEADER_LEN);
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
        let plaintext = xor::decrypt(&self.stream.bytes()[HEADER_LEN..HEADER_LEN + body]);
        let fin = match end {
            End::Fin { frame, time } => Some((frame, time)),
            _ => None,
        };
        self.emit(plaintext, 0, problems, fin, out);
        self.state = if over_cap {
            State::Resync { report: false }
        } else {
            State::Header
        };
    }

    /// Skips bytes until a plausible header starts the buffer. Returns whether one does.
    fn resync(&mut self, report: bool, ending: bool, out: &mut impl FnMut(Event)) -> bool {
        let found = xor::next_header(self.stream.bytes(), self.cap);
        let skip = match found {
            Some(i) => i,
            None if ending => self.stream.len(),
            None => self.stream.len().saturating_sub(5),
        };
        if skip > 0 {
            if report && self.skipped_at.is_none() {
                self.skipped_at = Some(self.stream.first_origin());
            }
            if report {
                self.skipped += skip;
            }
            self.stream.consume(skip);
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
        len_header: u32,
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
        len_header: u32,
        problems: Vec<Problem>,
        completed_at: Option<(u64, Duration)>,
    ) -> Option<RawMessage> {
        let n = (HEADER_LEN + plaintext.len()).min(self.stream.len());
        let (mut frames, mut time) = self.stream.carriers(n);
        if let Some((frame, t)) = completed_at
            && frames.last().is_none_or(|&last| last < frame)
        {
            frames.push(frame);
            time = t;
        }
        self.stream.consume(n);
        self.rejudge_at = 0;
        Some(RawMessage {
            plaintext,
            frames,
            time,
            meta: Meta::XorTcp { len_header },
            problems,
            analysed: None,
        })
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
            Event::Http(_) => unreachable!("the XOR framer hands out no HTTP"),
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
        assert_eq!(msgs[0].meta, Meta::XorTcp { len_header: 0 });
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
}
