//! The HTTP access layer and the user's secrets in the real tshark, on
//! `fixtures/http/http_probe.pcapng` (a KLAP-shaped HTTP/1.1 exchange on one keep-alive
//! connection, recorded over loopback by `fixtures/http/record.sh`).
//!
//! * With `KASA_TEST_HTTP_PROBE` set the plugin takes every body and shows what HTTP handed
//!   over; that must be `fixtures/http/http_probe.expected.txt`, written from the recording
//!   script's own exchanges (never from the plugin), per Wireshark version where they differ.
//! * Without it the plugin takes nothing: every frame shows exactly as with no plugin at all
//!   (same full `-V` tree, HTTP and JSON included, same columns), and as with the plugin's
//!   protocol disabled.
//! * The `kasa_credentials` and `kasa_aes_keys` UATs take `-o uat:…` rows, a bad AES key is
//!   reported, and the secrets accessors return what was given (`KASA_TEST_SECRETS_PROBE`), with
//!   no password anywhere in tshark's output.

mod common;

use common::{no_plugins, stage, tshark, tshark_in, ws_major, ws_minor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const PROBE: (&str, &str) = ("KASA_TEST_HTTP_PROBE", "1");
const SECRETS_PROBE: (&str, &str) = ("KASA_TEST_SECRETS_PROBE", "1");
const KEY: &str = "00112233445566778899aabbccddeeff";

fn capture() -> PathBuf {
    stage(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join("http")
            .join("http_probe.pcapng"),
    )
}

fn version() -> String {
    format!("{}.{}", ws_major(), ws_minor())
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_clean_exit(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tshark failed: {:?}\n{stderr}",
        out.status
    );
    for bad in [
        "panicked",
        "Aborted",
        "Dissector bug",
        "Segmentation fault",
        "Unhandled exception",
    ] {
        assert!(!stderr.contains(bad), "stderr has {bad:?}:\n{stderr}");
    }
}

/// The expected probe lines for this Wireshark version, by frame.
fn expected() -> BTreeMap<u64, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/http/http_probe.expected.txt");
    let text = std::fs::read_to_string(&path).expect("expected file");
    let mut all: BTreeMap<u64, String> = BTreeMap::new();
    let mut overrides: BTreeMap<u64, String> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (key, probe) = line.split_once('\t').expect("<frame>[@4.N]\\t<line>");
        match key.split_once('@') {
            None => {
                all.insert(key.parse().expect("frame"), probe.to_owned());
            }
            Some((frame, v)) if v == version() => {
                overrides.insert(frame.parse().expect("frame"), probe.to_owned());
            }
            Some(_) => {}
        }
    }
    all.extend(overrides);
    all
}

/// Every `kasa.http.probe` item tshark shows, by frame (several in one frame joined by `|`).
fn probes(extra: &[&str], env: &[(&str, &str)]) -> BTreeMap<u64, Vec<String>> {
    let cap = capture();
    let mut args = vec![
        "-r",
        cap.to_str().unwrap(),
        "-Y",
        "kasa.http.probe",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-e",
        "frame.number",
        "-e",
        "kasa.http.probe",
    ];
    args.extend_from_slice(extra);
    let out = tshark(&args, env);
    assert_clean_exit(&out);
    stdout(&out)
        .lines()
        .map(|l| {
            let (frame, items) = l.split_once('\t').unwrap_or((l, ""));
            (
                frame.parse().unwrap(),
                items.split('|').map(str::to_owned).collect(),
            )
        })
        .collect()
}

#[test]
fn the_probe_shows_what_http_handed_over() {
    let want = expected();
    assert_eq!(want.len(), 11, "one line per non-empty body");
    // One pass (the 4.0 conversation is read as the capture goes) and two passes (the second
    // reads what the first kept).
    for passes in [&[][..], &["-2"][..]] {
        let got = probes(passes, &[PROBE]);
        let mut diffs = Vec::new();
        for frame in want
            .keys()
            .chain(got.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let w = want.get(frame);
            let g = got.get(frame).map(|v| v.join(" | "));
            if w != g.as_ref() {
                diffs.push(format!(
                    "frame {frame} ({passes:?}, Wireshark {}):\n  tshark   {}\n  expected {}",
                    version(),
                    g.as_deref().unwrap_or("(nothing)"),
                    w.map_or("(nothing)", String::as_str)
                ));
            }
        }
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
}

/// The frames whose bodies are KLAP (a `/app/handshake…` or `/app/request` URI), from the
/// hand-written expected probe lines: the plugin takes those, and only those.
fn klap_frames() -> std::collections::BTreeSet<u64> {
    expected()
        .into_iter()
        .filter(|(_, line)| {
            line.split(' ')
                .find_map(|w| w.strip_prefix("uri="))
                .is_some_and(|uri| {
                    uri.starts_with("/app/handshake") || uri.starts_with("/app/request")
                })
        })
        .map(|(f, _)| f)
        .collect()
}

/// `tshark` output cut per frame: `-V` blocks start with "Frame N:", summary lines with N.
fn per_frame(out: &str, tree: bool) -> BTreeMap<u64, String> {
    let mut frames: BTreeMap<u64, String> = BTreeMap::new();
    let mut current = 0;
    for line in out.lines() {
        let number = if tree {
            line.strip_prefix("Frame ")
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse().ok())
        } else {
            line.split_whitespace().next().and_then(|n| n.parse().ok())
        };
        if let Some(n) = number {
            current = n;
        }
        let block = frames.entry(current).or_default();
        block.push_str(line);
        block.push('\n');
    }
    frames
}

#[test]
fn http_that_is_not_kasa_shows_as_without_the_plugin() {
    let cap = capture();
    let cap = cap.to_str().unwrap();
    let klap = klap_frames();
    assert_eq!(klap.len(), 9, "{klap:?}");
    for passes in [&[][..], &["-2"][..]] {
        for mode in [&["-V"][..], &[][..]] {
            let tree = mode == ["-V"];
            let mut args = vec!["-r", cap];
            args.extend_from_slice(passes);
            args.extend_from_slice(mode);
            let with = tshark(&args, &[]);
            assert_clean_exit(&with);
            let mut base_args = vec![
                "--disable-protocol",
                "tplink-smarthome",
                "-o",
                "tcp.reassemble_out_of_order:TRUE",
            ];
            base_args.extend_from_slice(&args);
            let without = tshark_in(no_plugins(), &base_args, &[]);
            assert_clean_exit(&without);
            let mut disabled_args = vec!["--disable-protocol", "kasa"];
            disabled_args.extend_from_slice(&args);
            let disabled = tshark(&disabled_args, &[]);
            assert_clean_exit(&disabled);
            let (w, base, d) = (stdout(&with), stdout(&without), stdout(&disabled));
            if tree {
                // The capture exercises what must not change: JSON bodies, octet-stream bodies,
                // bodies without a Content-Type, a split request.
                assert!(base.contains("JavaScript Object Notation: application/json"));
                assert!(
                    base.contains("Data (16 bytes)"),
                    "octet-stream goes to data"
                );
                assert!(
                    base.contains("Data (24 bytes)"),
                    "no Content-Type goes to data"
                );
                assert!(
                    base.contains("Reassembled TCP Segments"),
                    "the split request"
                );
                assert!(!base.contains("subdissector failed"));
            }
            let first_difference = |a: &str, b: &str| {
                a.lines()
                    .zip(b.lines())
                    .enumerate()
                    .find(|(_, (x, y))| x != y)
                    .map(|(i, (x, y))| format!("line {}: {x:?} / {y:?}", i + 1))
                    .unwrap_or_else(|| "lengths differ".into())
            };
            // With the plugin: every frame that is not KLAP exactly as without it; every KLAP
            // frame shows the Kasa layer (and never "subdissector failed").
            let (wf, bf) = (per_frame(&w, tree), per_frame(&base, tree));
            assert_eq!(
                wf.keys().collect::<Vec<_>>(),
                bf.keys().collect::<Vec<_>>(),
                "{passes:?} {mode:?}: frames differ"
            );
            for (f, block) in &wf {
                let other = &bf[f];
                if klap.contains(f) {
                    let kasa = if tree {
                        "TP-Link Kasa Smart Home"
                    } else {
                        "KASA"
                    };
                    assert!(
                        block.contains(kasa) && !block.contains("subdissector failed"),
                        "{passes:?} {mode:?}: frame {f} is KLAP but shows:\n{block}"
                    );
                } else {
                    assert!(
                        block == other,
                        "{passes:?} {mode:?}: frame {f} with the plugin / without: {}",
                        first_difference(block, other)
                    );
                }
            }
            assert!(
                d == base,
                "{passes:?} {mode:?}: kasa disabled / without the plugin: {}",
                first_difference(&d, &base)
            );
        }
    }
}

#[test]
fn the_hooks_are_registered() {
    let heur = stdout(&tshark(&["-G", "heuristic-decodes"], &[]));
    assert!(
        heur.lines()
            .any(|l| l.split('\t').take(3).eq(["http", "kasa", "T"])),
        "no enabled kasa heuristic on http:\n{heur}"
    );
    let prefs = stdout(&tshark(&["-G", "currentprefs"], &[]));
    assert!(prefs.contains("kasa.rsa_private_key"), "{prefs}");
    // Registration draws no warning (4.6 checks, for one, that the handles of a dissector
    // table have distinct descriptions).
    let cap = capture();
    let out = tshark(&["-r", cap.to_str().unwrap()], &[]);
    assert_clean_exit(&out);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "tshark's stderr");
}

#[test]
fn the_uats_accept_rows_and_the_accessors_return_them() {
    // The rows as the brief's users write them: tshark takes them (exit 0).
    let cap = capture();
    let cap = cap.to_str().unwrap();
    let aes = format!("uat:kasa_aes_keys:\"{KEY}\",\"{KEY}\"");
    let out = tshark(
        &[
            "-o",
            "uat:kasa_credentials:\"a\",\"b\"",
            "-o",
            &aes,
            "-r",
            cap,
        ],
        &[],
    );
    assert_clean_exit(&out);

    // What the accessors return, on every body (one generation throughout: nothing changes
    // while a capture is read).
    let password = "pw-s3cret-9";
    let creds = [
        "uat:kasa_credentials:\"a\",\"b\"".to_owned(),
        format!("uat:kasa_credentials:\"user@example.com\",\"{password}\""),
    ];
    let args = [
        "-o",
        &creds[0],
        "-o",
        &creds[1],
        "-o",
        &aes,
        "-o",
        "kasa.rsa_private_key:/nonexistent/kasa-key.pem",
    ];
    let got = probes(&args, &[PROBE, SECRETS_PROBE]);
    assert_eq!(got.len(), expected().len());
    let mut generations = std::collections::BTreeSet::new();
    for (frame, items) in &got {
        assert_eq!(items.len(), 2, "frame {frame}: {items:?}");
        let line = &items[1];
        let (head, generation) = line.rsplit_once(" generation=").expect(line);
        assert_eq!(
            head,
            "kasa secrets: credentials=2 usernames=a,user@example.com password_lengths=1,11 \
             aes_keys=1 rsa_private_key=/nonexistent/kasa-key.pem",
            "frame {frame}"
        );
        generations.insert(generation.parse::<u64>().expect("generation"));
    }
    assert_eq!(generations.len(), 1, "{generations:?}");
    assert!(generations.iter().all(|g| *g > 0));

    // Without rows: empty.
    let got = probes(&[], &[PROBE, SECRETS_PROBE]);
    for (frame, items) in &got {
        assert!(
            items[1].starts_with(
                "kasa secrets: credentials=0 usernames= password_lengths= aes_keys=0 rsa_private_key= generation="
            ),
            "frame {frame}: {items:?}"
        );
    }

    // The password is shown nowhere, even with every tree item and the probes on.
    let mut all = args.to_vec();
    all.extend(["-r", cap, "-V", "-x"]);
    let out = tshark(&all, &[PROBE, SECRETS_PROBE]);
    assert_clean_exit(&out);
    assert!(!stdout(&out).contains(password));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(password));
}

#[test]
fn a_bad_aes_key_is_reported() {
    let cap = capture();
    let cap = cap.to_str().unwrap();
    for (row, what) in [
        (
            format!("\"{}\",\"{KEY}\"", &KEY[1..]),
            "the key must be 32 hexadecimal digits (16 bytes), got 31 characters",
        ),
        (
            format!("\"{}g\",\"{KEY}\"", &KEY[1..]),
            "the key must be 32 hexadecimal digits (16 bytes); character 32 is not a hexadecimal digit",
        ),
        (
            format!("\"{KEY}\",\"{KEY}00\""),
            "the iv must be 32 hexadecimal digits (16 bytes), got 34 characters",
        ),
        (
            format!("\"{KEY}\",\"\""),
            "the iv must be 32 hexadecimal digits (16 bytes), got 0 characters",
        ),
    ] {
        let flag = format!("uat:kasa_aes_keys:{row}");
        let out = tshark(&["-o", &flag, "-r", cap, "-c", "1"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{row}: accepted\n{stderr}");
        assert!(
            stderr.contains(&format!("kasa_aes_keys: {what}")),
            "{row}: {stderr}"
        );
    }
}
