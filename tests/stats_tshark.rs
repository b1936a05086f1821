//! The statistics (issue 13): `tshark -z kasa,tree` with the plugin and `kasa-decode --stats`
//! on the recorded HS110 capture, both held to the exchanges its expected file lists (the
//! recorder's texts, directions, method lists, error codes, links and response times; see
//! fixtures/record/README.md), never to each other's output.
//!
//! From the expected file: per method (each method of a message counts once), the requests,
//! responses, errors (an error code present and not 0), unanswered requests (no `response_in`),
//! and the paired responses' times (count, mean, minimum, maximum); per device and transport the
//! messages; the device's label from its `get_sysinfo` answer (model, alias) and its XOR port.

mod common;

use common::kasa_decode_ok;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FIXTURE: &str = "fixtures/recorded/hs110-kasa";

/// One line of a printed tree: its count and, for a response time, average, minimum and
/// maximum (milliseconds).
#[derive(Debug, Default, Clone, PartialEq)]
struct Row {
    count: u64,
    times: Option<(f64, f64, f64)>,
}

/// Rows by path (device, transport, method, count name).
type Table = BTreeMap<Vec<String>, Row>;

#[derive(Debug, Default)]
struct MethodWant {
    requests: u64,
    responses: u64,
    errors: u64,
    unanswered: u64,
    times: Vec<f64>,
}

struct Want {
    model: String,
    alias: String,
    messages: u64,
    /// Transport → (messages, method → counts).
    transports: BTreeMap<String, (u64, BTreeMap<String, MethodWant>)>,
}

fn expected(fixture: &str) -> Want {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{fixture}.expected.json"));
    let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut want = Want {
        model: String::new(),
        alias: String::new(),
        messages: 0,
        transports: BTreeMap::new(),
    };
    // As both front ends show them: an HTTP response without a body is never handed over (its
    // request is then unanswered).
    for m in &common::expected::shown_messages(&json) {
        if let Some(d) = m.get("device").filter(|d| d.is_object()) {
            want.model = d["model"].as_str().unwrap_or_default().to_owned();
            want.alias = d["alias"].as_str().unwrap_or_default().to_owned();
        }
        want.messages += 1;
        let transport = m["transport"].as_str().unwrap().to_owned();
        let (n, methods) = want.transports.entry(transport).or_default();
        *n += 1;
        let request = m["direction"].as_str().unwrap() == "request";
        let answered = m["response_in"].as_array().is_some_and(|a| !a.is_empty());
        // A message without methods (discovery, a handshake) counts as the one pseudo-method.
        let mut names: Vec<&str> = m["method"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        if names.is_empty() {
            names.push("(no method)");
        }
        for (i, name) in names.into_iter().enumerate() {
            let w = methods.entry(name.to_owned()).or_default();
            if request {
                w.requests += 1;
                if !answered {
                    w.unanswered += 1;
                }
            } else {
                w.responses += 1;
                if m["err_code"][i].as_i64().is_some_and(|c| c != 0) {
                    w.errors += 1;
                }
                if let Some(t) = m["time"].as_f64() {
                    w.times.push(t * 1e3);
                }
            }
        }
    }
    want
}

/// The rows of every device together, by path below the device: counts add up; response times
/// combine (the mean weighted by the counts).
fn all_devices(table: &Table) -> Table {
    let mut sums = Table::new();
    for (key, row) in table {
        let e = sums.entry(key[1..].to_vec()).or_default();
        let before = e.count;
        e.count += row.count;
        if let Some((a, lo, hi)) = row.times {
            e.times = Some(match e.times {
                None => (a, lo, hi),
                Some((sa, slo, shi)) => (
                    (sa * before as f64 + a * row.count as f64) / e.count as f64,
                    slo.min(lo),
                    shi.max(hi),
                ),
            });
        }
    }
    sums.into_iter()
        .map(|(k, row)| {
            let mut key = vec!["all".to_owned()];
            key.extend(k);
            (key, row)
        })
        .collect()
}

/// Holds `table` (whose top node is the one device) to `want`; `avg_tolerance` is how the
/// front end rounds the mean (tshark prints two decimals).
fn check(front: &str, table: &Table, want: &Want, avg_tolerance: f64) -> Vec<String> {
    let mut bad = Vec::new();
    assert!(
        !want.model.is_empty(),
        "the expected file identifies the device"
    );
    let devices: Vec<&String> = table
        .keys()
        .filter(|k| k.len() == 1)
        .map(|k| &k[0])
        .collect();
    let prefix = format!("{} \"{}\" ", want.model, want.alias);
    let [device] = devices[..] else {
        return vec![format!("{front}: one device wanted, found {devices:?}")];
    };
    if !(device.starts_with(&prefix) && device.ends_with(":9999")) {
        bad.push(format!(
            "{front}: device {device:?}, wanted {prefix:?}…:9999"
        ));
    }
    bad.extend(check_rows(front, table, device, want, avg_tolerance));
    bad
}

/// The rows under `device` against `want`, and nothing more.
fn check_rows(
    front: &str,
    table: &Table,
    device: &str,
    want: &Want,
    avg_tolerance: f64,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expect = |path: Vec<&str>, count: u64, times: Option<&[f64]>| {
        let mut key = vec![device.to_owned()];
        key.extend(path.iter().map(|s| s.to_string()));
        let Some(row) = table.get(&key) else {
            bad.push(format!("{front}: no row {key:?}"));
            return;
        };
        if row.count != count {
            bad.push(format!(
                "{front}: {key:?} count {}, wanted {count}",
                row.count
            ));
        }
        if let Some(times) = times {
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            let min = times.iter().copied().fold(f64::INFINITY, f64::min);
            let max = times.iter().copied().fold(0.0, f64::max);
            match row.times {
                Some((a, lo, hi))
                    if (a - mean).abs() <= avg_tolerance
                        && (lo - min).abs() <= 0.001
                        && (hi - max).abs() <= 0.001 => {}
                got => bad.push(format!(
                    "{front}: {key:?} times {got:?}, wanted ({mean:.4}, {min:.4}, {max:.4})"
                )),
            }
        }
    };
    expect(vec![], want.messages, None);
    for (t, (n, methods)) in &want.transports {
        expect(vec![t], *n, None);
        for (m, w) in methods {
            expect(vec![t, m], w.requests + w.responses, None);
            expect(vec![t, m, "requests"], w.requests, None);
            expect(vec![t, m, "responses"], w.responses, None);
            expect(vec![t, m, "errors"], w.errors, None);
            expect(vec![t, m, "unanswered"], w.unanswered, None);
            if !w.times.is_empty() {
                expect(
                    vec![t, m, "response time (ms)"],
                    w.times.len() as u64,
                    Some(&w.times),
                );
            }
        }
    }
    // Nothing else: no method, transport or count the expected file does not have.
    for key in table.keys().filter(|k| k[0] == device) {
        let known = match key.len() {
            1 => true,
            2 => want.transports.contains_key(&key[1]),
            3 | 4 => want
                .transports
                .get(&key[1])
                .is_some_and(|(_, m)| m.contains_key(&key[2])),
            _ => false,
        };
        let count_names = [
            "requests",
            "responses",
            "errors",
            "unanswered",
            "response time (ms)",
        ];
        if !known || (key.len() == 4 && !count_names.contains(&key[3].as_str())) {
            bad.push(format!("{front}: unexpected row {key:?}"));
        }
    }
    bad
}

/// Rows of an indented tree: `indent` spaces per level; `fields(line)` gives the name (without
/// its indentation) and the row.
fn parse_tree(lines: &[&str], indent: usize, fields: impl Fn(&str) -> (String, Row)) -> Table {
    let mut table = Table::new();
    let mut path: Vec<String> = Vec::new();
    for line in lines {
        let depth = (line.len() - line.trim_start().len()) / indent;
        let (name, row) = fields(line);
        path.truncate(depth);
        path.push(name);
        table.insert(path.clone(), row);
    }
    table
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// tshark's stats tree text: a header line names the columns; a column's text starts where its
/// header does.
fn parse_tshark(out: &str) -> Table {
    let lines: Vec<&str> = out.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("Topic / Item"))
        .expect("the tree's header");
    let header = lines[head];
    let col = |name: &str| header.find(name).expect(name);
    let (count, avg, min, max, rate) = (
        col("Count"),
        col("Average"),
        col("Min Val"),
        col("Max Val"),
        col("Rate"),
    );
    let body: Vec<&str> = lines[head + 1..]
        .iter()
        .copied()
        .filter(|l| !l.starts_with('-') && !l.starts_with('=') && !l.trim().is_empty())
        .collect();
    let cut =
        |l: &str, a: usize, b: usize| l.get(a..b.min(l.len())).unwrap_or("").trim().to_owned();
    parse_tree(&body, 1, |l| {
        let name = cut(l, 0, count);
        let row = Row {
            count: cut(l, count, avg).parse().unwrap_or(u64::MAX),
            times: match (
                number(&cut(l, avg, min)),
                number(&cut(l, min, max)),
                number(&cut(l, max, rate)),
            ) {
                (Some(a), Some(lo), Some(hi)) => Some((a, lo, hi)),
                _ => None,
            },
        };
        (name, row)
    })
}

/// `kasa-decode --stats`: the title, a header, then rows whose columns are right-aligned after
/// the name (count; for a response time average, minimum and maximum).
fn parse_cli(out: &str) -> Table {
    let lines: Vec<&str> = out.lines().skip(2).collect();
    parse_tree(&lines, 2, |l| {
        // The trailing numbers (count; average, minimum, maximum), then the name before them.
        let mut name = l.trim();
        let mut numbers = Vec::new();
        while let Some((rest, last)) = name.rsplit_once(' ') {
            let Some(n) = number(last) else { break };
            numbers.insert(0, n);
            name = rest.trim_end();
        }
        let row = Row {
            count: numbers.first().map_or(u64::MAX, |c| *c as u64),
            times: (numbers.len() == 4).then(|| (numbers[1], numbers[2], numbers[3])),
        };
        (name.to_owned(), row)
    })
}

fn capture(fixture: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{fixture}.pcapng"))
}

#[test]
fn kasa_decode_stats_match_the_recorded_exchanges() {
    let want = expected(FIXTURE);
    let text = kasa_decode_ok([PathBuf::from("--stats"), capture(FIXTURE)]);
    assert!(text.starts_with("Kasa devices and methods\n"), "{text}");
    let bad = check("kasa-decode", &parse_cli(&text), &want, 0.0006);
    assert!(bad.is_empty(), "{}\n{text}", bad.join("\n"));
}

#[test]
fn tshark_kasa_tree_matches_the_recorded_exchanges() {
    let want = expected(FIXTURE);
    let staged = common::stage(&capture(FIXTURE));
    // One pass and two passes (-2: the tree is fed on the second only): each message once.
    for two_pass in [false, true] {
        let mut args = vec!["-q", "-z", "kasa,tree", "-r", staged.to_str().unwrap()];
        if two_pass {
            args.push("-2");
        }
        let out = common::tshark(&args, &[]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("Kasa/Devices and methods:"), "{text}");
        let bad = check(
            &format!("tshark{}", if two_pass { " -2" } else { "" }),
            &parse_tshark(&text),
            &want,
            0.006,
        );
        assert!(bad.is_empty(), "{}\n{text}", bad.join("\n"));
    }
}

#[test]
fn tshark_lists_the_kasa_tree() {
    let out = common::tshark_raw(&["-z", "help"], &[]);
    // tshark 4.0 prints the list on stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines().any(|l| l.trim() == "kasa,tree"),
        "`tshark -z help` does not list kasa,tree:\n{text}"
    );
}

/// Discovery, KLAP and an XOR probe over UDP, several devices, requests never answered: the
/// counts of all devices together (the expected file does not say which device a message is
/// for), from both front ends.
#[test]
fn both_count_unanswered_requests_and_messages_without_methods() {
    const MIXED: &str = "fixtures/recorded/tdp-discovery";
    let want = expected(MIXED);
    assert!(
        want.transports
            .values()
            .flat_map(|(_, m)| m.values())
            .any(|w| w.unanswered > 0 && w.requests != w.responses),
        "the fixture has unanswered requests"
    );
    // The fixture's secrets (its KLAP account) go to both.
    let json: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{MIXED}.expected.json")),
        )
        .unwrap(),
    )
    .unwrap();
    let args = common::fixture_args(&json);
    let mut cli_args = vec![PathBuf::from("--stats")];
    cli_args.extend(args.iter().map(PathBuf::from));
    cli_args.push(capture(MIXED));
    let cli = kasa_decode_ok(cli_args);
    let staged = common::stage(&capture(MIXED));
    let mut targs = vec!["-q", "-z", "kasa,tree", "-r", staged.to_str().unwrap()];
    let extra = common::tshark_args_for(&args);
    targs.extend(extra.iter().map(String::as_str));
    let out = common::tshark(&targs, &[]);
    assert!(out.status.success());
    let tshark = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut bad = check_rows(
        "kasa-decode",
        &all_devices(&parse_cli(&cli)),
        "all",
        &want,
        0.0006,
    );
    bad.extend(check_rows(
        "tshark",
        &all_devices(&parse_tshark(&tshark)),
        "all",
        &want,
        0.006,
    ));
    assert!(bad.is_empty(), "{}\n{cli}\n{tshark}", bad.join("\n"));
}
