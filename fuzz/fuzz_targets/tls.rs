//! TLS as `kasa-decode` reads it: a stream cut into pieces through `RecordSplitter` (from a
//! record boundary or hunting, with an optional hole), handshake records through a
//! `HandshakeReader` (default cap or 512 bytes), ClientHello and Certificate bodies through
//! their parsers and each certificate through `x509::names`; and the raw input through
//! `RecordHeader::parse`, `parse_client_hello`, `parse_certificates` directly.
//!
//! Input: 4 bytes `flags` (bit 0 hunting, bit 1 small cap, bit 2 pieces ×64), `piece`
//! (size − 1), `gap_at` (the piece before which a hole is declared), `gap_len` (× 97 bytes;
//! 0 = none), then the stream.
//!
//! Asserts: no panic; records in stream order, never overlapping, each plausible, with the
//! payload of its header's length (none for application data or after a hole); after an
//! error the splitter is stopped and hands out nothing more; without a hole, the records and
//! the error do not depend on how the stream was cut; the handshake reader never buffers more
//! than its cap; heap growth bounded by the input and the caps.
#![no_main]

use kasa_decoder::wire::tls::{
    self, DEFAULT_HANDSHAKE_CAP, HEADER_LEN, HandshakeReader, RecordHeader, RecordSplitter,
    content, handshake,
};
use kasa_decoder::wire::x509;
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

#[derive(Debug, PartialEq, Eq)]
struct Got {
    header: RecordHeader,
    offset: u64,
    payload: Option<Vec<u8>>,
    complete: bool,
}

fn message(msg_type: u8, body: &[u8]) {
    match msg_type {
        handshake::CLIENT_HELLO => {
            let _ = tls::parse_client_hello(body);
        }
        handshake::CERTIFICATE => {
            if let Ok(certs) = tls::parse_certificates(body) {
                assert!(certs.len() <= tls::MAX_CERTIFICATES);
                for c in certs {
                    let _ = x509::names(c);
                }
            }
        }
        _ => {}
    }
}

/// Splits `stream` in `piece`-byte pieces (a hole of `gap` bytes before piece `gap_at`),
/// checking every record and reading the handshake.
fn split(
    stream: &[u8],
    hunting: bool,
    cap: usize,
    piece: usize,
    gap: Option<(usize, u64)>,
) -> (Vec<Got>, Option<tls::TlsError>) {
    let mut s = if hunting {
        RecordSplitter::hunting()
    } else {
        RecordSplitter::new()
    };
    let mut hs = HandshakeReader::with_cap(cap);
    let mut got: Vec<Got> = Vec::new();
    let mut error = None;
    let mut end = 0u64;
    let mut on_record = |r: tls::Record<'_>| {
        assert!(r.header.is_plausible(), "{r:?}");
        assert!(r.offset >= end, "record at {} before {end}", r.offset);
        end = r.offset + (HEADER_LEN + usize::from(r.header.len)) as u64;
        assert_eq!(r.payload_range().end, end);
        if let Some(p) = r.payload {
            assert_eq!(p.len(), usize::from(r.header.len));
            assert!(r.complete);
            assert_ne!(r.header.content_type, content::APPLICATION_DATA);
        }
        match (r.header.content_type, r.payload) {
            (content::HANDSHAKE, Some(p)) => {
                let _ = hs.push(p, &mut message);
            }
            (content::HANDSHAKE, None) => hs.lost(),
            (content::CHANGE_CIPHER_SPEC, _) => hs.change_cipher_spec(),
            _ => {}
        }
        assert!(hs.buffered() <= 4 + cap);
        got.push(Got {
            header: r.header,
            offset: r.offset,
            payload: r.payload.map(<[u8]>::to_vec),
            complete: r.complete,
        });
    };
    for (i, p) in stream.chunks(piece).enumerate() {
        if let Some((at, len)) = gap
            && at == i
        {
            s.gap(len, &mut on_record);
        }
        let before = s.is_stopped();
        match s.push(p, &mut on_record) {
            Ok(()) => {}
            Err(e) => {
                assert!(!before && s.is_stopped(), "{e}");
                assert!(error.is_none(), "a second error: {e}");
                let _ = e.to_string();
                error = Some(e);
            }
        }
    }
    (got, error)
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, piece, gap_at, gap_len], stream)) = data.split_first_chunk::<4>() else {
        return;
    };
    let (_, grew) = alloc::measure(|| {
        let _ = RecordHeader::parse(stream).map(|h| h.to_string());
        let _ = tls::is_record_start(stream);
        let _ = tls::parse_client_hello(stream);
        let _ = tls::parse_certificates(stream);
        let hunting = flags & 1 != 0;
        let cap = if flags & 2 != 0 {
            512
        } else {
            DEFAULT_HANDSHAKE_CAP
        };
        let piece = (usize::from(piece) + 1) * if flags & 4 != 0 { 64 } else { 1 };
        let gap = (gap_len > 0).then(|| (usize::from(gap_at), u64::from(gap_len) * 97));
        let cut = split(stream, hunting, cap, piece, gap);
        if gap.is_none() {
            let whole = split(stream, hunting, cap, stream.len().max(1), None);
            assert_eq!(cut, whole, "records depend on the cut");
        }
    });
    // The copies of the payloads kept for the comparison (twice), a handshake message up to
    // the cap, the hunting buffer (two records and a step), the splitter's record buffer.
    let budget = 6 * stream.len() + 2 * DEFAULT_HANDSHAKE_CAP + (128 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
