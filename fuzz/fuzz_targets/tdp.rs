//! TDP discovery datagrams: `TdpHeader::parse`/`from_slice`/`to_bytes`/`emit`, `crc`, `check`
//! and `heuristic`, and the lenient JSON reads `discovery` and `probe_key` of the body (and of
//! the whole input). Asserts: no panic; parse fails exactly below 16 bytes and `to_bytes`
//! gives the 16 bytes back; `check` is `Ok` exactly when the documented rule holds (version 2,
//! type 0, size, CRC, body empty or `{…`); a datagram re-emitted from its header and body
//! passes the CRC, and passes `check` exactly when its version, type and body do; heap growth
//! bounded by the input.
#![no_main]

use kasa_decoder::wire::tdp::{self, HEADER_LEN, TdpHeader};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        let parsed = TdpHeader::parse(data);
        assert_eq!(parsed.is_ok(), data.len() >= HEADER_LEN);
        assert_eq!(tdp::crc(data).is_some(), data.len() >= HEADER_LEN);
        let checked = tdp::check(data);
        assert_eq!(tdp::heuristic(data), checked.is_ok());
        let Ok((h, body)) = TdpHeader::from_slice(data) else {
            assert!(checked.is_err());
            return;
        };
        assert_eq!(Ok(h), parsed);
        assert_eq!(h.to_bytes()[..], data[..HEADER_LEN]);
        assert_eq!(body, &data[HEADER_LEN..]);
        let rule = h.version == 2
            && h.msg_type == 0
            && usize::from(h.size) == body.len()
            && tdp::crc(data) == Some(h.crc)
            && matches!(body, [] | [b'{', ..]);
        assert_eq!(checked.is_ok(), rule, "{checked:?}");
        if rule {
            assert_eq!(checked, Ok(h));
        }
        // Re-emitted: correct size and CRC, whatever the input had.
        if body.len() <= usize::from(u16::MAX) {
            let out = h.emit(body);
            let e = TdpHeader::parse(&out).unwrap();
            assert_eq!(usize::from(e.size), body.len());
            assert_eq!(tdp::crc(&out), Some(e.crc));
            let want = h.version == 2 && h.msg_type == 0 && matches!(body, [] | [b'{', ..]);
            assert_eq!(tdp::heuristic(&out), want);
        }
        let _ = tdp::discovery(body);
        let _ = tdp::probe_key(body);
        let _ = h.to_string();
        if let Err(e) = checked {
            let _ = e.to_string();
        }
    });
    let (_, grew_json) = alloc::measure(|| {
        let d = tdp::discovery(data);
        let k = tdp::probe_key(data);
        (d, k)
    });
    // The re-emitted copy; strings kept and serde_json's scratch for an escaped string.
    let budget = 4 * data.len() + (16 << 10);
    let grew = grew.max(grew_json);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
