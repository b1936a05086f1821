//! The "Kasa" configuration profile (`profile/Kasa`, issue 13): installed with
//! `tools/install-plugin.sh --user --profile` into a temporary HOME, then used by tshark with
//! `-C Kasa` as an unprivileged user. Judged against the fixtures' expected files (the peers'
//! logs and the generator's input), never against the plugin's own output:
//!
//! * the custom columns (`_ws.col.Device`, `Alias`, `Method`, `err_code`) of every frame where
//!   one message completes show the model, alias, methods and error codes the expected file
//!   lists;
//! * the colouring rule each such frame gets (`frame.coloring_rule.name`, tshark `--color`) is
//!   the one the expected message calls for: malformed, error, unanswered request,
//!   undecrypted, response, request, first match in that order;
//! * tshark says nothing on stderr with the profile (a colour rule or filter button that does
//!   not compile is reported there, which the test shows on a deliberately broken copy);
//! * every filter button's expression compiles.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A HOME with the plugin and the profile installed by the install script (once).
fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = common::env().root.join("profile-home");
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new("bash")
            .arg(repo("tools/install-plugin.sh"))
            .args(["--user", "--profile", "--file"])
            .arg(&common::env().so)
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DESTDIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "install-plugin.sh --user --profile: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            home.join(".config/wireshark/profiles/Kasa/colorfilters")
                .exists()
        );
        give_to_nobody(&home);
        home
    })
}

fn give_to_nobody(p: &Path) {
    common::chmod_tree(p);
    if common::env().as_nobody {
        let st = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

/// tshark with the profile: the plugin comes from HOME's personal folder (the global folder is
/// an empty one), the built-in dissector is disabled as in the other tshark tests.
fn tshark_profile(profile: &str, args: &[&str]) -> (String, String) {
    let mut all = vec![
        "-C",
        profile,
        "--disable-protocol",
        "tplink-smarthome",
        "-o",
        "tcp.reassemble_out_of_order:TRUE",
    ];
    all.extend_from_slice(args);
    let out = common::tshark_in_home(common::no_plugins(), home(), &all, &[]);
    assert!(
        out.status.success(),
        "tshark -C {profile} {args:?}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Problems (expert names without `kasa.`) that the "Kasa malformed" rule is for.
const MALFORMED: &[&str] = &[
    "malformed.length",
    "malformed.json",
    "malformed.utf8",
    "truncated",
    "decrypt_failed",
    "klap.malformed",
    "linkie.malformed",
    "tdp.crc.bad",
    "tdp.size.bad",
    "internal_error",
];
const UNDECRYPTED: &[&str] = &[
    "klap.no_credentials",
    "klap.no_handshake",
    "aes.no_key",
    "cloud.unknown",
];

/// The colouring rule an expected message calls for (the profile's order, first match).
fn rule_for(m: &Value) -> &'static str {
    let problems: Vec<&str> = m["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("expert").and_then(Value::as_str).or(p.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let has = |set: &[&str]| problems.iter().any(|p| set.contains(p));
    let request = m["direction"] == "request";
    let methods = m["method"].as_array().map_or(0, Vec::len);
    let answered = m["response_in"].as_array().is_some_and(|a| !a.is_empty());
    let error = m["err_code"]
        .as_array()
        .is_some_and(|a| a.iter().any(|e| e.as_i64().is_some_and(|e| e != 0)));
    if has(MALFORMED) {
        "Kasa malformed"
    } else if error {
        "Kasa error"
    } else if request && methods > 0 && !answered {
        "Kasa unanswered request"
    } else if has(UNDECRYPTED) {
        "Kasa undecrypted"
    } else if request {
        "Kasa request"
    } else {
        "Kasa response"
    }
}

fn joined(v: &Value, key: &str) -> String {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| !x.is_null())
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The column titles and each packet's cells of tshark's `-T psml` output.
fn parse_psml(xml: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let sections = |block: &str| -> Vec<String> {
        block
            .split("<section>")
            .skip(1)
            .map(|s| unescape_xml(s.split("</section>").next().unwrap_or("")))
            .collect()
    };
    let structure = xml
        .split("<structure>")
        .nth(1)
        .and_then(|s| s.split("</structure>").next())
        .expect("a PSML structure");
    let packets = xml
        .split("<packet>")
        .skip(1)
        .map(|p| sections(p.split("</packet>").next().unwrap_or("")))
        .collect();
    (sections(structure), packets)
}

fn unescape_xml(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Checks one fixture; returns the differences and how many frames were judged.
fn check_fixture(stem: &str, columns: bool) -> (Vec<String>, usize) {
    let capture = ["pcapng", "pcap"]
        .iter()
        .map(|e| repo(&format!("{stem}.{e}")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{stem}: no capture"));
    let expected: Value =
        serde_json::from_slice(&std::fs::read(repo(&format!("{stem}.expected.json"))).unwrap())
            .unwrap();
    let staged = common::stage(&capture);
    let extra = common::tshark_args_for(&common::fixture_args(&expected));
    let staged_s = staged.to_str().unwrap();
    let run = |tail: &[&str]| {
        let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
        args.extend(["-2", "-r", staged_s]);
        args.extend_from_slice(tail);
        tshark_profile("Kasa", &args)
    };
    let mut failures = Vec::new();
    // The colouring rule each frame got.
    let (stdout, stderr) = run(&[
        "--color",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "frame.coloring_rule.name",
    ]);
    if !stderr.trim().is_empty() {
        failures.push(format!("{stem}: tshark -C Kasa complains: {stderr}"));
    }
    let mut rows: BTreeMap<u64, Vec<String>> = stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_owned).collect();
            let rule = f.get(1).cloned().unwrap_or_default();
            Some((f[0].parse().ok()?, vec![f[0].clone(), rule]))
        })
        .collect();
    // The profile's columns, by title, from the packet summary (PSML: custom columns are no
    // -e fields from Wireshark 4.2 on).
    if columns {
        let (psml, stderr) = run(&["-T", "psml"]);
        if !stderr.trim().is_empty() {
            failures.push(format!(
                "{stem}: tshark -C Kasa -T psml complains: {stderr}"
            ));
        }
        let (titles, packets) = parse_psml(&psml);
        let col = |t: &str| {
            titles
                .iter()
                .position(|x| x == t)
                .unwrap_or_else(|| panic!("no column {t:?} in {titles:?}"))
        };
        let (no, device, alias, method, err) = (
            col("No."),
            col("Device"),
            col("Alias"),
            col("Method"),
            col("err_code"),
        );
        for p in packets {
            if let Some(row) = p[no].parse().ok().and_then(|n: u64| rows.get_mut(&n)) {
                row.extend([&p[device], &p[alias], &p[method], &p[err]].map(String::clone));
            }
        }
    }
    let messages = common::expected::shown_messages(&expected);
    let mut per_frame: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for m in &messages {
        per_frame
            .entry(m["frame"].as_u64().unwrap())
            .or_default()
            .push(m);
    }
    let mut judged = 0;
    for (frame, ms) in per_frame {
        if ms.len() != 1 {
            continue;
        }
        let m = ms[0];
        let Some(row) = rows.get(&frame) else {
            failures.push(format!("{stem}: frame {frame} not in tshark's output"));
            continue;
        };
        let cell = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
        judged += 1;
        let want_rule = rule_for(m);
        if cell(1) != want_rule {
            failures.push(format!(
                "{stem}: frame {frame}: colouring rule {:?}, want {want_rule:?}",
                cell(1)
            ));
        }
        if !columns {
            continue;
        }
        let device = m.get("device").filter(|d| d.is_object());
        let want_device = device.and_then(|d| d["model"].as_str()).unwrap_or("");
        let want_alias = device.and_then(|d| d["alias"].as_str()).unwrap_or("");
        for (i, name, want) in [
            (2, "Device", want_device.to_owned()),
            (3, "Alias", want_alias.to_owned()),
            (4, "Method", joined(m, "method")),
            (5, "err_code", joined(m, "err_code")),
        ] {
            if cell(i) != want {
                failures.push(format!(
                    "{stem}: frame {frame}: column {name} {:?}, want {want:?}",
                    cell(i)
                ));
            }
        }
    }
    (failures, judged)
}

#[test]
fn columns_and_colours_on_the_hs110_recording() {
    let (failures, judged) = check_fixture("fixtures/recorded/hs110-kasa", true);
    // 20 messages, each completing in its own frame.
    assert_eq!(judged, 20, "frames judged");
    common::assert_no_differences(&failures);
}

#[test]
fn colours_on_errors_malformed_and_unanswered() {
    // Not the fixtures Wireshark's TCP layer frames differently (tests/tshark.rs,
    // KNOWN_FRAMING_GAPS): their frames are not the expected file's.
    let stems = [
        "fixtures/synthetic/err_code",
        "fixtures/synthetic/garbage_9999",
        "fixtures/synthetic/invalid_utf8",
        "fixtures/synthetic/tcp_wrong_length",
        "fixtures/synthetic/tdp_p110",
        "fixtures/synthetic/klap_anonymised",
        "fixtures/recorded/tdp-discovery",
        "fixtures/recorded/hs100-node",
    ];
    let mut failures = Vec::new();
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for stem in stems {
        let (f, _) = check_fixture(stem, false);
        failures.extend(f);
        let expected: Value =
            serde_json::from_slice(&std::fs::read(repo(&format!("{stem}.expected.json"))).unwrap())
                .unwrap();
        for m in common::expected::shown_messages(&expected) {
            *rules.entry(rule_for(&m)).or_default() += 1;
        }
    }
    common::assert_no_differences(&failures);
    // Every Kasa rule of the profile was exercised by some frame.
    for rule in [
        "Kasa malformed",
        "Kasa error",
        "Kasa unanswered request",
        "Kasa undecrypted",
        "Kasa request",
        "Kasa response",
    ] {
        assert!(rules.get(rule).is_some_and(|&n| n > 0), "{rule}: no frame");
    }
}

/// The profile's stderr check can fail: a copy whose error rule names a field that does not
/// exist makes tshark report it.
#[test]
fn a_broken_colour_rule_is_reported() {
    let profiles = home().join(".config/wireshark/profiles");
    let broken = profiles.join("KasaBroken");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["preferences", "colorfilters", "dfilter_buttons"] {
        let text = std::fs::read_to_string(profiles.join("Kasa").join(f)).unwrap();
        let text = if f == "colorfilters" {
            assert!(text.contains("kasa.err_code < 0"));
            text.replacen("kasa.err_code < 0", "kasa.err_kode < 0", 1)
        } else {
            text
        };
        std::fs::write(broken.join(f), text).unwrap();
    }
    give_to_nobody(&broken);
    let capture = common::stage(&repo("fixtures/recorded/hs110-kasa.pcapng"));
    let (_, stderr) = tshark_profile("KasaBroken", &["--color", "-r", capture.to_str().unwrap()]);
    assert!(
        stderr.contains("Kasa error") && stderr.contains("kasa.err_kode"),
        "tshark did not report the broken rule: {stderr:?}"
    );
}

/// Each filter button (`"enabled","label","expression","comment"`, UAT quoting with `\xHH`)
/// is a display filter tshark compiles with the plugin.
#[test]
fn filter_buttons_compile() {
    let text = std::fs::read_to_string(repo("profile/Kasa/dfilter_buttons")).unwrap();
    let capture = common::stage(&repo("fixtures/recorded/hs110-kasa.pcapng"));
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let fields: Vec<String> = line
            .trim()
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("not a quoted UAT line: {line}"))
            .split("\",\"")
            .map(unquote)
            .collect();
        assert_eq!(fields.len(), 4, "{line}");
        assert_eq!(fields[0], "TRUE", "{line}");
        let (_, stderr) =
            tshark_profile("Kasa", &["-r", capture.to_str().unwrap(), "-Y", &fields[2]]);
        assert!(stderr.trim().is_empty(), "{}: {stderr}", fields[2]);
        n += 1;
    }
    assert!(n >= 4, "only {n} filter buttons");
}

fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = &rest[i + 2..i + 4];
        out.push(u8::from_str_radix(hex, 16).unwrap() as char);
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    out
}
