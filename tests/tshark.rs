//! The plugin inside the real tshark: loading, exported symbols, and every fixture shown as its
//! expected file says (the expected files come from the fixtures' own source of truth, never
//! from the decoder crate, so a bug shared by the decoder and the plugin cannot pass both).
//!
//! Needs `tshark` and `setpriv` (util-linux) when run as root; the plugin is built by the first
//! test that needs it (`cargo build --lib`, once).

mod common;

use common::{
    Coverage, compare_experts, compare_info, compare_messages, decode, env, fixture_args, fixtures,
    tshark, wants,
};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn pkg_config_version() -> (u32, u32) {
    let out = Command::new("pkg-config")
        .args(["--modversion", "wireshark"])
        .output()
        .expect("pkg-config");
    let v = String::from_utf8(out.stdout).unwrap();
    let mut it = v.trim().split('.').map(|p| p.parse::<u32>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn exports_match_the_installed_wireshark() {
    let e = env();
    // SAFETY: loading the plugin runs no initialiser of ours; only data symbols are read.
    unsafe {
        let lib = libloading::Library::new(&e.so).expect("dlopen the plugin");
        let version: libloading::Symbol<*const [u8; 6]> = lib.get(b"plugin_version\0").unwrap();
        let v = core::ffi::CStr::from_ptr((*version).cast())
            .to_str()
            .unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        let major: libloading::Symbol<*const i32> = lib.get(b"plugin_want_major\0").unwrap();
        let minor: libloading::Symbol<*const i32> = lib.get(b"plugin_want_minor\0").unwrap();
        let (pk_major, pk_minor) = pkg_config_version();
        assert_eq!((**major as u32, **minor as u32), (pk_major, pk_minor));
        lib.get::<unsafe extern "C" fn()>(b"plugin_register\0")
            .unwrap();
        let describe = lib
            .get::<unsafe extern "C" fn() -> u32>(b"plugin_describe\0")
            .unwrap();
        assert_eq!(describe(), 1, "WS_PLUGIN_DESC_DISSECTOR");
    }
}

#[test]
fn tshark_lists_the_plugin() {
    let out = tshark(&["-G", "plugins"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("kasa.so"))
        .unwrap_or_else(|| panic!("kasa.so not listed:\n{text}"));
    assert!(line.contains(env!("CARGO_PKG_VERSION")), "{line}");
    assert!(line.contains("dissector"), "{line}");
}

#[test]
fn tshark_knows_the_contract_fields_and_experts() {
    let out = tshark(&["-G", "fields"], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    let abbrevs: BTreeSet<&str> = text.lines().filter_map(|l| l.split('\t').nth(2)).collect();
    let none_fields: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.split('\t').nth(3) == Some("FT_NONE"))
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    // Every field the fixture comparison must cover is registered under its name.
    for f in MUST_COVER
        .iter()
        .filter(|f| f.starts_with("kasa.") && !f.contains(' '))
    {
        assert!(abbrevs.contains(f), "{f} not registered");
    }
    let protocols = tshark(&["-G", "protocols"], &[]);
    let p = String::from_utf8_lossy(&protocols.stdout);
    // 4.4+ appends enabled/heuristic columns: compare name, short name and filter name only.
    assert!(
        p.lines().any(|l| l
            .split('\t')
            .take(3)
            .eq(["TP-Link Kasa Smart Home", "KASA", "kasa"])),
        "protocol row missing"
    );
    // Expert infos are registered as FT_NONE fields of the protocol.
    for name in [
        "kasa.malformed.length",
        "kasa.malformed.json",
        "kasa.malformed.utf8",
        "kasa.truncated",
        "kasa.zero_length",
        "kasa.err_code.nonzero",
        "kasa.internal_error",
        "kasa.tdp.crc.bad",
        "kasa.tdp.size.bad",
        "kasa.klap.malformed",
        "kasa.klap.no_credentials",
        "kasa.klap.no_handshake",
        "kasa.klap.bad_signature",
        "kasa.klap.client_hash.bad",
        "kasa.decrypt_failed",
        "kasa.aes.no_key",
    ] {
        assert!(none_fields.contains(name), "expert {name} not registered");
    }
    let heur = tshark(&["-G", "heuristic-decodes"], &[]);
    let h = String::from_utf8_lossy(&heur.stdout);
    for list in ["tcp", "udp"] {
        assert!(
            // 4.4+ appends more columns: compare list, protocol and enabled flag only.
            h.lines()
                .any(|l| l.split('\t').take(3).eq([list, "kasa", "T"])),
            "heuristic on {list} missing or disabled:\n{h}"
        );
    }
    let decodes = tshark(&["-G", "decodes"], &[]);
    let d = String::from_utf8_lossy(&decodes.stdout);
    for table in ["tcp.port", "udp.port"] {
        assert!(
            d.lines().any(|l| l == format!("{table}\t9999\tkasa")),
            "{table} 9999 not ours:\n{d}"
        );
    }
}

/// Fixtures where Wireshark's own TCP layer, which `tcp_dissect_pdus` relies on, cannot frame
/// the stream as the expected file says. Each must still run cleanly in tshark; each must
/// still differ (when one starts to match, take it off this list).
pub const KNOWN_FRAMING_GAPS: &[(&str, &str)] = &[
    (
        "tcp_cut_at_end",
        "a message cut by the end of the capture: TCP waits for the rest, no end-of-capture hook shows it",
    ),
    (
        "tcp_gap",
        "bytes missing from the capture: Wireshark's reassembly does not resynchronise after the gap",
    ),
    (
        "tcp_truncated_snaplen",
        "frames cut by the snaplen: TCP hands over captured-length PDUs differently",
    ),
];

/// Everything the comparison must have looked at, on at least one fixture.
const MUST_COVER: &[&str] = &[
    "kasa.transport",
    "kasa.len",
    "kasa.plaintext",
    "kasa.request",
    "kasa.response",
    "kasa.method",
    "kasa.err_code",
    "kasa.err_msg",
    "kasa.response_in",
    "kasa.response_to",
    "kasa.time",
    "kasa.device.model",
    "kasa.device.alias",
    "kasa.device.mac",
    "kasa.device.id",
    "kasa.device.sw_ver",
    "kasa.device.hw_ver",
    "kasa.device.type",
    "kasa.device (generated)",
    "kasa.context.source",
    "kasa.context.child_id",
    "kasa.klap.local_seed",
    "kasa.klap.remote_seed",
    "kasa.klap.server_hash",
    "kasa.klap.client_hash",
    "kasa.klap.seq",
    "kasa.klap.version",
    "kasa.klap.auth",
    "kasa.klap.session",
    "kasa.aes.method",
    "kasa.aes.session",
    "kasa.aes.token",
    "kasa.aes.error_code",
    "kasa.aes.encrypted",
    "kasa.tdp.version",
    "kasa.tdp.msg_type",
    "kasa.tdp.op_code",
    "kasa.tdp.size",
    "kasa.tdp.flags",
    "kasa.tdp.serial",
    "kasa.tdp.crc",
    "kasa.tdp.crc.status",
    "kasa.tdp.encrypt_type",
    "kasa.tdp.http_port",
    "kasa.tdp.login_version",
    "kasa.tdp.tpap.port",
    "kasa.tdp.tpap.tls",
    "kasa.tdp.tpap.pake",
    "kasa.tdp.tpap.dac",
    "kasa.tdp.tpap.noc",
    "kasa.tdp.tpap.user_hash_type",
    "Info column with a tree",
    "Info column without a tree",
    "expert infos",
];

/// The plugin in tshark against the fixtures' expected files (written from the fixtures' own
/// source of truth: the generator's input, the peers' logs; never from the decoder crate), per
/// message and per frame: every field of the README's table (two-pass `-T json`), the Info
/// column with a tree (`-T fields -e _ws.col.Info` with a filter) and without one (a plain
/// summary run, which passes a NULL tree), and every expert info with its frame.
///
/// Each difference is also printed as a `kasa-diff:` line (tests/mutation/run compares them
/// with an unmutated run).
#[test]
fn every_fixture_shows_in_tshark_what_its_expected_file_says() {
    let all = fixtures();
    assert!(all.len() >= 28, "fixtures missing: {}", all.len());
    let results = common::par_map(&all, |(path, expected)| check_fixture(path, expected));
    let mut failures = Vec::new();
    let mut cov = Coverage::default();
    for (diffs, fixture_cov) in results {
        failures.extend(diffs);
        for (k, n) in fixture_cov.0 {
            *cov.0.entry(k).or_default() += n;
        }
    }
    let missing = cov.missing(MUST_COVER);
    if !missing.is_empty() {
        failures.push(format!(
            "no fixture exercised {missing:?} (coverage {:?})",
            cov.0
        ));
    }
    common::assert_no_differences(&failures);
    eprintln!("coverage: {:?}", cov.0);
}

/// One fixture: its differences (a known framing gap gives none, or one if it now matches),
/// and what was compared (nothing for a known framing gap).
fn check_fixture(path: &Path, expected: &serde_json::Value) -> (Vec<String>, Coverage) {
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let extra = common::tshark_args_for(&fixture_args(expected));
    let (out, run) = decode(path, &extra, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let e = format!("{name}: tshark exited {:?}: {stderr}", out.status);
        return (vec![e], Coverage::default());
    }
    let mut failures = Vec::new();
    for bad in ["Dissector bug", "panicked", "aborting", "assertion"] {
        if stderr.contains(bad) {
            failures.push(format!("{name}: stderr has {bad:?}: {stderr}"));
        }
    }
    // A TPAP connection (the expected file's `tls` section: the fake device's connection on
    // the port its discovery reply announced) is marked on each of its frames, and nothing else.
    let want_marked: Vec<(u64, String)> = expected["tls"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| {
            let (a, b) = (
                c["first_frame"].as_u64().unwrap(),
                c["last_frame"].as_u64().unwrap(),
            );
            (a..=b).map(|f| (f, "tpap".to_owned()))
        })
        .collect();
    // (Cloud-link marks have their own test, tests/cloud_tshark.rs.)
    let tpap_marked: Vec<(u64, String)> = run
        .marked
        .iter()
        .filter(|(_, t)| t == "tpap")
        .cloned()
        .collect();
    if tpap_marked != want_marked {
        failures.push(format!(
            "{name}: connection marks {:?} != expected {:?}",
            tpap_marked, want_marked
        ));
    }
    let (want, orphans) = wants(expected);
    let mut cov = Coverage::default();
    let mut diffs = compare_messages(&run.messages, &want, &mut cov);
    diffs.extend(compare_experts(&run.experts, &want, &orphans, &mut cov));
    let tree = common::info_with_tree(path, &extra);
    diffs.extend(compare_info(
        "Info column with a tree",
        &tree,
        &want,
        &orphans,
        &mut cov,
    ));
    let summary = common::info_without_tree(path, &extra);
    diffs.extend(compare_info(
        "Info column without a tree",
        &summary,
        &want,
        &orphans,
        &mut cov,
    ));
    if let Some((_, why)) = KNOWN_FRAMING_GAPS.iter().find(|(k, _)| name.contains(k)) {
        if diffs.is_empty() {
            failures.push(format!(
                "{name}: now matches its expected file: remove it from KNOWN_FRAMING_GAPS"
            ));
        } else {
            eprintln!(
                "{name}: known framing gap ({why}):\n  {}",
                diffs.join("\n  ")
            );
        }
        return (failures, Coverage::default());
    }
    failures.extend(diffs.into_iter().map(|d| format!("{name}: {d}")));
    (failures, cov)
}

/// Every fixture's `kasa-decode` arguments have a tshark translation and a decoder
/// configuration, the secrets alike: one UAT row per `--credential` / `--aes-key`, a staged
/// key file per `--rsa-key`.
#[test]
fn fixture_arguments_translate_to_tshark_and_the_decoder() {
    let mut secrets = 0;
    for (path, expected) in fixtures() {
        let args = fixture_args(&expected);
        let count = |opt: &str| args.iter().filter(|a| *a == opt).count();
        let extra = common::tshark_args_for(&args);
        let config = common::config_for(&args);
        let s = &config.secrets;
        let uat = |table: &str| {
            extra
                .iter()
                .filter(|o| o.starts_with(&format!("uat:{table}:\"")))
                .count()
        };
        let name = path.display();
        assert_eq!(s.credentials.len(), count("--credential"), "{name}");
        assert_eq!(uat("kasa_credentials"), count("--credential"), "{name}");
        assert_eq!(s.aes_keys.len(), count("--aes-key"), "{name}");
        assert_eq!(uat("kasa_aes_keys"), count("--aes-key"), "{name}");
        assert_eq!(s.rsa_keys.len(), count("--rsa-key"), "{name}");
        let keys: Vec<&String> = extra
            .iter()
            .filter(|o| o.starts_with("kasa.rsa_private_key:"))
            .collect();
        assert_eq!(keys.len(), count("--rsa-key"), "{name}");
        for k in keys {
            let staged = Path::new(k.trim_start_matches("kasa.rsa_private_key:"));
            assert!(staged.starts_with(&env().root), "{name}: {k} not staged");
        }
        secrets += s.credentials.len() + s.aes_keys.len() + s.rsa_keys.len();
    }
    assert!(
        secrets >= 6,
        "only {secrets} secrets in the fixtures' arguments"
    );
    let creds = common::tshark_args_for(&["--credential".into(), "a@b:c:d\"e".into()]);
    assert_eq!(creds, ["-o", r#"uat:kasa_credentials:"a@b","c:d\x22e""#]);
}

#[test]
fn a_panic_becomes_an_internal_error_and_tshark_carries_on() {
    let (path, _) = fixtures()
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().contains("hs110-kasa"))
        .or_else(|| fixtures().into_iter().next())
        .expect("a fixture");
    let (normal_out, normal) = decode(&path, &[], &[]);
    assert!(normal_out.status.success());
    let (out, run) = decode(&path, &[], &[("KASA_TEST_PANIC", "set_relay_state")]);
    assert!(
        out.status.success(),
        "tshark died: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let panicked: Vec<u64> = run
        .experts
        .iter()
        .filter(|(_, e)| e == "kasa.internal_error")
        .map(|(f, _)| *f)
        .collect();
    let triggers = normal
        .messages
        .iter()
        .filter(|m| m.plaintext.contains("set_relay_state"))
        .count();
    assert!(triggers > 0, "fixture has no set_relay_state message");
    assert_eq!(panicked.len(), triggers, "{:?}", run.experts);
    // Every other message still decodes.
    assert_eq!(run.messages.len() + triggers, normal.messages.len());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked at"),
        "the panic hook must be quiet: {stderr}"
    );
}

#[test]
fn summary_mode_has_info_columns() {
    let (path, _) = fixtures()
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().contains("hs110-kasa"))
        .expect("hs110 fixture");
    let staged = common::stage(&path);
    let out = tshark(
        &[
            "-r",
            staged.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "_ws.col.Protocol",
            "-e",
            "_ws.col.Info",
            "-Y",
            "kasa",
        ],
        &[],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("KASA\tRequest system.get_sysinfo"));
    assert_eq!(
        lines.next(),
        Some("KASA\tResponse system.get_sysinfo err_code=0 HS110(US) \"Mock hs110\"")
    );
}

/// The messages one dissector shows, per frame, from `tshark -T json -e frame.number -e FIELD`.
fn texts_per_frame(
    out: &std::process::Output,
    field: &str,
) -> std::collections::BTreeMap<u64, Vec<String>> {
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tshark -T json");
    let mut per_frame = std::collections::BTreeMap::new();
    for f in frames.as_array().into_iter().flatten() {
        let layers = &f["_source"]["layers"];
        let frame: u64 = layers["frame.number"][0].as_str().unwrap().parse().unwrap();
        let texts: Vec<String> = layers[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        if !texts.is_empty() {
            per_frame.insert(frame, texts);
        }
    }
    per_frame
}

/// What the built-in dissector shows for a plaintext: every byte outside printable ASCII as `.`.
fn dotted(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Issue 3: on captures of real peers, the plugin decodes every message that the built-in
/// `tplink-smarthome` dissector decodes, with the identical text where the built-in's text is
/// ASCII and intact UTF-8 where the built-in shows dots. Run on the recorded fixtures (real
/// clients and the simulator) and on the synthetic ones without damage.
#[test]
fn the_plugin_decodes_everything_the_builtin_decodes() {
    let (mut compared, mut utf8_restored, mut files) = (0, 0, 0);
    let mut failures = Vec::new();
    for (path, expected) in fixtures() {
        let damaged = expected["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| {
                m["problems"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p != "err_code.nonzero"))
            })
            || expected["orphan_problems"]
                .as_array()
                .is_some_and(|o| !o.is_empty());
        if damaged {
            continue;
        }
        files += 1;
        let staged = common::stage(&path);
        let staged = staged.to_str().unwrap();
        let args = fixture_args(&expected);
        let port = args
            .iter()
            .position(|a| a == "--port")
            .map(|i| args[i + 1].clone())
            .unwrap_or("9999".into());
        let tcp = format!("tcp.port=={port},tplink-smarthome");
        let udp = format!("udp.port=={port},tplink-smarthome");
        let builtin = common::tshark_raw(
            &[
                "-r",
                staged,
                "--disable-protocol",
                "kasa",
                "-d",
                &tcp,
                "-d",
                &udp,
                "-T",
                "json",
                "-e",
                "frame.number",
                "-e",
                "tplink_smarthome.msg",
            ],
            &[],
        );
        let mut plugin_args = vec![
            "-r",
            staged,
            "-T",
            "json",
            "-e",
            "frame.number",
            "-e",
            "kasa.plaintext",
        ];
        let extra = common::tshark_args_for(&args);
        plugin_args.extend(extra.iter().map(String::as_str));
        let plugin = common::tshark(&plugin_args, &[]);
        let (builtin, plugin) = (
            texts_per_frame(&builtin, "tplink_smarthome.msg"),
            texts_per_frame(&plugin, "kasa.plaintext"),
        );
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (frame, texts) in &builtin {
            for b in texts {
                let shown = plugin
                    .get(frame)
                    .into_iter()
                    .flatten()
                    .find(|p| dotted(p) == *b);
                match shown {
                    Some(p) => {
                        compared += 1;
                        if p != b {
                            utf8_restored += 1;
                        }
                    }
                    None => failures.push(format!(
                        "{name} frame {frame}: the built-in shows {b:?}, the plugin {:?}",
                        plugin.get(frame)
                    )),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        files >= 20 && compared >= 150 && utf8_restored >= 5,
        "{files} files, {compared} messages, {utf8_restored} with UTF-8"
    );
    eprintln!(
        "{compared} built-in messages in {files} captures found in the plugin; {utf8_restored} with UTF-8 the built-in showed as dots"
    );
}

/// TPAP inside TLS: with the recording's TLS key log (written by the fake device's client),
/// Wireshark decrypts the connection to the announced endpoint and the plugin shows the login
/// steps there as the expected file's `tls.inside` says (texts from the fake device's log):
/// transport `tpap`, direction, text, `kasa.tpap.sub_method`, the answer paired with its
/// request; and the connection stays marked on every frame.
#[test]
fn tpap_login_inside_tls_with_the_recorded_key_log() {
    let (path, expected) = fixtures()
        .into_iter()
        .find(|(p, _)| p.to_string_lossy().ends_with("tdp-tpap.pcapng"))
        .expect("the tdp-tpap fixture");
    let keylog = common::stage(&path.with_file_name("tdp-tpap.tls-keys.log"));
    let extra = vec![
        "-o".to_owned(),
        format!("tls.keylog_file:{}", keylog.display()),
    ];
    let (out, run) = decode(&path, &extra, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inside = expected["tls"][0]["inside"].as_array().expect("tls.inside");
    let shown: Vec<_> = run
        .messages
        .iter()
        .filter(|m| m.transport == "tpap")
        .collect();
    assert_eq!(shown.len(), inside.len(), "{shown:#?}");
    let mut request_frame = None;
    for (s, w) in shown.iter().zip(inside) {
        assert_eq!(s.frame, w["frame"].as_u64().unwrap());
        assert_eq!(s.direction, w["direction"].as_str().unwrap());
        assert_eq!(s.plaintext, w["text"].as_str().unwrap());
        let sub = serde_json::from_str::<serde_json::Value>(inside[0]["text"].as_str().unwrap())
            .unwrap()["params"]["sub_method"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            s.wire.get("kasa.tpap.sub_method"),
            Some(&vec![sub]),
            "{s:#?}"
        );
        if s.direction == "request" {
            request_frame = Some(s.frame);
        } else {
            assert_eq!(s.response_to, request_frame);
        }
    }
    let c = &expected["tls"][0];
    let (a, b) = (
        c["first_frame"].as_u64().unwrap(),
        c["last_frame"].as_u64().unwrap(),
    );
    let marked: Vec<u64> = run.marked.iter().map(|(f, _)| *f).collect();
    assert_eq!(marked, (a..=b).collect::<Vec<_>>());
}
