//! Decoder throughput on a capture of 100,000 messages (1,000 TCP connections, each with a
//! handshake, 50 `get_sysinfo` request/response pairs of 33 and about 640 bytes, and a teardown),
//! the capture WIRESHARK.md §11 describes. Reported against a baseline measured in the same run:
//! reading the same file's records without decoding them.
//!
//! `cargo bench -p kasa-decoder --bench throughput`; the capture is written once to
//! `target/bench/xor-100k.pcap` and reused.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use kasa_decoder::capture::{Config, Reader, decode_file};
use kasa_decoder::wire::xor::XorRepr;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONNECTIONS: u32 = 1_000;
const PAIRS: u32 = 50;

const REQUEST: &str = r#"{"system":{"get_sysinfo":{}}}"#;

fn response(i: u32) -> String {
    format!(
        r#"{{"system":{{"get_sysinfo":{{"sw_ver":"1.5.4 Build 180815 Rel.121440","hw_ver":"2.0","type":"IOT.SMARTPLUGSWITCH","model":"HS110(EU)","mac":"50:C7:BF:00:{:02X}:{:02X}","dev_name":"Smart Wi-Fi Plug With Energy Monitoring","alias":"Plug {i}","relay_state":1,"on_time":{},"active_mode":"none","feature":"TIM:ENE","updating":0,"icon_hash":"","rssi":-52,"led_off":0,"longitude_i":0,"latitude_i":0,"hwId":"044A516EE63C875F9458DA25C2CCC5A0","fwId":"00000000000000000000000000000000","deviceId":"8006{:036X}","oemId":"1998A14DAA86E4E001FD7CAF42868B5E","next_action":{{"type":-1}},"err_code":0}}}}}}"#,
        (i >> 8) & 0xff,
        i & 0xff,
        i * 7,
        i
    )
}

fn capture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/xor-100k.pcap")
}

/// Writes the capture unless it is already there.
fn ensure_capture() -> PathBuf {
    let path = capture_path();
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension("tmp");
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    let mut t = Duration::from_secs(1_700_000_000);
    let write = |w: &mut PcapWriter<_>,
                 t: &mut Duration,
                 from_client: bool,
                 port: u16,
                 seq: u32,
                 ack: u32,
                 flags: u8,
                 payload: &[u8]| {
        let (src, dst, sport, dport) = if from_client {
            ([127, 0, 0, 1], [127, 0, 0, 2], port, 9999)
        } else {
            ([127, 0, 0, 2], [127, 0, 0, 1], 9999, port)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 65535);
        if flags & 1 != 0 {
            b = b.syn();
        }
        if flags & 2 != 0 {
            b = b.ack(ack);
        }
        if flags & 4 != 0 {
            b = b.fin();
        }
        let mut buf = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut buf, payload).unwrap();
        *t += Duration::from_micros(100);
        w.write_packet(&PcapPacket::new(*t, buf.len() as u32, &buf))
            .unwrap();
    };
    let req = XorRepr {
        plaintext: REQUEST.as_bytes(),
    }
    .to_tcp();
    for c in 0..CONNECTIONS {
        let port = 10_000 + (c % 50_000) as u16;
        let (mut cs, mut ss) = (1_000u32, 5_000u32);
        write(&mut w, &mut t, true, port, cs - 1, 0, 1, &[]);
        write(&mut w, &mut t, false, port, ss - 1, cs, 3, &[]);
        write(&mut w, &mut t, true, port, cs, ss, 2, &[]);
        for p in 0..PAIRS {
            let resp = XorRepr {
                plaintext: response(c * PAIRS + p).as_bytes(),
            }
            .to_tcp();
            write(&mut w, &mut t, true, port, cs, ss, 2, &req);
            cs += req.len() as u32;
            write(&mut w, &mut t, false, port, ss, cs, 2, &resp);
            ss += resp.len() as u32;
        }
        write(&mut w, &mut t, true, port, cs, ss, 6, &[]);
        write(&mut w, &mut t, false, port, ss, cs + 1, 6, &[]);
    }
    drop(w);
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn bench(c: &mut Criterion) {
    let path = ensure_capture();
    let size = std::fs::metadata(&path).unwrap().len();
    let messages = u64::from(CONNECTIONS * PAIRS * 2);
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
    g.bench_function("baseline: read records", |b| {
        b.iter(|| {
            let mut r = Reader::open(&path).unwrap();
            let mut n = 0u64;
            while let Some(rec) = r.next_record() {
                n += rec.unwrap().data.len() as u64;
            }
            n
        })
    });
    g.bench_function("decode (bytes)", |b| {
        b.iter(|| {
            decode_file(&path, &Config::default())
                .unwrap()
                .messages
                .len()
        })
    });
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
