//! `kasa-decode` as a stream: several captures in one run, a capture on standard input, and a
//! live capture (`tcpdump -U -w - | kasa-decode -`) printed as it happens.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

fn kasa_decode(args: &[&str], stdin: Option<Vec<u8>>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        // Written in small pieces, as a pipe delivers them.
        std::thread::spawn(move || {
            for piece in bytes.chunks(1000) {
                if pipe.write_all(piece).is_err() {
                    return;
                }
            }
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CAPTURES: [&str; 3] = [
    "synthetic/tcp_two_in_one.pcap",
    "synthetic/udp_discovery_multi.pcap",
    "synthetic/vlan_pcapng.pcapng",
];

#[test]
fn several_captures_print_as_their_single_runs_with_the_file_named() {
    let paths: Vec<String> = CAPTURES
        .iter()
        .map(|c| fixture(c).to_string_lossy().into_owned())
        .collect();
    let missing = fixture("synthetic/no-such-capture.pcap")
        .to_string_lossy()
        .into_owned();
    // An unreadable capture in the middle: said on stderr, the others still decoded, exit 2.
    let mut args: Vec<&str> = paths.iter().map(String::as_str).collect();
    args.insert(1, &missing);

    let mut json_args = vec!["--json"];
    json_args.extend(&args);
    let (code, out, err) = kasa_decode(&json_args, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("kasa-decode: {missing}: ")), "{err}");
    let mut by_file: Vec<(String, Vec<Value>)> = Vec::new();
    for line in out.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let file = v
            .as_object_mut()
            .unwrap()
            .remove("file")
            .and_then(|f| f.as_str().map(str::to_owned))
            .expect("every line names its file");
        match by_file.last_mut() {
            Some((f, lines)) if *f == file => lines.push(v),
            _ => by_file.push((file, vec![v])),
        }
    }
    assert_eq!(
        by_file.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        paths.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for (path, lines) in &by_file {
        let (code, single, _) = kasa_decode(&["--json", path], None);
        assert_eq!(code, 0);
        let single: Vec<Value> = single
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(single.iter().all(|l| l.get("file").is_none()));
        assert!(single.len() > 1, "{path}: nothing decoded");
        assert_eq!(*lines, single, "{path}");
    }

    // Text: a header line per capture, then exactly its single run.
    let (code, out, err) = kasa_decode(&args, None);
    assert_eq!(code, 2, "{err}");
    let mut want = String::new();
    for a in &args {
        want.push_str(&format!("== {a}\n"));
        if *a != missing {
            want.push_str(&kasa_decode(&[a], None).1);
        }
    }
    assert_eq!(out, want);
}

#[test]
fn a_capture_on_standard_input_prints_as_the_file() {
    for c in CAPTURES {
        let path = fixture(c);
        let bytes = std::fs::read(&path).unwrap();
        let path = path.to_string_lossy();
        for json in [false, true] {
            let flag: &[&str] = if json { &["--json"] } else { &[] };
            let file = kasa_decode(&[flag, &[&path]].concat(), None);
            let piped = kasa_decode(&[flag, &["-"]].concat(), Some(bytes.clone()));
            assert_eq!(file.0, 0, "{c}: {}", file.2);
            assert_eq!(piped, file, "{c}");
        }
    }
    // Not a capture on stdin: said, exit 2.
    let (code, out, err) = kasa_decode(&["-"], Some(b"hello".to_vec()));
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("kasa-decode: -: not a pcap or pcapng file"),
        "{err}"
    );
}

/// An XOR message with its length header.
fn xor_message(json: &str) -> Vec<u8> {
    let mut out = (json.len() as u32).to_be_bytes().to_vec();
    let mut key = 171u8;
    for &b in json.as_bytes() {
        key ^= b;
        out.push(key);
    }
    out
}

fn read_message(s: &mut TcpStream) -> Option<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).ok()
}

/// Live: tcpdump on loopback piped into `kasa-decode -`; each message sent must be printed
/// within a second, while the capture goes on.
#[test]
fn a_live_capture_prints_each_message_within_a_second() {
    if Command::new("tcpdump").arg("--version").output().is_err() {
        eprintln!("SKIPPED: tcpdump is not installed (tools/packages.sh installs it)");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut tcpdump = Command::new("tcpdump")
        .args(["-U", "--immediate-mode", "-n", "-w", "-", "-i", "lo"])
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump says "listening on lo" once it captures; anything else before it exits is why
    // it cannot (no permission to capture).
    let (ready_tx, ready_rx) = mpsc::channel();
    let stderr = tcpdump.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut said = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = ready_tx.send(Ok(()));
            }
            said.push_str(&line);
            said.push('\n');
        }
        let _ = ready_tx.send(Err(said));
    });
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        Ok(Err(said)) => {
            let _ = tcpdump.wait();
            eprintln!("SKIPPED: tcpdump cannot capture on lo here: {said}");
            return;
        }
        Err(_) => {
            let _ = tcpdump.kill();
            let _ = tcpdump.wait();
            eprintln!("SKIPPED: tcpdump did not start capturing within 10 s");
            return;
        }
    }
    let mut decode = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .args(["--json", "-", "--port", &port.to_string()])
        .stdin(Stdio::from(tcpdump.stdout.take().unwrap()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line_tx, lines) = mpsc::channel::<(Instant, Value)>();
    let out = decode.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let v: Value = serde_json::from_str(&line).expect("JSON Lines");
            if line_tx.send((Instant::now(), v)).is_err() {
                return;
            }
        }
    });
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut n = 0;
        while read_message(&mut s).is_some() {
            n += 1;
            let answer = format!(r#"{{"system":{{"set_dev_alias":{{"err_code":0,"n":{n}}}}}}}"#);
            s.write_all(&xor_message(&answer)).unwrap();
        }
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.set_nodelay(true).unwrap();
    let mut delays = Vec::new();
    for n in 1..=3 {
        if n > 1 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        let request = format!(r#"{{"system":{{"set_dev_alias":{{"alias":"live-{n}"}}}}}}"#);
        let sent = Instant::now();
        client.write_all(&xor_message(&request)).unwrap();
        // The request's line and its response's line.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let left = Duration::from_secs(1).saturating_sub(sent.elapsed());
            let Ok((at, v)) = lines.recv_timeout(left) else {
                let _ = tcpdump.kill();
                let _ = decode.kill();
                panic!("message {n}: only {seen:?} printed within 1 s of sending it");
            };
            if v["type"] != "message" {
                continue;
            }
            let text = v["data"]["plaintext"]["text"].as_str().unwrap_or("");
            let ours = text.contains(&format!("live-{n}")) || text.contains(&format!("\"n\":{n}"));
            assert!(ours, "message {n}: unexpected line {v}");
            seen.push(v["data"]["direction"].as_str().unwrap().to_owned());
            delays.push(at - sent);
        }
        assert_eq!(seen, ["request", "response"], "message {n}");
    }
    drop(client);
    server.join().unwrap();
    // The end of the capture ends the decoder: summary, exit 0.
    std::thread::sleep(Duration::from_millis(300));
    let _ = tcpdump.kill();
    let _ = tcpdump.wait();
    let status = decode.wait().unwrap();
    reader.join().unwrap();
    let rest: Vec<Value> = lines.try_iter().map(|(_, v)| v).collect();
    assert!(status.success(), "kasa-decode exited {status}");
    let summary = rest.last().expect("a summary at the end");
    assert_eq!(summary["type"], "summary", "{rest:?}");
    assert_eq!(summary["data"]["messages"], 6, "{summary}");
    eprintln!("live: printed {delays:?} after sending");
}
