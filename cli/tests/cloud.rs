//! `kasa-decode` on a capture built here: a DNS answer for `n-devs.tplinkcloud.com`, the
//! device's TLS connection to that address on 443 (ClientHello without SNI, a certificate
//! chain to `TP-LINK CA P1`, a push and its report), an unanswered SYN-only attempt to port
//! 50443, and an unrelated HTTPS connection that must not show up.

use base64::Engine;
use etherparse::PacketBuilder;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The leaf and CA of `decoder/src/wire/x509.rs`'s tests (made with OpenSSL: the commands are
/// there): `CN=*.tplinkcloud.com` issued by `CN=TP-LINK CA P1`.
const LEAF_B64: &str = concat!(
    "MIICBjCCAaugAwIBAgIBAjAKBggqhkjOPQQDAjBdMQswCQYDVQQGEwJDTjEQMA4GA1UECAwHS293bG9vbjEkMCIGA1UECgwb",
    "VFAtTElOSyBDT1JQT1JBVElPTiBMSU1JVEVEMRYwFAYDVQQDDA1UUC1MSU5LIENBIFAxMB4XDTI2MTIwMjEzMjQ1MFoXDTM2",
    "MTEyOTEzMjQ1MFowQjEkMCIGA1UECgwbVFAtTElOSyBDT1JQT1JBVElPTiBMSU1JVEVEMRowGAYDVQQDDBEqLnRwbGlua2Ns",
    "b3VkLmNvbTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABG3qocod1ApyadbDN0/qtqCxlWKSYvaj2SeD8JtHQa+O3wcw+sBd",
    "vKOjmBpfQQ01tXvqt9fxVIIwj7/6Rq3fWhyjdzB1MDMGA1UdEQQsMCqCESoudHBsaW5rY2xvdWQuY29tgg90cGxpbmtjbG91",
    "ZC5jb22HBAECAwQwHQYDVR0OBBYEFN8Gdw5AiqkTDisFDa232FCFYynqMB8GA1UdIwQYMBaAFCO/1DE+VQKYD1OgcMhAoU5v",
    "932BMAoGCCqGSM49BAMCA0kAMEYCIQCgu6TxL4ReHjCixaQB1KCvzcXttmlUO6cijNYIlMXabgIhAMYySUvCs9BV9354Ml2S",
    "7FKUTVRXAXIVuRZAC3LI9Ec1",
);
const CA_B64: &str = concat!(
    "MIIB/DCCAaKgAwIBAgIBATAKBggqhkjOPQQDAjBdMQswCQYDVQQGEwJDTjEQMA4GA1UECAwHS293bG9vbjEkMCIGA1UECgwb",
    "VFAtTElOSyBDT1JQT1JBVElPTiBMSU1JVEVEMRYwFAYDVQQDDA1UUC1MSU5LIENBIFAxMB4XDTI2MTIwMjEzMjQ1MFoXDTM2",
    "MTEyOTEzMjQ1MFowXTELMAkGA1UEBhMCQ04xEDAOBgNVBAgMB0tvd2xvb24xJDAiBgNVBAoMG1RQLUxJTksgQ09SUE9SQVRJ",
    "T04gTElNSVRFRDEWMBQGA1UEAwwNVFAtTElOSyBDQSBQMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABL5Ns4GFmCtWZDFA",
    "WeEX7ygFvk1JrRiiWl0qCFDMqjfFAeDTSf4vKZJLF6y7w+5E8xGA/PgDdhLNIUj36iulCeujUzBRMB0GA1UdDgQWBBQjv9Qx",
    "PlUCmA9ToHDIQKFOb/d9gTAfBgNVHSMEGDAWgBQjv9QxPlUCmA9ToHDIQKFOb/d9gTAPBgNVHRMBAf8EBTADAQH/MAoGCCqG",
    "SM49BAMCA0gAMEUCIEFoZlUGTfx0Cum2kew3QCCNZMvdlrTKpXpYAnqGwkTXAiEA8GV2HxfhhaYOOCA6UU4FfP/AvHL8T7uh",
    "wpPisRfhq3o=",
);

const DEVICE: [u8; 4] = [192, 168, 1, 50];
const RESOLVER: [u8; 4] = [192, 168, 1, 1];
const CLOUD: [u8; 4] = [52, 49, 1, 2];
const OTHER: [u8; 4] = [93, 184, 216, 34];

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn u24(n: usize) -> [u8; 3] {
    let b = (n as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    [
        &[content_type, 3, 3][..],
        &(payload.len() as u16).to_be_bytes(),
        payload,
    ]
    .concat()
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    [&[msg_type][..], &u24(body.len()), body].concat()
}

/// ClientHello: TLS 1.2, a random, no session id, one suite, null compression, no
/// extensions (so no SNI, like the HS110's).
fn client_hello() -> Vec<u8> {
    let body = [&[3, 3][..], &[7; 32], &[0, 0, 2, 0xc0, 0x2f, 1, 0]].concat();
    record(22, &handshake(1, &body))
}

/// ServerHello, Certificate (`chain`), ServerHelloDone, in one record.
fn server_flight(chain: &[Vec<u8>]) -> Vec<u8> {
    let list: Vec<u8> = chain
        .iter()
        .flat_map(|c| [&u24(c.len())[..], c].concat())
        .collect();
    let certs = [&u24(list.len())[..], &list].concat();
    let hello = [&[3, 3][..], &[9; 32], &[0, 0xc0, 0x2f, 0]].concat();
    record(
        22,
        &[
            handshake(2, &hello),
            handshake(11, &certs),
            handshake(14, &[]),
        ]
        .concat(),
    )
}

/// Frames with their times (ms), as raw IPv4 packets.
#[derive(Default)]
struct Frames(Vec<(u64, Vec<u8>)>);

/// One side of a TCP connection.
struct Side {
    ip: [u8; 4],
    port: u16,
    seq: u32,
}

impl Frames {
    fn udp(&mut self, ms: u64, src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) {
        let mut v = Vec::new();
        PacketBuilder::ipv4(src.0, dst.0, 64)
            .udp(src.1, dst.1)
            .write(&mut v, payload)
            .unwrap();
        self.0.push((ms, v));
    }

    /// A segment; flags "S" (SYN), "F" (FIN); every segment but the client's SYN carries ACK.
    fn tcp(&mut self, ms: u64, this: &mut Side, other: &Side, flags: &str, payload: &[u8]) {
        let syn = flags.contains('S');
        let fin = flags.contains('F');
        let mut b =
            PacketBuilder::ipv4(this.ip, other.ip, 64).tcp(this.port, other.port, this.seq, 64000);
        if syn {
            b = b.syn();
        }
        if fin {
            b = b.fin();
        }
        if !(syn && other.seq == 0) {
            b = b.ack(other.seq);
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        this.seq = this
            .seq
            .wrapping_add(payload.len() as u32 + u32::from(syn) + u32::from(fin));
        self.0.push((ms, v));
    }

    /// A pcap file, link type raw IPv4 (228), microsecond timestamps from 2024-05-01 10:00.
    fn pcap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&228u32.to_le_bytes());
        for (ms, data) in &self.0 {
            let t = 1_714_557_600_000 + ms;
            out.extend_from_slice(&((t / 1000) as u32).to_le_bytes());
            out.extend_from_slice(&((t % 1000 * 1000) as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(data);
        }
        out
    }
}

/// DNS response: question n-devs.tplinkcloud.com A IN, answer CNAME to an ELB name, which
/// has A 52.49.1.2.
fn dns_response() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    m.extend_from_slice(b"\x06n-devs\x0btplinkcloud\x03com\x00\x00\x01\x00\x01");
    // CNAME at 40, rdata (x.elb.example) at 52
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 15]);
    m.extend_from_slice(b"\x01x\x03elb\x07example\x00");
    m.extend_from_slice(&[0xc0, 52, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    m.extend_from_slice(&CLOUD);
    m
}

fn capture() -> PathBuf {
    let mut f = Frames::default();
    // 1: the DNS answer.
    f.udp(0, (RESOLVER, 53), (DEVICE, 33000), &dns_response());
    // 2-4: an attempt to port 50443 that nobody answers: a SYN and two retransmissions.
    let mut dead = Side {
        ip: DEVICE,
        port: 41000,
        seq: 10,
    };
    let nobody = Side {
        ip: [18, 1, 2, 3],
        port: 50443,
        seq: 0,
    };
    for ms in [10, 1010, 3010] {
        dead.seq = 10;
        f.tcp(ms, &mut dead, &nobody, "S", b"");
    }
    // 5-: the cloud link on 443.
    let mut dev = Side {
        ip: DEVICE,
        port: 40000,
        seq: 100,
    };
    let mut srv = Side {
        ip: CLOUD,
        port: 443,
        seq: 0,
    };
    f.tcp(4000, &mut dev, &srv, "S", b"");
    srv.seq = 7000;
    f.tcp(4020, &mut srv, &dev, "S", b"");
    f.tcp(4040, &mut dev, &srv, "", b"");
    f.tcp(4050, &mut dev, &srv, "", &client_hello());
    let flight = server_flight(&[b64(LEAF_B64), b64(CA_B64)]);
    f.tcp(4070, &mut srv, &dev, "", &flight[..600]);
    f.tcp(4071, &mut srv, &dev, "", &flight[600..]);
    let ckx = [
        record(22, &handshake(16, &[4; 66])),
        record(20, &[1]),
        record(22, &[0xee; 40]),
    ]
    .concat();
    f.tcp(4080, &mut dev, &srv, "", &ckx);
    f.tcp(
        4100,
        &mut srv,
        &dev,
        "",
        &[record(20, &[1]), record(22, &[0xee; 40])].concat(),
    );
    f.tcp(4120, &mut dev, &srv, "", &record(23, &[0; 501]));
    f.tcp(60_000, &mut srv, &dev, "", &record(23, &[1; 247]));
    f.tcp(60_031, &mut dev, &srv, "", &record(23, &[2; 131]));
    // An unrelated HTTPS connection from the same device.
    let mut dev2 = Side {
        ip: DEVICE,
        port: 40001,
        seq: 500,
    };
    let mut web = Side {
        ip: OTHER,
        port: 443,
        seq: 0,
    };
    f.tcp(61_000, &mut dev2, &web, "S", b"");
    web.seq = 9000;
    f.tcp(61_020, &mut web, &dev2, "S", b"");
    f.tcp(61_030, &mut dev2, &web, "", &client_hello());
    f.tcp(
        61_050,
        &mut web,
        &dev2,
        "",
        &server_flight(&[b"not a certificate".to_vec()]),
    );
    f.tcp(61_060, &mut web, &dev2, "", &record(23, &[3; 300]));
    // The cloud link closes.
    f.tcp(62_000, &mut dev, &srv, "F", b"");
    f.tcp(62_010, &mut srv, &dev, "F", b"");
    let path = std::env::temp_dir().join(format!("kasa-decode-cloud-{}.pcap", std::process::id()));
    std::fs::write(&path, f.pcap()).unwrap();
    path
}

fn run(args: &[&str]) -> (String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn cloud_links_in_text_and_json() {
    let path = capture();
    let p = path.to_str().unwrap();

    let (text, code) = run(&[p]);
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("cloud link")).collect();
    assert_eq!(
        lines,
        [
            "= 2 192.168.1.50:41000 -> 18.1.2.3:50443 cloud link, frames 2..4 (3 frames, 3.000 s): server name unknown, no ClientHello seen, issuer unknown, 3 SYNs, never answered; push 0 records 0 bytes, report 0 records 0 bytes; no pushes",
            "= 5 192.168.1.50:40000 -> 52.49.1.2:443 cloud link, frames 5..22 (13 frames, 58.010 s): server n-devs.tplinkcloud.com (dns), no SNI, issuer \"TP-LINK CA P1\", 1 SYN, answered; push 1 records 247 bytes, report 2 records 632 bytes; 1 of 1 pushes answered, median 31.0 ms, max 31.0 ms",
        ],
        "{text}"
    );

    let (json, code) = run(&[p, "--json"]);
    assert_eq!(code, 0);
    let clouds: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "cloud")
        .map(|v| v["data"].clone())
        .collect();
    assert_eq!(clouds.len(), 2);
    let c = &clouds[1];
    assert_eq!(c["src"], "192.168.1.50:40000");
    assert_eq!(c["dst"], "52.49.1.2:443");
    assert_eq!(c["server_name"], "n-devs.tplinkcloud.com");
    assert_eq!(c["name_source"], "dns");
    assert_eq!(c["sni_absent"], true);
    assert_eq!(c["issuer"], "TP-LINK CA P1");
    assert_eq!(
        (c["first_frame"].as_u64(), c["last_frame"].as_u64()),
        (Some(5), Some(22))
    );
    assert_eq!(
        (c["syn_attempts"].as_u64(), c["answered"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(c["records"], serde_json::json!({"push": 1, "report": 2}));
    assert_eq!(c["bytes"], serde_json::json!({"push": 247, "report": 632}));
    assert_eq!(c["pushes"][0]["frame"], 14);
    assert_eq!(c["pushes"][0]["answer_frame"], 15);
    assert!((c["latency"]["median"].as_f64().unwrap() - 0.031).abs() < 1e-9);
    assert_eq!(clouds[0]["syn_attempts"], 3);
    assert_eq!(clouds[0]["answered"], false);
    assert_eq!(clouds[0]["latency"], Value::Null);

    // --cloud-port adds a port: the unrelated connection is still not on one.
    let (text, _) = run(&[p, "--cloud-port", "8443"]);
    assert_eq!(text.lines().filter(|l| l.contains("cloud link")).count(), 2);
    // A method filter prints messages only.
    let (text, _) = run(&[p, "--method", "get_sysinfo"]);
    assert!(!text.contains("cloud link"));
    if std::env::var_os("KEEP_CLOUD_PCAP").is_none() {
        let _ = std::fs::remove_file(&path);
    }
}
