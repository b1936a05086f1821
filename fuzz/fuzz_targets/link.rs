//! Link layer down to TCP/UDP (`capture::link::parse`) for every supported link type, with
//! snaplen-cut frames. Asserts: no panic; a payload is a sub-slice of the frame; `missing` is
//! at most what the original length says was cut.
#![no_main]

use kasa_decoder::capture::{L4, link};
use kasa_fuzz::{Bytes, records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    while let Some(f) = records::read(&mut b) {
        let _ = f.link.check();
        let Some(seg) = link::parse(f.link, f.data, f.orig_len) else {
            continue;
        };
        let payload = match seg.l4 {
            L4::Tcp { payload, .. } | L4::Udp { payload } => payload,
        };
        let range = f.data.as_ptr_range();
        let p = payload.as_ptr_range();
        assert!(
            payload.is_empty() || (range.start <= p.start && p.end <= range.end),
            "payload outside the frame"
        );
        assert!(
            seg.missing <= u64::from(f.orig_len),
            "missing {} > orig_len {}",
            seg.missing,
            f.orig_len
        );
    }
});
