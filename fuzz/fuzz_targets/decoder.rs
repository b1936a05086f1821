//! `capture::Decoder` fed frames directly (no file format in the way): link type, snaplen cut
//! and bytes per frame, then `finish`. Cheaper per execution than `capture`, so it goes deeper
//! into TCP/UDP admission, heuristics, direction and pairing. Asserts: no panic; counts agree;
//! pairing points backwards.
#![no_main]

use kasa_decoder::capture::{Config, Decoder, Record};
use kasa_fuzz::alloc::{self, Counting};
use kasa_fuzz::{Bytes, records};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        let mut b = Bytes::new(data);
        let flags = b.u8();
        let config = Config {
            heuristics: flags & 1 == 0,
            max_message: if flags & 2 == 0 {
                kasa_decoder::wire::xor::DEFAULT_MAX_MESSAGE
            } else {
                64
            },
            ..Config::default()
        };
        let mut decoder = Decoder::new(config);
        let mut frame = 0;
        while let Some(f) = records::read(&mut b) {
            frame += 1;
            decoder.push(&Record {
                frame,
                time: Duration::from_millis(frame),
                link: f.link,
                data: f.data,
                orig_len: f.orig_len,
            });
        }
        let d = decoder.finish();
        assert_eq!(d.stats.messages, d.messages.len());
        assert_eq!(d.stats.requests + d.stats.responses, d.messages.len());
        for m in &d.messages {
            assert!(m.frame() <= frame);
            if let Some(req) = m.pairing.response_to {
                assert!(
                    req <= m.frame(),
                    "response in {} pairs with later frame {req}",
                    m.frame()
                );
            }
        }
    });
    let budget = 64 * data.len() + (4 << 20);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} bytes of frames",
        data.len()
    );
});
