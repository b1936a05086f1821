//! Property tests: the cipher round-trips, and however a stream is cut into segments (and
//! whatever order they arrive in, with duplicates), the same messages come out.

use kasa_decoder::conv::stream::{End, Event};
use kasa_decoder::conv::{Chunk, Framer, Reassembler};
use kasa_decoder::wire::xor::{self, XorRepr};
use proptest::prelude::*;
use std::time::Duration;

proptest! {
    #[test]
    fn decrypt_inverts_encrypt(plain in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let cipher = xor::encrypt(&plain);
        prop_assert_eq!(xor::decrypt(&cipher), plain.clone());
        let mut in_place = cipher;
        xor::decrypt_in_place(&mut in_place);
        prop_assert_eq!(in_place, plain);
    }

    #[test]
    fn segmentation_does_not_change_messages(
        texts in proptest::collection::vec("[a-z0-9 äöü☃😽]{0,40}", 1..6),
        cuts in proptest::collection::vec(1usize..64, 1..40),
        order in proptest::collection::vec(any::<u16>(), 0..40),
        dup in proptest::collection::vec(any::<bool>(), 0..40),
        isn in any::<u32>(),
    ) {
        let messages: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| format!(r#"{{"m{i}":{{"set":{{"alias":"{t}"}}}}}}"#))
            .collect();
        let stream: Vec<u8> = messages.iter().flat_map(|m| XorRepr { plaintext: m.as_bytes() }.to_tcp()).collect();
        // Cut the stream at the given widths.
        let mut segments = Vec::new();
        let mut at = 0;
        for w in cuts.iter().cycle() {
            if at >= stream.len() { break; }
            let end = (at + w).min(stream.len());
            segments.push((at, end));
            at = end;
        }
        // Reorder locally (each segment may swap with a later one) and duplicate some.
        let mut arrival: Vec<(usize, usize)> = segments.clone();
        for (i, o) in order.iter().enumerate() {
            if arrival.len() > 1 && i < arrival.len() {
                let j = (i + usize::from(*o) % 3).min(arrival.len() - 1);
                arrival.swap(i, j);
            }
        }
        for (i, d) in dup.iter().enumerate() {
            if *d && i < segments.len() { arrival.push(segments[i]); }
        }
        let mut reasm = Reassembler::default();
        reasm.syn(isn);
        let mut framer = Framer::new(1 << 20);
        let mut got = Vec::new();
        let mut problems = Vec::new();
        let mut sink = |e: Event| match e {
            Event::Message(m) => got.push(m),
            Event::Problem { problem, .. } => problems.push(problem),
        };
        for (frame, &(a, b)) in arrival.iter().enumerate() {
            let seq = isn.wrapping_add(1).wrapping_add(a as u32);
            reasm.segment(seq, &stream[a..b], 0, frame as u64 + 1, Duration::ZERO, &mut |c: Chunk<'_>| framer.push(c, &mut sink));
        }
        reasm.close(0, Duration::ZERO, &mut |c: Chunk<'_>| framer.push(c, &mut sink));
        framer.close(End::Capture, &mut sink);
        prop_assert!(problems.is_empty(), "{:?}", problems);
        let texts: Vec<String> = got.iter().map(|m| String::from_utf8(m.plaintext.clone()).unwrap()).collect();
        prop_assert_eq!(texts, messages);
        for m in &got {
            prop_assert!(m.problems.is_empty(), "{:?}", m.problems);
        }
    }
}
