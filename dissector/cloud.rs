//! The cloud link in Wireshark (PROTOCOL.md §7): a device's own TLS connection to the TP-Link
//! cloud, on TCP 50443 (a port preference) or 443.
//!
//! * **Without TLS secrets** TLS calls no application dissector, so a postdissector
//!   ([`postdissect`]) reads what Wireshark dissected anyway — DNS answers, TCP flags, the
//!   ClientHello's SNI, the certificate chain, each record's type and length — and hands it to
//!   the decoder's [`CloudTracker`], which decides which connections are cloud links, who is
//!   the device, what the server is called and each record's role. Every frame of such a
//!   connection, from its first SYN, gets a `kasa.cloud` item.
//! * **With TLS secrets** (a key log file, or secrets embedded in a pcapng) TLS hands the
//!   decrypted application data to [`dissect_tls`] (TCP 50443 through `tls.port`, other ports
//!   through the heuristic [`heur_tls`]); the decoder's [`wire::cloud`] finds each message's
//!   framing and end, and the message goes through the same pipeline as every other transport
//!   (`kasa.transport == "cloud"`), with `tcp_dissect_pdus` joining messages across records.
//!
//! Nothing here decides anything: the tracker and the session do.

use crate::epan::{
    self, Call, Col, Handle, PduCtx, Pinfo, PortRange, PrefBool, Span, Thrown, TlsSlot, Tree, Tvb,
    Via,
};
use crate::fields::*;
use crate::register::max_message;
use crate::render::{self, Input};
use core::ffi::{CStr, c_int};
use kasa_decoder::conv::cloud::{CloudLink, CloudTracker, NameSource, Role, Tcp};
use kasa_decoder::msg::Meta;
use kasa_decoder::wire::cloud::{self as wire, Cut, Framing, PREFIX_LEN};
use kasa_decoder::wire::tls::{self, ClientHello};
use kasa_decoder::wire::{dns, x509};
use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, OnceLock};

thread_local! {
    /// The frame whose dissection showed a cloud message last (its `kasa.transport` is there).
    static MESSAGE_FRAME: Cell<u32> = const { Cell::new(0) };
}

/// The application-data handle (on `tls.port` for the cloud ports, and set by the heuristic).
pub static TLS_HANDLE: Handle = Handle::new();
/// The `kasa.cloud_ports` preference: TCP ports that are TLS to the cloud.
pub static CLOUD_PORTS: PortRange = PortRange::new();
/// The default of [`CLOUD_PORTS`].
pub const DEFAULT_PORTS: &CStr = c"50443";

/// The `kasa.cloud.framing` value of a framing.
pub fn framing_name(f: Framing) -> &'static CStr {
    match f {
        Framing::XorLength => c"xor-length",
        Framing::Xor => c"xor",
        Framing::JsonLength => c"json-length",
        Framing::Json => c"json",
    }
}

// ---------------------------------------------------------------------------------------------
// State: the decoder's tracker, and what the first pass found per frame.

struct State {
    tracker: CloudTracker,
    /// Whether the tracker has the `cloud_ports` preference's ports (set at first use after a
    /// reset, so that a reset at the end of a capture leaves nothing allocated).
    has_ports: bool,
    /// The roles of the application-data records of each frame (first pass), for later passes.
    roles: HashMap<u32, Vec<Role>>,
    /// The TLS ports registered with `ssl_dissector_add` now (no heap: the plugin is unloaded
    /// at exit, and memory only a static points to would be lost).
    registered: [u16; MAX_PORTS],
    n_registered: usize,
}

/// Most cloud ports registered with TLS ([`PortRange::ports`] gives at most as many).
const MAX_PORTS: usize = 1024;

fn state() -> MutexGuard<'static, State> {
    // Nothing here allocates until the first frame (an empty tracker and map do not).
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            Mutex::new(State {
                tracker: CloudTracker::new(&[]),
                has_ports: false,
                roles: HashMap::new(),
                registered: [0; MAX_PORTS],
                n_registered: 0,
            })
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Most roles remembered per frame (a frame holds at most a few dozen records).
const MAX_ROLES_PER_FRAME: usize = 64;
/// Frames whose roles are remembered.
const MAX_FRAMES_WITH_ROLES: usize = 1 << 20;

/// A new capture, or the end of one: forget everything and free it (the ports stay
/// registered with TLS).
pub fn reset() {
    let mut s = state();
    s.tracker = CloudTracker::new(&[]);
    s.has_ports = false;
    s.roles = HashMap::new();
}

/// Preferences changed: the cloud ports are TLS, with this plugin as the application dissector;
/// the postdissector's fields are wanted when annotation is on.
pub fn apply_prefs(post: &Handle) {
    want_fields(post, ANNOTATE.get());
    CLOUD_PORTS.reload(c"kasa", c"cloud_ports");
    let ports = CLOUD_PORTS.ports();
    let mut s = state();
    for i in 0..s.n_registered {
        epan::tls_port_delete(s.registered[i], &TLS_HANDLE);
    }
    s.n_registered = 0;
    for &p in ports.iter().take(MAX_PORTS) {
        epan::tls_port_add(p, &TLS_HANDLE);
        let n = s.n_registered;
        s.registered[n] = p;
        s.n_registered += 1;
    }
    s.tracker.set_ports(&ports);
    s.has_ports = true;
}

/// The device end of the connection between `a` and `b`, when it is a known cloud link.
fn device_of(a: SocketAddr, b: SocketAddr) -> Option<SocketAddr> {
    state().tracker.link_of(a, b).map(|l| l.client)
}

/// Which way a message goes on the link: (source is the device, destination is the device).
pub fn device_sides(src: SocketAddr, dst: SocketAddr) -> (bool, bool) {
    match device_of(src, dst) {
        Some(d) => (d == src, d == dst),
        None => (false, false),
    }
}

// ---------------------------------------------------------------------------------------------
// Decrypted application data.

/// From `tls.port` (the cloud ports) or a session the heuristic claimed.
pub fn dissect_tls(c: &Call<'_>) -> c_int {
    let len = c.tvb.captured_len();
    let ctx = PduCtx {
        via: Via::Tls,
        tcp: Default::default(),
    };
    // On Err epan threw: the shim's trampoline rethrows once we return.
    let _ = epan::tcp_dissect_pdus(c, 1, ctx);
    len as c_int
}

/// The heuristic on the `tls` list: decrypted application data whose first message is in a
/// framing distinctive enough on its own (XOR), or in any known framing on a connection the
/// tracker already knows as a cloud link (by DNS, certificate or port). HTTP and everything
/// else is left to the other heuristics.
pub fn heur_tls(c: &Call<'_>, slot: TlsSlot) -> bool {
    let mut head = [0u8; PREFIX_LEN + 2];
    let n = head.len().min(c.tvb.captured_len());
    if !c.tvb.copy_into(0, &mut head[..n]) {
        return false;
    }
    let Some(framing) = wire::framing(&head[..n], max_message()) else {
        return false;
    };
    if !framing.distinctive() && device_of(c.pinfo.src(), c.pinfo.dst()).is_none() {
        return false;
    }
    slot.claim(&TLS_HANDLE);
    dissect_tls(c);
    true
}

/// `tcp_dissect_pdus`' length callback inside TLS: where the message at `offset` ends
/// ([`wire::cut`]); bytes in no known framing run to the next message start.
pub fn pdu_len(pinfo: Pinfo<'_>, tvb: Tvb<'_>, offset: usize) -> usize {
    let rest = tvb.remaining(offset);
    let cap = max_message();
    let at_hand = rest.min(cap as usize + PREFIX_LEN);
    let Some(bytes) = tvb.copy(pinfo.pool(), offset, at_hand) else {
        return rest;
    };
    match wire::cut(bytes, cap) {
        Cut::Message { len, .. } => {
            // The dissect call that follows knows the cut from this (one scan per message).
            render::remember_len(pinfo, bytes, len);
            len
        }
        // A length prefix says how much; the end of an unprefixed object is found only when
        // it arrives: ask for one more record.
        Cut::NeedMore { framing, at_least } if framing.has_prefix() || !pinfo.can_desegment() => {
            at_least
        }
        Cut::NeedMore { .. } => 0,
        // One more record (tcp_dissect_pdus: DESEGMENT_ONE_MORE_SEGMENT), which it asserts
        // TLS can give.
        Cut::TooShort if pinfo.can_desegment() => 0,
        Cut::TooShort => rest.max(1),
        Cut::Unknown { len } => len.max(1),
    }
}

/// One message (or a stretch of unknown bytes) as `tcp_dissect_pdus` cut it.
pub fn dissect_pdu(c: &Call<'_>) -> c_int {
    let total = c.tvb.captured_len();
    let pool = c.pinfo.pool();
    let Some(bytes) = c.tvb.copy(pool, 0, total) else {
        return total as c_int;
    };
    let span = Span {
        tvb: c.tvb,
        offset: 0,
        len: total,
    };
    let cut = match render::recall_cut(c.pinfo, c.tvb, total) {
        Some(_) => wire::framing(bytes, max_message()).map_or_else(
            || wire::cut(bytes, max_message()),
            |framing| Cut::Message {
                framing,
                len: total,
            },
        ),
        None => wire::cut(bytes, max_message()),
    };
    let (framing, len, complete) = match cut {
        Cut::Message { framing, len } => (framing, len, true),
        // TLS could not join the records (desegmentation off, or the capture ends).
        Cut::NeedMore { framing, .. } => (framing, total, false),
        Cut::TooShort | Cut::Unknown { .. } => {
            let _ = unknown(c, span);
            return total as c_int;
        }
    };
    let message = &bytes[..len];
    let len_header = framing
        .has_prefix()
        .then(|| u32::from_be_bytes([message[0], message[1], message[2], message[3]]));
    let text_at = if framing.has_prefix() { PREFIX_LEN } else { 0 };
    let plaintext: &[u8] = if framing.is_xor() {
        pool.slice(&wire::plaintext(framing, message))
    } else {
        &message[text_at.min(message.len())..]
    };
    let mut problems = Vec::new();
    if !complete {
        problems.push(kasa_decoder::msg::Problem::Truncated {
            expected: len_header.map(|h| h as usize),
            got: plaintext.len(),
        });
    }
    let input = Input::Message {
        meta: Meta::Cloud {
            framing,
            len_header,
        },
        plaintext,
        problems,
        decrypted: framing.is_xor(),
        text_at,
    };
    MESSAGE_FRAME.with(|f| f.set(c.pinfo.num()));
    let _ = render::show(c, span, Via::Tls, input);
    total as c_int
}

/// Bytes in no known framing: data, with a note; never decoded as something they may not be.
fn unknown(c: &Call<'_>, span: Span<'_>) -> Result<(), Thrown> {
    let pinfo = c.pinfo;
    pinfo.claim_columns(c"KASA");
    pinfo.col_append_fenced(Col::Info, c" | ", c"Cloud data (unknown framing)");
    let Some(tree) = c.tree else {
        return Ok(());
    };
    let Some(item) = tree.protocol(span)? else {
        return Ok(());
    };
    item.append_text(c", cloud link: data in no known framing")?;
    if let Some(sub) = item.subtree(&ETT_KASA)? {
        let none = Span { len: 0, ..span };
        if let Some(i) = sub.string(&TRANSPORT, none, c"cloud")? {
            i.set_generated();
        }
    }
    let text = pinfo.pool().cstr(&format!(
        "{} bytes of decrypted cloud-link data in no known framing (not Kasa JSON or XOR): shown as data",
        span.len
    ));
    pinfo.expert(Some(item), &EI_CLOUD_UNKNOWN, text)
}

// ---------------------------------------------------------------------------------------------
// The postdissector: every frame.

/// Field ids the postdissector reads (looked up at handoff).
struct Ids {
    dns: c_int,
    tcp_flags: c_int,
    hs_type: c_int,
    sni: c_int,
    cert: c_int,
    rec_type: c_int,
    rec_len: c_int,
}

static IDS: OnceLock<Ids> = OnceLock::new();

/// At handoff: the ids of the fields the postdissector reads.
pub fn find_fields() {
    let id = |n: &CStr| epan::field_id(n).unwrap_or(-1);
    let _ = IDS.set(Ids {
        dns: id(c"dns"),
        tcp_flags: id(c"tcp.flags"),
        hs_type: id(c"tls.handshake.type"),
        sni: id(c"tls.handshake.extensions_server_name"),
        cert: id(c"tls.handshake.certificate"),
        rec_type: id(c"tls.record.content_type"),
        rec_len: id(c"tls.record.length"),
    });
}

/// Asks for those fields (`kasa.cloud_annotate` on), or for none. Wanted fields make Wireshark
/// build a tree for every frame, tshark's summary mode included: the price of marking cloud
/// links without secrets. Without them the postdissector gets a tree only where one is built
/// anyway (`-V`, a display filter, the GUI's selected frame) and annotates nothing.
fn want_fields(post: &Handle, on: bool) {
    match IDS.get() {
        Some(ids) if on => epan::set_postdissector_wanted(
            post,
            &[
                ids.dns,
                ids.tcp_flags,
                ids.hs_type,
                ids.sni,
                ids.cert,
                ids.rec_type,
                ids.rec_len,
            ],
        ),
        _ => epan::set_postdissector_wanted(post, &[]),
    }
}

/// The `kasa.cloud_annotate` preference.
pub static ANNOTATE: PrefBool = PrefBool::new(true);

/// Most items of one field read per frame.
const MAX_ITEMS: usize = 64;
/// Largest item copied (a certificate, a DNS message).
const MAX_ITEM_LEN: usize = 64 * 1024;

fn bytes_of<'p>(pinfo: Pinfo<'p>, s: &Span<'p>) -> Option<&'p [u8]> {
    if s.len > MAX_ITEM_LEN {
        return None;
    }
    s.tvb.copy(pinfo.pool(), s.offset, s.len).map(|b| &*b)
}

fn be(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b))
}

/// The first pass: what Wireshark dissected in this frame, handed to the tracker.
fn observe(tree: Tree<'_>, pinfo: Pinfo<'_>, ids: &Ids) {
    let frame = u64::from(pinfo.num());
    let time = pinfo.time();
    let read = |hf: c_int| -> Vec<&[u8]> {
        tree.field_spans(hf, MAX_ITEMS)
            .iter()
            .filter_map(|s| bytes_of(pinfo, s))
            .collect()
    };
    let dns_messages = read(ids.dns);
    let mut s = state();
    if !s.has_ports {
        let ports = CLOUD_PORTS.ports();
        s.tracker.set_ports(&ports);
        s.has_ports = true;
    }
    for m in dns_messages {
        // Over TCP the `dns` item starts at the message's 2-byte length.
        let m = if pinfo.is_tcp() {
            m.get(2..).unwrap_or_default()
        } else {
            m
        };
        if let Ok(answers) = dns::answers(m) {
            s.tracker.dns(frame, &answers);
        }
    }
    if !pinfo.is_tcp() {
        return;
    }
    let (src, dst) = (pinfo.src(), pinfo.dst());
    drop(s);
    let flags = read(ids.tcp_flags).first().map_or(0, |b| be(b));
    // The TLS fields only where TLS left records in this frame.
    let types = read(ids.rec_type);
    let tls = |hf: c_int| {
        if types.is_empty() {
            Vec::new()
        } else {
            read(hf)
        }
    };
    let (hs_types, snis, certs, lens) = (
        tls(ids.hs_type),
        tls(ids.sni),
        tls(ids.cert),
        tls(ids.rec_len),
    );
    let mut s = state();
    s.tracker
        .tcp(&Tcp::from_flags(frame, time, src, dst, flags as u16, 0));
    if hs_types
        .iter()
        .any(|t| t.first() == Some(&tls::handshake::CLIENT_HELLO))
    {
        let sni = snis
            .first()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        s.tracker
            .client_hello(src, dst, &ClientHello { version: 0, sni });
    }
    if !certs.is_empty() {
        let names: Vec<_> = certs.iter().filter_map(|d| x509::names(d).ok()).collect();
        if let Some((leaf, chain)) = names.split_first() {
            s.tracker.certificate(src, dst, leaf, chain);
        }
    }
    let mut roles = Vec::new();
    for (t, l) in types.iter().zip(&lens) {
        if t.first() == Some(&tls::content::APPLICATION_DATA)
            && let Some(role) = s.tracker.app_record(frame, time, src, dst, be(l))
            && roles.len() < MAX_ROLES_PER_FRAME
        {
            roles.push(role);
        }
    }
    if !roles.is_empty() && s.roles.len() < MAX_FRAMES_WITH_ROLES {
        s.roles.insert(pinfo.num(), roles);
    }
}

/// What one frame shows (copied out of the tracker: epan is called without the lock).
struct Shown {
    label: String,
    name_source: Option<NameSource>,
    server: String,
    device: String,
    sni_absent: Option<bool>,
    issuer: Option<String>,
    answered: bool,
    roles: Vec<Role>,
}

fn shown(link: &CloudLink, roles: Vec<Role>) -> Shown {
    Shown {
        label: link
            .server_name
            .clone()
            .unwrap_or_else(|| link.server.to_string()),
        name_source: link.name_source,
        server: link.server.to_string(),
        device: link.client.to_string(),
        sni_absent: link.sni_absent,
        issuer: link.issuer.clone(),
        answered: link.answered,
        roles,
    }
}

/// Every frame: feed the tracker on the first pass; on a frame of a cloud link, the
/// `kasa.cloud` item.
pub fn postdissect(c: &Call<'_>) {
    let (Some(tree), Some(ids)) = (c.tree, IDS.get()) else {
        return;
    };
    if !ANNOTATE.get() {
        return;
    }
    let pinfo = c.pinfo;
    if !pinfo.visited() {
        observe(tree, pinfo, ids);
    }
    if !pinfo.is_tcp() {
        return;
    }
    let what = {
        let s = state();
        let roles = s.roles.get(&pinfo.num()).cloned().unwrap_or_default();
        s.tracker
            .link_at(pinfo.src(), pinfo.dst(), u64::from(pinfo.num()))
            .map(|l| shown(l, roles))
    };
    let Some(what) = what else {
        return;
    };
    let _ = annotate(c, tree, &what);
}

fn annotate(c: &Call<'_>, tree: Tree<'_>, w: &Shown) -> Result<(), Thrown> {
    let pool = c.pinfo.pool();
    let none = Span {
        tvb: c.tvb,
        offset: 0,
        len: 0,
    };
    let Some(item) = tree.protocol(none)? else {
        return Ok(());
    };
    let roles: Vec<&str> = w.roles.iter().map(|r| r.as_str()).collect();
    let mut title = format!(", cloud link to {}", w.label);
    if !roles.is_empty() {
        title.push_str(&format!(" ({})", roles.join(", ")));
    }
    item.append_text(pool.cstr(&title))?;
    let Some(sub) = item.subtree(&ETT_KASA)? else {
        return Ok(());
    };
    if MESSAGE_FRAME.with(|f| f.get()) != c.pinfo.num()
        && let Some(i) = sub.string(&TRANSPORT, none, c"cloud")?
    {
        i.set_generated();
    }
    let mark = |i: Option<epan::Item<'_>>| {
        if let Some(i) = i {
            i.set_generated();
        }
    };
    let Some(cloud) = sub.string(&CLOUD, none, pool.cstr(&w.label))? else {
        return Ok(());
    };
    cloud.set_generated();
    let Some(t) = cloud.subtree(&ETT_CLOUD)? else {
        return Ok(());
    };
    if let Some(src) = w.name_source {
        mark(t.string(&CLOUD_NAME_SOURCE, none, pool.cstr(src.as_str()))?);
    }
    mark(t.string(&CLOUD_SERVER, none, pool.cstr(&w.server))?);
    mark(t.string(&CLOUD_DEVICE, none, pool.cstr(&w.device))?);
    if let Some(absent) = w.sni_absent {
        mark(t.boolean(&CLOUD_SNI_ABSENT, none, absent)?);
    }
    if let Some(issuer) = &w.issuer {
        mark(t.string(&CLOUD_ISSUER, none, pool.cstr(issuer))?);
    }
    let answered = t.boolean(&CLOUD_ANSWERED, none, w.answered)?;
    mark(answered);
    for r in &w.roles {
        mark(t.string(&CLOUD_DIRECTION, none, pool.cstr(r.as_str()))?);
    }
    if !w.answered {
        let text = pool.cstr(&format!(
            "connection attempt to the TP-Link cloud ({}) not answered",
            w.label
        ));
        c.pinfo.expert(answered, &EI_CLOUD_UNANSWERED, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plugin's `kasa.cloud.framing` strings are the decoder's.
    #[test]
    fn framing_names_agree_with_the_decoder() {
        for f in [
            Framing::XorLength,
            Framing::Xor,
            Framing::JsonLength,
            Framing::Json,
        ] {
            assert_eq!(framing_name(f).to_str().unwrap(), f.as_str());
        }
    }
}
