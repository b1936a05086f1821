//! Whole-capture replay: arbitrary bytes as a pcap/pcapng file through `capture::decode_file`
//! (file formats, link layers, TCP/UDP, framing, JSON, pairing, stats), with and without
//! heuristics. Asserts: no panic; heap growth bounded by the file size.
#![no_main]

use kasa_decoder::capture::{Config, decode_file};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let path = kasa_fuzz::temp_capture(data);
    let (_, grew) = alloc::measure(|| {
        for heuristics in [true, false] {
            let config = Config {
                heuristics,
                ..Config::default()
            };
            if let Ok(d) = decode_file(&path, &config) {
                assert_eq!(d.stats.messages, d.messages.len());
                assert!(d.messages.windows(2).all(|w| w[0].frame() <= w[1].frame()));
                for m in &d.messages {
                    let _ = m.summary();
                }
            }
        }
    });
    // Messages and their copies are at most a few times the file; fixed buffers on top:
    // pcap-file's 8 MB read buffer (a record longer than that reads as a cut-short file), the
    // 64 KiB BufReader, per-connection state.
    let budget = 64 * data.len() + (12 << 20);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for a {}-byte capture",
        data.len()
    );
});
