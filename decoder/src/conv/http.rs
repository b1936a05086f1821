//! HTTP/1.x, as far as KLAP and AES need it: one direction of a TCP connection cut into
//! messages ([`HttpSplitter`], for `kasa-decode`, which has no HTTP layer of its own), and the
//! transport-neutral view of one message ([`HttpView`]) that both front ends hand to the
//! session: the plugin fills it from Wireshark's HTTP dissector, `kasa-decode` from
//! [`HttpMessage`].
//!
//! The splitter reads a start line and headers (at most [`MAX_HEAD`] bytes), then a body by
//! `Content-Length`, by chunks, or (a response with neither) up to FIN. A body above the cap is
//! reported and skipped by count, never buffered. Bytes that do not start an HTTP message are
//! reported once and the rest of the direction is dropped: the device side of a session that
//! answers "raw non-HTTP" (PROTOCOL.md §4.1) ends up there.

use super::reassembly::Chunk;
use super::stream::{End, Event, StreamBuf};
use crate::msg::Problem;
use std::time::Duration;

/// The longest start line plus headers read.
pub const MAX_HEAD: usize = 16 * 1024;

/// Headers kept per message (others are dropped).
const MAX_HEADERS: usize = 64;

/// What the start line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { status: u16 },
}

/// One HTTP message cut out of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMessage {
    pub start: StartLine,
    /// Header names lower-cased, values trimmed; a repeated header keeps its last value (as
    /// Wireshark's HTTP header map does).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Frames that carried it, ascending.
    pub frames: Vec<u64>,
    pub time: Duration,
    pub problems: Vec<Problem>,
}

impl HttpMessage {
    /// A header's value by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The view the session reads.
    pub fn view(&self, answers: Option<u64>) -> HttpView<'_> {
        let (request, status) = match &self.start {
            StartLine::Request { method, uri } => (Some((method.as_str(), uri.as_str())), None),
            StartLine::Response { status } => (None, Some(*status)),
        };
        HttpView {
            request,
            status,
            answers,
            cookie: self.header("cookie"),
            set_cookie: self.header("set-cookie"),
            seq: self.header("seq"),
            tapo_tag: self.header("tapo_tag"),
            body: &self.body,
        }
    }
}

/// One HTTP message as the session reads it, from whichever HTTP parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpView<'a> {
    /// A request: its method and URI (path and query).
    pub request: Option<(&'a str, &'a str)>,
    /// A response: its status code, when known.
    pub status: Option<u16>,
    /// A response: the frame where its request completes, when the HTTP layer paired them.
    pub answers: Option<u64>,
    /// The `Cookie` header of a request.
    pub cookie: Option<&'a str>,
    /// The `Set-Cookie` header of a response.
    pub set_cookie: Option<&'a str>,
    /// The `Seq` header of a request (SslAes).
    pub seq: Option<&'a str>,
    /// The `Tapo_tag` header of a request (SslAes).
    pub tapo_tag: Option<&'a str>,
    pub body: &'a [u8],
}

impl HttpView<'_> {
    pub fn is_request(&self) -> bool {
        self.request.is_some()
    }

    /// The request URI, for a request.
    pub fn uri(&self) -> Option<&str> {
        self.request.map(|(_, uri)| uri)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Up to the end of the direction.
    ToEnd,
}

#[derive(Debug)]
enum State {
    Head,
    Body {
        head: Box<HttpMessage>,
        body: Body,
        head_len: usize,
    },
    /// A body above the cap: these bytes pass by.
    Skip {
        remaining: u64,
    },
    /// Not HTTP: everything else in this direction is dropped.
    Dead,
}

/// The splitter of one direction.
#[derive(Debug)]
pub struct HttpSplitter {
    cap: u32,
    stream: StreamBuf,
    state: State,
}

impl HttpSplitter {
    /// `cap`: the largest body kept.
    pub fn new(cap: u32) -> Self {
        HttpSplitter {
            cap,
            stream: StreamBuf::default(),
            state: State::Head,
        }
    }

    /// The oldest frame whose bytes are buffered.
    pub fn oldest_frame(&self) -> Option<u64> {
        self.stream.oldest_frame()
    }

    pub fn push(&mut self, chunk: Chunk<'_>, out: &mut impl FnMut(Event)) {
        match chunk {
            Chunk::Data { bytes, frame, time } => {
                let mut bytes = bytes;
                if let State::Skip { remaining } = &mut self.state {
                    let n = (*remaining).min(bytes.len() as u64);
                    *remaining -= n;
                    self.stream.pass(n);
                    bytes = &bytes[n as usize..];
                    if *remaining == 0 {
                        self.state = State::Head;
                    }
                }
                if matches!(self.state, State::Dead) {
                    return;
                }
                if !bytes.is_empty() {
                    self.stream.push(bytes, frame, time);
                }
                self.cut(out);
            }
            Chunk::Gap { len, frame, time } => {
                self.lost(Some(len), frame, time, out);
                self.stream.clear(len);
                if !matches!(self.state, State::Dead) {
                    self.state = State::Head;
                }
            }
        }
    }

    pub fn close(&mut self, end: End, out: &mut impl FnMut(Event)) {
        if let State::Body {
            body: Body::ToEnd, ..
        } = self.state
        {
            let n = self.stream.len();
            self.emit(n, n, out);
            return;
        }
        let (frame, time) = match end {
            End::Fin { frame, time } => (frame, time),
            _ => self.stream.first_origin(),
        };
        self.lost(None, frame, time, out);
    }

    /// The message in progress (if any) ends here, cut short.
    fn lost(&mut self, gap: Option<u64>, frame: u64, time: Duration, out: &mut impl FnMut(Event)) {
        let buffered = self.stream.len();
        match std::mem::replace(&mut self.state, State::Head) {
            State::Body {
                head,
                body,
                head_len,
            } => {
                let got = buffered.saturating_sub(head_len);
                let expected = match body {
                    Body::Length(n) => Some(n as usize),
                    _ => None,
                };
                let mut msg = *head;
                msg.body = self.stream.bytes()[head_len..].to_vec();
                let (frames, t) = self.stream.carriers(buffered);
                msg.frames = frames;
                msg.time = t;
                msg.problems.push(Problem::Truncated { expected, got });
                self.stream.consume(buffered);
                out(Event::Http(msg));
            }
            State::Head if buffered > 0 && gap.is_none() => {
                out(Event::Problem {
                    frame,
                    time,
                    problem: Problem::Truncated {
                        expected: None,
                        got: buffered,
                    },
                });
                self.stream.consume(buffered);
            }
            State::Dead => self.state = State::Dead,
            _ => {}
        }
    }

    fn cut(&mut self, out: &mut impl FnMut(Event)) {
        loop {
            match &self.state {
                State::Head => {
                    let buf = self.stream.bytes();
                    let Some(end) = find_head_end(buf) else {
                        if buf.len() > MAX_HEAD || (!buf.is_empty() && !may_start_http(buf)) {
                            self.die(out);
                        }
                        return;
                    };
                    let Some((start, headers)) = parse_head(&buf[..end]) else {
                        self.die(out);
                        return;
                    };
                    let body = body_kind(&start, &headers);
                    let head = Box::new(HttpMessage {
                        start,
                        headers,
                        body: Vec::new(),
                        frames: Vec::new(),
                        time: Duration::ZERO,
                        problems: Vec::new(),
                    });
                    if let Body::Length(n) = body
                        && n > u64::from(self.cap)
                    {
                        let (frame, time) = self.stream.first_origin();
                        out(Event::Problem {
                            frame,
                            time,
                            problem: Problem::LengthAboveCap {
                                len: u32::try_from(n).unwrap_or(u32::MAX),
                                cap: self.cap,
                            },
                        });
                        let have = (self.stream.len() - end) as u64;
                        let skip = n.min(have);
                        self.stream.consume(end + skip as usize);
                        self.state = if skip < n {
                            State::Skip {
                                remaining: n - skip,
                            }
                        } else {
                            State::Head
                        };
                        if skip < n {
                            return;
                        }
                        continue;
                    }
                    self.state = State::Body {
                        head,
                        body,
                        head_len: end,
                    };
                }
                State::Body { body, head_len, .. } => {
                    let (body, head_len) = (*body, *head_len);
                    let avail = &self.stream.bytes()[head_len..];
                    match body {
                        Body::Length(n) => {
                            if (avail.len() as u64) < n {
                                return;
                            }
                            let n = n as usize;
                            self.emit(head_len + n, head_len + n, out);
                        }
                        Body::Chunked => match dechunk(avail, self.cap as usize) {
                            Dechunk::More => return,
                            Dechunk::Done { used, body } => {
                                self.emit_body(head_len + used, body, out);
                            }
                            Dechunk::Bad => {
                                self.die(out);
                                return;
                            }
                        },
                        Body::ToEnd => {
                            if avail.len() > self.cap as usize {
                                self.die(out);
                            }
                            return;
                        }
                    }
                }
                State::Skip { .. } | State::Dead => return,
            }
        }
    }

    /// Emits the message whose head and body are the first `total` buffered bytes, the body
    /// ending at `body_end`.
    fn emit(&mut self, total: usize, body_end: usize, out: &mut impl FnMut(Event)) {
        let State::Body { head_len, .. } = self.state else {
            return;
        };
        let body = self.stream.bytes()[head_len..body_end].to_vec();
        self.emit_body(total, body, out);
    }

    fn emit_body(&mut self, total: usize, body: Vec<u8>, out: &mut impl FnMut(Event)) {
        let State::Body { head, .. } = std::mem::replace(&mut self.state, State::Head) else {
            return;
        };
        let mut msg = *head;
        msg.body = body;
        let (frames, time) = self.stream.carriers(total);
        msg.frames = frames;
        msg.time = time;
        self.stream.consume(total);
        out(Event::Http(msg));
    }

    fn die(&mut self, out: &mut impl FnMut(Event)) {
        let (frame, time) = self.stream.first_origin();
        out(Event::Problem {
            frame,
            time,
            problem: Problem::Garbage {
                bytes: self.stream.len(),
            },
        });
        self.stream.clear(0);
        self.state = State::Dead;
    }
}

/// Whether `buf` may be the beginning of an HTTP start line (a token, then a space), so
/// garbage is noticed before [`MAX_HEAD`] bytes arrive.
fn may_start_http(buf: &[u8]) -> bool {
    buf.first().is_some_and(u8::is_ascii_uppercase)
        && buf
            .iter()
            .take(16)
            .take_while(|b| **b != b' ')
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'/' | b'.'))
}

/// The end of the head (after the blank line), if it is there.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let limit = buf.len().min(MAX_HEAD + 4);
    buf[..limit]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Parses the start line and headers; `None` if they are not HTTP/1.x.
fn parse_head(head: &[u8]) -> Option<(StartLine, Vec<(String, String)>)> {
    let text = core::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.splitn(3, ' ');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
    let start = if let Some(version) = a.strip_prefix("HTTP/") {
        if !version.starts_with('1') {
            return None;
        }
        let status = b.parse::<u16>().ok().filter(|s| (100..1000).contains(s))?;
        StartLine::Response { status }
    } else {
        if a.is_empty() || !a.bytes().all(|x| x.is_ascii_uppercase()) || !c.starts_with("HTTP/1") {
            return None;
        }
        StartLine::Request {
            method: a.to_owned(),
            uri: b.to_owned(),
        }
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':')?;
        if headers.len() < MAX_HEADERS {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    Some((start, headers))
}

fn body_kind(start: &StartLine, headers: &[(String, String)]) -> Body {
    let get = |n: &str| headers.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v);
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Body::Chunked;
    }
    if let Some(n) = get("content-length").and_then(|v| v.parse::<u64>().ok()) {
        return Body::Length(n);
    }
    match start {
        StartLine::Request { .. } => Body::Length(0),
        StartLine::Response { status } if *status == 204 || *status == 304 || *status < 200 => {
            Body::Length(0)
        }
        StartLine::Response { .. } => Body::ToEnd,
    }
}

enum Dechunk {
    More,
    Done { used: usize, body: Vec<u8> },
    Bad,
}

/// Decodes a chunked body at the start of `buf`.
fn dechunk(buf: &[u8], cap: usize) -> Dechunk {
    let mut pos = 0;
    let mut body = Vec::new();
    loop {
        let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            return if buf.len() - pos > 64 {
                Dechunk::Bad
            } else {
                Dechunk::More
            };
        };
        let line = &buf[pos..pos + eol];
        let size_text = line.split(|&b| b == b';').next().unwrap_or(line);
        let Some(size) = core::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
        else {
            return Dechunk::Bad;
        };
        if body.len().saturating_add(size) > cap {
            return Dechunk::Bad;
        }
        pos += eol + 2;
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
                    return Dechunk::More;
                };
                pos += eol + 2;
                if eol == 0 {
                    return Dechunk::Done { used: pos, body };
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Dechunk::More;
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size;
        if &buf[pos..pos + 2] != b"\r\n" {
            return Dechunk::Bad;
        }
        pos += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&[u8]]) -> Vec<Event> {
        let mut s = HttpSplitter::new(1 << 20);
        let mut out = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            s.push(
                Chunk::Data {
                    bytes: p,
                    frame: i as u64 + 1,
                    time: Duration::from_millis(i as u64),
                },
                &mut |e| out.push(e),
            );
        }
        s.close(End::Capture, &mut |e| out.push(e));
        out
    }

    fn msgs(events: &[Event]) -> Vec<&HttpMessage> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Http(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keep_alive_requests_split_across_segments() {
        let a = b"POST /app/handshake1 HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789";
        let b = b"abcdefPOST /app/request?seq=-5 HTTP/1.1\r\nCookie: TP_SESSIONID=AB\r\ncontent-length: 3\r\n\r\nxyz";
        let ev = split(&[a, b]);
        let m = msgs(&ev);
        assert_eq!(m.len(), 2, "{ev:?}");
        assert_eq!(
            m[0].start,
            StartLine::Request {
                method: "POST".into(),
                uri: "/app/handshake1".into()
            }
        );
        assert_eq!(m[0].body, b"0123456789abcdef");
        assert_eq!(m[0].frames, vec![1, 2]);
        assert_eq!(m[1].view(None).uri(), Some("/app/request?seq=-5"));
        assert_eq!(m[1].view(None).cookie, Some("TP_SESSIONID=AB"));
        assert_eq!(m[1].body, b"xyz");
        assert_eq!(m[1].frames, vec![2]);
    }

    #[test]
    fn responses_by_length_chunks_and_to_end() {
        let r = b"HTTP/1.1 200 OK\r\nSet-Cookie: TP_SESSIONID=1;TIMEOUT=86400\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest";
        let ev = split(&[r]);
        let m = msgs(&ev);
        assert_eq!(m.len(), 4, "{ev:?}");
        assert_eq!(
            m[0].view(None).set_cookie,
            Some("TP_SESSIONID=1;TIMEOUT=86400")
        );
        assert_eq!(m[0].body, b"hi");
        assert!(m[1].body.is_empty());
        assert_eq!(m[2].body, b"abcde");
        assert_eq!(m[3].body, b"rest");
        assert!(m.iter().all(|m| m.problems.is_empty()));
    }

    #[test]
    fn garbage_and_truncation_are_reported() {
        let ev = split(&[b"\x00\x01binary junk that is not http"]);
        assert!(
            matches!(
                ev[..],
                [Event::Problem {
                    problem: Problem::Garbage { bytes: 30 },
                    ..
                }]
            ),
            "{ev:?}"
        );
        let ev = split(&[b"POST /app HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"]);
        let m = msgs(&ev);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].body, b"abc");
        assert_eq!(
            m[0].problems,
            vec![Problem::Truncated {
                expected: Some(10),
                got: 3
            }]
        );
    }

    #[test]
    fn oversized_body_is_skipped_not_buffered() {
        let mut s = HttpSplitter::new(4);
        let mut out = Vec::new();
        let mut push = |b: &[u8], f| {
            s.push(
                Chunk::Data {
                    bytes: b,
                    frame: f,
                    time: Duration::ZERO,
                },
                &mut |e| out.push(e),
            )
        };
        push(b"POST /app HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234", 1);
        push(b"56789POST /app HTTP/1.1\r\nContent-Length: 1\r\n\r\nz", 2);
        assert!(matches!(
            out[0],
            Event::Problem {
                problem: Problem::LengthAboveCap { len: 10, cap: 4 },
                ..
            }
        ));
        let m = msgs(&out);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].body, b"z");
    }
}
