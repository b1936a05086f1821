//! TDP datagrams (`conv::stream::datagram` with `Transport::Tdp`: header, CRC, size, discovery
//! hints) and the strong heuristic. Asserts: no panic; the heuristic never accepts a datagram
//! whose CRC does not verify or whose size disagrees; a datagram the heuristic accepts has a
//! header and a good CRC in its meta; heap growth bounded by the input.
#![no_main]

use kasa_decoder::conv::stream::datagram;
use kasa_decoder::msg::{Meta, Transport};
use kasa_decoder::wire::tdp;
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        let accepted = tdp::heuristic(data);
        let raw = datagram(Transport::Tdp, data, 0, 1, Duration::ZERO).expect("TDP is a datagram transport");
        let Meta::Tdp(t) = &raw.meta else {
            panic!("a TDP datagram with meta {:?}", raw.meta);
        };
        if accepted {
            let h = t.header.expect("accepted without a header");
            assert_eq!(t.crc_ok, Some(true), "accepted with a bad CRC");
            assert_eq!(usize::from(h.size), data.len() - tdp::HEADER_LEN);
            assert_eq!(tdp::crc(data), Some(h.crc));
        }
        assert!(raw.plaintext.len() <= data.len());
    });
    assert!(grew <= 64 * data.len() + (1 << 16), "{grew} bytes for {} input bytes", data.len());
});
