//! `tools/install-plugin.sh` (issue 13, "an install users can trust"): run for real into a
//! temporary HOME (`--user`) and a staging prefix (`DESTDIR`, `--system`), with the plugin the
//! test harness builds given by `--file`; judged by what lands where, by tshark loading it from
//! that HOME as an unprivileged user, and by `--uninstall` taking it away again.
//!
//! The refusal case uses a real plugin built for another Wireshark minor: a copy of the built
//! plugin whose exported `plugin_want_minor` is rewritten in the file (found through its
//! symbol and section, as a different build of the same source would differ). tshark itself is
//! first shown to refuse that copy ("was compiled for Wireshark version 4.N"), so the script's
//! refusal is checked against Wireshark's own verdict, not against a made-up file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/install-plugin.sh")
}

fn ws() -> String {
    format!("{}.{}", common::ws_major(), common::ws_minor())
}

/// A fresh directory under the harness's private root.
fn scratch(what: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = common::env().root.join(format!(
        "install-{what}-{}",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_script(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).args(args);
    cmd.env_remove("DESTDIR").env_remove("XDG_CONFIG_HOME");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run tools/install-plugin.sh")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Hands a HOME to uid 65534 (tshark runs as it when the tests run as root).
fn give_to_nobody(home: &Path) {
    common::chmod_tree(home);
    if common::env().as_nobody {
        let st = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(home)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

/// `tshark -G plugins` with `home` as HOME and an empty global plugin folder: only the personal
/// folder can provide kasa.so.
fn plugins_seen_from(home: &Path) -> (String, String) {
    let out = common::tshark_in_home(common::no_plugins(), home, &["-G", "plugins"], &[]);
    assert!(out.status.success(), "tshark -G plugins failed");
    (text(&out.stdout), text(&out.stderr))
}

fn kasa_rows(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter(|l| l.starts_with("kasa.so"))
        .collect()
}

#[test]
fn user_install_is_loaded_by_tshark_and_uninstall_removes_it() {
    let so = &common::env().so;
    let home = scratch("user");
    let out = run_script(
        &["--user", "--profile", "--file", so.to_str().unwrap()],
        &[("HOME", &home)],
    );
    assert_ok(&out, "--user --profile --file");
    let installed = home
        .join(".local/lib/wireshark/plugins")
        .join(ws())
        .join("epan/kasa.so");
    assert_eq!(
        std::fs::read(&installed).expect("kasa.so in the personal plugin folder"),
        std::fs::read(so).unwrap(),
        "the installed plugin is the given one"
    );
    assert!(
        text(&out.stdout).contains(&format!("installed {}", installed.display())),
        "the script says where: {}",
        text(&out.stdout)
    );
    let profile = home.join(".config/wireshark/profiles/Kasa");
    for f in ["preferences", "colorfilters", "dfilter_buttons"] {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("profile/Kasa")
            .join(f);
        assert_eq!(
            std::fs::read(profile.join(f)).unwrap_or_default(),
            std::fs::read(repo).unwrap(),
            "profile file {f}"
        );
    }

    give_to_nobody(&home);
    let (listing, stderr) = plugins_seen_from(&home);
    let rows = kasa_rows(&listing);
    assert_eq!(rows.len(), 1, "tshark lists kasa.so once: {listing}");
    assert!(
        rows[0].contains(&installed.display().to_string()),
        "loaded from the personal folder: {}",
        rows[0]
    );
    assert!(
        stderr.trim().is_empty(),
        "tshark complains about the install: {stderr}"
    );

    let out = run_script(&["--uninstall", "--user"], &[("HOME", &home)]);
    assert_ok(&out, "--uninstall --user");
    assert!(!installed.exists(), "kasa.so left after --uninstall");
    assert!(!profile.exists(), "the Kasa profile left after --uninstall");
    let (listing, _) = plugins_seen_from(&home);
    assert!(
        kasa_rows(&listing).is_empty(),
        "tshark still lists kasa.so after --uninstall: {listing}"
    );
}

#[test]
fn system_install_into_destdir() {
    let so = &common::env().so;
    let stage = scratch("destdir");
    let out = run_script(
        &["--system", "--profile", "--file", so.to_str().unwrap()],
        &[("DESTDIR", &stage)],
    );
    assert_ok(&out, "DESTDIR=… --system --profile --file");
    let plugindir = Command::new("pkg-config")
        .args(["--variable=plugindir", "wireshark"])
        .output()
        .unwrap();
    let plugindir = text(&plugindir.stdout).trim().to_owned();
    assert!(!plugindir.is_empty());
    let installed = stage
        .join(plugindir.trim_start_matches('/'))
        .join("epan/kasa.so");
    assert_eq!(
        std::fs::read(&installed).expect("kasa.so below DESTDIR"),
        std::fs::read(so).unwrap()
    );
    let profiles: Vec<_> = walk(&stage)
        .into_iter()
        .filter(|p| p.ends_with("profiles/Kasa/colorfilters"))
        .collect();
    assert_eq!(profiles.len(), 1, "one Kasa profile below DESTDIR");

    let out = run_script(&["--uninstall", "--system"], &[("DESTDIR", &stage)]);
    assert_ok(&out, "DESTDIR=… --uninstall --system");
    assert!(!installed.exists(), "kasa.so left below DESTDIR");
    assert!(!profiles[0].exists(), "profile left below DESTDIR");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The file offset of an exported data symbol (`nm -D` for its address, `objdump -h` for the
/// section holding it).
fn symbol_offset(so: &Path, symbol: &str) -> u64 {
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(so)
        .output()
        .expect("nm");
    let addr = text(&nm.stdout)
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[2] == symbol).then(|| u64::from_str_radix(f[0], 16).unwrap())
        })
        .unwrap_or_else(|| panic!("{symbol} not exported by {}", so.display()));
    let headers = Command::new("objdump").arg("-h").arg(so).output().unwrap();
    for l in text(&headers.stdout).lines() {
        // Idx Name Size VMA LMA File-off Algn
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() == 7 && f[0].parse::<u32>().is_ok() {
            let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
            let (size, vma, off) = (hex(f[2]), hex(f[3]), hex(f[5]));
            if (vma..vma + size).contains(&addr) {
                return off + (addr - vma);
            }
        }
    }
    panic!("no section holds {symbol} at {addr:#x}");
}

/// A copy of the built plugin that says it was built for Wireshark `major.minor`.
fn plugin_for_minor(minor: u32, dir: &Path) -> PathBuf {
    let so = &common::env().so;
    let mut bytes = std::fs::read(so).unwrap();
    let off = symbol_offset(so, "plugin_want_minor") as usize;
    let old = i32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
    assert_eq!(
        old,
        common::ws_minor() as i32,
        "plugin_want_minor read at its offset"
    );
    bytes[off..off + 4].copy_from_slice(&(minor as i32).to_le_bytes());
    let path = dir.join(format!("kasa-wireshark-4.{minor}.so"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_plugin_for_another_minor_is_refused() {
    let dir = scratch("refusal");
    let other = if common::ws_minor() == 4 { 6 } else { 4 };
    let foreign = plugin_for_minor(other, &dir);

    // Wireshark's own verdict on that file: refused, as a plugin for 4.<other>.
    let plugins = dir.join("plugins");
    let epan = plugins.join(ws()).join("epan");
    std::fs::create_dir_all(&epan).unwrap();
    std::fs::copy(&foreign, epan.join("kasa.so")).unwrap();
    give_to_nobody(&dir);
    let out = common::tshark_in(&plugins, &["-G", "plugins"], &[]);
    assert!(
        text(&out.stderr).contains(&format!("was compiled for Wireshark version 4.{other}")),
        "tshark does not refuse the rewritten plugin: {}",
        text(&out.stderr)
    );
    assert!(kasa_rows(&text(&out.stdout)).is_empty());

    let home = scratch("refusal-home");
    let out = run_script(
        &["--user", "--file", foreign.to_str().unwrap()],
        &[("HOME", &home)],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit status of a refusal; stdout: {} stderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("built for Wireshark 4.{other}"))
            && err.contains(&format!("installed Wireshark is {}.", ws())),
        "the refusal names both versions: {err}"
    );
    assert!(
        walk(&home).is_empty(),
        "a refused plugin left files: {:?}",
        walk(&home)
    );

    // Not a plugin at all: a clear message, nothing installed.
    let out = run_script(
        &["--user", "--file", script().to_str().unwrap()],
        &[("HOME", &home)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not a Wireshark plugin"),
        "{}",
        text(&out.stderr)
    );
    assert!(walk(&home).is_empty());
}

#[test]
fn default_destination_follows_the_user() {
    let home = scratch("default");
    let out = run_script(&["--print-path"], &[("HOME", &home)]);
    assert_ok(&out, "--print-path");
    let path = text(&out.stdout).trim().to_owned();
    if common::is_root() {
        let plugindir = Command::new("pkg-config")
            .args(["--variable=plugindir", "wireshark"])
            .output()
            .unwrap();
        assert_eq!(
            path,
            format!("{}/epan/kasa.so", text(&plugindir.stdout).trim()),
            "root installs into the global folder (tshark as root ignores the personal one)"
        );
    } else {
        assert_eq!(
            Path::new(&path),
            home.join(".local/lib/wireshark/plugins")
                .join(ws())
                .join("epan/kasa.so")
        );
    }
    let out = run_script(&["--user", "--print-path"], &[("HOME", &home)]);
    assert_ok(&out, "--user --print-path");
    assert!(text(&out.stdout).trim().starts_with(home.to_str().unwrap()));
    let out = run_script(&["--bogus"], &[("HOME", &home)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown flag is a usage error"
    );
}
