//! Reads a capture's records and nothing more (the floor under `kasa-decode`'s time on a file):
//! `read_records FILE` (or `-` for standard input) prints the frames and captured bytes.

use kasa_decoder::capture::Reader;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: read_records CAPTURE");
        return ExitCode::from(2);
    };
    let reader = if path == "-" {
        Reader::from_read(std::io::stdin(), 0)
    } else {
        Reader::open(path.as_ref())
    };
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            eprintln!("read_records: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut frames, mut bytes) = (0u64, 0u64);
    while let Some(record) = reader.next_record() {
        match record {
            Ok(r) => {
                frames += 1;
                bytes += r.data.len() as u64;
            }
            Err(e) => {
                eprintln!("read_records: {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!("{frames} frames, {bytes} captured bytes");
    ExitCode::SUCCESS
}
