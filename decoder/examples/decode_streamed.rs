//! Decodes a capture as `kasa-decode` does, dropping each item as it comes (the decoder's own
//! cost, for a profiler): `decode_streamed FILE [ROUNDS]` prints the messages of the last round.

use kasa_decoder::capture::{Config, Item, Reader, decode_stream};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: decode_streamed CAPTURE [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: u32 = args
        .next()
        .and_then(|r| r.to_str()?.parse().ok())
        .unwrap_or(1);
    let mut messages = 0u64;
    for _ in 0..rounds {
        let mut reader = match Reader::open(path.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("decode_streamed: {e}");
                return ExitCode::from(2);
            }
        };
        messages = 0;
        let result = decode_stream::<std::convert::Infallible>(
            &mut reader,
            &Config::default(),
            |_, _| {},
            |item| {
                messages += u64::from(matches!(item, Item::Message { .. }));
                Ok(())
            },
        );
        if let Ok((_, Some(e))) = result {
            eprintln!("decode_streamed: {e}");
            return ExitCode::from(2);
        }
    }
    println!("{messages} messages");
    ExitCode::SUCCESS
}
