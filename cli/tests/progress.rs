//! The progress bar of a long file (issue 13): on stderr only when stderr is a terminal, and
//! replaced at the end by one summary line; nothing on stderr when it is not a terminal.
//!
//! The long file is `fixtures/synthetic/err_code.pcap` followed by 6,000 Ethernet frames of
//! an experimental EtherType (0x88B5) that nothing decodes, 9 MB in all (the bar starts at
//! 8 MiB). The summary's counts come from the fixture's expected file (the generator's
//! input) and from the records written here. The terminal is a pseudo-terminal from
//! util-linux's `script`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const JUNK_FRAMES: u64 = 6000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The long capture, and its frame count.
fn long_capture(dir: &Path) -> (PathBuf, u64) {
    let mut pcap = std::fs::read(root().join("fixtures/synthetic/err_code.pcap")).unwrap();
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    assert_eq!(
        u32::from_le_bytes(pcap[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    // Count its records.
    let mut frames = 0u64;
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
        frames += 1;
    }
    assert_eq!(at, pcap.len(), "whole records");
    let mut frame = vec![0u8; 1514];
    frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    frame[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    for i in 0..JUNK_FRAMES {
        let ts = 2_000_000_000u32 + (i / 1000) as u32;
        pcap.extend_from_slice(&ts.to_le_bytes());
        pcap.extend_from_slice(&((i % 1000) as u32 * 1000).to_le_bytes());
        pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&frame);
    }
    assert!(pcap.len() > 8 << 20, "over the bar's 8 MiB");
    let path = dir.join("long.pcap");
    std::fs::write(&path, pcap).unwrap();
    (path, frames + JUNK_FRAMES)
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kasa-progress-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_terminal_gets_the_bar_then_one_summary_line() {
    let dir = scratch();
    let (capture, frames) = long_capture(&dir);
    let expected: Value = serde_json::from_slice(
        &std::fs::read(root().join("fixtures/synthetic/err_code.expected.json")).unwrap(),
    )
    .unwrap();
    let messages = expected["messages"].as_array().unwrap();
    let requests = messages
        .iter()
        .filter(|m| m["direction"] == "request")
        .count();
    let responses = messages.len() - requests;
    let mut devices: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["device"]["id"].as_str())
        .collect();
    devices.dedup();
    // Malformed: messages with a problem worse than a note (an err_code is a note), and
    // problems outside messages.
    let malformed = messages
        .iter()
        .filter(|m| {
            m["problems"].as_array().is_some_and(|p| {
                p.iter().any(|p| {
                    p.as_str().unwrap_or(p["expert"].as_str().unwrap_or("")) != "err_code.nonzero"
                })
            })
        })
        .count()
        + expected["orphan_problems"].as_array().map_or(0, Vec::len);

    // stderr is not a terminal: no bar, no summary line.
    let out = Command::new(env!("CARGO_BIN_EXE_kasa-decode"))
        .arg(&capture)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "stderr is a pipe, yet: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // stderr on a pseudo-terminal, stdout to a file.
    let listing = dir.join("out.txt");
    let inner = format!(
        "'{}' '{}' > '{}'",
        env!("CARGO_BIN_EXE_kasa-decode"),
        capture.display(),
        listing.display()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let terminal = String::from_utf8_lossy(&out.stdout).into_owned();
    let want = format!(
        "kasa-decode: {}: {} messages ({requests} requests, {responses} responses), {} devices, {malformed} malformed, {frames} frames in ",
        capture.display(),
        messages.len(),
        devices.len()
    );
    let lines: Vec<&str> = terminal
        .split(['\n', '\r'])
        .filter(|l| l.contains("kasa-decode:"))
        .collect();
    assert_eq!(lines.len(), 1, "one summary line: {terminal:?}");
    let line = &lines[0][lines[0].find("kasa-decode:").unwrap()..];
    assert!(
        line.starts_with(&want[..]),
        "summary line {line:?}, want it to start with {want:?}"
    );
    assert!(line.trim_end().ends_with(" s"), "{line:?}");
    // indicatif cleared the bar's line before the summary took its place.
    assert!(
        terminal.contains("\u{1b}[2K"),
        "no bar was drawn: {terminal:?}"
    );
    // The messages went to the file, with its own summary line.
    let text = std::fs::read_to_string(&listing).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.contains(" Request ")).count(),
        requests
    );
    assert!(text.lines().last().unwrap().starts_with(&format!(
        "-- {} messages ({requests} requests, {responses} responses)",
        messages.len()
    )));
    let _ = std::fs::remove_dir_all(&dir);
}
