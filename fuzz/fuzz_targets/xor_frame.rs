//! XOR framing: `XorFrame::from_slice` over a byte stream, `Header::parse`, the heuristics, and
//! the cipher round trip. Asserts the view contract: a checked frame's accessors agree with the
//! bytes, and nothing panics.
#![no_main]

use kasa_decoder::wire::xor::{self, HEADER_LEN, Header, XorFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first four bytes pick a cap, so headers near it are exercised.
    let cap = match data {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => xor::DEFAULT_MAX_MESSAGE,
    };
    // Split frames off the front as the plugin and framer do.
    let mut rest = data;
    loop {
        match XorFrame::from_slice(rest) {
            Ok((frame, tail)) => {
                let len = frame.length() as usize;
                assert_eq!(frame.total_len(), HEADER_LEN + len);
                assert_eq!(frame.payload().len(), len);
                assert_eq!(tail.len(), rest.len() - HEADER_LEN - len);
                assert_eq!(&rest[HEADER_LEN..HEADER_LEN + len], frame.payload());
                rest = tail;
            }
            Err(xor::FrameError::Len { required, actual }) => {
                assert_eq!(actual, rest.len());
                assert!(required > actual);
                break;
            }
        }
    }
    // Every 4-byte window as a header, against the default cap and the chosen one.
    for w in data.windows(HEADER_LEN) {
        let head = [w[0], w[1], w[2], w[3]];
        let n = u32::from_be_bytes(head);
        for c in [cap, xor::DEFAULT_MAX_MESSAGE] {
            match Header::parse(head, c) {
                Header::ZeroLength => assert_eq!(n, 0),
                Header::Message { len } => assert!(len == n && n != 0 && n <= c),
                Header::AboveCap { len, cap: got } => assert!(len == n && n > c && got == c),
            }
        }
    }
    for i in 0..data.len().min(64) {
        let _ = xor::tcp_heuristic(&data[i..], cap);
        let _ = xor::udp_heuristic(&data[i..]);
    }
    // Cipher: decrypt(encrypt(x)) == x, and the three decryptions agree.
    let cipher = xor::encrypt(data);
    assert_eq!(xor::decrypt(&cipher), data);
    let mut in_place = data.to_vec();
    xor::decrypt_in_place(&mut in_place);
    assert_eq!(in_place, xor::decrypt(data));
    let mut short = vec![0u8; data.len() / 2];
    xor::decrypt_into(data, &mut short);
    assert_eq!(short[..], in_place[..short.len()]);
    // The framer's structural scan.
    let _ = kasa_decoder::wire::json::json_extent(data);
});
