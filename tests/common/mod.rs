//! Harness for the tshark tests: build the cdylib once, install it into a private plugin
//! folder, run tshark there (as uid 65534 when running as root, since tshark ignores
//! `WIRESHARK_PLUGIN_DIR` for root), and read its `-T json` output back as messages.

#![allow(dead_code)]

use serde_json::Value;
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

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn chmod_tree(p: &Path) {
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
    let dst = e.root.join("files").join(name);
    std::fs::copy(capture, &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644)).unwrap();
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
    let e = env();
    let mut cmd = if e.as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"]);
        c
    } else {
        Command::new("env")
    };
    cmd.arg(format!("WIRESHARK_PLUGIN_DIR={}", e.plugins.display()));
    cmd.arg(format!("HOME={}", e.home.display()));
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
            other => panic!("fixture argument {other} has no tshark translation"),
        }
    }
    out
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
            other => panic!("unknown fixture argument {other}"),
        }
    }
    c
}

/// One message as tshark shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub frame: u64,
    pub transport: String,
    pub direction: String,
    pub plaintext: String,
    pub methods: Vec<String>,
    pub err_codes: Vec<i64>,
    pub response_to: Option<u64>,
    pub response_in: Vec<u64>,
    pub experts: Vec<String>,
}

/// What one tshark run showed: messages, and expert infos per frame (in and outside messages).
#[derive(Debug, Default)]
pub struct Run {
    pub messages: Vec<Shown>,
    pub experts: Vec<(u64, String)>,
}

fn list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

/// Parses `tshark -T json --no-duplicate-keys -J kasa` output.
pub fn parse_json(stdout: &[u8]) -> Run {
    let frames: Value = serde_json::from_slice(stdout).expect("tshark -T json output is JSON");
    let mut run = Run::default();
    for f in frames.as_array().expect("array of frames") {
        let layers = &f["_source"]["layers"];
        let frame: u64 = layers["frame"]["frame.number"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for k in list(layers.get("kasa")) {
            let experts: Vec<String> = list(k.get("_ws.expert"))
                .iter()
                .flat_map(|e| e.as_object().into_iter().flat_map(|o| o.keys()))
                .filter(|key| key.starts_with("kasa."))
                .cloned()
                .collect();
            run.experts
                .extend(experts.iter().map(|e| (frame, e.clone())));
            let Some(transport) = k.get("kasa.transport") else {
                continue;
            };
            let direction = if k.get("kasa.request").is_some() {
                "request"
            } else {
                "response"
            };
            run.messages.push(Shown {
                frame,
                transport: text(transport),
                direction: direction.into(),
                plaintext: k.get("kasa.plaintext").map(text).unwrap_or_default(),
                methods: list(k.get("kasa.method")).into_iter().map(text).collect(),
                err_codes: list(k.get("kasa.err_code"))
                    .into_iter()
                    .map(|v| text(v).parse().unwrap())
                    .collect(),
                response_to: k.get("kasa.response_to").map(|v| text(v).parse().unwrap()),
                response_in: list(k.get("kasa.response_in"))
                    .into_iter()
                    .map(|v| text(v).parse().unwrap())
                    .collect(),
                experts,
            });
        }
        // Expert infos added outside a kasa item (e.g. a caught panic before the tree).
        for e in list(layers.get("_ws.expert")) {
            if let Some(o) = e.as_object() {
                for key in o.keys().filter(|k| k.starts_with("kasa.")) {
                    run.experts.push((frame, key.clone()));
                }
            }
        }
    }
    run
}

/// Runs tshark two-pass on a capture and parses the kasa layer.
pub fn decode(capture: &Path, extra: &[String], env: &[(&str, &str)]) -> (Output, Run) {
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
    args.extend(extra.iter().map(String::as_str));
    let out = tshark(&args, env);
    let run = if out.status.success() {
        parse_json(&out.stdout)
    } else {
        Run::default()
    };
    (out, run)
}

/// Every `fixtures/**/<name>.pcap*` that has a `<name>.expected.json`.
pub fn fixtures() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                // fixtures/adversarial has its own tshark test (tests/adversarial_tshark.rs):
                // bounds and experts there, not equality with the decoder (NUL bytes, a file
                // cut mid-record that tshark refuses with exit 2).
                if !p.ends_with("node_modules")
                    && !p.ends_with("target")
                    && !p.ends_with("adversarial")
                {
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
            let expected = p.with_file_name(format!("{stem}.expected.json"));
            if let Ok(text) = std::fs::read_to_string(&expected) {
                out.push((
                    p,
                    serde_json::from_str(&text).expect("expected.json is JSON"),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn fixture_args(expected: &Value) -> Vec<String> {
    expected["args"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default()
}
