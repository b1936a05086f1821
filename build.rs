//! Generates the epan bindings for the Wireshark found by pkg-config, on every build.
//!
//! Struct layouts (`packet_info`, `proto_node`) move with every Wireshark minor version, so the
//! bindings are never committed: they are written to `OUT_DIR/bindings.rs` together with
//! `OUT_DIR/ws_version.rs` (`WS_MAJOR`, `WS_MINOR`). Emits the cfgs `ws_ge_4_2`, `ws_ge_4_4`,
//! `ws_ge_4_6` and the env `WS_VERSION_MAJOR`/`WS_VERSION_MINOR`/`WS_PLUGIN_DIR` for tests.
//!
//! It also compiles `dissector/epan/shim.c` (the C shell that runs every throwing epan call
//! under TRY/CATCH and holds the trampolines epan calls, see `dissector/epan/shim.h`) and
//! `dissector/epan/secrets.c` (the UATs and the key-file preference, whose macros and callback
//! types are C and change per version), `dissector/epan/tls.c` and `dissector/epan/stats.c` (the
//! tap and the stats tree) with the `cc` crate, against the same include paths,
//! into a static library linked into the plugin.
//!
//! Env toggles: `KASA_NO_LINK=1` skips linking libwireshark (symbols then resolve at dlopen);
//! `LIBCLANG_PATH` as usual for clang-sys.

use std::env;
use std::fs;
use std::path::PathBuf;

const PACKAGES: &str = "libwireshark-dev libglib2.0-dev libclang-dev pkg-config gcc";
const SHIM_C: &str = "dissector/epan/shim.c";
const SHIM_H: &str = "dissector/epan/shim.h";
const SECRETS_C: &str = "dissector/epan/secrets.c";
const SECRETS_H: &str = "dissector/epan/secrets.h";
const TLS_C: &str = "dissector/epan/tls.c";
const TLS_H: &str = "dissector/epan/tls.h";
const STATS_C: &str = "dissector/epan/stats.c";
const STATS_H: &str = "dissector/epan/stats.h";
const SUPPORTED_MINORS: [u32; 4] = [0, 2, 4, 6];

fn fail(what: &str, detail: &dyn std::fmt::Display) -> ! {
    eprintln!(
        "\nerror: kasa-dissector build: {what}: {detail}\n\
         On Debian/Ubuntu install the build dependencies with:\n\
         \n    sudo apt-get install {PACKAGES}\n"
    );
    std::process::exit(1);
}

fn main() {
    println!("cargo::rerun-if-changed=wrapper.h");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed={SHIM_C}");
    println!("cargo::rerun-if-changed={SHIM_H}");
    println!("cargo::rerun-if-changed={SECRETS_C}");
    println!("cargo::rerun-if-changed={SECRETS_H}");
    println!("cargo::rerun-if-changed={TLS_C}");
    println!("cargo::rerun-if-changed={TLS_H}");
    println!("cargo::rerun-if-changed={STATS_C}");
    println!("cargo::rerun-if-changed={STATS_H}");
    for var in ["PKG_CONFIG_PATH", "KASA_NO_LINK", "LIBCLANG_PATH"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    for m in [2, 4, 6] {
        println!("cargo::rustc-check-cfg=cfg(ws_ge_4_{m})");
    }

    let link = env::var_os("KASA_NO_LINK").is_none();
    // No version range in the probe: a 4.7 or a 5.0 gets the "unsupported version" error
    // below, not "not found".
    let ws = pkg_config::Config::new()
        .cargo_metadata(link)
        .probe("wireshark")
        .unwrap_or_else(|e| {
            fail(
                "Wireshark development files not found (pkg-config wireshark)",
                &e,
            )
        });
    let glib = pkg_config::Config::new()
        .cargo_metadata(false)
        .probe("glib-2.0")
        .unwrap_or_else(|e| fail("glib-2.0 development files not found", &e));

    let (major, minor) = parse_version(&ws.version);
    if major != 4 || !SUPPORTED_MINORS.contains(&minor) {
        let why = if major == 4 && minor % 2 == 1 {
            "odd minors are development series whose ABI changes between snapshots"
        } else {
            "its headers and plugin ABI have not been checked"
        };
        let from = env::var("PKG_CONFIG_PATH")
            .map(|p| format!(", PKG_CONFIG_PATH={p}"))
            .unwrap_or_default();
        eprintln!(
            "\nerror: kasa-dissector build: unsupported Wireshark version {} (pkg-config wireshark{from}): {why}.\n\
             Supported: 4.0, 4.2, 4.4, 4.6. To build against another installed Wireshark, point\n\
             PKG_CONFIG_PATH at the directory holding its wireshark.pc.\n",
            ws.version
        );
        std::process::exit(1);
    }
    for m in [2, 4, 6] {
        if minor >= m {
            println!("cargo::rustc-cfg=ws_ge_4_{m}");
        }
    }
    println!("cargo::rustc-env=WS_VERSION_MAJOR={major}");
    println!("cargo::rustc-env=WS_VERSION_MINOR={minor}");
    let plugindir = pkg_config::get_variable("wireshark", "plugindir").unwrap_or_default();
    println!("cargo::rustc-env=WS_PLUGIN_DIR={plugindir}");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    fs::write(
        out.join("ws_version.rs"),
        format!(
            "/// Wireshark major version these bindings were generated for.\n\
             pub const WS_MAJOR: core::ffi::c_int = {major};\n\
             /// Wireshark minor version these bindings were generated for.\n\
             pub const WS_MINOR: core::ffi::c_int = {minor};\n"
        ),
    )
    .unwrap_or_else(|e| fail("cannot write ws_version.rs", &e));

    let includes: Vec<&PathBuf> = ws.include_paths.iter().chain(&glib.include_paths).collect();
    let mut shim = cc::Build::new();
    shim.file(SHIM_C)
        .file(SECRETS_C)
        .file(TLS_C)
        .file(STATS_C)
        .includes(&includes);
    // The TLS heuristic's `data` (WIRESHARK.md §13): a `struct tlsinfo *` where the installed
    // packet-tls.h declares that struct (4.4 and later), the session's app-handle slot before.
    // Read off the header itself, not guessed from the version number (4.2 is unchecked).
    let tlsinfo = includes.iter().any(|dir| {
        std::fs::read_to_string(dir.join("epan/dissectors/packet-tls.h"))
            .is_ok_and(|h| h.contains("struct tlsinfo {"))
    });
    shim.define("KASA_TLSINFO", if tlsinfo { "1" } else { "0" });
    shim.try_compile("kasa_shim").unwrap_or_else(|e| {
        fail(
            &format!(
                "cannot compile {SHIM_C}, {SECRETS_C}, {TLS_C} and {STATS_C} (is a C compiler installed?)"
            ),
            &e,
        )
    });

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .rust_edition(bindgen::RustEdition::Edition2024)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for path in &includes {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    // The shim's wrappers, trampolines and entry table (wrapper.h includes shim.h).
    builder = builder
        .allowlist_function("kasa_.*")
        .allowlist_type("kasa_.*")
        .allowlist_var("KASA_.*");
    for f in ALLOW_FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for t in ALLOW_TYPES {
        builder = builder.allowlist_type(t);
    }
    for v in ALLOW_VARS {
        builder = builder.allowlist_var(v);
    }
    let bindings = builder.generate().unwrap_or_else(|e| {
        fail(
            "bindgen could not parse the epan headers (is libclang installed?)",
            &e,
        )
    });
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail("cannot write bindings.rs", &e));
}

fn parse_version(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
    (it.next().unwrap_or(0), it.next().unwrap_or(u32::MAX))
}

/// epan functions Rust calls directly: none of them throws. The throwing ones (tree items,
/// expert infos, call_dissector, tcp_dissect_pdus, tvb_memcpy, new tvbs) are deliberately absent:
/// Rust reaches them only through the shim's `kasa_shim_*` wrappers.
const ALLOW_FUNCTIONS: &[&str] = &[
    "proto_register_plugin",
    "proto_register_protocol",
    "proto_register_field_array",
    "proto_register_subtree_array",
    "expert_register_protocol",
    "expert_register_field_array",
    "register_dissector",
    "create_dissector_handle",
    "create_dissector_handle_with_name_and_description",
    "find_dissector",
    "find_dissector_table",
    "dissector_get_string_handle",
    "dissector_add_string",
    "proto_register_protocol_in_name_only",
    "proto_get_id_by_filter_name",
    "g_unichar_isprint",
    "dissector_add_uint_range_with_preference",
    "dissector_add_uint",
    "register_postdissector",
    "heur_dissector_add",
    "tvb_captured_length",
    "tvb_reported_length",
    "tvb_captured_length_remaining",
    "add_new_data_source",
    "col_set_str",
    "col_clear",
    "col_append_sep_str",
    "col_set_fence",
    "wmem_alloc",
    "find_or_create_conversation",
    "conversation_set_dissector",
    "prefs_register_protocol",
    "prefs_register_uint_preference",
    "prefs_register_bool_preference",
    "prefs_get_range_value",
    "prefs_register_range_preference",
    "range_convert_str",
    "wmem_epan_scope",
    "value_is_in_range",
    "p_add_proto_data",
    "p_get_proto_data",
    "register_init_routine",
    "register_cleanup_routine",
    "epan_get_version_number",
];

const ALLOW_TYPES: &[&str] = &[
    "proto_plugin",
    "true_false_string",
    "hf_register_info",
    "ei_register_info",
    "expert_field",
    "packet_info",
    "proto_node",
    "field_info",
    "tcpinfo",
    "nstime_t",
    "ftenum",
    "field_display_e",
    "ft_framenum_type",
    "hf_ref_type",
    "address_type",
    "port_type",
    "value_string",
];

const ALLOW_VARS: &[&str] = &[
    "ENC_.*",
    "PI_.*",
    "FI_GENERATED",
    "DESEGMENT_.*",
    "HEURISTIC_ENABLE",
    "BASE_NONE",
    "BASE_DEC",
    "BASE_HEX",
    "WS_PLUGIN_DESC_DISSECTOR",
    "COL_.*",
];
