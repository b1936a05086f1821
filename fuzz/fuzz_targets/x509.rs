//! DER certificates to `wire::x509::names`. Asserts: no panic; at most `MAX_DNS_NAMES` names;
//! heap growth bounded by the input (lossy strings at most 4 bytes per input byte).
#![no_main]

use kasa_decoder::wire::x509::{self, MAX_DNS_NAMES};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| match x509::names(data) {
        Ok(n) => {
            assert!(n.dns_names.len() <= MAX_DNS_NAMES);
            let _ = n.issuer();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    });
    let budget = 16 * data.len() + (16 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
