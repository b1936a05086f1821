//! The plugin's own JSON tree (`dissector/json.rs`) against Wireshark's JSON dissector, which
//! it replaces: with the preference `kasa.json_fast` on (the default) and off (the JSON
//! dissector itself), `tshark -V` must print the same, byte for byte, on every fixture and on
//! a capture of JSON texts chosen for what could go wrong (escapes, `\u` escapes of printable
//! and unprintable characters, surrogate pairs, nesting, arrays of arrays and of objects,
//! numbers in every form, literals, empty containers, whitespace, a key another dissector
//! takes, texts the plugin leaves to the JSON dissector). The oracle is Wireshark's own
//! dissector, not this plugin.
//!
//! The plugin builds its own tree only on Wireshark 4.0 (`dissector/json.rs`); on other
//! versions both runs call the JSON dissector and the comparison holds trivially.

mod common;

use common::{captures, fixture_args, par_map, stage, tshark, tshark_args_for};
use kasa_decoder::wire::xor;
use std::path::{Path, PathBuf};

/// `tshark -V` of a capture with the fixture's options, with the plugin's JSON tree or the
/// JSON dissector's.
fn verbose(capture: &Path, args: &[String], fast: bool) -> String {
    let staged = stage(capture);
    let mut all: Vec<&str> = vec!["-r", staged.to_str().unwrap(), "-V"];
    all.extend(args.iter().map(String::as_str));
    let pref = format!("kasa.json_fast:{}", if fast { "TRUE" } else { "FALSE" });
    all.extend(["-o", &pref]);
    let out = tshark(&all, &[]);
    // A capture cut short exits non-zero after printing what it read.
    assert!(
        out.status.success() || !out.stdout.is_empty(),
        "tshark {}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the two runs first differ, with context.
fn first_difference(fast: &str, slow: &str) -> Option<String> {
    let (f, s): (Vec<&str>, Vec<&str>) = (fast.lines().collect(), slow.lines().collect());
    let at = f
        .iter()
        .zip(&s)
        .position(|(a, b)| a != b)
        .or_else(|| (f.len() != s.len()).then_some(f.len().min(s.len())))?;
    let from = at.saturating_sub(6);
    Some(format!(
        "line {}:\n--- plugin's tree ---\n{}\n--- JSON dissector ---\n{}",
        at + 1,
        f[from..(at + 3).min(f.len())].join("\n"),
        s[from..(at + 3).min(s.len())].join("\n")
    ))
}

/// Every capture under fixtures/, with the options of its expected file when it has one.
fn all_captures() -> Vec<(PathBuf, Vec<String>)> {
    captures()
        .into_iter()
        .map(|(p, expected)| {
            let args = expected
                .map(|v| tshark_args_for(&fixture_args(&v)))
                .unwrap_or_default();
            (p, args)
        })
        .collect()
}

#[test]
fn every_fixture_shows_the_same_json_tree() {
    let captures = all_captures();
    assert!(captures.len() > 40, "{} captures", captures.len());
    let results = par_map(&captures, |(path, args)| {
        let fast = verbose(path, args, true);
        let slow = verbose(path, args, false);
        let trees = slow.matches("JavaScript Object Notation").count();
        (path.clone(), trees, first_difference(&fast, &slow))
    });
    let mut failures = Vec::new();
    let mut with_json = 0;
    for (path, trees, diff) in results {
        with_json += usize::from(trees > 0);
        if let Some(d) = diff {
            failures.push(format!("{}: {d}", path.display()));
        }
    }
    assert!(with_json > 20, "only {with_json} captures have a JSON tree");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// JSON texts for what could go wrong; each is sent as one XOR datagram to UDP 9999.
const TEXTS: &[&str] = &[
    r#"{"system":{"set_dev_alias":{"alias":"K\u00fcche \"Nord\" \\ \/ \b\f\n\r\t end"}}}"#,
    r#"{"a":"\u0007bell\u0000nul\u001f","b":"\ud83d\ude00 and \u2028 and \u00ad soft hyphen"}"#,
    r#"{"n":[0,-0,1.5,-2.25e10,3E-2,4e+5,12345678901234567890],"lit":[true,false,null]}"#,
    r#"{"deep":{"a":[[1,[2,[3]]],{"x":{"y":[{"z":"w"}]}}],"e":{},"f":[]}}"#,
    r#"{ "spaced" : [ 1 , { "k" : "v" } ] ,	"tab":"x" }"#,
    r#"{"ключ":"значение","🔑":"🗝","":"empty key","dup":1,"dup":2}"#,
    r#"[{"array":"at the root"},[],"s",1]"#,
    r#"{"suppFeat":"a key JSON 3GPP decodes"}"#,
    // Left to the JSON dissector: whitespace around the text.
    " {\"leading\":\"space\"}",
    "{\"trailing\":\"newline\"}\n",
];

/// A pcap of one UDP datagram per text, 10.0.0.1:40000 -> 10.0.0.2:9999, XOR-encrypted.
fn tricky_capture() -> PathBuf {
    let path = std::env::temp_dir().join(format!("kasa-json-tricky-{}.pcap", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let header = pcap_file::pcap::PcapHeader {
        datalink: pcap_file::DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = pcap_file::pcap::PcapWriter::with_header(file, header).unwrap();
    for (i, text) in TEXTS.iter().enumerate() {
        let payload = xor::encrypt(text.as_bytes());
        let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(40000, 9999);
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut frame, &payload).unwrap();
        let packet = pcap_file::pcap::PcapPacket::new(
            std::time::Duration::from_secs(1_700_000_000 + i as u64),
            frame.len() as u32,
            &frame,
        );
        w.write_packet(&packet).unwrap();
    }
    path
}

#[test]
fn tricky_texts_show_the_same_json_tree() {
    let path = tricky_capture();
    let fast = verbose(&path, &[], true);
    let slow = verbose(&path, &[], false);
    std::fs::remove_file(&path).ok();
    // One JSON tree per text that is a JSON object (all but the array at the root, which the
    // plugin reports as not an object), from whichever builder.
    // (Inside the Kasa layer, one level deep: issue 13.)
    assert_eq!(
        slow.matches("\n    JavaScript Object Notation").count(),
        TEXTS.len() - 1,
        "{slow}"
    );
    if let Some(d) = first_difference(&fast, &slow) {
        panic!("{d}");
    }
    if common::ws_minor() >= 2 {
        // The texts below are 4.0's JSON dissector's, which the plugin mirrors there; later
        // versions run their own JSON dissector in both runs (compared above).
        return;
    }
    // The escapes as Wireshark 4.0 shows them: quote, backslash and slash kept, `\u00fc`
    // decoded, control characters escaped by the label, an unprintable `\u` escape dropped.
    assert!(
        fast.contains(r#"String value: Küche "Nord" \ / \b\f\n\r\t end"#),
        "{fast}"
    );
    assert!(fast.contains("String value: bellnul"), "{fast}");
    assert!(
        fast.contains("[Path with value: /deep/a/[]/[]/[]/[]:3]"),
        "{fast}"
    );
    assert!(fast.contains("[Path: /deep/a/[]/x/y/[]/z]"), "{fast}");
}
