//! Writes seed corpora for every target from the committed fixtures:
//! `seed FIXTURES_DIR CORPUS_DIR` (defaults `fixtures` and `fuzz/corpus`, from the repository
//! root). Each target gets what it parses: whole files (`capture`), frames (`link`, `decoder`),
//! TCP payloads (`xor_frame`), decrypted plaintexts (`body`, `json_tree`), and segment sequences per TCP
//! connection (`reassembly`), UDP payloads from port 53 (`dns`), TLS streams per connection
//! direction (`tls`). Files above 256 KiB are skipped (they slow every execution). Besides,
//! `fuzz/seeds/x509/*.der` go to `x509`, wrapped in a TLS server flight to `tls`, and a
//! hand-made DNS response with a CNAME chain to `dns`.

use kasa_decoder::capture::{Config, L4, Reader, decode_file, link};
use kasa_decoder::wire::linkie;
use kasa_decoder::wire::tls;
use kasa_fuzz::{records, tcp};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const MAX_SEED: u64 = 256 << 10;

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng")
            && e.metadata().is_ok_and(|m| m.len() <= MAX_SEED)
        {
            out.push(p);
        }
    }
}

struct Corpus {
    dir: PathBuf,
    count: HashMap<&'static str, usize>,
}

impl Corpus {
    fn put(&mut self, target: &'static str, name: &str, bytes: &[u8]) {
        if bytes.is_empty() || bytes.len() as u64 > MAX_SEED {
            return;
        }
        let d = self.dir.join(target);
        std::fs::create_dir_all(&d).expect("create corpus dir");
        std::fs::write(d.join(format!("seed-{name}")), bytes).expect("write seed");
        *self.count.entry(target).or_default() += 1;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fixtures = PathBuf::from(args.first().map_or("fixtures", String::as_str));
    let mut corpus = Corpus {
        dir: PathBuf::from(args.get(1).map_or("fuzz/corpus", String::as_str)),
        count: HashMap::new(),
    };
    let mut files = Vec::new();
    captures(&fixtures, &mut files);
    files.sort();
    for path in &files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        corpus.put("capture", &stem, &std::fs::read(path).unwrap());
        let Ok(mut reader) = Reader::open(path) else {
            continue;
        };
        let mut all_records = vec![0u8];
        // Per TCP connection (ordered endpoint pair): the reassembly input.
        let mut conns: HashMap<(SocketAddr, SocketAddr), Vec<u8>> = HashMap::new();
        // Per direction: the payloads in capture order (the `tls` input when TLS).
        let mut streams: HashMap<(SocketAddr, SocketAddr), Vec<u8>> = HashMap::new();
        let mut n = 0;
        while let Some(Ok(r)) = reader.next_record() {
            n += 1;
            let mut one = Vec::new();
            records::write(&mut one, r.link, r.orig_len, r.data);
            corpus.put("link", &format!("{stem}-{n}"), &one);
            records::write(&mut all_records, r.link, r.orig_len, r.data);
            let Some(seg) = link::parse(r.link, r.data, r.orig_len) else {
                continue;
            };
            if let L4::Udp { payload } = seg.l4
                && seg.src.port() == 53
            {
                corpus.put("dns", &format!("{stem}-{n}"), payload);
            }
            if let L4::Tcp {
                seq,
                syn,
                fin,
                payload,
                ..
            } = seg.l4
            {
                if !payload.is_empty() {
                    corpus.put("xor_frame", &format!("{stem}-{n}"), payload);
                    streams
                        .entry((seg.src, seg.dst))
                        .or_default()
                        .extend_from_slice(payload);
                }
                let key = if seg.src <= seg.dst {
                    (seg.src, seg.dst)
                } else {
                    (seg.dst, seg.src)
                };
                let ops = conns.entry(key).or_insert_with(|| {
                    let mut v = Vec::new();
                    tcp::write_config(&mut v, 4 << 10, 1 << 16);
                    v
                });
                let dir = usize::from(seg.src != key.0);
                if syn {
                    tcp::write_syn(ops, dir, seq);
                }
                tcp::write_seg(
                    ops,
                    dir,
                    seq,
                    seg.missing.min(u64::from(u16::MAX)) as u16,
                    payload,
                );
                if fin {
                    tcp::write_fin(ops, dir);
                }
            }
        }
        corpus.put("decoder", &stem, &all_records);
        let mut streams: Vec<_> = streams.into_iter().collect();
        streams.sort();
        for (i, (_, bytes)) in streams.iter().enumerate() {
            if tls::is_record_start(bytes) {
                // flags 0 (from a boundary), pieces of 256 bytes, no hole.
                let input = [&[0, 255, 0, 0][..], bytes].concat();
                corpus.put("tls", &format!("{stem}-{i}"), &input);
            }
        }
        let mut conns: Vec<_> = conns.into_iter().collect();
        conns.sort();
        for (i, (_, ops)) in conns.iter().enumerate() {
            corpus.put("reassembly", &format!("{stem}-{i}"), ops);
        }
        if let Ok(d) = decode_file(path, &Config::default()) {
            for (i, m) in d.messages.iter().enumerate() {
                corpus.put("body", &format!("{stem}-{i}"), &m.plaintext);
                corpus.put("json_tree", &format!("{stem}-{i}"), &m.plaintext);
            }
        }
    }
    // The cloud link: certificates, a server flight carrying them, a DNS answer.
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/x509");
    let mut ders: Vec<_> = std::fs::read_dir(&seeds)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    ders.sort();
    let ders: Vec<Vec<u8>> = ders.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    for (i, der) in ders.iter().enumerate() {
        corpus.put("x509", &format!("cert-{i}"), der);
    }
    let flight = tls_flight(&ders);
    corpus.put("tls", "flight", &[&[0, 255, 0, 0][..], &flight].concat());
    corpus.put(
        "tls",
        "flight-hunting",
        &[&[5, 1, 0, 0][..], &[0x42; 7], &flight].concat(),
    );
    corpus.put(
        "tls",
        "flight-hole",
        &[&[2, 99, 2, 3][..], &flight].concat(),
    );
    corpus.put("dns", "cname", &dns_cname());
    // Shapes the fixtures do not have.
    corpus.put("body", "deep-array", "[".repeat(4096).as_bytes());
    corpus.put("body", "deep-object", "{\"a\":".repeat(1000).as_bytes());
    corpus.put(
        "body",
        "nul",
        b"{\"system\":{\"get_sysinfo\":{\"alias\":\"a\0b\"}}}",
    );
    // Linkie bodies: requests, an answer, a clear error answer, a form without the field.
    let linkie_json = br#"{"smartlife.cam.ipcamera.dateTime":{"get_status":{}}}"#;
    corpus.put(
        "linkie",
        "request",
        linkie::emit_request(linkie_json).as_bytes(),
    );
    corpus.put(
        "linkie",
        "request-fields",
        format!("a=1&{}&b", linkie::emit_request(linkie_json)).as_bytes(),
    );
    corpus.put(
        "linkie",
        "response",
        linkie::emit_response(linkie_json).as_bytes(),
    );
    corpus.put(
        "linkie",
        "clear",
        br#"{"smartlife.cam.ipcamera.cloud":{"get_inf":{"err_code":-10008}}}"#,
    );
    corpus.put("linkie", "no-field", b"contents=%41%4");
    let mut names: Vec<_> = corpus.count.iter().collect();
    names.sort();
    for (t, n) in names {
        println!("{t:<12} {n:>5} seeds");
    }
}

fn u24(n: usize) -> [u8; 3] {
    let b = (n as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn record(content_type: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u16).to_be_bytes();
    [&[content_type, 3, 3][..], &len, payload].concat()
}

fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    [&[msg_type][..], &u24(body.len()), body].concat()
}

/// ClientHello (SNI `n-devs.tplinkcloud.com`), then the server's ServerHello, Certificate
/// (`chain`) and ServerHelloDone, ChangeCipherSpec and two application-data records, as one
/// stream (the directions concatenated: the splitter does not care).
fn tls_flight(chain: &[Vec<u8>]) -> Vec<u8> {
    let name = b"n-devs.tplinkcloud.com";
    let n = name.len() as u16;
    let sni = [
        &[0, 0][..],
        &(n + 5).to_be_bytes(),
        &(n + 3).to_be_bytes(),
        &[0],
        &n.to_be_bytes(),
        name,
    ]
    .concat();
    let hello = [
        &[3, 3][..],
        &[7; 32],
        &[0, 0, 2, 0xc0, 0x2f, 1, 0],
        &(sni.len() as u16).to_be_bytes(),
        &sni,
    ]
    .concat();
    let list: Vec<u8> = chain
        .iter()
        .flat_map(|c| [&u24(c.len())[..], c].concat())
        .collect();
    let certs = [&u24(list.len())[..], &list].concat();
    let server_hello = [&[3, 3][..], &[9; 32], &[0, 0xc0, 0x2f, 0]].concat();
    [
        record(22, &message(1, &hello)),
        record(
            22,
            &[
                message(2, &server_hello),
                message(11, &certs),
                message(14, &[]),
            ]
            .concat(),
        ),
        record(20, &[1]),
        record(23, &[0xa5; 247]),
        record(23, &[0x5a; 131]),
    ]
    .concat()
}

/// A DNS response: n-devs.tplinkcloud.com CNAME x.elb.example, A 52.49.1.2.
fn dns_cname() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    m.extend_from_slice(b"\x06n-devs\x0btplinkcloud\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 15]);
    m.extend_from_slice(b"\x01x\x03elb\x07example\x00");
    m.extend_from_slice(&[0xc0, 52, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 52, 49, 1, 2]);
    m
}
