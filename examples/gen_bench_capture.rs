//! Writes the benchmark capture of `benches/tshark/compare.sh`: `CONNS` TCP connections to
//! port 9999, each with handshake, `PAIRS` get_sysinfo request/response pairs (one message per
//! segment, so every dissector sees the same messages) and teardown.
//!
//! `cargo run --release --example gen-bench-capture -- OUT.pcap [CONNS] [PAIRS]`
//! (defaults 1000 × 50 = 100,000 messages).

use etherparse::PacketBuilder;
use kasa_decoder::wire::xor::XorRepr;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use std::time::Duration;

const REQUEST: &str = r#"{"system":{"get_sysinfo":{}}}"#;

fn response(i: usize) -> String {
    format!(
        r#"{{"system":{{"get_sysinfo":{{"sw_ver":"1.5.4 Build 180815 Rel.121440","hw_ver":"2.0","type":"IOT.SMARTPLUGSWITCH","model":"HS110(EU)","mac":"50:C7:BF:00:{:02X}:{:02X}","dev_name":"Smart Wi-Fi Plug With Energy Monitoring","alias":"Plug {i} Küche","relay_state":{},"on_time":{},"active_mode":"none","feature":"TIM:ENE","updating":0,"icon_hash":"","rssi":-{},"led_off":0,"longitude_i":98432,"latitude_i":484512,"hwId":"0DEABDDC3EB9C0C22121AD8BAA9F6238","fwId":"00000000000000000000000000000000","deviceId":"DF9ABB5C9220A181394A9838953D4FD0B6F06D{:02X}","oemId":"E47C775CFBFCBEBC327A4E4343F11AF2","next_action":{{"type":-1}},"err_code":0}}}}}}"#,
        (i >> 8) & 0xff,
        i & 0xff,
        i % 2,
        i * 7,
        40 + i % 50,
        i & 0xff
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .expect("usage: gen-bench-capture OUT.pcap [CONNS] [PAIRS]");
    let conns: usize = args.next().map_or(1000, |a| a.parse().expect("CONNS"));
    let pairs: usize = args.next().map_or(50, |a| a.parse().expect("PAIRS"));
    let file = std::io::BufWriter::new(std::fs::File::create(&out).expect("create output"));
    let mut w = PcapWriter::new(file).expect("pcap header");
    let mut t = Duration::from_secs(1_700_000_000);
    let mut frames = 0u64;
    let mut emit = |w: &mut PcapWriter<_>,
                    t: &mut Duration,
                    c2s: bool,
                    cport: u16,
                    seq: u32,
                    ack: u32,
                    flags: &str,
                    payload: &[u8]| {
        let (src, dst, sp, dp) = if c2s {
            ([192, 168, 1, 10], [192, 168, 1, 20], cport, 9999)
        } else {
            ([192, 168, 1, 20], [192, 168, 1, 10], 9999, cport)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if flags.contains('P') {
            b = b.psh();
        }
        if flags.contains('F') {
            b = b.fin();
        }
        let mut buf = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut buf, payload).expect("build packet");
        *t += Duration::from_micros(100);
        w.write_packet(&PcapPacket::new(*t, buf.len() as u32, &buf))
            .expect("write packet");
        frames += 1;
    };
    let req = XorRepr {
        plaintext: REQUEST.as_bytes(),
    }
    .to_tcp();
    for c in 0..conns {
        let cport = 20000 + (c % 40000) as u16;
        let (mut cs, mut ss) = (1000u32, 5000u32);
        emit(&mut w, &mut t, true, cport, cs, 0, "S", &[]);
        emit(&mut w, &mut t, false, cport, ss, cs + 1, "SA", &[]);
        cs += 1;
        ss += 1;
        emit(&mut w, &mut t, true, cport, cs, ss, "A", &[]);
        for p in 0..pairs {
            emit(&mut w, &mut t, true, cport, cs, ss, "PA", &req);
            cs += req.len() as u32;
            let text = response(c * pairs + p);
            let resp = XorRepr {
                plaintext: text.as_bytes(),
            }
            .to_tcp();
            emit(&mut w, &mut t, false, cport, ss, cs, "PA", &resp);
            ss += resp.len() as u32;
        }
        emit(&mut w, &mut t, true, cport, cs, ss, "FA", &[]);
        emit(&mut w, &mut t, false, cport, ss, cs + 1, "FA", &[]);
        emit(&mut w, &mut t, true, cport, cs + 1, ss + 1, "A", &[]);
    }
    eprintln!("{out}: {frames} frames, {} messages", conns * pairs * 2);
}
