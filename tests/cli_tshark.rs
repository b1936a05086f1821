//! The two front ends against each other: `kasa-decode --json` (the CLI binary, built here with
//! cargo) and tshark with the plugin, on every fixture (recorded, synthetic, adversarial). Both
//! must show the same messages (frame, transport, text), with the same directions and the same
//! `response_in`/`response_to` links.
//!
//! Texts are compared as the plugin shows them (`common::shown_plaintext`: U+FFFD for invalid
//! UTF-8, NUL as U+2400). The plugin does not show NUL that way yet (another engineer is changing
//! it), so `adv_nul_and_utf8` and `adv_udp_64k` fail here until that change lands.

mod common;

use base64::Engine;
use common::{decode, fixture_args, shown_plaintext, tshark_args_for};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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

/// The CLI binary, built once for the profile of this test.
fn kasa_decode() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let profile = profile_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let target = profile_dir.parent().unwrap();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "-p",
            "kasa-decode",
            "--bin",
            "kasa-decode",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target);
        if profile == "release" {
            cmd.arg("--release");
        } else if profile != "debug" {
            cmd.args(["--profile", &profile]);
        }
        assert!(
            cmd.status().expect("cargo build").success(),
            "building kasa-decode failed"
        );
        let bin = target.join(&profile).join("kasa-decode");
        assert!(bin.exists(), "{} missing", bin.display());
        bin
    })
}

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

fn cli_messages(capture: &Path, args: &[String]) -> Vec<Msg> {
    let out = Command::new(kasa_decode())
        .arg("--json")
        .args(args)
        .arg(capture)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON Lines"))
        .filter(|l| l["type"] == "message")
        .map(|l| {
            let m = &l["data"];
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
                text: shown_plaintext(&bytes),
                response_to: m["response_to"].as_u64(),
                response_in: m["response_in"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_u64().unwrap())
                    .collect(),
            }
        })
        .collect()
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
            return (0, Vec::new());
        }
        let args = fixture_args(expected);
        let cli = cli_messages(path, &args);
        let (out, run) = decode(path, &tshark_args_for(&args), &[]);
        if !out.status.success() {
            return (0, vec![format!("{name}: tshark exited {:?}", out.status)]);
        }
        let shown: Vec<Msg> = run
            .messages
            .into_iter()
            .map(|m| Msg {
                frame: m.frame,
                transport: m.transport,
                direction: m.direction,
                text: m.plaintext,
                response_to: m.response_to,
                response_in: m.response_in,
            })
            .collect();
        let diffs = compare(&name, &cli, &shown);
        match KNOWN_DIFFERENCES.iter().find(|(k, _)| *k == name) {
            Some(_) if diffs.is_empty() => (
                0,
                vec![format!("{name}: now agrees: take it off KNOWN_DIFFERENCES")],
            ),
            Some((_, why)) => {
                eprintln!(
                    "{name}: known difference ({why}):\n  {}",
                    diffs.join("\n  ")
                );
                (0, Vec::new())
            }
            None => (cli.len(), diffs),
        }
    });
    let compared: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|r| r.1).collect();
    common::assert_no_differences(&failures);
    assert!(compared >= 200, "only {compared} messages compared");
    eprintln!("{compared} messages shown alike by kasa-decode and tshark");
}
