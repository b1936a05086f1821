//! The cloud link's framings inside decrypted TLS (`wire::cloud`): `framing`, `cut`,
//! `plaintext`, fed as a stream the way the plugin's `tcp_dissect_pdus` feeds it (cut the
//! message at the start, continue after it). Asserts: no panic; a cut message lies within the
//! input and is at least 2 bytes; `NeedMore` asks for more than is at hand; unknown bytes are
//! at least one byte and within the input; every message's plaintext is no longer than the
//! message; a text emitted in each framing is cut back whole with the same framing and text;
//! heap growth bounded by the input.
#![no_main]

use kasa_decoder::wire::cloud::{self, Cut, Framing};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

const CAP: u32 = 4096;

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        let mut at = 0;
        let mut steps = 0;
        while at < data.len() && steps < 10_000 {
            steps += 1;
            let rest = &data[at..];
            let _ = cloud::framing(rest, CAP);
            match cloud::cut(rest, CAP) {
                Cut::Message { framing, len } => {
                    assert!(len >= 2 && len <= rest.len());
                    assert!(cloud::plaintext(framing, &rest[..len]).len() <= len);
                    at += len;
                }
                Cut::NeedMore { at_least, .. } => {
                    assert!(at_least > rest.len());
                    break;
                }
                Cut::TooShort => {
                    assert!(rest.len() < cloud::PREFIX_LEN + 2);
                    break;
                }
                Cut::Unknown { len } => {
                    assert!(len >= 1 && len <= rest.len());
                    at += len;
                }
            }
        }
        // The input as a JSON text: each framing round-trips it when it is a whole object.
        if data.first() == Some(&b'{')
            && let kasa_decoder::wire::json::Extent::Complete(n) =
                kasa_decoder::wire::json::json_extent(data)
            && n == data.len()
            && data.get(1).is_some_and(|b| *b == b'"')
            && data.len() as u32 <= CAP
        {
            for f in [
                Framing::XorLength,
                Framing::Xor,
                Framing::JsonLength,
                Framing::Json,
            ] {
                let wire = cloud::emit(f, data);
                assert_eq!(
                    cloud::cut(&wire, CAP),
                    Cut::Message {
                        framing: f,
                        len: wire.len()
                    }
                );
                assert_eq!(cloud::plaintext(f, &wire), data);
            }
        }
    });
    // Decrypted copies of a window (at most the input, or CAP) and the emitted copies.
    let budget = 8 * data.len() + (16 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
