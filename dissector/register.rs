//! Registration: the protocol, its fields and expert infos ([`crate::fields`]), preferences,
//! dissector handles, the port table and heuristics, and the capture-start reset.

use crate::epan::{self, Callbacks, Entry, Handle, PortRange, PrefBool, PrefUint};
use crate::fields::*;
use crate::{cloud, http, json, render, state, stats, tpap, xor};
use kasa_decoder::wire::xor::DEFAULT_MAX_MESSAGE;

/// What epan runs: handed over once, by `plugin_register` (in the crate root).
pub static CALLBACKS: Callbacks = Callbacks {
    register_protoinfo,
    register_handoff,
    apply_prefs,
    reset_state,
    report_panic: render::report_panic,
    dissect_tcp: xor::dissect_tcp,
    pdu_len: xor::pdu_len,
    dissect_tcp_pdu: xor::dissect_tcp_pdu,
    dissect_udp: xor::dissect_udp,
    heur_tcp: xor::heur_tcp,
    heur_udp: xor::heur_udp,
    dissect_http_body: http::dissect_body,
    postdissect,
    dissect_tls: cloud::dissect_tls,
    heur_tls: cloud::heur_tls,
    stats_packet: stats::packet,
    stats_cleanup: stats::cleanup,
};

/// The one postdissector: the TPAP mark and the cloud link's annotation.
fn postdissect(c: &crate::epan::Call<'_>) {
    tpap::postdissect(c);
    cloud::postdissect(c);
}

static MAX_MESSAGE: PrefUint = PrefUint::new(DEFAULT_MAX_MESSAGE);
static JSON_TREE: PrefBool = PrefBool::new(true);
pub(crate) static TCP_PORTS: PortRange = PortRange::new();
pub(crate) static UDP_PORTS: PortRange = PortRange::new();

static TCP_HANDLE: Handle = Handle::new();
pub(crate) static TCP_CONV_HANDLE: Handle = Handle::new();
static UDP_HANDLE: Handle = Handle::new();
pub(crate) static UDP_CONV_HANDLE: Handle = Handle::new();
pub(crate) static JSON_HANDLE: Handle = Handle::new();
static POST_HANDLE: Handle = Handle::new();

/// The preference `kasa.json_tree`: show a JSON tree under each message ([`crate::json`]).
pub fn json_tree_pref() -> bool {
    JSON_TREE.get()
}

pub fn max_message() -> u32 {
    MAX_MESSAGE.get()
}

pub fn register_protoinfo() {
    epan::register_protocol(
        c"TP-Link Kasa Smart Home",
        c"KASA",
        c"kasa",
        FIELDS,
        SUBTREES,
        EXPERTS,
    );
    let prefs = epan::register_prefs();
    prefs.uint(
        c"max_message_size",
        c"Maximum message size",
        c"A TCP length header above this many bytes is reported as malformed at once, without waiting for reassembly.",
        &MAX_MESSAGE,
    );
    prefs.boolean(
        c"json_tree",
        c"Show the JSON tree",
        c"Show the decrypted text as a JSON tree (json.key, json.value.* filters), when a tree is shown or a filter refers to json.",
        &JSON_TREE,
    );
    prefs.boolean(
        c"json_fast",
        c"Build the JSON tree in the plugin",
        c"Build the JSON tree (the same json.* items Wireshark 4.0's JSON dissector shows) from the plugin's own reading of the message, several times faster than calling the JSON dissector. Off: call the JSON dissector. Other Wireshark versions, and texts the two would show differently, always go to the JSON dissector.",
        &json::FAST,
    );
    prefs.range(
        c"cloud_ports",
        c"Cloud link TCP ports",
        c"TCP ports of the devices' TLS connection to the TP-Link cloud (50443 on older firmware). They are handed to TLS, and its decrypted application data to this plugin. Port 443 is recognised from a DNS answer or the certificate instead.",
        cloud::DEFAULT_PORTS,
        &cloud::CLOUD_PORTS,
    );
    prefs.boolean(
        c"cloud_annotate",
        c"Mark cloud links without TLS secrets",
        c"Mark every frame of a device's TLS connection to the TP-Link cloud (kasa.cloud: server name from DNS or the certificate, SNI, issuer, record roles). This makes Wireshark build a protocol tree for every frame, which slows tshark's summary mode; turn it off for speed when the cloud link does not matter.",
        &cloud::ANNOTATE,
    );
    epan::register_secrets(&prefs);
    epan::register_tap();
    epan::register_dissector(&TCP_HANDLE, c"kasa.tcp", Entry::TcpPort);
    epan::register_dissector(&TCP_CONV_HANDLE, c"kasa.tcp.heur", Entry::TcpConv);
    epan::register_dissector(&UDP_HANDLE, c"kasa.udp", Entry::UdpPort);
    epan::register_dissector(&UDP_CONV_HANDLE, c"kasa.udp.heur", Entry::UdpConv);
    epan::register_dissector(&POST_HANDLE, c"kasa.tpap", Entry::Post);
    epan::register_postdissector(&POST_HANDLE);
    epan::register_dissector(&cloud::TLS_HANDLE, c"kasa.cloud", Entry::Tls);
    epan::register_http(
        c"TP-Link Kasa over HTTP (body hook)",
        c"KASA-HTTP",
        c"kasa_http_hook",
    );
    epan::register_init_cleanup();
}

pub fn register_handoff() {
    epan::add_port_range(c"tcp.port", c"9999", &TCP_HANDLE);
    epan::add_port_range(c"udp.port", c"9999", &UDP_HANDLE);
    for port in crate::tdp::PORTS {
        epan::add_port(c"udp.port", port, &UDP_HANDLE);
    }
    epan::add_heuristic(c"tcp", c"TP-Link Kasa over TCP", c"kasa_tcp", false);
    epan::add_heuristic(c"udp", c"TP-Link Kasa over UDP", c"kasa_udp", true);
    epan::add_http_hooks(c"TP-Link Kasa over HTTP", c"kasa_http");
    epan::add_tls_heuristic(c"TP-Link Kasa cloud link over TLS", c"kasa_tls");
    epan::find_dissector(&JSON_HANDLE, c"json");
    json::find_fields();
    cloud::find_fields();
    apply_prefs();
}

pub fn apply_prefs() {
    TCP_PORTS.reload(c"kasa", c"tcp.port");
    UDP_PORTS.reload(c"kasa", c"udp.port");
    cloud::apply_prefs(&POST_HANDLE);
}

/// A new capture (or the end of one): forget everything.
pub fn reset_state() {
    state::reset();
    stats::reset();
    cloud::reset();
    json::read_prefs();
}
