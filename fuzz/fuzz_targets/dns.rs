//! DNS responses to `wire::dns::answers`, and every offset of the input to `read_name`.
//! Asserts: no panic; a query (QR = 0) or a message shorter than 12 bytes is an error; at most
//! `MAX_ANSWERS` answers, every name within the 255-byte wire limit (4 characters per byte
//! when escaped); heap growth bounded by the caps, whatever the counts say.
#![no_main]

use kasa_decoder::wire::dns::{self, DnsError, HEADER_LEN, MAX_ANSWERS, MAX_NAME_LEN};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        let r = dns::answers(data);
        if data.len() < HEADER_LEN {
            assert_eq!(r, Err(DnsError::TooShort { len: data.len() }));
        } else if data[2] & 0x80 == 0 {
            assert_eq!(r, Err(DnsError::NotResponse));
        }
        match &r {
            Ok(answers) => {
                assert!(answers.len() <= MAX_ANSWERS);
                for a in answers {
                    assert!(a.name.len() <= 4 * MAX_NAME_LEN, "{}", a.name);
                    assert!(!a.name.ends_with('.'));
                    assert_eq!(a.name, a.name.to_ascii_lowercase());
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        for at in 0..data.len().min(512) {
            if let Ok((name, end)) = dns::read_name(data, at) {
                assert!(name.len() <= 4 * MAX_NAME_LEN);
                assert!(end > at && end <= data.len());
            }
        }
    });
    // 64 answers and 64 CNAMEs of two ≤1 KiB names each, the alias list, and the answers.
    let budget = 512 << 10;
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
