//! The decoder's parts one by one: each transport's decryption (XOR, KLAP, AES, the TDP
//! checksum, which is all TDP computes per datagram), and the per-message work after it (the
//! JSON's extent, the message model). Message sizes are those of the throughput capture: a
//! 640-byte `get_sysinfo` answer, and 64 KiB for the bulk rate.
//!
//! `cargo bench -p kasa-decoder --bench parts`. The XOR group compares the decoder's decryption
//! with the cipher's definition written as a byte loop with the key carried from byte to byte
//! (`reference: byte loop`); the compiler vectorises both, as the key is the previous
//! ciphertext byte, not a running value.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kasa_decoder::msg::Body;
use kasa_decoder::wire::json::json_extent;
use kasa_decoder::wire::{aes, crypto, klap, tdp, xor};
use std::hint::black_box;
use std::time::Duration;

/// The throughput capture's answer (`kasa_fixturegen::bench`), 640 bytes.
const ANSWER: &str = r#"{"system":{"get_sysinfo":{"sw_ver":"1.5.4 Build 180815 Rel.121440","hw_ver":"2.0","type":"IOT.SMARTPLUGSWITCH","model":"HS110(EU)","mac":"50:C7:BF:00:01:2C","dev_name":"Smart Wi-Fi Plug With Energy Monitoring","alias":"Plug 300 Küche","relay_state":0,"on_time":2100,"active_mode":"none","feature":"TIM:ENE","updating":0,"icon_hash":"","rssi":-40,"led_off":0,"longitude_i":98432,"latitude_i":484512,"hwId":"0DEABDDC3EB9C0C22121AD8BAA9F6238","fwId":"00000000000000000000000000000000","deviceId":"DF9ABB5C9220A181394A9838953D4FD0B6F06D2C","oemId":"E47C775CFBFCBEBC327A4E4343F11AF2","next_action":{"type":-1},"err_code":0}}}"#;
const REQUEST: &str = r#"{"system":{"get_sysinfo":{}}}"#;
/// A SMART answer (KLAP v2, AES), with a base64 nickname.
const SMART_ANSWER: &str = r#"{"error_code":0,"result":{"device_id":"80223B0E4B1F7D3C5A6E9F8D7C6B5A4938271605","fw_ver":"1.2.3 Build 230425 Rel.142542","hw_ver":"1.0","type":"SMART.TAPOPLUG","model":"P110","mac":"AC-15-A2-00-00-01","hw_id":"0DEABDDC3EB9C0C22121AD8BAA9F6238","fw_id":"00000000000000000000000000000000","oem_id":"E47C775CFBFCBEBC327A4E4343F11AF2","ip":"192.168.1.20","time_diff":60,"ssid":"SG9tZQ==","rssi":-40,"signal_level":3,"latitude":484512,"longitude":98432,"lang":"en_US","avatar":"plug","region":"Europe/Berlin","specs":"","nickname":"TGl2aW5nIHJvb20=","has_set_location_info":true,"device_on":false,"on_time":0,"default_states":{"type":"last_states","state":{}},"overheated":false,"power_protection_status":"normal"}}"#;

/// The autokey decryption as a byte loop with the key carried along: the reference the
/// decoder's form is measured against.
fn decrypt_byte_loop(cipher: &[u8], out: &mut [u8]) {
    let mut key = xor::INITIAL_KEY;
    for (p, &c) in out.iter_mut().zip(cipher) {
        *p = c ^ key;
        key = c;
    }
}

fn sizes() -> [(&'static str, Vec<u8>); 2] {
    let big: Vec<u8> = ANSWER.bytes().cycle().take(64 << 10).collect();
    [("640 B", ANSWER.as_bytes().to_vec()), ("64 KiB", big)]
}

fn xor_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("xor");
    for (name, plain) in sizes() {
        let cipher = xor::encrypt(&plain);
        let mut out = vec![0u8; cipher.len()];
        g.throughput(Throughput::Bytes(plain.len() as u64));
        g.bench_with_input(BenchmarkId::new("decrypt_into", name), &cipher, |b, c| {
            b.iter(|| xor::decrypt_into(black_box(c), &mut out))
        });
        g.bench_with_input(
            BenchmarkId::new("reference: byte loop", name),
            &cipher,
            |b, c| b.iter(|| decrypt_byte_loop(black_box(c), &mut out)),
        );
        g.bench_with_input(
            BenchmarkId::new("decrypt (new Vec)", name),
            &cipher,
            |b, c| b.iter(|| xor::decrypt(black_box(c))),
        );
        let mut buf = plain.clone();
        g.bench_with_input(
            BenchmarkId::new("encrypt_in_place", name),
            &plain,
            |b, _| b.iter(|| xor::encrypt_in_place(black_box(&mut buf))),
        );
    }
    g.finish();
}

fn klap_group(c: &mut Criterion) {
    let auth = klap::auth_hash(klap::KlapVersion::V2, "user@example.com", "secret");
    let keys = klap::KlapKeys::derive(&[1; 16], &[2; 16], &auth);
    let mut g = c.benchmark_group("klap");
    for (name, plain) in sizes() {
        let body = keys.seal(7, &plain);
        let (_, ct) = klap::split_body(&body).unwrap();
        g.throughput(Throughput::Bytes(plain.len() as u64));
        g.bench_with_input(BenchmarkId::new("decrypt", name), ct, |b, ct| {
            b.iter(|| keys.decrypt(7, black_box(ct)).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("verify signature", name),
            &body,
            |b, body| b.iter(|| assert!(keys.verify(7, black_box(body)))),
        );
    }
    g.finish();
}

fn aes_group(c: &mut Criterion) {
    let keys = aes::AesKeys::new([3; 16], [4; 16]);
    let mut g = c.benchmark_group("aes");
    for (name, plain) in sizes() {
        let ct = crypto::cbc_encrypt(keys.key(), keys.iv(), &plain);
        let b64 = crypto::b64_encode(&ct);
        g.throughput(Throughput::Bytes(plain.len() as u64));
        g.bench_with_input(BenchmarkId::new("cbc_decrypt", name), &ct, |b, ct| {
            b.iter(|| crypto::cbc_decrypt(keys.key(), keys.iv(), black_box(ct)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("decrypt_b64", name), &b64, |b, t| {
            b.iter(|| keys.decrypt_b64(black_box(t)).unwrap())
        });
    }
    g.finish();
}

fn tdp_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("tdp");
    let datagram = tdp::TdpHeader {
        version: 2,
        msg_type: 0,
        op_code: 1,
        size: 0,
        flags: 2,
        padding: 0,
        serial: 1,
        crc: 0,
    }
    .emit(SMART_ANSWER.as_bytes());
    g.throughput(Throughput::Bytes(datagram.len() as u64));
    g.bench_function("crc", |b| b.iter(|| tdp::crc(black_box(&datagram))));
    g.finish();
}

fn json_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    for (name, text) in [
        ("iot answer", ANSWER),
        ("iot request", REQUEST),
        ("smart answer", SMART_ANSWER),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("json_extent", name), text, |b, t| {
            b.iter(|| json_extent(black_box(t.as_bytes())))
        });
        g.bench_with_input(BenchmarkId::new("Body::analyse", name), text, |b, t| {
            b.iter(|| Body::analyse(black_box(t.as_bytes()), &mut Vec::new()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = xor_group, klap_group, aes_group, tdp_group, json_group
}
criterion_main!(benches);
