//! HTTP as KLAP and AES ride on it: arbitrary bytes cut into two stream directions (the first
//! input byte says where), split by `conv::HttpSplitter`, and every message handed to a
//! `conv::Session` with a credential, an AES key and an RSA key, as `kasa-decode` does —
//! KLAP steps, AES envelopes, decryption attempts, pairing. Asserts: no panic; a message body
//! never exceeds the cap; heap growth bounded by the input and the caps.
#![no_main]

use kasa_decoder::conv::stream::{End, Event};
use kasa_decoder::conv::{Chunk, Found, HttpSplitter, MessageId, Secrets, Seen, Session};
use kasa_decoder::wire::aes::AesKeys;
use kasa_decoder::wire::klap::Credential;
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

#[global_allocator]
static A: Counting = Counting;

const CAP: u32 = 1 << 16;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let at = (usize::from(cut) * rest.len()) / 255;
    let (client_bytes, device_bytes) = rest.split_at(at);
    let (_, grew) = alloc::measure(|| {
        let secrets = Secrets {
            credentials: vec![Credential::new("u", "user@example.com", "secret")],
            aes_keys: AesKeys::from_hex(
                "388902faf558731ca120489a82c7d909",
                "393df81b53cd30b58969bafd5e399ffa",
            )
            .into_iter()
            .collect(),
            rsa_keys: Vec::new(),
        };
        let mut session = Session::with_secrets(secrets, true);
        let client = "10.0.0.1:50000".parse().unwrap();
        let device = "10.0.0.2:80".parse().unwrap();
        let mut frame = 0u64;
        for (bytes, src, dst) in [(client_bytes, client, device), (device_bytes, device, client)] {
            let mut split = HttpSplitter::new(CAP);
            let mut events = Vec::new();
            for piece in bytes.chunks(97) {
                frame += 1;
                split.push(
                    Chunk::Data {
                        bytes: piece,
                        frame,
                        time: Duration::from_millis(frame),
                    },
                    &mut |e| events.push(e),
                );
            }
            split.close(End::Capture, &mut |e| events.push(e));
            for (i, e) in events.into_iter().enumerate() {
                if let Event::Http(m) = e {
                    assert!(m.body.len() <= CAP as usize);
                    let seen = Seen {
                        id: MessageId {
                            frame: m.frames.last().copied().unwrap_or(0),
                            index: i as u32,
                        },
                        time: m.time,
                        src,
                        dst,
                        conv: 1,
                        found: Found::Heuristic,
                        on_device_port: (src == device, dst == device),
                    };
                    let answers = (src == device).then_some(1);
                    let _ = session.http(&seen, &m.view(answers));
                }
            }
        }
    });
    assert!(grew <= 64 * data.len() + (1 << 20), "{grew} bytes for {} input bytes", data.len());
});
