//! Writes seed corpora for every target from the committed fixtures:
//! `seed FIXTURES_DIR CORPUS_DIR` (defaults `fixtures` and `fuzz/corpus`, from the repository
//! root). Each target gets what it parses: whole files (`capture`), frames (`link`, `decoder`),
//! TCP payloads (`xor_frame`), decrypted plaintexts (`body`), and segment sequences per TCP
//! connection (`reassembly`). Files above 256 KiB are skipped (they slow every execution).

use kasa_decoder::capture::{Config, L4, Reader, decode_file, link};
use kasa_decoder::wire::linkie;
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
        let mut conns: Vec<_> = conns.into_iter().collect();
        conns.sort();
        for (i, (_, ops)) in conns.iter().enumerate() {
            corpus.put("reassembly", &format!("{stem}-{i}"), ops);
        }
        if let Ok(d) = decode_file(path, &Config::default()) {
            for (i, m) in d.messages.iter().enumerate() {
                corpus.put("body", &format!("{stem}-{i}"), &m.plaintext);
            }
        }
    }
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
