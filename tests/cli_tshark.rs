//! The two front ends against each other: `kasa-decode --json` (the CLI binary, built here with
//! cargo) and tshark with the plugin, on every fixture (recorded, synthetic, adversarial). Both
//! must show the same messages (frame, transport, text), with the same directions and the same
//! `response_in`/`response_to` links (kasa-decode gives a link on the response only, as
//! `response_to` and `response_to_index`: a request's `response_in` is read back from them); and on every frame with a KLAP, AES or TDP message (every
//! message of a recording whose expected file has no `info`, its XOR probes too), the same Info
//! column (kasa-decode's `info` texts; tshark's column with and without a tree) and the same
//! expert infos (kasa-decode's `problems[].expert`): their expected files do not give those, so
//! this is where the two front ends are held to each other. The fixture's secrets (`--credential`,
//! `--aes-key`, `--rsa-key`) go to both.
//!
//! Texts are compared as the plugin shows them (`common::shown_plaintext`: U+FFFD for invalid
//! UTF-8, NUL as U+2400). The plugin does not show NUL that way yet (another engineer is changing
//! it), so `adv_nul_and_utf8` and `adv_udp_64k` fail here until that change lands.

mod common;

use base64::Engine;
use common::{decode, fixture_args, kasa_decode, shown_plaintext, tshark_args_for};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fixtures where the two cannot agree, with the reason. Each must still differ (when one starts
/// to match, take it off this list).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "tcp_cut_at_end",
        "framing gap: Wireshark's TCP layer waits for the rest of a message cut by the end of the capture",
    ),
    (
        "tcp_gap",
        "framing gap: Wireshark's reassembly does not resynchronise after bytes missing from the capture",
    ),
    (
        "tcp_truncated_snaplen",
        "framing gap: TCP hands over captured-length PDUs differently when frames are cut by the snaplen",
    ),
];

/// Fixtures tshark cannot show in `-T json` at all.
const SKIPPED: &[(&str, &str)] = &[(
    "adv_file_ends_mid_record",
    "tshark prints no -T json when the file is cut mid-record (exit 2); tests/adversarial_tshark.rs checks its summary lines",
)];

/// Every fixture with an expected file, recorded, synthetic and adversarial.
fn all_fixtures() -> Vec<(PathBuf, Value)> {
    let mut out = common::fixtures();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/adversarial");
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            let expected = p.with_file_name(format!("{stem}.expected.json"));
            let text = std::fs::read_to_string(&expected).unwrap();
            out.push((p, serde_json::from_str(&text).unwrap()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One message, as either front end shows it.
#[derive(Debug, PartialEq)]
struct Msg {
    frame: u64,
    transport: String,
    direction: String,
    text: String,
    response_to: Option<u64>,
    response_in: Vec<u64>,
}

/// The transports whose Info column and experts are compared here (their expected files do not
/// give them).
const SECURE: [&str; 3] = ["klap", "aes", "tdp"];

/// What kasa-decode shows: its messages, and per frame the `info` of its messages and the
/// experts (of messages and outside them).
struct Cli {
    msgs: Vec<Msg>,
    /// Connections marked by what discovery announced: (transport, first frame, last frame,
    /// frames).
    marked: Vec<(String, u64, u64, u64)>,
    infos: BTreeMap<u64, Vec<String>>,
    experts: BTreeMap<u64, BTreeSet<String>>,
}

fn cli_messages(capture: &Path, args: &[String]) -> Cli {
    let out = Command::new(kasa_decode())
        .arg("--json")
        .args(args)
        .arg(capture)
        // Paths in the fixture's arguments (a key file) are relative to the repository.
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON Lines"))
        .collect();
    let mut infos: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut experts: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for l in &lines {
        let d = &l["data"];
        let Some(frame) = d["frame"].as_u64() else {
            continue;
        };
        if l["type"] == "message" {
            infos
                .entry(frame)
                .or_default()
                .push(d["info"].as_str().expect("info").to_owned());
            for p in d["problems"].as_array().into_iter().flatten() {
                let e = p["expert"].as_str().expect("problems[].expert");
                experts.entry(frame).or_default().insert(e.to_owned());
            }
        } else if l["type"] == "problem" {
            let e = d["expert"].as_str().expect("problem expert");
            experts.entry(frame).or_default().insert(e.to_owned());
        }
    }
    let messages: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "message")
        .map(|l| &l["data"])
        .collect();
    let msgs = messages
        .iter()
        .map(|&m| {
            let bytes = match m["plaintext"]["text"].as_str() {
                Some(t) => t.as_bytes().to_vec(),
                None => base64::engine::general_purpose::STANDARD
                    .decode(m["plaintext"]["bytes"].as_str().unwrap())
                    .unwrap(),
            };
            Msg {
                frame: m["frame"].as_u64().unwrap(),
                transport: m["transport"].as_str().unwrap().to_owned(),
                direction: m["direction"].as_str().unwrap().to_owned(),
                // Bytes that are neither JSON nor text: the plugin shows them as data
                // (`kasa.data`), with no plaintext.
                text: if common::undecodable(&bytes) {
                    String::new()
                } else {
                    shown_plaintext(&bytes)
                },
                response_to: m["response_to"].as_u64(),
                response_in: responses_of(&messages, m),
            }
        })
        .collect();
    let marked = lines
        .iter()
        .filter(|l| l["type"] == "connection")
        .map(|l| {
            let d = &l["data"];
            let n = |k: &str| d[k].as_u64().expect("connection frame numbers");
            (
                d["transport"].as_str().unwrap().to_owned(),
                n("first_frame"),
                n("last_frame"),
                n("frames"),
            )
        })
        .collect();
    Cli {
        msgs,
        marked,
        infos,
        experts,
    }
}

/// The frames of the responses to the message `m`, as kasa-decode links them: on each response
/// (`response_to` and `response_to_index` name the request's `frame` and `index`; a request's
/// line does not list its responses).
fn responses_of(messages: &[&Value], m: &Value) -> Vec<u64> {
    assert!(
        m.get("response_in").is_none(),
        "a request line lists its responses again: {m}"
    );
    assert!(m["index"].is_u64(), "message without an index: {m}");
    messages
        .iter()
        .filter(|r| r["response_to"] == m["frame"] && r["response_to_index"] == m["index"])
        .map(|r| r["frame"].as_u64().expect("frame"))
        .collect()
}

/// On every frame with a KLAP, AES or TDP message in either front end (with any message, when
/// `every_message`: a fixture whose expected file gives no Info column at all): kasa-decode's
/// `info` texts (joined by ` | `, as tshark joins the messages of a frame) against tshark's
/// Info column with and without a tree, and kasa-decode's experts against tshark's. Also
/// returns how many such frames there were, and how many of them had experts.
fn compare_secure(
    name: &str,
    cli: &Cli,
    shown: &[Msg],
    every_message: bool,
    tshark_experts: &[(u64, String)],
    columns: &[(&str, &common::Columns)],
) -> (usize, usize, Vec<String>) {
    let frames: BTreeSet<u64> = cli
        .msgs
        .iter()
        .chain(shown)
        .filter(|m| every_message || SECURE.contains(&m.transport.as_str()))
        .map(|m| m.frame)
        .collect();
    let mut diffs = Vec::new();
    let mut with_experts = 0;
    for f in &frames {
        let want = cli.infos.get(f).map(|i| i.join(" | ")).unwrap_or_default();
        for (what, cols) in columns {
            let got = cols.get(f).map_or("<no frame>", |(_, i)| i.as_str());
            let got = common::without_tcp_notes(got);
            if got != want {
                diffs.push(format!(
                    "{name}: frame {f}: {what}: kasa-decode {:?} / tshark {:?}",
                    common::clip(&want),
                    common::clip(got)
                ));
            }
        }
        let got: BTreeSet<String> = tshark_experts
            .iter()
            .filter(|(g, _)| g == f)
            .map(|(_, e)| e.clone())
            .collect();
        let want = cli.experts.get(f).cloned().unwrap_or_default();
        if got != want {
            diffs.push(format!(
                "{name}: frame {f}: experts: kasa-decode {want:?} / tshark {got:?}"
            ));
        }
        with_experts += usize::from(!want.is_empty());
    }
    (frames.len(), with_experts, diffs)
}

/// What one fixture's comparison covered.
#[derive(Default)]
struct Tally {
    messages: usize,
    secure_frames: usize,
    expert_frames: usize,
}

fn compare(name: &str, cli: &[Msg], shown: &[Msg]) -> Vec<String> {
    let mut diffs = Vec::new();
    if cli.len() != shown.len() {
        diffs.push(format!(
            "{name}: kasa-decode {} messages (frames {:?}), tshark {} (frames {:?})",
            cli.len(),
            cli.iter().map(|m| m.frame).collect::<Vec<_>>(),
            shown.len(),
            shown.iter().map(|m| m.frame).collect::<Vec<_>>()
        ));
    }
    for (i, (c, t)) in cli.iter().zip(shown).enumerate() {
        if c != t {
            let (c, t) = (format!("{c:?}"), format!("{t:?}"));
            diffs.push(format!(
                "{name}: message {i}: kasa-decode {} / tshark {}",
                common::clip(&c),
                common::clip(&t)
            ));
        }
    }
    diffs
}

#[test]
fn kasa_decode_and_tshark_show_the_same_messages_and_links() {
    let all = all_fixtures();
    assert!(all.len() >= 36, "fixtures missing: {}", all.len());
    kasa_decode();
    let results = common::par_map(&all, |(path, expected)| {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if let Some((_, why)) = SKIPPED.iter().find(|(k, _)| *k == name) {
            eprintln!("{name}: skipped: {why}");
            return (Tally::default(), Vec::new());
        }
        let args = fixture_args(expected);
        let cli = cli_messages(path, &args);
        let extra = tshark_args_for(&args);
        let (out, run) = decode(path, &extra, &[]);
        if !out.status.success() {
            return (
                Tally::default(),
                vec![format!("{name}: tshark exited {:?}", out.status)],
            );
        }
        let shown: Vec<Msg> = run
            .messages
            .iter()
            .cloned()
            .map(|m| Msg {
                frame: m.frame,
                transport: m.transport,
                direction: m.direction,
                text: m.plaintext,
                response_to: m.response_to,
                response_in: m.response_in,
            })
            .collect();
        let mut diffs = compare(&name, &cli.msgs, &shown);
        // A marked connection: kasa-decode's one line against tshark's marks on its frames.
        let mut tshark_marked: Vec<(String, u64, u64, u64)> = Vec::new();
        // (Cloud links: tests/cloud_tshark.rs.)
        for (frame, t) in run.marked.iter().filter(|(_, t)| t != "cloud") {
            match tshark_marked.last_mut() {
                Some(m) if m.0 == *t => {
                    m.2 = *frame;
                    m.3 += 1;
                }
                _ => tshark_marked.push((t.clone(), *frame, *frame, 1)),
            }
        }
        if cli.marked != tshark_marked {
            diffs.push(format!(
                "{name}: marked connections: kasa-decode {:?} / tshark {tshark_marked:?}",
                cli.marked
            ));
        }
        let mut tally = Tally {
            messages: cli.msgs.len(),
            ..Tally::default()
        };
        // The KLAP/AES/TDP recordings' expected files give no Info column, not even for their
        // XOR probes.
        let messages = common::expected::shown_messages(expected);
        let no_info = !messages.is_empty() && messages.iter().all(|m| m.get("info").is_none());
        if no_info
            || cli
                .msgs
                .iter()
                .chain(&shown)
                .any(|m| SECURE.contains(&m.transport.as_str()))
        {
            let tree = common::info_with_tree(path, &extra);
            let summary = common::info_without_tree(path, &extra);
            let (frames, with_experts, d) = compare_secure(
                &name,
                &cli,
                &shown,
                no_info,
                &run.experts,
                &[
                    ("Info column with a tree", &tree),
                    ("Info column without a tree", &summary),
                ],
            );
            tally.secure_frames = frames;
            tally.expert_frames = with_experts;
            diffs.extend(d);
        }
        match KNOWN_DIFFERENCES.iter().find(|(k, _)| *k == name) {
            Some(_) if diffs.is_empty() => (
                Tally::default(),
                vec![format!("{name}: now agrees: take it off KNOWN_DIFFERENCES")],
            ),
            Some((_, why)) => {
                eprintln!(
                    "{name}: known difference ({why}):\n  {}",
                    diffs.join("\n  ")
                );
                (Tally::default(), Vec::new())
            }
            None => (tally, diffs),
        }
    });
    let sum = |f: fn(&Tally) -> usize| -> usize { results.iter().map(|r| f(&r.0)).sum() };
    let compared = sum(|t| t.messages);
    let secure_frames = sum(|t| t.secure_frames);
    let expert_frames = sum(|t| t.expert_frames);
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    common::assert_no_differences(&failures);
    assert!(compared >= 200, "only {compared} messages compared");
    // The seven KLAP/AES/TDP recordings have about 190 such frames; some have experts
    // (klap-v2-wrongpw's handshake1 reply, non-zero err_codes).
    assert!(
        secure_frames >= 150 && expert_frames >= 1,
        "only {secure_frames} KLAP/AES/TDP frames compared, {expert_frames} with experts"
    );
    eprintln!(
        "{compared} messages shown alike by kasa-decode and tshark; the Info column and experts of {secure_frames} frames of KLAP/AES/TDP recordings alike ({expert_frames} with experts)"
    );
}
