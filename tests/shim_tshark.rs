//! The C shim (`dissector/epan/shim.c`) in the real tshark: an epan exception thrown inside a
//! shim wrapper is caught there, travels back to the trampoline as a pending exception and is
//! rethrown from C, so Wireshark shows it as it would for a C dissector ("Malformed Packet"),
//! the plugin stops rendering that message, and every other message is unaffected.
//!
//! The throw comes from the test trigger `KASA_TEST_THROW=<text>` (read once by the plugin): on
//! every message whose plaintext contains `<text>`, the plugin adds an item past the end of the
//! decrypted tvb, right after `kasa.transport`, without the usual clamping; when the shim reports
//! the throw, it appends [`CAUGHT`] to Info (a column call, which cannot throw) and returns.

mod common;

use common::{Shown, decode, stage, tshark};
use kasa_decoder::msg::{self, Body, Direction};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

const TRIGGER: &str = "set_relay_state";
/// What the plugin appends to Info when the shim reported the trigger's throw; Wireshark's
/// handler then appends its own marker.
const CAUGHT: &str = " [KASA_TEST_THROW caught]";
const MALFORMED: &str = "[Malformed Packet]";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn hs110() -> PathBuf {
    fixture("recorded/hs110-kasa.pcapng")
}

fn assert_clean_exit(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tshark died: {:?}\n{stderr}",
        out.status
    );
    for bad in [
        "panicked",
        "panic in a function that cannot unwind",
        "Aborted",
        "abort",
        "Unhandled exception",
        "Segmentation fault",
        "Dissector bug",
    ] {
        assert!(!stderr.contains(bad), "stderr has {bad:?}:\n{stderr}");
    }
}

/// One frame as `tshark -T fields` shows it.
#[derive(Debug)]
struct Row {
    malformed: bool,
    expert_messages: String,
    protocol: String,
    info: String,
}

/// Frames the plugin dissected (`-Y kasa`), two-pass, with the columns and the malformed marker.
fn rows(capture: &Path, env: &[(&str, &str)]) -> BTreeMap<u64, Row> {
    let staged = stage(capture);
    let out = tshark(
        &[
            "-r",
            staged.to_str().unwrap(),
            "-2",
            "-Y",
            "kasa",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-e",
            "frame.number",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.message",
            "-e",
            "_ws.col.Protocol",
            "-e",
            "_ws.col.Info",
        ],
        env,
    );
    assert_clean_exit(&out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            // Info last: whatever it holds stays in one piece.
            let f: Vec<&str> = l.splitn(5, '\t').collect();
            assert_eq!(f.len(), 5, "{l}");
            (
                f[0].parse().unwrap(),
                Row {
                    malformed: !f[1].is_empty(),
                    expert_messages: f[2].to_owned(),
                    protocol: f[3].to_owned(),
                    info: f[4].to_owned(),
                },
            )
        })
        .collect()
}

/// The Info text the plugin writes for the messages of one frame: the decoder's summary of each,
/// joined by " | ".
fn summaries(messages: &[Shown]) -> BTreeMap<u64, String> {
    let mut per_frame: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for m in messages {
        let body = Body::analyse(m.plaintext.as_bytes(), &mut Vec::new());
        let direction = if m.direction == "request" {
            Direction::Request
        } else {
            Direction::Response
        };
        let mut s = String::new();
        msg::summary(&mut s, direction, &body).unwrap();
        per_frame.entry(m.frame).or_default().push(s);
    }
    per_frame
        .into_iter()
        .map(|(f, v)| (f, v.join(" | ")))
        .collect()
}

#[test]
fn a_throw_inside_the_shim_is_a_malformed_packet_and_nothing_else_changes() {
    let path = hs110();
    let (normal_out, normal) = decode(&path, &[], &[]);
    assert_clean_exit(&normal_out);
    let (out, run) = decode(&path, &[], &[("KASA_TEST_THROW", TRIGGER)]);
    assert_clean_exit(&out);

    let triggered: BTreeSet<u64> = normal
        .messages
        .iter()
        .filter(|m| m.plaintext.contains(TRIGGER))
        .map(|m| m.frame)
        .collect();
    assert!(
        !triggered.is_empty(),
        "the fixture has no {TRIGGER} message"
    );

    // Every message is still there; the triggered ones stop right after kasa.transport (no
    // plaintext, methods or pairing: rendering stopped at the throw), the others are untouched.
    assert_eq!(run.messages.len(), normal.messages.len());
    for (got, want) in run.messages.iter().zip(&normal.messages) {
        assert_eq!(got.frame, want.frame);
        if triggered.contains(&got.frame) {
            assert_eq!(got.transport, want.transport);
            assert_eq!(got.plaintext, "", "frame {}: rendering went on", got.frame);
            assert!(got.methods.is_empty(), "frame {}", got.frame);
        } else {
            assert_eq!(got, want, "frame {} changed", got.frame);
        }
    }
    let plaintexts = |ms: &[Shown]| ms.iter().filter(|m| !m.plaintext.is_empty()).count();
    assert_eq!(
        plaintexts(&run.messages),
        plaintexts(&normal.messages) - triggered.len()
    );
    // No expert info of ours is lost or added on the other frames.
    let others = |e: &[(u64, String)]| -> Vec<(u64, String)> {
        e.iter()
            .filter(|(f, _)| !triggered.contains(f))
            .cloned()
            .collect()
    };
    assert_eq!(others(&run.experts), others(&normal.experts));

    // Wireshark's own exception handling saw the throw: exactly the triggered frames are
    // malformed, with its "Exception occurred" expert info.
    let normal_rows = rows(&path, &[]);
    assert!(
        normal_rows.values().all(|r| !r.malformed),
        "{normal_rows:?}"
    );
    let rows = rows(&path, &[("KASA_TEST_THROW", TRIGGER)]);
    let malformed: BTreeSet<u64> = rows
        .iter()
        .filter(|(_, r)| r.malformed)
        .map(|(f, _)| *f)
        .collect();
    assert_eq!(malformed, triggered);
    for f in &triggered {
        let r = &rows[f];
        assert!(
            r.expert_messages
                .contains("Malformed Packet (Exception occurred)"),
            "frame {f}: {r:?}"
        );
        // Rust got control back after the throw (the shim caught it, no longjmp over Rust
        // frames), then Wireshark's handler saw it (the trampoline rethrew it) and could still
        // write the Info column.
        assert!(
            r.info.ends_with(&format!("{CAUGHT}{MALFORMED}")),
            "frame {f}: {r:?}"
        );
        assert_eq!(r.protocol, "KASA", "frame {f}: {r:?}");
    }
}

/// The JSON hand-off runs with the columns write-protected by the shim, which makes them
/// writable again afterwards: Protocol stays "KASA" (not ".../JSON"), Info is exactly the
/// plugin's summary (no ", JavaScript Object Notation"), on every frame, with and without a
/// throw elsewhere in the frame's dissection. `tcp_two_in_one` has two messages in one segment:
/// the second one's summary is appended after the first one's JSON hand-off, so it is lost if
/// the columns are left write-protected.
#[test]
fn the_json_hand_off_leaves_the_columns_to_the_plugin() {
    let throw = [("KASA_TEST_THROW", TRIGGER)];
    for (path, env) in [
        (hs110(), &[][..]),
        (hs110(), &throw[..]),
        (fixture("synthetic/tcp_two_in_one.pcap"), &[][..]),
    ] {
        let (out, normal) = decode(&path, &[], &[]);
        assert_clean_exit(&out);
        let want = summaries(&normal.messages);
        assert!(!want.is_empty());
        let rows = rows(&path, env);
        assert_eq!(
            rows.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{env:?}"
        );
        for (f, r) in &rows {
            assert_eq!(r.protocol, "KASA", "frame {f} {env:?}: {r:?}");
            let info = if r.malformed {
                r.info
                    .strip_suffix(&format!("{CAUGHT}{MALFORMED}"))
                    .unwrap()
            } else {
                &r.info
            };
            assert_eq!(info, want[f], "frame {f} {env:?}");
            assert!(!r.info.contains("JSON") && !r.info.contains("JavaScript"));
        }
    }
}
