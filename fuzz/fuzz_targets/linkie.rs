//! Linkie v2 bodies (`wire::linkie`): the input as a request form (`parse_request`) and as a
//! response (`parse_response`). Asserts: no panic; a parsed body's ranges lie inside the input
//! (the field's name is `content`, a response's text has no blanks around it); the ciphertext is
//! no longer than the input and decrypts to as many bytes; what decrypts re-emits
//! (`emit_request`, `emit_response`) to a body that parses back to the same plaintext; heap
//! growth bounded by the input.
#![no_main]

use kasa_decoder::wire::linkie::{self, LinkieBody};
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static A: Counting = Counting;

fn check(data: &[u8], b: &LinkieBody) -> Vec<u8> {
    assert!(b.text_at.start <= b.text_at.end && b.text_at.end <= data.len());
    assert!(b.ciphertext.len() <= data.len());
    if let Some(f) = &b.field {
        assert_eq!(&data[f.clone()], linkie::FIELD.as_bytes());
        assert_eq!(f.end + 1, b.text_at.start);
        assert_eq!(data[f.end], b'=');
    }
    let pt = b.plaintext(data);
    if b.clear {
        assert!(b.ciphertext.is_empty() && b.b64_len == 0);
        assert_eq!(pt, &data[b.text_at.clone()]);
        assert_eq!(pt.first(), Some(&b'{'));
    } else {
        assert_eq!(pt.len(), b.ciphertext.len());
        assert!(b.b64_len <= data.len());
    }
    pt
}

fuzz_target!(|data: &[u8]| {
    let (_, grew) = alloc::measure(|| {
        if let Ok(r) = linkie::parse_request(data) {
            assert!(r.field.is_some() && !r.clear);
            let pt = check(data, &r);
            let again = linkie::emit_request(&pt);
            let back = linkie::parse_request(again.as_bytes()).expect("emitted request parses");
            assert_eq!(back.plaintext(again.as_bytes()), pt);
        }
        if let Ok(r) = linkie::parse_response(data) {
            assert!(r.field.is_none());
            let pt = check(data, &r);
            if !r.clear && pt.first() != Some(&b'{') {
                let again = linkie::emit_response(&pt);
                let back =
                    linkie::parse_response(again.as_bytes()).expect("emitted response parses");
                assert_eq!(back.plaintext(again.as_bytes()), pt);
            }
        }
        let _ = linkie::version(&String::from_utf8_lossy(data));
    });
    let budget = 16 * data.len() + (64 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {} input bytes",
        data.len()
    );
});
