//! The tree of a first-class dissector (issue 13, point 1), held to independent sources: the
//! recorded captures' expected files (the peers' logs) and the inputs of the captures built
//! here.
//!
//! * One subtree per method: each `kasa.method` item carries its own `kasa.err_code`,
//!   `kasa.err_msg` and, for the method whose result they are read from (`system.get_sysinfo`),
//!   the device fields.

mod common;

use common::{kasa_decode_ok, list, text};

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn expected(name: &str) -> Value {
    let p = fixture(&format!("{name}.expected.json"));
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// `tshark -2 -T json -J "frame kasa"` on a capture: the kasa layers (not flattened) by frame.
fn kasa_layers(capture: &Path, extra: &[&str]) -> BTreeMap<u64, Vec<Value>> {
    let out = common::tshark_kasa_json(capture, extra, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_frame = BTreeMap::new();
    for f in frames.as_array().unwrap() {
        let layers = &f["_source"]["layers"];
        let n: u64 = layers["frame"]["frame.number"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let k: Vec<Value> = list(layers.get("kasa")).into_iter().cloned().collect();
        if !k.is_empty() {
            by_frame.insert(n, k);
        }
    }
    by_frame
}

const DEVICE_KEYS: [(&str, &str); 7] = [
    ("model", "kasa.device.model"),
    ("alias", "kasa.device.alias"),
    ("mac", "kasa.device.mac"),
    ("id", "kasa.device.id"),
    ("sw_ver", "kasa.device.sw_ver"),
    ("hw_ver", "kasa.device.hw_ver"),
    ("type", "kasa.device.type"),
];

/// Every message of a recorded capture: its methods, each with its own subtree holding its
/// err_code and err_msg from the peer's log, and the device fields only under
/// `system.get_sysinfo`.
fn check_method_subtrees(name: &str) -> usize {
    let want = expected(name);
    let got = kasa_layers(&fixture(&format!("{name}.pcapng")), &[]);
    let mut multi = 0;
    for m in want["messages"].as_array().unwrap() {
        let frame = m["frame"].as_u64().unwrap();
        let methods: Vec<String> = list(m.get("method")).into_iter().map(text).collect();
        if methods.is_empty() {
            continue;
        }
        let layers = &got[&frame];
        // The message's layer: the one whose methods are these (one message per frame here).
        let k = layers
            .iter()
            .find(|k| {
                list(k.get("kasa.method"))
                    .into_iter()
                    .map(text)
                    .collect::<Vec<_>>()
                    == methods
            })
            .unwrap_or_else(|| panic!("{name} frame {frame}: methods {methods:?} in {layers:?}"));
        let trees = list(k.get("kasa.method_tree"));
        let codes = list(m.get("err_code"));
        let msgs = list(m.get("err_msg"));
        let response = m["direction"] == "response";
        if response {
            assert_eq!(
                trees.len(),
                methods.len(),
                "{name} frame {frame}: one subtree per method"
            );
        }
        assert!(
            k.get("kasa.err_code").is_none() && k.get("kasa.err_msg").is_none(),
            "{name} frame {frame}: no result outside its method's subtree: {k}"
        );
        for (i, t) in trees.iter().enumerate() {
            let code = codes.get(i).copied().filter(|c| !c.is_null());
            assert_eq!(
                t.get("kasa.err_code").map(text),
                code.map(text),
                "{name} frame {frame} method {}",
                methods[i]
            );
            let msg = msgs.get(i).copied().filter(|c| !c.is_null());
            assert_eq!(
                t.get("kasa.err_msg").map(text),
                msg.map(text),
                "{name} frame {frame} method {}",
                methods[i]
            );
            let device = m.get("device").filter(|d| d.is_object());
            let own = device.is_some_and(|d| d["generated"] != Value::Bool(true))
                && methods[i] == "system.get_sysinfo";
            for (key, field) in DEVICE_KEYS {
                let want = own
                    .then(|| device.and_then(|d| d.get(key)).filter(|v| !v.is_null()))
                    .flatten()
                    .map(text);
                assert_eq!(
                    t.get(field).map(text),
                    want,
                    "{name} frame {frame} method {}: {field}",
                    methods[i]
                );
            }
        }
        if trees.len() >= 3 {
            multi += 1;
        }
    }
    multi
}

#[test]
fn one_subtree_per_method() {
    // hs100-node: four methods per answer, the first one failing ("module not support").
    assert!(check_method_subtrees("fixtures/recorded/hs100-node") >= 1);
    // hs110-kasa: fourteen methods per answer, two failing ("member not support").
    assert!(check_method_subtrees("fixtures/recorded/hs110-kasa") >= 1);
}

/// One `<proto>` or `<field>` line of tshark's PDML: its attributes, unescaped.
#[derive(Debug, Clone)]
struct Pdml {
    indent: usize,
    tag: String,
    attrs: BTreeMap<String, String>,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// PDML by frame number: each frame's `<proto>`/`<field>` lines in order.
fn pdml(capture: &Path, extra: &[&str]) -> BTreeMap<u64, Vec<Pdml>> {
    let staged = common::stage(capture);
    let mut args = vec!["-r", staged.to_str().unwrap(), "-2", "-T", "pdml"];
    args.extend_from_slice(extra);
    let out = common::tshark(&args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut frames: BTreeMap<u64, Vec<Pdml>> = BTreeMap::new();
    let mut packet: Vec<Pdml> = Vec::new();
    let mut current = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.trim_start().starts_with("</packet>") {
            frames.insert(current, std::mem::take(&mut packet));
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix('<') else {
            continue;
        };
        let tag: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
        if tag != "proto" && tag != "field" {
            continue;
        }
        let mut attrs = BTreeMap::new();
        let mut s = &rest[tag.len()..];
        while let Some(eq) = s.find("=\"") {
            let name = s[..eq].trim().to_owned();
            let after = &s[eq + 2..];
            let Some(end) = after.find('"') else { break };
            attrs.insert(name, unescape(&after[..end]));
            s = &after[end + 1..];
        }
        if attrs.get("name").map(String::as_str) == Some("frame.number") {
            current = attrs["show"].parse().unwrap();
        }
        packet.push(Pdml { indent, tag, attrs });
    }
    frames
}

/// The words for each transport (issue 13: plain English, not the filter values).
fn transport_words(t: &str) -> &'static str {
    match t {
        "xor-tcp" => "XOR over TCP",
        "xor-udp" => "XOR over UDP",
        "tdp" => "TDP discovery",
        "klap" => "KLAP over HTTP",
        "aes" => "AES over HTTP(S)",
        other => panic!("no words for transport {other}"),
    }
}

/// A label as epan shows it: at most 239 bytes (ITEM_LABEL_LENGTH), cut at a character.
fn label_matches(shown: &str, want: &str) -> bool {
    // A label longer than epan's limit (240 bytes) is cut: at the limit on 4.0; from 4.4 on
    // also marked, `[…] ` in front (and an ellipsis at the end where it fits).
    let cut = shown.strip_prefix("[…] ").unwrap_or(shown);
    let cut = cut.trim_end_matches('…').trim_end();
    shown == want || (cut.len() >= 200 && want.starts_with(cut))
}

/// The layer's title says what the frame is and how it travelled; direction, transport and
/// the two links are labelled in words (the filter values stay `xor-tcp`, `1`, frame numbers).
/// Everything from the peer's log (expected file): transport, direction, Info, links.
#[test]
fn titles_and_labels_in_words() {
    for name in [
        "fixtures/recorded/hs110-kasa",
        "fixtures/recorded/hs100-node",
        "fixtures/synthetic/udp_discovery_multi",
    ] {
        let want = expected(name);
        let messages = common::expected::shown_messages(&want);
        let ext = if fixture(&format!("{name}.pcapng")).exists() {
            "pcapng"
        } else {
            "pcap"
        };
        let got = pdml(&fixture(&format!("{name}.{ext}")), &[]);
        let mut checked = 0;
        for m in &messages {
            let frame = m["frame"].as_u64().unwrap();
            let Some(info) = m.get("info").and_then(Value::as_str) else {
                continue;
            };
            let transport = m["transport"].as_str().unwrap();
            let lines = &got[&frame];
            let title = format!(
                "TP-Link Kasa Smart Home ({}), {info}",
                transport_words(transport)
            );
            let i = lines
                .iter()
                .position(|l| {
                    l.tag == "proto"
                        && l.attrs["name"] == "kasa"
                        && label_matches(&l.attrs["showname"], &title)
                })
                .unwrap_or_else(|| panic!("{name} frame {frame}: no layer titled {title:?}"));
            // The fields of that layer: deeper than it, until the next line at its depth.
            let depth = lines[i].indent;
            let fields: Vec<&Pdml> = lines[i + 1..]
                .iter()
                .take_while(|l| l.indent > depth)
                .collect();
            let field = |n: &str| fields.iter().find(|l| l.attrs["name"] == n);
            let t = field("kasa.transport").expect("kasa.transport");
            assert_eq!(t.attrs["show"], transport, "{name} frame {frame}");
            assert_eq!(
                t.attrs["showname"],
                format!("Transport: {}", transport_words(transport)),
                "{name} frame {frame}"
            );
            let (key, words) = if m["direction"] == "request" {
                ("kasa.request", "Direction: Request (to the device)")
            } else {
                ("kasa.response", "Direction: Response (from the device)")
            };
            let d = field(key).unwrap_or_else(|| panic!("{name} frame {frame}: {key}"));
            assert_eq!(d.attrs["showname"], words, "{name} frame {frame}");
            let frame_of = |i: &Value| messages[i.as_u64().unwrap() as usize]["frame"].clone();
            if let Some(to) = m.get("response_to").filter(|v| !v.is_null()) {
                let f = field("kasa.response_to").expect("kasa.response_to");
                assert_eq!(
                    f.attrs["showname"],
                    format!("Request in frame: {}", frame_of(to)),
                    "{name} frame {frame}"
                );
            }
            for to in list(m.get("response_in")) {
                let shown: Vec<&String> = fields
                    .iter()
                    .filter(|l| l.attrs["name"] == "kasa.response_in")
                    .map(|l| &l.attrs["showname"])
                    .collect();
                let want = format!("Response in frame: {}", frame_of(to));
                assert!(shown.contains(&&want), "{name} frame {frame}: {shown:?}");
            }
            checked += 1;
        }
        assert!(checked >= 2, "{name}: {checked} messages checked");
    }
}

/// The JSON tree is part of the message: inside the Kasa layer, never beside it.
#[test]
fn the_json_tree_is_inside_the_kasa_layer() {
    let name = "fixtures/recorded/hs110-kasa";
    let want = expected(name);
    let got = pdml(&fixture(&format!("{name}.pcapng")), &[]);
    let mut checked = 0;
    for m in want["messages"].as_array().unwrap() {
        let frame = m["frame"].as_u64().unwrap();
        let lines = &got[&frame];
        let kasa = lines
            .iter()
            .position(|l| l.tag == "proto" && l.attrs["name"] == "kasa")
            .unwrap();
        let json = lines
            .iter()
            .position(|l| l.tag == "proto" && l.attrs["name"] == "json")
            .unwrap_or_else(|| panic!("frame {frame}: no JSON tree"));
        assert!(json > kasa, "frame {frame}");
        assert!(
            lines[json].indent > lines[kasa].indent
                && lines[kasa + 1..=json]
                    .iter()
                    .all(|l| l.indent > lines[kasa].indent),
            "frame {frame}: the JSON tree under the Kasa layer"
        );
        // Its keys are the text's (the peer's log).
        let text: Value = serde_json::from_str(m["text"].as_str().unwrap()).unwrap();
        let first_key = text.as_object().unwrap().keys().next().unwrap().clone();
        assert!(
            lines[json..]
                .iter()
                .any(|l| l.attrs["name"] == "json.key" && l.attrs["show"] == first_key),
            "frame {frame}: key {first_key}"
        );
        checked += 1;
    }
    assert!(checked >= 10);
}

/// A PDU that is no message (a length header above the cap): the layer's title still says what
/// it is, with its transport. The frames from the generator's input (`orphan_problems`).
#[test]
fn a_malformed_pdu_has_a_title() {
    let name = "fixtures/synthetic/tcp_oversized_length";
    let want = expected(name);
    let got = pdml(&fixture(&format!("{name}.pcap")), &[]);
    let orphans = want["orphan_problems"].as_array().unwrap();
    assert!(!orphans.is_empty());
    for o in orphans {
        assert_eq!(o["problem"], "malformed.length");
        let frame = o["frame"].as_u64().unwrap();
        let titles: Vec<&String> = got[&frame]
            .iter()
            .filter(|l| l.tag == "proto" && l.attrs["name"] == "kasa")
            .map(|l| &l.attrs["showname"])
            .collect();
        assert!(
            titles.iter().any(|t| t
                .starts_with("TP-Link Kasa Smart Home (XOR over TCP), Malformed: length header ")),
            "frame {frame}: {titles:?}"
        );
    }
}

/// What one front end shows of a message: methods, links, copy-of.
#[derive(Debug, Default, PartialEq)]
struct Linked {
    methods: Vec<String>,
    response_to: Option<u64>,
    response_in: Vec<u64>,
    duplicate_of: Option<u64>,
    copy_expert: bool,
}

/// A capture in which every frame appears twice (fixtures/dup/duplicate.py over the recorded
/// hs300-node capture: frame n becomes frames 2n-1 and 2n, 10 µs apart). From the recording's
/// expected file (the peers' logs): every message at its original's frame, each request paired
/// once with its response's original; each UDP copy flagged as a copy of the original (not
/// paired); the TCP copies are retransmissions that reassembly drops. Both front ends.
#[test]
fn every_datagram_twice_pairs_once_and_flags_the_copies() {
    let want = expected("fixtures/recorded/hs300-node");
    let messages = common::expected::shown_messages(&want);
    let orig = |f: u64| 2 * f - 1;
    let frame_of = |i: &Value| {
        orig(
            messages[i.as_u64().unwrap() as usize]["frame"]
                .as_u64()
                .unwrap(),
        )
    };
    let mut wanted: BTreeMap<u64, Linked> = BTreeMap::new();
    let mut udp = 0;
    for m in &messages {
        let f = m["frame"].as_u64().unwrap();
        let methods: Vec<String> = list(m.get("method")).into_iter().map(text).collect();
        wanted.insert(
            orig(f),
            Linked {
                methods: methods.clone(),
                response_to: m.get("response_to").filter(|v| !v.is_null()).map(frame_of),
                response_in: list(m.get("response_in"))
                    .into_iter()
                    .map(frame_of)
                    .collect(),
                duplicate_of: None,
                copy_expert: false,
            },
        );
        if m["transport"] == "xor-udp" {
            udp += 1;
            wanted.insert(
                orig(f) + 1,
                Linked {
                    methods,
                    duplicate_of: Some(orig(f)),
                    copy_expert: true,
                    ..Linked::default()
                },
            );
        }
    }
    assert!(udp >= 4, "{udp} datagrams");
    let capture = fixture("fixtures/dup/hs300-node.doubled.pcap");

    // tshark with the plugin.
    let got: BTreeMap<u64, Linked> = kasa_layers(&capture, &[])
        .into_iter()
        .map(|(frame, layers)| {
            assert_eq!(layers.len(), 1, "frame {frame}: one message");
            let k = common::flatten(&layers[0]);
            let num = |v: &Value| text(v).parse::<u64>().unwrap();
            let experts: Vec<String> = list(k.get("_ws.expert"))
                .iter()
                .flat_map(|e| e.as_object().into_iter().flat_map(|o| o.keys().cloned()))
                .collect();
            (
                frame,
                Linked {
                    methods: list(k.get("kasa.method")).into_iter().map(text).collect(),
                    response_to: k.get("kasa.response_to").map(num),
                    response_in: list(k.get("kasa.response_in"))
                        .into_iter()
                        .map(num)
                        .collect(),
                    duplicate_of: k.get("kasa.duplicate").map(num),
                    copy_expert: experts.iter().any(|e| e == "kasa.duplicate.copy"),
                },
            )
        })
        .collect();
    assert_eq!(got, wanted, "tshark");

    // kasa-decode --json: links on the response only (`response_to`), `duplicate_of` on a copy.
    let out = kasa_decode_ok([Path::new("--json"), capture.as_path()]);
    let mut cli: BTreeMap<u64, Linked> = BTreeMap::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "message" {
            continue;
        }
        let d = &v["data"];
        cli.insert(
            d["frame"].as_u64().unwrap(),
            Linked {
                methods: list(d.get("method")).into_iter().map(text).collect(),
                response_to: d["response_to"].as_u64(),
                response_in: Vec::new(),
                duplicate_of: d.get("duplicate_of").and_then(Value::as_u64),
                copy_expert: d.get("duplicate_of").is_some(),
            },
        );
    }
    for (f, w) in wanted.iter_mut() {
        w.response_in.clear();
        assert_eq!(cli.get(f), Some(&*w), "kasa-decode frame {f}");
    }
    assert_eq!(cli.len(), wanted.len(), "kasa-decode: {cli:?}");
}

/// HTTP sent to port 9999 (the generator's `garbage_9999`: a scanner's `GET /` on a connection
/// of its own, queued as another protocol's bytes, so its expected file lists nothing for it) is
/// not claimed: Wireshark's HTTP gets it. The other junk connection stays the plugin's.
#[test]
fn http_to_9999_is_left_to_http() {
    let name = "fixtures/synthetic/garbage_9999";
    let want = expected(name);
    let staged = common::stage(&fixture(&format!("{name}.pcap")));
    let out = common::tshark(
        &[
            "-r",
            staged.to_str().unwrap(),
            "-2",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.protocols",
            "-e",
            "http.request.method",
        ],
        &[],
    );
    assert!(out.status.success());
    let rows: BTreeMap<u64, (String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            let n = f.next().unwrap().parse().unwrap();
            let p = f.next().unwrap_or("").to_owned();
            let m = f.next().unwrap_or("").to_owned();
            (n, (p, m))
        })
        .collect();
    let http: Vec<(&u64, &(String, String))> = rows
        .iter()
        .filter(|(_, (p, _))| p.contains("http"))
        .collect();
    assert_eq!(http.len(), 1, "one HTTP request: {http:?}");
    let (frame, (protocols, method)) = http[0];
    assert_eq!(method, "GET");
    assert!(!protocols.contains("kasa"), "{protocols}");
    // Nothing of the plugin's on that frame, as the generator says.
    let listed = |key: &str| {
        list(want.get(key))
            .into_iter()
            .any(|m| m["frame"].as_u64() == Some(*frame))
    };
    assert!(!listed("messages") && !listed("orphan_problems"));
    // The random bytes on the other connection are still flagged by the plugin.
    for o in list(want.get("orphan_problems")) {
        let f = o["frame"].as_u64().unwrap();
        assert!(rows[&f].0.ends_with("kasa"), "frame {f}: {:?}", rows[&f]);
    }
}

/// Bytes that decrypt to neither JSON nor text (the generator's random datagrams to UDP 9999,
/// `garbage_9999` and `adv_udp_64k`; their expected files say `Malformed: neither JSON nor
/// text`): one Kasa layer titled so, the datagram shown as data (`kasa.data`) with the expert
/// infos, no plaintext, and nothing after the Kasa layer (no JSON, no text layer).
#[test]
fn undecodable_bytes_are_shown_once_as_data() {
    let mut checked = 0;
    for (name, ext) in [
        ("fixtures/synthetic/garbage_9999", "pcap"),
        ("fixtures/adversarial/adv_udp_64k", "pcap"),
    ] {
        let want = expected(name);
        let capture = fixture(&format!("{name}.{ext}"));
        let got = pdml(&capture, &[]);
        for m in want["messages"].as_array().unwrap() {
            if m["info"] != "Malformed: neither JSON nor text" {
                continue;
            }
            let frame = m["frame"].as_u64().unwrap();
            let lines = &got[&frame];
            let field = |n: &str| lines.iter().find(|l| l.attrs["name"] == n);
            let protocols = &field("frame.protocols").unwrap().attrs["show"];
            assert!(
                protocols.ends_with(":udp:kasa"),
                "{name} frame {frame}: nothing after the Kasa layer: {protocols}"
            );
            let top = |p: &str| {
                lines
                    .iter()
                    .filter(|l| l.tag == "proto" && l.attrs["name"] == p)
                    .count()
            };
            assert_eq!(
                (top("kasa"), top("json"), top("data-text-lines")),
                (1, 0, 0)
            );
            assert_eq!(
                field("kasa").unwrap().attrs["showname"],
                "TP-Link Kasa Smart Home (XOR over UDP), Malformed: neither JSON nor text"
            );
            assert!(field("kasa.plaintext").is_none(), "{name} frame {frame}");
            let data = field("kasa.data").expect("kasa.data");
            let udp_len: usize = field("udp.length").unwrap().attrs["show"].parse().unwrap();
            assert_eq!(data.attrs["size"].parse::<usize>().unwrap(), udp_len - 8);
            for p in list(m.get("problems")) {
                let expert = format!("kasa.{}", p.as_str().unwrap());
                assert!(
                    lines.iter().any(|l| l.attrs["name"] == expert),
                    "{name} frame {frame}: expert {expert}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

/// The xor-udp block of a statistics tree (`kasa-decode --stats`, `tshark -z kasa,tree`): the
/// transport's message count, and the sums of its methods' `requests` and `unanswered` rows.
fn udp_block(out: &str) -> (u64, u64, u64) {
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("xor-udp "))
        .unwrap_or_else(|| panic!("no xor-udp row in {out}"));
    let depth = |l: &str| l.len() - l.trim_start().len();
    let count = |l: &str| -> u64 { l.split_whitespace().nth(1).unwrap().parse().unwrap() };
    let (mut requests, mut unanswered) = (0, 0);
    for l in lines[start + 1..]
        .iter()
        .take_while(|l| depth(l) > depth(lines[start]) && !l.trim().is_empty())
    {
        match l.split_whitespace().next() {
            Some("requests") => requests += count(l),
            Some("unanswered") => unanswered += count(l),
            _ => {}
        }
    }
    (count(lines[start]), requests, unanswered)
}

/// The copies are not counted in the statistics of either front end: the doubled capture's
/// xor-udp rows are the recording's (its expected file: messages, requests, none unanswered).
#[test]
fn copies_are_not_counted_in_the_statistics() {
    let want = expected("fixtures/recorded/hs300-node");
    let udp: Vec<&Value> = want["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["transport"] == "xor-udp")
        .collect();
    let requests = udp.iter().filter(|m| m["direction"] == "request");
    let unanswered = requests
        .clone()
        .filter(|m| list(m.get("response_in")).is_empty())
        .count() as u64;
    let expected = (udp.len() as u64, requests.count() as u64, unanswered);
    let capture = fixture("fixtures/dup/hs300-node.doubled.pcap");
    let cli = kasa_decode_ok([Path::new("--stats"), capture.as_path()]);
    assert_eq!(udp_block(&cli), expected, "kasa-decode");
    let staged = common::stage(&capture);
    let ts = common::tshark(
        &["-r", staged.to_str().unwrap(), "-q", "-z", "kasa,tree"],
        &[],
    );
    assert!(ts.status.success());
    assert_eq!(
        udp_block(&String::from_utf8_lossy(&ts.stdout)),
        expected,
        "tshark"
    );
}
