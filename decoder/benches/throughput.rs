//! Decoder throughput on a capture of 100,000 messages (1,000 TCP connections, each with a
//! handshake, 50 `get_sysinfo` request/response pairs of 33 and about 640 bytes, and a teardown:
//! `kasa_fixturegen::bench`, the capture `benches/tshark/compare.sh` uses too). Reported against a baseline measured in the same run:
//! reading the same file's records without decoding them.
//!
//! `cargo bench -p kasa-decoder --bench throughput`; the capture is written once to
//! `target/bench/xor-100k.pcap` and reused. After criterion's figures the run prints the ratio
//! decode ÷ read records from interleaved runs (the fastest of each, so that load from other
//! processes on the machine, which varies over a run, weighs on both alike), with messages/s and
//! MiB/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kasa_decoder::capture::{Config, Item, Reader, decode_file, decode_stream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CONNECTIONS: u32 = 1_000;
const PAIRS: u32 = 50;

fn capture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/xor-100k.pcap")
}

/// Writes the capture (kasa-fixturegen's benchmark capture) unless it is already there.
fn ensure_capture() -> PathBuf {
    let path = capture_path();
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tmp = path.with_extension("tmp");
        let file = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
        kasa_fixturegen::bench::write_bench_capture(file, CONNECTIONS as usize, PAIRS as usize)
            .unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

fn bench(c: &mut Criterion) {
    let path = ensure_capture();
    let size = std::fs::metadata(&path).unwrap().len();
    let messages = u64::from(CONNECTIONS * PAIRS * 2);
    if std::env::var_os("KASA_BENCH_ONLY").is_some() {
        return ratio(&path, size, messages);
    }
    let decoded = decode_file(&path, &Config::default()).unwrap();
    assert_eq!(
        decoded.messages.len() as u64,
        messages,
        "the capture decodes to every message"
    );
    assert!(
        decoded
            .messages
            .iter()
            .all(|m| m.problems.is_empty() && m.body.json_ok)
    );

    let mut g = c.benchmark_group("xor-100k");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(size));
    g.bench_function("baseline: read records", |b| b.iter(|| read_records(&path)));
    g.bench_function("decode (bytes)", |b| {
        b.iter(|| {
            decode_file(&path, &Config::default())
                .unwrap()
                .messages
                .len()
        })
    });
    g.bench_function("decode streamed (bytes)", |b| b.iter(|| streamed(&path)));
    g.throughput(Throughput::Elements(messages));
    g.bench_function("decode (messages)", |b| {
        b.iter(|| {
            decode_file(&path, &Config::default())
                .unwrap()
                .messages
                .len()
        })
    });
    g.finish();
    ratio(&path, size, messages);
}

/// Decodes the capture as `kasa-decode` does, each item dropped as soon as the decoder hands
/// it out (no collected result); returns the number of messages.
fn streamed(path: &Path) -> u64 {
    let mut reader = Reader::open(path).unwrap();
    let mut n = 0u64;
    decode_stream::<()>(
        &mut reader,
        &Config::default(),
        |_, _| {},
        |item| {
            n += u64::from(matches!(item, Item::Message { .. }));
            Ok(())
        },
    )
    .unwrap();
    n
}

/// Reads every record of the capture; returns the bytes read.
fn read_records(path: &Path) -> u64 {
    let mut r = Reader::open(path).unwrap();
    let mut n = 0u64;
    while let Some(rec) = r.next_record() {
        n += rec.unwrap().data.len() as u64;
    }
    n
}

/// Interleaved runs of both, the fastest of each, and their ratio.
fn ratio(path: &Path, size: u64, messages: u64) {
    let time = |f: &dyn Fn() -> u64| {
        let t = Instant::now();
        std::hint::black_box(f());
        t.elapsed()
    };
    // `KASA_BENCH_ONLY=read` or `=decode` runs one side alone, for `perf stat` (cycles spent
    // in this process do not count the time other processes hold the CPU).
    let only = std::env::var("KASA_BENCH_ONLY").unwrap_or_default();
    let (mut read, mut decode, mut dropping) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut stream = Duration::MAX;
    for _ in 0..15 {
        if only != "decode" {
            read = read.min(time(&|| read_records(path)));
        }
        if only != "read" {
            let t = Instant::now();
            let decoded = decode_file(path, &Config::default()).unwrap();
            let until_drop = t.elapsed();
            drop(decoded);
            let whole = t.elapsed();
            if whole < decode {
                (decode, dropping) = (whole, whole - until_drop);
            }
            stream = stream.min(time(&|| streamed(path)));
        }
    }
    if only == "read" || only == "decode" {
        return;
    }
    let mib = size as f64 / (1 << 20) as f64;
    println!(
        "xor-100k ratio: read records {:.2} ms, decode {:.2} ms (of which {:.2} ms dropping the result), decode/read = {:.1}x; decode {:.0} messages/s, {:.0} MiB/s ({} messages, {:.1} MiB)",
        read.as_secs_f64() * 1e3,
        decode.as_secs_f64() * 1e3,
        dropping.as_secs_f64() * 1e3,
        decode.as_secs_f64() / read.as_secs_f64(),
        messages as f64 / decode.as_secs_f64(),
        mib / decode.as_secs_f64(),
        messages,
        mib,
    );
    println!(
        "xor-100k ratio: decode streamed (items dropped as they come) {:.2} ms, streamed/read = {:.1}x; {:.0} messages/s, {:.0} MiB/s",
        stream.as_secs_f64() * 1e3,
        stream.as_secs_f64() / read.as_secs_f64(),
        messages as f64 / stream.as_secs_f64(),
        mib / stream.as_secs_f64(),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
