//! DNS responses (a UDP payload, RFC 1035 §4): the addresses a response gives for the name it
//! was asked, which is all the cloud-link tracker needs from DNS.
//!
//! ```text
//!  0        2        4        6        8        10       12
//! +--------+--------+--------+--------+--------+--------+
//! |   id   | flags  |qdcount |ancount |nscount |arcount | then the questions, the answers, …
//! +--------+--------+--------+--------+--------+--------+
//! question: name, qtype (2), qclass (2)
//! record:   name, type (2), class (2), ttl (4), rdlength (2), rdata (rdlength bytes)
//! ```
//!
//! [`answers`] follows CNAME chains inside the answer section back to the question name: for
//! `n-devs.tplinkcloud.com CNAME x.elb.amazonaws.com`, `x.elb.amazonaws.com A 1.2.3.4` it
//! returns (`n-devs.tplinkcloud.com`, 1.2.3.4). Names are read with compression, at most
//! [`MAX_POINTERS`] pointers per name (the loop guard) and 255 bytes; at most [`MAX_ANSWERS`]
//! answer records are considered. Nothing here panics, and what is kept is bounded by those
//! caps, whatever the counts in the header say.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes of the header.
pub const HEADER_LEN: usize = 12;
/// Answer records considered per message; later ones are ignored.
pub const MAX_ANSWERS: usize = 64;
/// Questions read per message (only the first one's name is used; the others are skipped).
pub const MAX_QUESTIONS: usize = 16;
/// Compression pointers followed in one name.
pub const MAX_POINTERS: usize = 32;
/// The longest name on the wire (RFC 1035 §2.3.4), length bytes included.
pub const MAX_NAME_LEN: usize = 255;

/// Record types read.
pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
/// The Internet class (the top bit is mDNS's cache-flush flag and is ignored).
pub const CLASS_IN: u16 = 1;

mod field {
    use core::ops::Range;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    /// QR: the message is a response.
    pub const QR: u16 = 0x8000;
}

/// One address of a response, under the name that was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The question name, lower-case, without the trailing dot (for a response without a
    /// question, as mDNS sends them, the record's own name).
    pub name: String,
    pub addr: IpAddr,
}

/// Why a message gave no answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Fewer than 12 bytes.
    TooShort { len: usize },
    /// A query (QR = 0): it answers nothing.
    NotResponse,
    /// The message ends inside a name, a question or a record that starts at `offset`.
    Truncated { offset: usize },
    /// A label length byte with the reserved top bits 01 or 10 (RFC 6891 extended labels).
    LabelType { offset: usize, byte: u8 },
    /// More than [`MAX_POINTERS`] compression pointers in the name at `offset`: a loop.
    PointerLoop { offset: usize },
    /// The name at `offset` is longer than 255 bytes.
    NameTooLong { offset: usize },
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DnsError::TooShort { len } => write!(
                f,
                "not enough data for a DNS header: {HEADER_LEN} bytes needed, {len} present"
            ),
            DnsError::NotResponse => f.write_str("a DNS query, not a response"),
            DnsError::Truncated { offset } => {
                write!(f, "DNS message cut short in the item at offset {offset}")
            }
            DnsError::LabelType { offset, byte } => write!(
                f,
                "DNS label at offset {offset} has the unsupported length byte 0x{byte:02x}"
            ),
            DnsError::PointerLoop { offset } => write!(
                f,
                "DNS name at offset {offset} follows more than {MAX_POINTERS} compression pointers"
            ),
            DnsError::NameTooLong { offset } => write!(
                f,
                "DNS name at offset {offset} is longer than {MAX_NAME_LEN} bytes"
            ),
        }
    }
}

impl std::error::Error for DnsError {}

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Reads the name at `start`: lower-case labels joined by dots, no trailing dot (the root is
/// `""`); a byte outside printable ASCII, or a dot inside a label, as `\DDD`. Returns the name
/// and the offset just after it where it started (after the first pointer, if any).
pub fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut pos = start;
    let mut end = None;
    let mut pointers = 0;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated { offset: start })?;
        match len & 0xc0 {
            0xc0 => {
                let low = *msg
                    .get(pos + 1)
                    .ok_or(DnsError::Truncated { offset: start })?;
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DnsError::PointerLoop { offset: start });
                }
                end.get_or_insert(pos + 2);
                pos = (usize::from(len & 0x3f) << 8) | usize::from(low);
                continue;
            }
            0x00 => {}
            _ => {
                return Err(DnsError::LabelType {
                    offset: pos,
                    byte: len,
                });
            }
        }
        wire_len += 1 + usize::from(len);
        if wire_len > MAX_NAME_LEN {
            return Err(DnsError::NameTooLong { offset: start });
        }
        if len == 0 {
            return Ok((name, end.unwrap_or(pos + 1)));
        }
        let label = msg
            .get(pos + 1..pos + 1 + usize::from(len))
            .ok_or(DnsError::Truncated { offset: start })?;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            match b {
                b'.' | b'\\' => name.push_str(&format!("\\{b:03}")),
                0x21..=0x7e => name.push(char::from(b.to_ascii_lowercase())),
                _ => name.push_str(&format!("\\{b:03}")),
            }
        }
        pos += 1 + usize::from(len);
    }
}

/// A record's fixed part, after its name.
struct Rr {
    kind: u16,
    class: u16,
    rdata: core::ops::Range<usize>,
}

fn read_rr(msg: &[u8], at: usize) -> Result<(String, Rr, usize), DnsError> {
    let (owner, pos) = read_name(msg, at)?;
    let cut = DnsError::Truncated { offset: at };
    let kind = be16(msg, pos).ok_or(cut)?;
    let class = be16(msg, pos + 2).ok_or(cut)?;
    let rdlen = usize::from(be16(msg, pos + 8).ok_or(cut)?);
    let rdata = pos + 10..pos + 10 + rdlen;
    if rdata.end > msg.len() {
        return Err(cut);
    }
    let next = rdata.end;
    Ok((owner, Rr { kind, class, rdata }, next))
}

/// The A and AAAA answers of a response, each under the question name it answers (CNAME
/// chains in the answer section followed back to it, in any order). Records of another class
/// than IN, of other types, and A/AAAA records whose length is wrong are skipped; only the
/// first [`MAX_ANSWERS`] answer records are read; authority and additional records are not.
/// An address appears once per name even if the response repeats it.
pub fn answers(msg: &[u8]) -> Result<Vec<DnsAnswer>, DnsError> {
    if msg.len() < HEADER_LEN {
        return Err(DnsError::TooShort { len: msg.len() });
    }
    let count = |r: core::ops::Range<usize>| usize::from(be16(msg, r.start).unwrap_or(0));
    let flags = be16(msg, field::FLAGS.start).unwrap_or(0);
    if flags & field::QR == 0 {
        return Err(DnsError::NotResponse);
    }
    let mut pos = HEADER_LEN;
    let mut question = None;
    for _ in 0..count(field::QDCOUNT).min(MAX_QUESTIONS) {
        let (name, after) = read_name(msg, pos)?;
        if after + 4 > msg.len() {
            return Err(DnsError::Truncated { offset: pos });
        }
        question.get_or_insert(name);
        pos = after + 4;
    }
    if count(field::QDCOUNT) > MAX_QUESTIONS {
        // The answers start after questions this reader does not go through.
        return Ok(Vec::new());
    }
    let mut addrs: Vec<(String, IpAddr)> = Vec::new();
    let mut cnames: Vec<(String, String)> = Vec::new();
    for _ in 0..count(field::ANCOUNT).min(MAX_ANSWERS) {
        let (owner, rr, next) = read_rr(msg, pos)?;
        let data = msg.get(rr.rdata.clone()).unwrap_or_default();
        if rr.class & 0x7fff == CLASS_IN {
            match rr.kind {
                TYPE_A => {
                    if let Ok(a) = <[u8; 4]>::try_from(data) {
                        addrs.push((owner, Ipv4Addr::from(a).into()));
                    }
                }
                TYPE_AAAA => {
                    if let Ok(a) = <[u8; 16]>::try_from(data) {
                        addrs.push((owner, Ipv6Addr::from(a).into()));
                    }
                }
                TYPE_CNAME => {
                    let (target, _) = read_name(msg, rr.rdata.start)?;
                    cnames.push((owner, target));
                }
                _ => {}
            }
        }
        pos = next;
    }
    let Some(question) = question else {
        // No question (mDNS): each address under its own name.
        let mut out: Vec<DnsAnswer> = Vec::new();
        for (name, addr) in addrs {
            push_unique(&mut out, name, addr);
        }
        return Ok(out);
    };
    // The names that stand for the question: it, and every CNAME target reached from it.
    let mut aliases = vec![question.clone()];
    let mut grew = true;
    while grew {
        grew = false;
        for (owner, target) in &cnames {
            if aliases.contains(owner) && !aliases.contains(target) {
                aliases.push(target.clone());
                grew = true;
            }
        }
    }
    let mut out = Vec::new();
    for (owner, addr) in addrs {
        if aliases.contains(&owner) {
            push_unique(&mut out, question.clone(), addr);
        }
    }
    Ok(out)
}

fn push_unique(out: &mut Vec<DnsAnswer>, name: String, addr: IpAddr) {
    if !out.iter().any(|a| a.name == name && a.addr == addr) {
        out.push(DnsAnswer { name, addr });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header of a response: id 0x1234, flags 0x8180 (QR, RD, RA, no error), the counts.
    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut h = vec![0x12, 0x34, 0x81, 0x80];
        h.extend_from_slice(&qd.to_be_bytes());
        h.extend_from_slice(&an.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]); // nscount, arcount
        h
    }

    /// `n-devs.tplinkcloud.com CNAME x.elb.amazonaws.com`, `x.elb.amazonaws.com A 1.2.3.4`,
    /// `x.elb.amazonaws.com A 5.6.7.8`, built field by field with compression.
    fn cname_response() -> Vec<u8> {
        let mut m = header(1, 3);
        // 12: question name n-devs.tplinkcloud.com
        m.extend_from_slice(b"\x06n-devs\x0btplinkcloud\x03com\x00");
        m.extend_from_slice(&[0, 1, 0, 1]); // qtype A, qclass IN
        // answer 1 at 40: owner = pointer to 12 (the question), CNAME, IN, ttl 60, rdlength
        m.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 21]);
        // rdata at 52: x.elb.amazonaws.com (x, elb, then amazonaws + com as labels)
        m.extend_from_slice(b"\x01x\x03elb\x09amazonaws\x03com\x00");
        // answer 2: owner = pointer to 52 (x.elb.amazonaws.com), A, IN, ttl 60, 4 bytes
        m.extend_from_slice(&[0xc0, 52, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        // answer 3: the same owner, A 5.6.7.8
        m.extend_from_slice(&[0xc0, 52, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 5, 6, 7, 8]);
        m
    }

    fn answer(name: &str, addr: &str) -> DnsAnswer {
        DnsAnswer {
            name: name.into(),
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn cname_chain_back_to_the_question() {
        let m = cname_response();
        assert_eq!(m.len(), 105);
        assert_eq!(
            answers(&m),
            Ok(vec![
                answer("n-devs.tplinkcloud.com", "1.2.3.4"),
                answer("n-devs.tplinkcloud.com", "5.6.7.8"),
            ])
        );
        assert_eq!(read_name(&m, 12), Ok(("n-devs.tplinkcloud.com".into(), 36)));
        // A pointer ends the name two bytes after it.
        assert_eq!(read_name(&m, 40), Ok(("n-devs.tplinkcloud.com".into(), 42)));
    }

    #[test]
    fn direct_a_and_aaaa_upper_case_and_unrelated_records() {
        let mut m = header(1, 4);
        // question: DEVS.TPLinkCloud.COM (mixed case), AAAA, IN
        m.extend_from_slice(b"\x04DEVS\x0bTPLinkCloud\x03COM\x00\x00\x1c\x00\x01");
        // A 10.0.0.1 for the question name (pointer to 12)
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, 1]);
        // AAAA 2001:db8::1 for it
        m.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 9, 0, 16]);
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        // an A record of another name (other.example): not an answer to this question
        m.extend_from_slice(b"\x05other\x07example\x00\x00\x01\x00\x01\x00\x00\x00\x09\x00\x04");
        m.extend_from_slice(&[9, 9, 9, 9]);
        // an A record with a 3-byte rdata: skipped
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 3, 1, 1, 1]);
        assert_eq!(
            answers(&m),
            Ok(vec![
                answer("devs.tplinkcloud.com", "10.0.0.1"),
                answer("devs.tplinkcloud.com", "2001:db8::1"),
            ])
        );
    }

    #[test]
    fn cnames_out_of_order_and_chained() {
        let mut m = header(1, 3);
        // 12: question a.example
        m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        // 27: c.example A 7.7.7.7 (the chain's end comes first)
        m.extend_from_slice(b"\x01c\x07example\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04");
        m.extend_from_slice(&[7, 7, 7, 7]);
        // 52: b.example CNAME c.example (pointer to 27)
        m.extend_from_slice(b"\x01b\x07example\x00\x00\x05\x00\x01\x00\x00\x00\x01\x00\x02");
        m.extend_from_slice(&[0xc0, 27]);
        // a.example (pointer to 12) CNAME b.example (pointer to the owner above, at 52)
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 0xc0, 52]);
        assert_eq!(m[52..54], [1, b'b'], "b.example starts at 52");
        assert_eq!(answers(&m), Ok(vec![answer("a.example", "7.7.7.7")]));
    }

    #[test]
    fn no_question_names_each_record() {
        // An mDNS-style response: no question, one A record for tp.local.
        let mut m = header(0, 1);
        m.extend_from_slice(b"\x02TP\x05local\x00");
        m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 192, 168, 0, 7]);
        assert_eq!(answers(&m), Ok(vec![answer("tp.local", "192.168.0.7")]));
    }

    #[test]
    fn queries_short_and_truncated() {
        let mut q = cname_response();
        q[2] &= 0x7f; // QR = 0
        assert_eq!(answers(&q), Err(DnsError::NotResponse));
        for cut in 0..HEADER_LEN {
            assert_eq!(
                answers(&cname_response()[..cut]),
                Err(DnsError::TooShort { len: cut })
            );
        }
        let m = cname_response();
        for cut in HEADER_LEN..m.len() {
            assert!(
                matches!(answers(&m[..cut]), Err(DnsError::Truncated { .. })),
                "cut at {cut}: {:?}",
                answers(&m[..cut])
            );
        }
        // Counts larger than the records present.
        let mut more = cname_response();
        more[7] = 200;
        assert_eq!(answers(&more), Err(DnsError::Truncated { offset: 105 }));
    }

    #[test]
    fn pointer_loops_and_bad_labels() {
        // The question name is a pointer to itself.
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(answers(&m), Err(DnsError::PointerLoop { offset: 12 }));
        // A label, then a pointer back to the start: a.a.a.… until the guard.
        let mut m = header(1, 0);
        m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(answers(&m), Err(DnsError::PointerLoop { offset: 12 }));
        // A pointer past the end.
        let mut m = header(1, 0);
        m.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(answers(&m), Err(DnsError::Truncated { offset: 12 }));
        // An extended label type (0x41).
        let mut m = header(1, 0);
        m.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
        assert_eq!(
            answers(&m),
            Err(DnsError::LabelType {
                offset: 12,
                byte: 0x41
            })
        );
        // 5 labels of 63 bytes: longer than 255.
        let mut m = header(1, 0);
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.push(0);
        assert_eq!(answers(&m), Err(DnsError::NameTooLong { offset: 12 }));
        assert_eq!(
            DnsError::PointerLoop { offset: 12 }.to_string(),
            "DNS name at offset 12 follows more than 32 compression pointers"
        );
    }

    #[test]
    fn odd_label_bytes_are_escaped() {
        let mut m = header(1, 0);
        m.extend_from_slice(b"\x03a.b\x02\x00\xff\x00\x00\x01\x00\x01");
        assert_eq!(read_name(&m, 12), Ok(("a\\046b.\\000\\255".into(), 20)));
        // The root name.
        assert_eq!(read_name(&[0], 0), Ok((String::new(), 1)));
        assert_eq!(answers(&m), Ok(vec![]));
    }

    #[test]
    fn answers_are_bounded() {
        // 1000 answers claimed and present: only MAX_ANSWERS are read.
        let mut m = header(1, 1000);
        m.extend_from_slice(b"\x01x\x00\x00\x01\x00\x01");
        for i in 0..1000u32 {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4]);
            m.extend_from_slice(&i.to_be_bytes());
        }
        assert_eq!(answers(&m).unwrap().len(), MAX_ANSWERS);
        // Duplicates are reported once.
        let mut m = header(1, 2);
        m.extend_from_slice(b"\x01x\x00\x00\x01\x00\x01");
        for _ in 0..2 {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 1, 1, 1]);
        }
        assert_eq!(answers(&m), Ok(vec![answer("x", "1.1.1.1")]));
    }
}
