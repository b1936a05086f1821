//! SslAes and Linkie in plain-HTTP captures, through `capture::Decoder` as `kasa-decode` runs
//! it: their connections are found by their first request line (`POST /`, `POST /stok=…/ds`,
//! `POST /data/LINKIE2.json`) on ports that are no device port, their messages decoded and
//! paired; a TPAP-like binary data frame and other HTTP stay unread.
//!
//! The bodies are written the way python-kasa 0.12.0 writes them (its login JSON, its envelope,
//! its `quote(…, safe="!~*'()")`); the crypto behind them is checked against python-kasa's own
//! values in `wire::ssl_aes` and `wire::linkie`.

use etherparse::PacketBuilder;
use kasa_decoder::capture::{Config, Decoded, Decoder, LinkType, Record};
use kasa_decoder::conv::Secrets;
use kasa_decoder::msg::{Direction, Message, Meta, Transport};
use kasa_decoder::wire::klap::Credential;
use kasa_decoder::wire::{linkie, ssl_aes};
use std::time::Duration;

const CLIENT: [u8; 4] = [192, 168, 1, 10];
const DEVICE: [u8; 4] = [192, 168, 1, 20];

/// A capture being written: one TCP connection at a time, each message in one segment.
struct Capture {
    frames: Vec<Vec<u8>>,
}

struct Conn {
    client_port: u16,
    device_port: u16,
    seq: [u32; 2],
}

impl Capture {
    fn frame(&mut self, from_client: bool, c: &Conn, flags: &str, payload: &[u8]) {
        let (src, dst, sport, dport, i) = if from_client {
            (CLIENT, DEVICE, c.client_port, c.device_port, 0)
        } else {
            (DEVICE, CLIENT, c.device_port, c.client_port, 1)
        };
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, c.seq[i], 65535);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(c.seq[1 - i]);
        }
        if !payload.is_empty() {
            b = b.psh();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        self.frames.push(out);
    }

    fn connect(&mut self, client_port: u16, device_port: u16) -> Conn {
        let mut c = Conn {
            client_port,
            device_port,
            seq: [1000, 9000],
        };
        self.frame(true, &c, "S", &[]);
        c.seq[0] += 1;
        self.frame(false, &c, "SA", &[]);
        c.seq[1] += 1;
        self.frame(true, &c, "A", &[]);
        c
    }

    fn send(&mut self, c: &mut Conn, from_client: bool, data: &[u8]) -> u64 {
        self.frame(from_client, c, "A", data);
        c.seq[usize::from(!from_client)] += data.len() as u32;
        self.frames.len() as u64
    }

    fn request(&mut self, c: &mut Conn, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> u64 {
        let mut m = format!("POST {uri} HTTP/1.1\r\nHost: 192.168.1.20\r\n");
        for (n, v) in headers {
            m.push_str(&format!("{n}: {v}\r\n"));
        }
        m.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = m.into_bytes();
        bytes.extend_from_slice(body);
        self.send(c, true, &bytes)
    }

    fn response(&mut self, c: &mut Conn, content_type: &str, body: &[u8]) -> u64 {
        let mut bytes = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        self.send(c, false, &bytes)
    }

    fn decode(&self, secrets: Secrets) -> Decoded {
        let mut d = Decoder::new(Config {
            secrets,
            ..Config::default()
        });
        for (i, f) in self.frames.iter().enumerate() {
            d.push(&Record {
                frame: i as u64 + 1,
                time: Duration::from_millis(1_700_000_000_000 + i as u64),
                link: LinkType::ETHERNET,
                data: f,
                orig_len: f.len() as u32,
            });
        }
        d.finish()
    }
}

fn text(m: &Message) -> &str {
    m.text().expect("UTF-8")
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("Content-Type", "application/json; charset=UTF-8");

#[test]
fn linkie_and_ssl_aes_in_plain_http() {
    let mut cap = Capture { frames: Vec::new() };

    // Linkie on 10443.
    let mut l = cap.connect(40001, 10443);
    let get = br#"{"system":{"get_sysinfo":{}}}"#;
    let answer = br#"{"system":{"get_sysinfo":{"model":"EC60(US)","alias":"Porch","err_code":0}}}"#;
    let f_lreq = cap.request(
        &mut l,
        "/data/LINKIE2.json",
        &[FORM],
        linkie::emit_request(get).as_bytes(),
    );
    let f_lrep = cap.response(
        &mut l,
        "text/plain",
        linkie::emit_response(answer).as_bytes(),
    );
    let f_bad = cap.request(&mut l, "/data/LINKIE2.json", &[FORM], b"content=%%%");
    let f_bad_rep = cap.response(&mut l, "text/plain", b"@@@");

    // SslAes on 443: python-kasa's login with the account admin / secret, then one request.
    let mut s = cap.connect(40002, 443);
    let (cnonce, nonce) = ("67AAF54E7E87D4C1", "5F4161DB39C9C835");
    let h = ssl_aes::pwd_hash("secret", ssl_aes::PwdHash::Sha256);
    let login1 = format!(
        r#"{{"method": "login", "params": {{"cnonce": "{cnonce}", "encrypt_type": "3", "username": "admin"}}}}"#
    );
    let reply1 = format!(
        r#"{{"error_code":-40413,"result":{{"data":{{"code":-40413,"encrypt_type":["3"],"nonce":"{nonce}","device_confirm":"{}"}}}}}}"#,
        ssl_aes::device_confirm(cnonce, nonce, &h)
    );
    let login2 = format!(
        r#"{{"method": "login", "params": {{"cnonce": "{cnonce}", "encrypt_type": "3", "digest_passwd": "{}", "username": "admin"}}}}"#,
        ssl_aes::digest_passwd(cnonce, nonce, &h)
    );
    let reply2 = r#"{"error_code":0,"result":{"stok":"e0cf","user_group":"root","start_seq":419}}"#;
    let keys = ssl_aes::session_keys(cnonce, nonce, &h);
    let inner = r#"{"method":"multipleRequest","params":{"requests":[{"method":"getDeviceInfo","params":{"device_info":{"name":["basic_info"]}}}]}}"#;
    let inner_reply = r#"{"result":{"responses":[{"method":"getDeviceInfo","result":{},"error_code":0}]},"error_code":0}"#;
    let envelope = format!(
        r#"{{"method":"securePassthrough","params":{{"request":"{}"}}}}"#,
        keys.encrypt_b64(inner.as_bytes())
    );
    let reply3 = format!(
        r#"{{"seq":419,"error_code":0,"result":{{"response":"{}"}}}}"#,
        keys.encrypt_b64(inner_reply.as_bytes())
    );
    let tag = ssl_aes::tag(&h, cnonce, envelope.as_bytes(), 419);
    let f1 = cap.request(&mut s, "/", &[JSON], login1.as_bytes());
    let f2 = cap.response(&mut s, "application/json", reply1.as_bytes());
    let f3 = cap.request(&mut s, "/", &[JSON], login2.as_bytes());
    let f4 = cap.response(&mut s, "application/json", reply2.as_bytes());
    let f5 = cap.request(
        &mut s,
        "/stok=e0cf/ds",
        &[JSON, ("Seq", "419"), ("Tapo_tag", &tag)],
        envelope.as_bytes(),
    );
    let f6 = cap.response(&mut s, "application/json", reply3.as_bytes());

    // TPAP-like: a binary data frame and its answer; and a web page.
    let mut t = cap.connect(40003, 4433);
    cap.request(&mut t, "/stok=x/ds", &[], b"\x00\x01\x02\x03");
    cap.response(&mut t, "application/octet-stream", b"\x04\x05");
    let mut w = cap.connect(40004, 8080);
    cap.request(&mut w, "/", &[FORM], b"user=a&pass=b");
    cap.response(&mut w, "text/html", b"<html></html>");

    let secrets = Secrets {
        credentials: vec![Credential::new("admin", "admin", "secret")],
        ..Secrets::default()
    };
    let d = cap.decode(secrets);
    let got: Vec<(u64, Transport, Direction, Option<u64>)> = d
        .messages
        .iter()
        .map(|m| (m.frame(), m.transport(), m.direction, m.pairing.response_to))
        .collect();
    use Direction::{Request as Q, Response as R};
    use Transport::{Aes, Linkie};
    assert_eq!(
        got,
        [
            (f_lreq, Linkie, Q, None),
            (f_lrep, Linkie, R, Some(f_lreq)),
            (f_bad, Linkie, Q, None),
            (f_bad_rep, Linkie, R, Some(f_bad)),
            (f1, Aes, Q, None),
            (f2, Aes, R, Some(f1)),
            (f3, Aes, Q, None),
            (f4, Aes, R, Some(f3)),
            (f5, Aes, Q, None),
            (f6, Aes, R, Some(f5)),
        ]
    );
    let m = &d.messages;
    assert_eq!(text(&m[0]).as_bytes(), get);
    assert_eq!(text(&m[1]).as_bytes(), answer);
    assert_eq!(
        m[1].body.device.as_ref().unwrap().alias.as_deref(),
        Some("Porch")
    );
    for (i, want) in [(2, "kasa.linkie.malformed"), (3, "kasa.linkie.malformed")] {
        let experts: Vec<_> = m[i].problems.iter().map(|p| p.expert()).collect();
        assert_eq!(experts, [want], "{:?}", m[i]);
        assert!(m[i].plaintext.is_empty());
    }
    assert_eq!(text(&m[4]), login1);
    assert_eq!(text(&m[5]), reply1);
    assert_eq!(text(&m[8]), inner);
    assert_eq!(text(&m[9]), inner_reply);
    assert_eq!(m[9].body.methods[0].name(), "getDeviceInfo");
    let Meta::Aes(a) = &m[8].meta else {
        panic!("{:?}", m[8].meta)
    };
    let ssl = a.ssl.as_deref().unwrap();
    assert_eq!(
        (ssl.seq, ssl.tag_ok, ssl.auth.as_deref()),
        (Some(419), Some(true), Some("admin"))
    );
    assert!(m[8].problems.is_empty(), "{:?}", m[8].problems);
}
