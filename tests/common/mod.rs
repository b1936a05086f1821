//! Harness for the tshark tests: build the cdylib once, install it into a private plugin
//! folder, run tshark there (as uid 65534 when running as root, since tshark ignores
//! `WIRESHARK_PLUGIN_DIR` for root), and read its `-T json` output back as messages.

#![allow(dead_code)]

pub mod expected;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Where the built plugin and the private folders are.
pub struct Env {
    pub so: PathBuf,
    pub root: PathBuf,
    pub plugins: PathBuf,
    pub home: PathBuf,
    pub as_nobody: bool,
}

fn target_dir_and_profile() -> (PathBuf, String) {
    // current_exe = <target>/<profile>/deps/tshark-<hash>
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    (profile_dir.parent().unwrap().to_path_buf(), profile)
}

/// Builds the cdylib (`cargo test` builds only the rlib) and sets up the plugin folder; once.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let (target, profile) = target_dir_and_profile();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--lib", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target);
        if profile == "release" {
            cmd.arg("--release");
        } else if profile != "debug" {
            cmd.args(["--profile", &profile]);
        }
        let st = cmd.status().expect("run cargo build --lib");
        assert!(st.success(), "cargo build --lib failed");
        let so = target.join(&profile).join("libkasa_dissector.so");
        assert!(so.exists(), "{} missing", so.display());

        let root = std::env::temp_dir().join(format!("kasa-tshark-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let plugins = root.join("plugins");
        let epan = plugins
            .join(format!("{}.{}", ws_major(), ws_minor()))
            .join("epan");
        let home = root.join("home");
        std::fs::create_dir_all(&epan).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(root.join("files")).unwrap();
        std::fs::copy(&so, epan.join("kasa.so")).unwrap();
        let as_nobody = is_root();
        chmod_tree(&root);
        if as_nobody {
            std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
        }
        Env {
            so,
            root,
            plugins,
            home,
            as_nobody,
        }
    })
}

pub fn ws_major() -> u32 {
    env!("WS_VERSION_MAJOR").parse().unwrap()
}
pub fn ws_minor() -> u32 {
    env!("WS_VERSION_MINOR").parse().unwrap()
}

pub fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

pub fn chmod_tree(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(p).unwrap();
    let mode = if md.is_dir() { 0o755 } else { 0o644 };
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    if md.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chmod_tree(&e.unwrap().path());
        }
    }
}

/// Copies a capture where uid 65534 can read it.
pub fn stage(capture: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let e = env();
    let name = capture
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(capture)
        .to_string_lossy()
        .replace('/', "_");
    let dst = e.root.join("files").join(&name);
    // Tests run in parallel and stage the same captures: copy under a name of this thread's
    // own, then rename over the shared one (atomic), so a tshark already reading the shared
    // file never sees it truncated and rewritten.
    let tmp = e
        .root
        .join("files")
        .join(format!(".{name}.{:?}", std::thread::current().id()));
    std::fs::copy(capture, &tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::rename(&tmp, &dst).unwrap();
    dst
}

/// Runs tshark with the plugin installed and the built-in dissector disabled (unless `-G`).
pub fn tshark(args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    if args.first().is_some_and(|a| *a == "-G") {
        return tshark_raw(args, extra_env);
    }
    let mut all = vec![
        "--disable-protocol",
        "tplink-smarthome",
        "-o",
        "tcp.reassemble_out_of_order:TRUE",
    ];
    all.extend_from_slice(args);
    tshark_raw(&all, extra_env)
}

/// Runs tshark with the plugin installed and exactly these arguments.
pub fn tshark_raw(args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    tshark_in(&env().plugins, args, extra_env)
}

/// An empty plugin folder (`<root>/no-plugins/4.N/epan`): tshark without the plugin, and without
/// any system plugin, the baseline for "nothing changes".
pub fn no_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = env().root.join("no-plugins");
        let epan = dir
            .join(format!("{}.{}", ws_major(), ws_minor()))
            .join("epan");
        std::fs::create_dir_all(&epan).unwrap();
        chmod_tree(&dir);
        dir
    })
}

/// Runs tshark with `plugins` as `WIRESHARK_PLUGIN_DIR` and exactly these arguments.
pub fn tshark_in(plugins: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    tshark_in_home(plugins, &env().home, args, extra_env)
}

/// Like [`tshark_in`] with `home` as `HOME` (its personal plugin folder and configuration
/// profiles are read; it must be readable, and writable, by uid 65534 when running as root).
pub fn tshark_in_home(
    plugins: &Path,
    home: &Path,
    args: &[&str],
    extra_env: &[(&str, &str)],
) -> Output {
    let e = env();
    let mut cmd = if e.as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"]);
        c
    } else {
        Command::new("env")
    };
    cmd.arg(format!("WIRESHARK_PLUGIN_DIR={}", plugins.display()));
    cmd.arg(format!("HOME={}", home.display()));
    for (k, v) in extra_env {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.arg("tshark");
    cmd.args(args);
    cmd.current_dir(&e.root);
    cmd.output().expect("run tshark")
}

/// Translates a fixture's `kasa-decode` arguments into tshark options.
pub fn tshark_args_for(fixture_args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = fixture_args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                let n = it.next().expect("--port N");
                out.push("-d".into());
                out.push(format!("tcp.port=={n},kasa"));
                out.push("-d".into());
                out.push(format!("udp.port=={n},kasa"));
            }
            "--max-message-size" => {
                let n = it.next().expect("--max-message-size N");
                out.push("-o".into());
                out.push(format!("kasa.max_message_size:{n}"));
            }
            "--no-heuristics" => {
                for h in ["kasa_tcp", "kasa_udp"] {
                    out.push("--disable-heuristic".into());
                    out.push(h.into());
                }
            }
            "--credential" => {
                let (user, password) = split_pair(it.next(), "--credential USER:PASSWORD");
                out.push("-o".into());
                out.push(format!(
                    "uat:kasa_credentials:{},{}",
                    uat_field(user),
                    uat_field(password)
                ));
            }
            "--aes-key" => {
                let (key, iv) = split_pair(it.next(), "--aes-key KEYHEX:IVHEX");
                out.push("-o".into());
                out.push(format!(
                    "uat:kasa_aes_keys:{},{}",
                    uat_field(key),
                    uat_field(iv)
                ));
            }
            "--rsa-key" => {
                let path = it.next().expect("--rsa-key PATH");
                let staged = stage(&repo_path(path));
                out.push("-o".into());
                out.push(format!("kasa.rsa_private_key:{}", staged.display()));
            }
            other => panic!("fixture argument {other} has no tshark translation"),
        }
    }
    out
}

/// `A:B` of a fixture argument, split at the first colon (as `kasa-decode` does).
fn split_pair<'a>(arg: Option<&'a String>, what: &str) -> (&'a str, &'a str) {
    arg.and_then(|a| a.split_once(':'))
        .unwrap_or_else(|| panic!("{what}: no colon"))
}

/// One quoted UAT field of a `-o uat:NAME:"a","b"` option: `"`, `\` and `,` as `\xHH`.
fn uat_field(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' | '\\' | ',' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path of a fixture's arguments: relative to the repository root.
fn repo_path(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The same arguments as a decoder configuration.
pub fn config_for(fixture_args: &[String]) -> kasa_decoder::capture::Config {
    let mut c = kasa_decoder::capture::Config::default();
    let mut it = fixture_args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                let p: u16 = it.next().unwrap().parse().unwrap();
                if !c.tcp_ports.contains(&p) {
                    c.tcp_ports.push(p);
                    c.udp_ports.push(p);
                }
            }
            "--max-message-size" => c.max_message = it.next().unwrap().parse().unwrap(),
            "--no-heuristics" => c.heuristics = false,
            "--credential" => {
                let (user, password) = split_pair(it.next(), "--credential USER:PASSWORD");
                c.secrets
                    .credentials
                    .push(kasa_decoder::wire::klap::Credential::new(
                        user, user, password,
                    ));
            }
            "--aes-key" => {
                let (key, iv) = split_pair(it.next(), "--aes-key KEYHEX:IVHEX");
                c.secrets.aes_keys.push(
                    kasa_decoder::wire::aes::AesKeys::from_hex(key, iv)
                        .expect("--aes-key: 32 hex digits each"),
                );
            }
            "--rsa-key" => {
                let path = repo_path(it.next().expect("--rsa-key PATH"));
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("--rsa-key {}: {e}", path.display()));
                c.secrets.rsa_keys.push(
                    kasa_decoder::wire::aes::rsa_private_key(&bytes)
                        .unwrap_or_else(|e| panic!("--rsa-key {}: {e}", path.display())),
                );
            }
            other => panic!("unknown fixture argument {other}"),
        }
    }
    c
}

/// One message as tshark shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub frame: u64,
    pub transport: String,
    pub direction: String,
    /// `kasa.request` and `kasa.response` as shown (exactly one must be).
    pub request_field: bool,
    pub response_field: bool,
    pub len: Option<u64>,
    pub plaintext: String,
    pub methods: Vec<String>,
    pub err_codes: Vec<i64>,
    pub err_msgs: Vec<String>,
    pub source: Option<String>,
    pub child_ids: Vec<String>,
    /// `kasa.device.<suffix>` values, by suffix (`model`, `alias`, ...).
    pub device: BTreeMap<String, String>,
    pub response_to: Option<u64>,
    pub response_in: Vec<u64>,
    /// `kasa.time` in seconds.
    pub time: Option<f64>,
    pub experts: Vec<String>,
    /// The transport fields (`kasa.klap.*`, `kasa.aes.*`, `kasa.tdp.*`) as `-T json` prints
    /// them (FT_BYTES as colon-separated hex, hex integers as `0x…`), by name.
    pub wire: BTreeMap<String, Vec<String>>,
}

/// The prefixes of the transport fields.
pub const WIRE_PREFIXES: [&str; 7] = [
    "kasa.klap.",
    "kasa.aes.",
    "kasa.tdp.",
    "kasa.tpap.",
    "kasa.cloud.framing",
    "kasa.ssl_aes.",
    "kasa.linkie.",
];

/// What one tshark run showed: messages, and expert infos per frame (in and outside messages).
#[derive(Debug, Default)]
pub struct Run {
    pub messages: Vec<Shown>,
    pub experts: Vec<(u64, String)>,
    /// Frames marked as a connection of a transport that is not read (`kasa.transport ==
    /// "tpap"`): (frame, transport).
    pub marked: Vec<(u64, String)>,
}

/// A field that tshark's JSON gives once as a value, several times as an array: as a list.
pub fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

/// A JSON value as text (a string as it is, anything else as JSON).
pub fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

/// Parses `tshark -T json --no-duplicate-keys -J kasa` output.
pub fn parse_json(stdout: &[u8]) -> Run {
    // The JSON tree inside the Kasa layer prints the JSON dissector's strings, which carry a
    // text's invalid UTF-8 bytes as they are: read lossily (the plugin's own fields are valid
    // UTF-8, so they read the same either way).
    let frames: Value = serde_json::from_str(&String::from_utf8_lossy(stdout))
        .expect("tshark -T json output is JSON");
    let mut run = Run::default();
    for f in frames.as_array().expect("array of frames") {
        let layers = &f["_source"]["layers"];
        let frame: u64 = layers["frame"]["frame.number"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for k in list(layers.get("kasa")) {
            let k = &flatten(k);
            let experts: Vec<String> = list(k.get("_ws.expert"))
                .iter()
                .flat_map(|e| e.as_object().into_iter().flat_map(|o| o.keys()))
                .filter(|key| is_problem_expert(key))
                .cloned()
                .collect();
            run.experts
                .extend(experts.iter().map(|e| (frame, e.clone())));
            let Some(transport) = k.get("kasa.transport") else {
                continue;
            };
            // A TPAP connection's mark: transport tpap and no direction (a TPAP login step
            // seen inside decrypted TLS is a message; a message whose rendering stopped at a
            // throw lacks its direction too, but is not tpap).
            // (A connection announced by discovery for another transport inside TLS, or a
            // cloud link, is marked the same way.)
            if matches!(
                text(transport).as_str(),
                "tpap" | "cloud" | "klap" | "aes" | "linkie"
            ) && k.get("kasa.plaintext").is_none()
                && k.get("kasa.method").is_none()
                && k.get("kasa.request").is_none()
                && k.get("kasa.response").is_none()
            {
                run.marked.push((frame, text(transport)));
                continue;
            }
            let direction = if k.get("kasa.request").is_some() {
                "request"
            } else {
                "response"
            };
            let texts =
                |key: &str| -> Vec<String> { list(k.get(key)).into_iter().map(text).collect() };
            let device = DEVICE_FIELDS
                .iter()
                .filter_map(|f| {
                    k.get(format!("kasa.device.{f}").as_str())
                        .map(|v| (f.to_string(), text(v)))
                })
                .collect();
            run.messages.push(Shown {
                frame,
                transport: text(transport),
                direction: direction.into(),
                request_field: k.get("kasa.request").is_some(),
                response_field: k.get("kasa.response").is_some(),
                len: k.get("kasa.len").map(|v| text(v).parse().unwrap()),
                plaintext: k.get("kasa.plaintext").map(text).unwrap_or_default(),
                methods: texts("kasa.method"),
                err_codes: list(k.get("kasa.err_code"))
                    .into_iter()
                    .map(|v| text(v).parse().unwrap())
                    .collect(),
                err_msgs: texts("kasa.err_msg"),
                source: k.get("kasa.context.source").map(text),
                child_ids: texts("kasa.context.child_id"),
                device,
                time: k.get("kasa.time").map(|v| text(v).parse().unwrap()),
                response_to: k.get("kasa.response_to").map(|v| text(v).parse().unwrap()),
                response_in: list(k.get("kasa.response_in"))
                    .into_iter()
                    .map(|v| text(v).parse().unwrap())
                    .collect(),
                experts,
                wire: k
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(key, _)| WIRE_PREFIXES.iter().any(|p| key.starts_with(p)))
                    .map(|(key, v)| (key.clone(), list(Some(v)).into_iter().map(text).collect()))
                    .collect(),
            });
        }
        // Expert infos added outside a kasa item (e.g. a caught panic before the tree).
        for e in list(layers.get("_ws.expert")) {
            if let Some(o) = e.as_object() {
                for key in o.keys().filter(|k| is_problem_expert(k)) {
                    run.experts.push((frame, key.clone()));
                }
            }
        }
    }
    run
}

/// A layer of `-T json` with the items of its subtrees (`<abbrev>_tree` objects: one per
/// method) lifted into it, in tree order, as the flat list they were before the subtrees
/// (repeated keys become arrays). A nested protocol (`json`) is left as it is.
pub fn flatten(layer: &Value) -> Value {
    fn lift(from: &Value, into: &mut serde_json::Map<String, Value>) {
        let Some(o) = from.as_object() else { return };
        for (key, v) in o {
            if key.ends_with("_tree") && key.starts_with("kasa.") {
                for sub in list(Some(v)) {
                    lift(sub, into);
                }
                continue;
            }
            match into.get_mut(key) {
                None => {
                    into.insert(key.clone(), v.clone());
                }
                Some(Value::Array(a)) => a.extend(list(Some(v)).into_iter().cloned()),
                Some(old) => {
                    let mut a = vec![old.take()];
                    a.extend(list(Some(v)).into_iter().cloned());
                    *old = Value::Array(a);
                }
            }
        }
    }
    let mut out = serde_json::Map::new();
    lift(layer, &mut out);
    Value::Object(out)
}

/// Whether an expert info is one of the plugin's problems, which the expected files list. The
/// security findings (`kasa.security.*.expert`) are no problems of the message: the expected
/// files do not list them, and tests/security_tshark.rs judges them against the peers' texts.
fn is_problem_expert(name: &str) -> bool {
    name.starts_with("kasa.") && !name.starts_with("kasa.security.")
}

/// Runs tshark two-pass on a capture and parses the kasa layer.
pub fn decode(capture: &Path, extra: &[String], env: &[(&str, &str)]) -> (Output, Run) {
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let out = tshark_kasa_json(capture, &extra, env);
    let run = if out.status.success() {
        parse_json(&out.stdout)
    } else {
        Run::default()
    };
    (out, run)
}

/// `tshark -2 -T json --no-duplicate-keys -J "frame kasa"` on a capture, with `extra`.
pub fn tshark_kasa_json(capture: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let staged = stage(capture);
    let mut args: Vec<&str> = vec![
        "-r",
        staged.to_str().unwrap(),
        "-2",
        "-T",
        "json",
        "--no-duplicate-keys",
        "-J",
        "frame kasa",
    ];
    args.extend_from_slice(extra);
    tshark(&args, env)
}

/// Every capture under `fixtures/` (`*.pcap`, `*.pcapng`; none in `node_modules` or `target`),
/// sorted, with its expected file when it has one: `<name>.expected.json`, which
/// `<name>.secrets.pcapng` (the same capture with its TLS secrets) shares.
pub fn captures() -> Vec<(PathBuf, Option<Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("node_modules") && !p.ends_with("target") {
                    stack.push(p);
                }
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name
                .strip_suffix(".pcapng")
                .or_else(|| name.strip_suffix(".pcap"))
            else {
                continue;
            };
            let stem = stem.strip_suffix(".secrets").unwrap_or(stem);
            let expected =
                std::fs::read_to_string(p.with_file_name(format!("{stem}.expected.json")))
                    .ok()
                    .map(|t| serde_json::from_str(&t).expect("expected.json is JSON"));
            out.push((p, expected));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every `fixtures/**/<name>.pcap*` that has a `<name>.expected.json`, but for
/// `fixtures/adversarial` (its own tshark test, tests/adversarial_tshark.rs: bounds and experts
/// there, not equality with the decoder: NUL bytes, a file cut mid-record that tshark refuses
/// with exit 2), the captures with their TLS secrets, and the messages inside TLS
/// (tests/tls_tshark.rs).
pub fn fixtures() -> Vec<(PathBuf, Value)> {
    captures()
        .into_iter()
        .filter(|(p, _)| {
            !p.parent().is_some_and(|d| d.ends_with("adversarial"))
                && !p.to_string_lossy().contains(".secrets.pcap")
        })
        .filter_map(|(p, json)| Some((p, json?)))
        .filter(|(_, json)| !expected::inside_tls(json))
        .collect()
}

pub fn fixture_args(expected: &Value) -> Vec<String> {
    expected["args"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}

/// The `kasa.device.*` fields, by suffix, in the expected files' `device` keys order.
pub const DEVICE_FIELDS: [&str; 7] = ["model", "alias", "mac", "id", "sw_ver", "hw_ver", "type"];

/// How the plugin shows a text in a string field or a column: epan strings are C strings, so a
/// NUL is shown as `?` (README, limits table).
pub fn c_string(s: &str) -> String {
    s.replace('\0', "?")
}

/// How `kasa.plaintext` shows a plaintext: the whole text, invalid UTF-8 as U+FFFD by Rust's
/// `String::from_utf8_lossy` rule, NUL as U+2400 (␀).
///
/// NOTE: the plugin does not do this yet (it cuts the text at the first NUL and leaves invalid
/// UTF-8 to epan's own replacement); another engineer is changing it. Until that lands, the
/// comparisons of the plaintexts with NUL or invalid UTF-8 fail: `invalid_utf8` and
/// `garbage_9999` (synthetic), `adv_nul_and_utf8` and `adv_udp_64k` (adversarial).
pub fn shown_plaintext(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', "\u{2400}")
}

/// A plaintext that is neither a JSON object nor UTF-8 text (the expected files' rule for
/// `Malformed: neither JSON nor text`).
pub fn undecodable(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_err()
        && !serde_json::from_str::<Value>(&String::from_utf8_lossy(bytes))
            .is_ok_and(|v| v.is_object())
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex in expected file"))
        .collect()
}

/// One message as a correct dissector shows it, from an expected file (never from the decoder).
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    /// Index among the messages a front end shows (`expected::shown_messages`).
    pub index: usize,
    pub frame: u64,
    pub transport: String,
    pub direction: String,
    pub bytes: Vec<u8>,
    pub len: Option<u64>,
    /// The Info column. `None` for the messages of an expected file without the dissector keys
    /// (the KLAP/AES/TDP recordings, fixtures/record/README.md): for those only what the file
    /// has is compared (frame, transport, direction, text, method, err_code, links, time, the
    /// `klap`/`aes`/`tdp` object, a TDP reply's device), not the Info column, `len`, `err_msg`,
    /// the context, the other device fields, nor the experts (tests/cli_tshark.rs compares
    /// those between the two front ends).
    pub info: Option<String>,
    pub methods: Vec<String>,
    pub err_codes: Vec<Option<i64>>,
    pub err_msgs: Vec<Option<String>>,
    pub source: Option<String>,
    pub child_ids: Vec<String>,
    pub device: BTreeMap<String, String>,
    pub device_generated: bool,
    pub response_to: Option<u64>,
    pub response_in: Vec<u64>,
    pub time: Option<f64>,
    pub problems: BTreeSet<String>,
    /// The transport fields the expected `klap`/`aes`/`tdp` object gives, as tshark's `-T json`
    /// prints them; an empty list: the field must be absent.
    pub wire: BTreeMap<&'static str, Vec<String>>,
    /// Transport fields the expected file says nothing about for this message: not judged.
    pub wire_unjudged: BTreeSet<&'static str>,
}

/// `00ff…` as tshark's `-T json` prints an FT_BYTES field: `00:ff:…`.
fn colon_hex(h: &str) -> String {
    unhex(h)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A scalar of an expected transport object as tshark prints its field (`null`: absent; a
/// boolean as FT_BOOLEAN's `0`/`1`).
fn field_values(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Bool(b)) => vec![u8::from(*b).to_string()],
        Some(Value::Array(a)) => a.iter().flat_map(|x| field_values(Some(x))).collect(),
        Some(v) => vec![text(v)],
    }
}

/// The transport fields a message's expected `klap`, `aes` or `tdp` object gives, and those
/// it says nothing about (the exceptions of tests/fixtures.rs's `check_transport`).
fn want_wire(m: &Value) -> (BTreeMap<&'static str, Vec<String>>, BTreeSet<&'static str>) {
    let mut wire = BTreeMap::new();
    let mut unjudged = BTreeSet::new();
    let request = m["direction"] == "request";
    if let Some(k) = m.get("klap") {
        // `step` is no field: the Info column names it (compared between the front ends).
        for (key, field) in [
            ("local_seed", "kasa.klap.local_seed"),
            ("remote_seed", "kasa.klap.remote_seed"),
            ("server_hash", "kasa.klap.server_hash"),
            ("client_hash", "kasa.klap.client_hash"),
        ] {
            let v = k.get(key).and_then(Value::as_str).map(colon_hex);
            wire.insert(field, v.into_iter().collect());
        }
        wire.insert("kasa.klap.seq", field_values(k.get("seq")));
        // A handshake1 request cannot know its session's cookie, version or account yet.
        let hs1 = request && k["step"] == "handshake1";
        for (key, field) in [
            ("version", "kasa.klap.version"),
            ("auth", "kasa.klap.auth"),
            ("session", "kasa.klap.session"),
        ] {
            if hs1 {
                unjudged.insert(field);
            } else {
                wire.insert(field, field_values(k.get(key)));
            }
        }
        unjudged.extend([
            "kasa.klap.signature",
            "kasa.klap.signature.status",
            "kasa.klap.ciphertext",
        ]);
    }
    if let Some(a) = m.get("aes") {
        wire.insert("kasa.aes.method", field_values(a.get("envelope_method")));
        wire.insert("kasa.aes.session", field_values(a.get("session")));
        if request {
            // Whether the URI carries the token (on the login_device answer, `token` is the
            // one it grants: no field).
            let has = a["token"].is_string();
            wire.insert(
                "kasa.aes.token",
                if has { vec!["1".into()] } else { vec![] },
            );
        } else {
            unjudged.insert("kasa.aes.token");
        }
        let envelope: Value = a["envelope"]
            .as_str()
            .and_then(|e| serde_json::from_str(e).ok())
            .expect("aes.envelope is JSON");
        let error_code = if request {
            Vec::new()
        } else {
            field_values(envelope.get("error_code"))
        };
        wire.insert("kasa.aes.error_code", error_code);
        let encrypted =
            envelope["params"]["request"].is_string() || envelope["result"]["response"].is_string();
        wire.insert("kasa.aes.encrypted", vec![u8::from(encrypted).to_string()]);
        unjudged.insert("kasa.aes.clear_response");
    }
    if let Some(t) = m.get("tdp") {
        for (key, field) in [
            ("version", "kasa.tdp.version"),
            ("msg_type", "kasa.tdp.msg_type"),
            ("size", "kasa.tdp.size"),
            ("encrypt_type", "kasa.tdp.encrypt_type"),
            ("http_port", "kasa.tdp.http_port"),
            ("login_version", "kasa.tdp.login_version"),
        ] {
            wire.insert(field, field_values(t.get(key)));
        }
        for (key, field) in [
            ("op_code", "kasa.tdp.op_code"),
            ("flags", "kasa.tdp.flags"),
            ("serial", "kasa.tdp.serial"),
            ("crc", "kasa.tdp.crc"),
        ] {
            let n = t[key].as_u64().expect("tdp header field");
            wire.insert(field, vec![format!("0x{n:08x}")]);
        }
        // FT_CHECKSUM's status: PROTO_CHECKSUM_E_GOOD is 1, _BAD 0.
        let ok = t["crc_ok"].as_bool().expect("tdp.crc_ok");
        wire.insert("kasa.tdp.crc.status", vec![u8::from(ok).to_string()]);
        let tpap = t.get("tpap");
        for (key, field) in [
            ("port", "kasa.tdp.tpap.port"),
            ("tls", "kasa.tdp.tpap.tls"),
            ("pake", "kasa.tdp.tpap.pake"),
            ("dac", "kasa.tdp.tpap.dac"),
            ("noc", "kasa.tdp.tpap.noc"),
            ("user_hash_type", "kasa.tdp.tpap.user_hash_type"),
        ] {
            wire.insert(field, field_values(tpap.and_then(|p| p.get(key))));
        }
    }
    (wire, unjudged)
}

/// The messages of an expected file as a front end shows them (`expected::shown_messages`:
/// not the HTTP answers without a body), and the problems outside messages as
/// `(frame, kasa.…)`. A file has the dissector keys (`info`, ...) on every message or on none.
pub fn wants(expected: &Value) -> (Vec<Want>, Vec<(u64, String)>) {
    let msgs = expected::shown_messages(expected);
    let with_info = msgs.iter().filter(|m| m.get("info").is_some()).count();
    assert!(
        with_info == 0 || with_info == msgs.len(),
        "expected file with the dissector keys (info, ...) on some messages only: regenerate it"
    );
    let frame_of = |j: &Value| -> u64 {
        let j = j.as_u64().expect("message index") as usize;
        msgs[j]["frame"].as_u64().expect("frame")
    };
    let opt_text = |v: &Value| v.as_str().map(str::to_owned);
    let out = msgs
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let info = m.get("info").map(|i| i.as_str().expect("info").to_owned());
            let bytes = match (m["text"].as_str(), m["hex"].as_str()) {
                (Some(t), _) => t.as_bytes().to_vec(),
                (None, Some(h)) => unhex(h),
                // Nothing readable (a KLAP handshake, a session without its credential).
                (None, None) if info.is_none() && m.get("text") == Some(&Value::Null) => Vec::new(),
                _ => panic!("message {index} has neither text nor hex"),
            };
            let mut device: BTreeMap<String, String> = m
                .get("device")
                .map(|d| {
                    DEVICE_FIELDS
                        .iter()
                        .filter_map(|f| d[*f].as_str().map(|v| (f.to_string(), v.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            // A TDP reply names its device.
            if let Some(t) = m.get("tdp") {
                for (key, f) in [
                    ("device_model", "model"),
                    ("mac", "mac"),
                    ("device_id", "id"),
                    ("device_type", "type"),
                ] {
                    if let Some(v) = t[key].as_str() {
                        device.insert(f.to_owned(), v.to_owned());
                    }
                }
            }
            let (wire, wire_unjudged) = want_wire(m);
            Want {
                index,
                frame: m["frame"].as_u64().expect("frame"),
                transport: m["transport"].as_str().unwrap().to_owned(),
                direction: m["direction"].as_str().unwrap().to_owned(),
                bytes,
                len: m["len"].as_u64(),
                info,
                methods: list(m.get("method")).into_iter().map(text).collect(),
                err_codes: list(m.get("err_code"))
                    .into_iter()
                    .map(Value::as_i64)
                    .collect(),
                err_msgs: list(m.get("err_msg")).into_iter().map(opt_text).collect(),
                source: m.get("context").and_then(|c| opt_text(&c["source"])),
                child_ids: m
                    .get("context")
                    .map(|c| list(c.get("child_id")).into_iter().map(text).collect())
                    .unwrap_or_default(),
                device,
                device_generated: m["device"]["generated"].as_bool().unwrap_or(false),
                response_to: m.get("response_to").filter(|v| !v.is_null()).map(frame_of),
                response_in: list(m.get("response_in"))
                    .into_iter()
                    .map(frame_of)
                    .collect(),
                time: m["time"].as_f64(),
                problems: list(m.get("problems"))
                    .into_iter()
                    .filter_map(Value::as_str)
                    .map(|p| format!("kasa.{}", p.trim_start_matches("kasa.")))
                    .collect(),
                wire,
                wire_unjudged,
            }
        })
        .collect();
    let orphans = list(expected.get("orphan_problems"))
        .into_iter()
        .map(|o| {
            (
                o["frame"].as_u64().unwrap(),
                format!(
                    "kasa.{}",
                    o["problem"].as_str().unwrap().trim_start_matches("kasa.")
                ),
            )
        })
        .collect();
    (out, orphans)
}

/// Which fields a comparison looked at with something to compare (the README's field table,
/// the Info column with and without a tree, expert infos): every one must be seen on at least
/// one fixture.
#[derive(Debug, Default)]
pub struct Coverage(pub BTreeMap<&'static str, usize>);

impl Coverage {
    pub fn saw(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }
    pub fn missing(&self, all: &[&'static str]) -> Vec<&'static str> {
        all.iter()
            .copied()
            .filter(|w| !self.0.contains_key(w))
            .collect()
    }
}

/// Differences between the messages tshark shows and the expected ones, one line each, every
/// field of the README's table: transport, len, plaintext, request/response, methods,
/// err_code, err_msg, context, device, response_to, response_in, time, experts per message,
/// and the transport fields (`kasa.klap.*`, `kasa.aes.*`, `kasa.tdp.*`). For a message whose
/// expected file has no dissector keys (`Want::info` is `None`), only what the file has.
pub fn compare_messages(shown: &[Shown], want: &[Want], cov: &mut Coverage) -> Vec<String> {
    let mut diffs = Vec::new();
    if shown.len() != want.len() {
        diffs.push(format!(
            "{} messages in tshark, {} expected (frames shown {:?}, expected {:?})",
            shown.len(),
            want.len(),
            shown.iter().map(|m| m.frame).collect::<Vec<_>>(),
            want.iter().map(|m| m.frame).collect::<Vec<_>>()
        ));
    }
    for (s, w) in shown.iter().zip(want) {
        let mut d = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            let (a, b) = (format!("{a:?}"), format!("{b:?}"));
            if a != b {
                let (a, b) = (clip(&a), clip(&b));
                diffs.push(format!(
                    "message {} (frame {}): {what}: tshark {a} / expected {b}",
                    w.index, w.frame
                ));
            }
        };
        d("frame", &s.frame, &w.frame);
        d("kasa.transport", &s.transport, &w.transport);
        cov.saw("kasa.transport");
        let request = w.direction == "request";
        d(
            "kasa.request/kasa.response",
            &(s.request_field, s.response_field),
            &(request, !request),
        );
        cov.saw(if request {
            "kasa.request"
        } else {
            "kasa.response"
        });
        let dissector_keys = w.info.is_some();
        if dissector_keys {
            d("kasa.len", &s.len, &w.len);
        }
        if w.len.is_some() {
            cov.saw("kasa.len");
        }
        // Bytes that are neither a JSON object nor UTF-8 text are shown as data
        // (`kasa.data`), with no plaintext.
        let want_text = if undecodable(&w.bytes) {
            String::new()
        } else {
            shown_plaintext(&w.bytes)
        };
        if s.plaintext != want_text {
            let at = s
                .plaintext
                .chars()
                .zip(want_text.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let what = format!(
                "kasa.plaintext (first difference at character {at}; tshark {} characters, expected {})",
                s.plaintext.chars().count(),
                want_text.chars().count()
            );
            d(&what, &s.plaintext, &want_text);
        }
        cov.saw("kasa.plaintext");
        let cs = |v: &[String]| v.iter().map(|x| c_string(x)).collect::<Vec<_>>();
        d("kasa.method", &s.methods, &cs(&w.methods));
        if !w.methods.is_empty() {
            cov.saw("kasa.method");
        }
        let codes: Vec<i64> = w
            .err_codes
            .iter()
            .flatten()
            .map(|c| (*c).clamp(i32::MIN.into(), i32::MAX.into()))
            .collect();
        d("kasa.err_code", &s.err_codes, &codes);
        if !codes.is_empty() {
            cov.saw("kasa.err_code");
        }
        let msgs: Vec<String> = w.err_msgs.iter().flatten().map(|m| c_string(m)).collect();
        if dissector_keys {
            d("kasa.err_msg", &s.err_msgs, &msgs);
            d(
                "kasa.context.source",
                &s.source,
                &w.source.as_deref().map(c_string),
            );
            d("kasa.context.child_id", &s.child_ids, &cs(&w.child_ids));
        }
        if !msgs.is_empty() {
            cov.saw("kasa.err_msg");
        }
        if w.source.is_some() {
            cov.saw("kasa.context.source");
        }
        if !w.child_ids.is_empty() {
            cov.saw("kasa.context.child_id");
        }
        for f in DEVICE_FIELDS {
            let what: &'static str = match f {
                "model" => "kasa.device.model",
                "alias" => "kasa.device.alias",
                "mac" => "kasa.device.mac",
                "id" => "kasa.device.id",
                "sw_ver" => "kasa.device.sw_ver",
                "hw_ver" => "kasa.device.hw_ver",
                _ => "kasa.device.type",
            };
            let want_v = w.device.get(f).map(|v| c_string(v));
            // Without the dissector keys, only the device fields the file gives (a TDP reply's).
            if dissector_keys || want_v.is_some() {
                d(what, &s.device.get(f), &want_v.as_ref());
            }
            if want_v.is_some() {
                cov.saw(what);
                if w.device_generated {
                    cov.saw("kasa.device (generated)");
                }
            }
        }
        d("kasa.response_to", &s.response_to, &w.response_to);
        if w.response_to.is_some() {
            cov.saw("kasa.response_to");
        }
        d("kasa.response_in", &s.response_in, &w.response_in);
        if !w.response_in.is_empty() {
            cov.saw("kasa.response_in");
        }
        match (s.time, w.time) {
            (None, None) => {}
            (Some(a), Some(b)) if (a - b).abs() <= 1e-6 => cov.saw("kasa.time"),
            (a, b) => d("kasa.time", &a, &b),
        }
        if dissector_keys {
            let experts: BTreeSet<String> = s.experts.iter().cloned().collect();
            d("experts of the message", &experts, &w.problems);
        }
        for (field, want_v) in &w.wire {
            let shown_v = s.wire.get(*field).cloned().unwrap_or_default();
            d(field, &shown_v, want_v);
            if !want_v.is_empty() {
                cov.saw(field);
            }
        }
        for (field, shown_v) in &s.wire {
            if !w.wire.contains_key(field.as_str()) && !w.wire_unjudged.contains(field.as_str()) {
                d(
                    &format!("{field} (the expected file gives no such field here)"),
                    shown_v,
                    &None::<()>,
                );
            }
        }
    }
    diffs
}

/// Expert infos per frame, as sets of names: tshark's against the expected file's (messages'
/// problems at their frames, problems outside messages at theirs).
pub fn compare_experts(
    shown: &[(u64, String)],
    want: &[Want],
    orphans: &[(u64, String)],
    cov: &mut Coverage,
) -> Vec<String> {
    // The frames of messages whose expected file has no dissector keys: their experts are
    // compared between the front ends (tests/cli_tshark.rs), not here.
    let unjudged: BTreeSet<u64> = want
        .iter()
        .filter(|w| w.info.is_none())
        .map(|w| w.frame)
        .collect();
    let mut got: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (f, e) in shown.iter().filter(|(f, _)| !unjudged.contains(f)) {
        got.entry(*f).or_default().insert(e.clone());
    }
    let mut exp: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for w in want.iter().filter(|w| !unjudged.contains(&w.frame)) {
        for p in &w.problems {
            exp.entry(w.frame).or_default().insert(p.clone());
        }
    }
    for (f, e) in orphans {
        exp.entry(*f).or_default().insert(e.clone());
    }
    if !exp.is_empty() {
        cov.saw("expert infos");
    }
    let frames: BTreeSet<u64> = got.keys().chain(exp.keys()).copied().collect();
    frames
        .into_iter()
        .filter_map(|f| {
            let (g, e) = (
                got.remove(&f).unwrap_or_default(),
                exp.remove(&f).unwrap_or_default(),
            );
            (g != e).then(|| format!("frame {f}: expert infos: tshark {g:?} / expected {e:?}"))
        })
        .collect()
}

/// Cuts a long value for a one-line report.
pub fn clip(s: &str) -> String {
    if s.chars().count() <= 300 {
        return s.to_owned();
    }
    let head: String = s.chars().take(150).collect();
    let tail: String = {
        let v: Vec<char> = s.chars().collect();
        v[v.len() - 100..].iter().collect()
    };
    format!("{head}…[{} chars]…{tail}", s.chars().count())
}

/// The Info column per frame (`frame`, `protocol`, `info`).
pub type Columns = BTreeMap<u64, (String, String)>;

/// The Info column as a summary run shows it: plain `tshark -r`, which dissects with a NULL
/// tree (no filter, no fields, no details), printed with `-T tabs` and only the columns No.,
/// Protocol and Info.
pub fn info_without_tree(capture: &Path, extra: &[String]) -> Columns {
    let staged = stage(capture);
    // The cloud-link annotation asks for fields, which makes tshark build a tree for every
    // frame: turned off here, so that this is the run without a tree.
    let mut args: Vec<&str> = vec![
        "-r",
        staged.to_str().unwrap(),
        "-T",
        "tabs",
        "-o",
        r#"gui.column.format:"No.","%m","Protocol","%p","Info","%i""#,
        "-o",
        "kasa.cloud_annotate:FALSE",
    ];
    args.extend(extra.iter().map(String::as_str));
    let out = tshark(&args, &[]);
    parse_columns(&out, '\t', 3)
}

/// The Info column with a tree: `-T fields -e _ws.col.Info` with a display filter, two-pass.
pub fn info_with_tree(capture: &Path, extra: &[String]) -> Columns {
    let staged = stage(capture);
    let mut args: Vec<&str> = vec![
        "-r",
        staged.to_str().unwrap(),
        "-2",
        "-Y",
        "kasa || frame",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-e",
        "frame.number",
        "-e",
        "_ws.col.Protocol",
        "-e",
        "_ws.col.Info",
    ];
    args.extend(extra.iter().map(String::as_str));
    let out = tshark(&args, &[]);
    parse_columns(&out, '\t', 3)
}

fn parse_columns(out: &Output, sep: char, n: usize) -> Columns {
    // A capture cut short (fixtures/adversarial/adv_file_ends_mid_record) exits non-zero after
    // printing the frames before the cut; the callers check the exit status where it matters.
    assert!(
        out.status.success() || !out.stdout.is_empty(),
        "tshark: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cols = Columns::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.splitn(n, sep).collect();
        if parts.len() < n {
            continue;
        }
        if let Ok(f) = parts[0].trim().parse() {
            cols.insert(f, (parts[1].trim().to_owned(), parts[2].to_owned()));
        }
    }
    cols
}

/// The Info column without the notes Wireshark's TCP analysis puts before a subdissector's
/// text (`[TCP Retransmission]  | …` on the segment that fills an out-of-order hole): TCP's, not
/// the plugin's.
pub fn without_tcp_notes(info: &str) -> &str {
    let mut rest = info;
    while let Some(after) = rest.strip_prefix("[TCP ") {
        let Some(end) = after.find(']') else {
            return info;
        };
        rest = after[end + 1..].trim_start();
    }
    match rest.strip_prefix("| ") {
        Some(text) if rest.len() < info.len() => text,
        _ => info,
    }
}

/// Differences between the Info column tshark shows (`cols`) and the expected summaries: per
/// frame with messages, their `info` texts joined by ` | ` (where the frame also has problems
/// outside messages, each text must be one of its parts); and no KASA Info on a frame without
/// expected messages or problems.
pub fn compare_info(
    what: &'static str,
    cols: &Columns,
    want: &[Want],
    orphans: &[(u64, String)],
    cov: &mut Coverage,
) -> Vec<String> {
    let mut per_frame: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    // The frames of messages whose expected file gives no Info column: tests/cli_tshark.rs
    // compares theirs between the front ends.
    let mut unjudged: BTreeSet<u64> = BTreeSet::new();
    for w in want {
        match &w.info {
            Some(info) => per_frame.entry(w.frame).or_default().push(c_string(info)),
            None => {
                unjudged.insert(w.frame);
            }
        }
    }
    let orphan_frames: BTreeSet<u64> = orphans.iter().map(|(f, _)| *f).collect();
    let mut diffs = Vec::new();
    for (f, infos) in &per_frame {
        let shown = cols.get(f).map(|(_, i)| i.as_str()).unwrap_or("<no frame>");
        let shown = without_tcp_notes(shown);
        cov.saw(what);
        if orphan_frames.contains(f) {
            let parts: Vec<&str> = shown.split(" | ").collect();
            for i in infos {
                if !parts.contains(&i.as_str()) {
                    diffs.push(format!(
                        "frame {f}: {what}: {} not in tshark's {}",
                        clip(i),
                        clip(shown)
                    ));
                }
            }
        } else if shown != infos.join(" | ") {
            diffs.push(format!(
                "frame {f}: {what}: tshark {:?} / expected {:?}",
                clip(shown),
                clip(&infos.join(" | "))
            ));
        }
    }
    for (f, (proto, info)) in cols {
        if proto == "KASA"
            && !per_frame.contains_key(f)
            && !orphan_frames.contains(f)
            && !unjudged.contains(f)
        {
            diffs.push(format!(
                "frame {f}: {what}: KASA {:?} on a frame without an expected message",
                clip(info)
            ));
        }
    }
    diffs
}

/// `f` over `items` on as many threads as there are cores (tshark runs are CPU-bound start-ups),
/// results in the order of `items`.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect()
}

/// Fails with every difference, one per line; each is also printed as a `kasa-diff:` line
/// (tests/mutation/run compares those lines with the unmutated run's).
pub fn assert_no_differences(failures: &[String]) {
    for f in failures {
        eprintln!("kasa-diff: {f}");
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The CLI binary, built once for the profile of this test.
pub fn kasa_decode() -> &'static Path {
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

/// Runs [`kasa_decode`] with `args`; fails the test unless it exits 0. Its standard output.
pub fn kasa_decode_ok<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> String {
    let out = Command::new(kasa_decode())
        .args(args)
        .output()
        .expect("run kasa-decode");
    assert!(
        out.status.success(),
        "kasa-decode: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("kasa-decode writes UTF-8")
}
