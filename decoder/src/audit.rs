//! Security findings: what a capture tells about how exposed a device is.
//!
//! Computed here, from the decoded messages, so that the plugin's expert infos and
//! `kasa-decode` say the same thing. Two kinds of check:
//!
//! * [`message_findings`] looks at one message alone: a secret under the reversible XOR cipher
//!   (or in clear TDP), the cloud server redirected, an unauthenticated command that changes
//!   the device's state, a KLAP or SslAes session that authenticated with a default account;
//! * [`DeviceAudit`] follows devices across messages: a device that answers XOR and also
//!   announces or speaks KLAP keeps the weaker protocol open.
//!
//! A finding names the kind of secret and the key that carried it, **never its value**.

use crate::msg::{Body, Call, Device, Direction, KlapStep, Message, Meta, Method, Transport};
use core::fmt;
use foldhash::HashMap;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};

/// How serious a finding is, as Wireshark's expert levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Note,
    Warning,
}

/// What kind of secret travelled in a readable form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// `netif.set_stainfo`'s `password`: the home network's passphrase.
    WifiPassphrase,
    /// `cnCloud.bind`'s `password`: the owner's TP-Link cloud account.
    CloudPassword,
    /// Any other key whose name says password, passwd, pwd, passphrase, psk, secret or key.
    Other,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::WifiPassphrase => "Wi-Fi passphrase",
            SecretKind::CloudPassword => "cloud account password",
            SecretKind::Other => "secret",
        }
    }
}

/// The finding's kind: one filterable field per kind (`kasa.security.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ClearSecret,
    CloudRedirect,
    UnauthenticatedControl,
    DefaultAccount,
    WeakProtocolOpen,
}

impl Kind {
    /// Every kind, in the order of the README's table.
    pub const ALL: [Kind; 5] = [
        Kind::ClearSecret,
        Kind::CloudRedirect,
        Kind::UnauthenticatedControl,
        Kind::DefaultAccount,
        Kind::WeakProtocolOpen,
    ];

    /// The last part of the field's abbreviation: `kasa.security.<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ClearSecret => "clear_secret",
            Kind::CloudRedirect => "cloud_redirect",
            Kind::UnauthenticatedControl => "unauthenticated_control",
            Kind::DefaultAccount => "default_account",
            Kind::WeakProtocolOpen => "weak_protocol_open",
        }
    }

    pub fn level(self) -> Level {
        match self {
            Kind::ClearSecret | Kind::CloudRedirect | Kind::DefaultAccount => Level::Warning,
            Kind::UnauthenticatedControl | Kind::WeakProtocolOpen => Level::Note,
        }
    }
}

/// One security finding, at the message where it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A secret readable by anyone who sees the packet.
    ClearSecret {
        kind: SecretKind,
        /// The method that carried it (`netif.set_stainfo`).
        method: String,
        /// The JSON key that held it (`password`); never its value.
        key: String,
        transport: Transport,
    },
    /// `cnCloud.set_server_url` (or its `smartlife.iot.common.cloud` twin): the device is told
    /// to talk to another cloud server.
    CloudRedirect {
        method: String,
        /// The `server` asked for, cut to [`MAX_SHOWN`] characters.
        server: Option<String>,
    },
    /// A command that changes the device's state, accepted from anyone on the network.
    UnauthenticatedControl {
        method: String,
        sender: SocketAddr,
        transport: Transport,
    },
    /// A KLAP or SslAes session authenticated with one of the publicly known default
    /// accounts.
    DefaultAccount {
        transport: Transport,
        /// The account's label (`kasa`, `tapo`, `blank`, …), never its password.
        account: String,
    },
    /// The device answers XOR and also announces or speaks KLAP.
    WeakProtocolOpen {
        /// The frame of an XOR answer of the device.
        xor_frame: u64,
        /// The frame where it announced (TDP) or spoke KLAP.
        klap_frame: u64,
    },
}

/// Longest user-controlled text a finding repeats.
pub const MAX_SHOWN: usize = 128;

impl Finding {
    pub fn kind(&self) -> Kind {
        match self {
            Finding::ClearSecret { .. } => Kind::ClearSecret,
            Finding::CloudRedirect { .. } => Kind::CloudRedirect,
            Finding::UnauthenticatedControl { .. } => Kind::UnauthenticatedControl,
            Finding::DefaultAccount { .. } => Kind::DefaultAccount,
            Finding::WeakProtocolOpen { .. } => Kind::WeakProtocolOpen,
        }
    }

    pub fn level(&self) -> Level {
        self.kind().level()
    }
}

fn cipher_words(transport: Transport) -> &'static str {
    match transport {
        Transport::XorTcp | Transport::XorUdp => "under the reversible XOR cipher",
        Transport::Tdp => "in clear TDP",
        _ => "readably",
    }
}

impl fmt::Display for Finding {
    /// The expert info's text. Never contains a secret's value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::ClearSecret {
                kind,
                method,
                key,
                transport,
            } => write!(
                f,
                "{} sent {} ({method}, key \"{key}\"): anyone on the network can read it",
                capitalise(kind.as_str()),
                cipher_words(*transport),
            ),
            Finding::CloudRedirect { method, server } => {
                write!(f, "The device's cloud server is redirected ({method}")?;
                if let Some(server) = server {
                    write!(f, " to \"{server}\"")?;
                }
                f.write_str(")")
            }
            Finding::UnauthenticatedControl {
                method,
                sender,
                transport,
            } => write!(
                f,
                "Unauthenticated command {method} from {sender} over {}: it changes the device's state",
                transport.as_str()
            ),
            Finding::DefaultAccount { transport, account } => write!(
                f,
                "The {} session authenticated with the default account \"{account}\": anyone who knows the published default can log in",
                transport.as_str()
            ),
            Finding::WeakProtocolOpen {
                xor_frame,
                klap_frame,
            } => write!(
                f,
                "The device answers unauthenticated XOR (frame {xor_frame}) and also offers KLAP (frame {klap_frame}): the weaker protocol stays open"
            ),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Whether a JSON key's name says it holds a secret. The key is split into words (at `_`,
/// `-`, `.` and lower-to-upper case changes, digits dropped) and its **last** word decides:
/// `password`, `password2`, `wifi_pwd`, `wpaKey` are secrets; `key_type`, `keyword`,
/// `password_hint_shown` are not.
pub fn is_secret_key(key: &str) -> bool {
    let mut last = String::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        let boundary = c == '_' || c == '-' || c == '.' || c == ' ';
        if boundary || (c.is_uppercase() && prev_lower) {
            if !word.is_empty() {
                last = core::mem::take(&mut word);
            }
            prev_lower = false;
            if boundary {
                continue;
            }
        }
        if c.is_ascii_digit() {
            prev_lower = false;
            continue;
        }
        prev_lower = c.is_lowercase();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        last = word;
    }
    matches!(
        last.as_str(),
        "password" | "passwd" | "pwd" | "pass" | "passphrase" | "psk" | "secret" | "key"
    )
}

/// Whether a method changes the device's state: relay, dimmer and light state, reboot,
/// reset, firmware, schedules, countdowns, cloud binding, network settings, and every other
/// `set_*`, `add_*`, `edit_*`, `delete_*`, `erase_*`, `transition_*` method.
pub fn changes_state(method: &str) -> bool {
    const EXACT: [&str; 8] = [
        "reboot",
        "reset",
        "download_firmware",
        "flash_firmware",
        "bind",
        "unbind",
        "device_reboot",
        "device_reset",
    ];
    const PREFIXES: [&str; 7] = [
        "set_",
        "add_",
        "edit_",
        "delete_",
        "erase_",
        "transition_",
        "fw_download",
    ];
    EXACT.contains(&method) || PREFIXES.iter().any(|p| method.starts_with(p))
}

fn is_cloud_module(module: &str) -> bool {
    module == "cnCloud" || module.ends_with(".cloud")
}

/// A cheap test before any parsing: could the text hold a secret-named key at all? ASCII
/// case-insensitive.
///
/// Sixteen positions at a time, each tested on its byte and the next (case folded with
/// `| 0x20`): only where the two start one of the names (`pa`, `pw`, `ps`, `se`, `ke`) is the
/// whole name compared. Written so that the compiler makes vector comparisons of the sixteen
/// (no `unsafe`); JSON keys such as `system` or `sysinfo` pass at that test.
fn may_hold_secret(plaintext: &[u8]) -> bool {
    const NAMES: [&[u8]; 5] = [b"pass", b"pwd", b"psk", b"secret", b"key"];
    let at = |i: usize| {
        NAMES.iter().any(|n| {
            plaintext
                .get(i..i + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
        })
    };
    // A name is at least three bytes: its first two lie within the first `len - 1` positions.
    let positions = plaintext.len().saturating_sub(1);
    let mut start = 0;
    while start < positions {
        let mut hits = match plaintext[start..].first_chunk::<17>() {
            Some(block) => pair_starts(block),
            None => {
                // The last few bytes, padded with NULs (`0 | 0x20` starts no name).
                let mut last = [0u8; 17];
                let rest = &plaintext[start..];
                last[..rest.len()].copy_from_slice(rest);
                pair_starts(&last)
            }
        };
        while hits != 0 {
            let j = hits.trailing_zeros() as usize / 8;
            if at(start + j) {
                return true;
            }
            hits &= !(0xff << (j * 8));
        }
        start += 16;
    }
    false
}

/// `0xff` at each of the first sixteen positions of `w` where the byte and the next, case
/// folded, start a secret's name, `0` elsewhere, as one little-endian number.
#[inline(always)]
fn pair_starts(w: &[u8; 17]) -> u128 {
    let mut hits = [0u8; 16];
    for (j, h) in hits.iter_mut().enumerate() {
        let (x, y) = (w[j] | 0x20, w[j + 1] | 0x20);
        let pair = (x == b'p') & ((y == b'a') | (y == b'w') | (y == b's'))
            | ((x == b's') | (x == b'k')) & (y == b'e');
        *h = if pair { 0xff } else { 0 };
    }
    u128::from_le_bytes(hits)
}

/// What the checks read of a message: the parts both tools have at hand (the plugin has no
/// [`Message`], only the session's decision and the body it analysed).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub direction: Direction,
    /// The sender.
    pub src: SocketAddr,
    /// The frame where the message completes.
    pub frame: u64,
    pub meta: &'a Meta,
    pub body: &'a Body,
    pub plaintext: &'a [u8],
    /// The device's identity from an earlier answer, when this message does not carry it.
    pub peer_device: Option<&'a Device>,
}

impl<'a> From<&'a Message> for Subject<'a> {
    fn from(m: &'a Message) -> Subject<'a> {
        Subject {
            direction: m.direction,
            src: m.src,
            frame: m.frame(),
            meta: &m.meta,
            body: &m.body,
            plaintext: &m.plaintext,
            peer_device: m.peer_device.as_deref(),
        }
    }
}

/// Every finding at one message, in a stable order: its own ([`message_findings`]), then
/// those `devices` shows at it. Call in capture order.
pub fn findings(m: &Subject<'_>, devices: &mut DeviceAudit) -> Vec<Finding> {
    let mut out = message_findings(m);
    out.extend(devices.observe(m));
    out
}

/// The findings of one message alone, in a stable order.
pub fn message_findings(m: &Subject<'_>) -> Vec<Finding> {
    // An answer matters only as a KLAP or AES login's (default accounts): most answers stop
    // here.
    if m.direction == Direction::Response && !matches!(m.meta, Meta::Klap(_) | Meta::Aes(_)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let transport = m.meta.transport();
    let readable = matches!(
        transport,
        Transport::XorTcp | Transport::XorUdp | Transport::Tdp
    );
    // Secrets travel to the device (set_stainfo, bind); answers are not scanned.
    if readable
        && m.direction == Direction::Request
        && m.body.json_ok
        && may_hold_secret(m.plaintext)
    {
        secrets(m, transport, &mut out);
    }
    if m.direction == Direction::Request {
        for method in &m.body.methods {
            let Call::Iot {
                module,
                method: Some(name),
            } = &method.call
            else {
                continue;
            };
            if is_cloud_module(module) && name == "set_server_url" {
                out.push(Finding::CloudRedirect {
                    method: method.name(),
                    server: server_of(m, module, name),
                });
            }
        }
        if matches!(transport, Transport::XorTcp | Transport::XorUdp) {
            for method in &m.body.methods {
                if method.method().is_some_and(changes_state) {
                    out.push(Finding::UnauthenticatedControl {
                        method: method.name(),
                        sender: m.src,
                        transport,
                    });
                }
            }
        }
    }
    if let Some(account) = default_account(m) {
        out.push(Finding::DefaultAccount { transport, account });
    }
    out
}

/// The `server` parameter of an IOT `module.method` request.
fn server_of(m: &Subject<'_>, module: &str, method: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(m.plaintext).ok()?;
    let server = v.get(module)?.get(method)?.get("server")?.as_str()?;
    Some(cut(server))
}

/// Secrets in a readable message: every string or number value under a secret-named key,
/// anywhere in the document, named by the IOT method (or SMART method) it belongs to.
fn secrets(m: &Subject<'_>, transport: Transport, out: &mut Vec<Finding>) {
    let Ok(v) = serde_json::from_slice::<Value>(m.plaintext) else {
        return;
    };
    let Value::Object(top) = &v else { return };
    let smart = top.get("method").and_then(Value::as_str);
    if let Some(smart_method) = smart {
        walk(&v, &mut |key| {
            out.push(Finding::ClearSecret {
                kind: SecretKind::Other,
                method: smart_method.to_owned(),
                key: cut(key),
                transport,
            })
        });
        return;
    }
    for (module, mv) in top {
        let Value::Object(methods) = mv else { continue };
        for (name, params) in methods {
            let kind = if module == "netif" && name == "set_stainfo" {
                SecretKind::WifiPassphrase
            } else if is_cloud_module(module) && name == "bind" {
                SecretKind::CloudPassword
            } else {
                SecretKind::Other
            };
            walk(params, &mut |key| {
                let kind = if matches!(kind, SecretKind::Other) || !key.contains("pass") {
                    SecretKind::Other
                } else {
                    kind
                };
                out.push(Finding::ClearSecret {
                    kind,
                    method: Method::iot(module, Some(name)).name(),
                    key: cut(key),
                    transport,
                })
            });
        }
    }
}

/// Calls `found` with every secret-named key whose value is a non-empty string or a number,
/// depth first, at most 64 levels deep (the decoder already refused deeper documents).
fn walk(v: &Value, found: &mut dyn FnMut(&str)) {
    fn go(v: &Value, depth: usize, found: &mut dyn FnMut(&str)) {
        if depth > 64 {
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let holds = match v {
                        Value::String(s) => !s.is_empty(),
                        Value::Number(_) => true,
                        _ => false,
                    };
                    if holds && is_secret_key(k) {
                        found(k);
                    }
                    go(v, depth + 1, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| go(v, depth + 1, found)),
            _ => {}
        }
    }
    go(v, 0, found)
}

/// The default account a KLAP handshake or SslAes login matched, on the message where the
/// match shows first (the KLAP handshake1 answer, the SslAes login answer).
fn default_account(m: &Subject<'_>) -> Option<String> {
    let auth = match m.meta {
        Meta::Klap(k) if matches!(k.step, KlapStep::Handshake1Reply { .. }) => k.auth.as_deref(),
        Meta::Aes(a) => a
            .ssl
            .as_ref()
            .filter(|s| s.login.is_some() && m.direction == Direction::Response)
            .and_then(|s| s.auth.as_deref()),
        _ => None,
    }?;
    auth.strip_prefix("default:").map(str::to_owned)
}

/// Devices followed across messages, for the findings no single message shows. Bounded:
/// at most [`DeviceAudit::MAX_DEVICES`] devices are followed; later ones are not.
#[derive(Debug, Default)]
pub struct DeviceAudit {
    devices: HashMap<DeviceKey, Seen>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DeviceKey {
    /// The 12 hex digits, upper case.
    Mac([u8; 12]),
    Ip(IpAddr),
}

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    xor_answer: Option<u64>,
    klap: Option<u64>,
    reported: bool,
}

impl DeviceAudit {
    pub const MAX_DEVICES: usize = 4096;

    pub fn new() -> DeviceAudit {
        DeviceAudit::default()
    }

    /// Follows one message (in capture order); returns the findings that show at it.
    pub fn observe(&mut self, m: &Subject<'_>) -> Vec<Finding> {
        let transport = m.meta.transport();
        let from_device = m.direction == Direction::Response;
        if !from_device {
            return Vec::new();
        }
        let xor = matches!(transport, Transport::XorTcp | Transport::XorUdp);
        let klap = match m.meta {
            Meta::Klap(_) => true,
            Meta::Tdp(t) => t
                .discovery
                .as_ref()
                .and_then(|d| d.encrypt_type.as_deref())
                .is_some_and(|e| e.eq_ignore_ascii_case("KLAP")),
            _ => false,
        };
        if !xor && !klap {
            return Vec::new();
        }
        let frame = m.frame;
        let ip = DeviceKey::Ip(m.src.ip());
        let keys = [Some(ip), mac_of(m).map(DeviceKey::Mac)];
        // What is followed under each key: looked up once.
        let known = keys.map(|k| k.and_then(|k| self.devices.get(&k).copied()));
        // The common case, an XOR answer of a device already followed under each of its keys:
        // nothing changes, nothing is allocated.
        if xor
            && !klap
            && keys
                .iter()
                .zip(&known)
                .all(|(k, s)| k.is_none() || s.is_some_and(|s| s.xor_answer.is_some()))
        {
            return Vec::new();
        }
        // What is known of the device under any of its keys.
        let mut seen = Seen::default();
        for s in known.iter().flatten() {
            seen.xor_answer = seen.xor_answer.or(s.xor_answer);
            seen.klap = seen.klap.or(s.klap);
            seen.reported |= s.reported;
        }
        if xor {
            seen.xor_answer.get_or_insert(frame);
        }
        if klap {
            seen.klap.get_or_insert(frame);
        }
        let mut out = Vec::new();
        if let (false, Some(xor_frame), Some(klap_frame)) =
            (seen.reported, seen.xor_answer, seen.klap)
        {
            seen.reported = true;
            out.push(Finding::WeakProtocolOpen {
                xor_frame,
                klap_frame,
            });
        }
        for (k, was) in keys.into_iter().zip(known) {
            let Some(k) = k else { continue };
            if was.is_some() || self.devices.len() < Self::MAX_DEVICES {
                self.devices.insert(k, seen);
            }
        }
        out
    }
}

/// The device's MAC as its message tells, normalised: its 12 hex digits, upper case.
fn mac_of(m: &Subject<'_>) -> Option<[u8; 12]> {
    let mac = m
        .body
        .device
        .as_ref()
        .and_then(|d| d.mac.as_deref())
        .or_else(|| m.peer_device.and_then(|d| d.mac.as_deref()))
        .or_else(|| match m.meta {
            Meta::Tdp(t) => t.discovery.as_ref().and_then(|d| d.mac.as_deref()),
            _ => None,
        })?;
    let mut out = [0u8; 12];
    let mut n = 0;
    for c in mac.bytes().filter(u8::is_ascii_hexdigit) {
        *out.get_mut(n)? = c.to_ascii_uppercase();
        n += 1;
    }
    (n == 12).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Body, Pairing};
    use proptest::prelude::*;
    use std::time::Duration;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The sixteen-at-a-time test answers as a search for every name at every position,
        /// on texts made of the names' letters in both cases and other bytes, across block
        /// boundaries.
        #[test]
        fn may_hold_secret_is_the_name_search(
            bytes in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(b"pPaAwWsSkKeEyYcCrRtTdD".to_vec()),
                    any::<u8>(),
                ],
                0..70,
            ),
        ) {
            let want = (0..bytes.len()).any(|i| {
                [&b"pass"[..], b"pwd", b"psk", b"secret", b"key"].iter().any(|n| {
                    bytes.get(i..i + n.len()).is_some_and(|w| w.eq_ignore_ascii_case(n))
                })
            });
            prop_assert_eq!(may_hold_secret(&bytes), want);
        }
    }

    #[test]
    fn may_hold_secret_finds_names_at_block_edges() {
        for at in [0usize, 14, 15, 16, 17, 31, 32] {
            for name in [&b"PaSs"[..], b"pwd", b"PSK", b"secret", b"kEy"] {
                let mut text = vec![b'x'; at];
                text.extend_from_slice(name);
                assert!(may_hold_secret(&text), "{at} {name:?}");
                text.extend_from_slice(b"xyz");
                assert!(may_hold_secret(&text), "{at} {name:?} then more");
                text.truncate(at + name.len() - 1);
                assert!(!may_hold_secret(&text), "{at} {name:?} cut");
            }
        }
        assert!(!may_hold_secret(br#"{"system":{"get_sysinfo":{}}}"#));
    }

    fn msg(direction: Direction, meta: Meta, text: &str) -> Message {
        let mut problems = Vec::new();
        let (src, dst) = match direction {
            Direction::Request => ("192.0.2.10:50000", "192.0.2.20:9999"),
            Direction::Response => ("192.0.2.20:9999", "192.0.2.10:50000"),
        };
        Message {
            meta,
            direction,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            frames: vec![7],
            time: Duration::ZERO,
            plaintext: text.as_bytes().to_vec(),
            body: Body::analyse(text.as_bytes(), &mut problems),
            problems,
            pairing: Pairing::default(),
            conversation: 0,
            device: "192.0.2.20:9999".parse().unwrap(),
            peer_device: None,
            findings: Vec::new(),
        }
    }

    fn mf(m: &Message) -> Vec<Finding> {
        message_findings(&m.into())
    }

    fn xor(direction: Direction, text: &str) -> Message {
        msg(direction, Meta::XorTcp { len_header: 0 }, text)
    }

    #[test]
    fn secret_key_names() {
        for yes in [
            "password",
            "password2",
            "Password",
            "passwd",
            "wifi_pwd",
            "wpaKey",
            "key",
            "psk",
            "digest_passwd",
            "client-secret",
        ] {
            assert!(is_secret_key(yes), "{yes}");
        }
        for no in [
            "key_type",
            "keyword",
            "ssid",
            "username",
            "password_hint",
            "monkey",
            "",
            "keys_count",
        ] {
            assert!(!is_secret_key(no), "{no}");
        }
    }

    #[test]
    fn wifi_passphrase_is_named_never_shown() {
        let m = xor(
            Direction::Request,
            r#"{"netif":{"set_stainfo":{"ssid":"home","password":"hunter2-secret","key_type":3}}}"#,
        );
        let f = mf(&m);
        assert_eq!(
            f[0],
            Finding::ClearSecret {
                kind: SecretKind::WifiPassphrase,
                method: "netif.set_stainfo".into(),
                key: "password".into(),
                transport: Transport::XorTcp,
            }
        );
        assert_eq!(f[0].level(), Level::Warning);
        // The same message is also a state change from the network.
        assert!(f.contains(&Finding::UnauthenticatedControl {
            method: "netif.set_stainfo".into(),
            sender: "192.0.2.10:50000".parse().unwrap(),
            transport: Transport::XorTcp,
        }));
        assert_eq!(f.len(), 2, "{f:?}");
        for x in &f {
            let text = x.to_string();
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(
            f[0].to_string()
                .starts_with("Wi-Fi passphrase sent under the reversible XOR")
        );
    }

    #[test]
    fn cloud_bind_and_redirect() {
        let m = xor(
            Direction::Request,
            r#"{"cnCloud":{"bind":{"username":"me@example.com","password":"pw1"}}}"#,
        );
        let f = mf(&m);
        assert!(matches!(
            &f[0],
            Finding::ClearSecret { kind: SecretKind::CloudPassword, key, .. } if key == "password"
        ));
        assert!(!f.iter().any(|x| x.to_string().contains("pw1")));
        let m = xor(
            Direction::Request,
            r#"{"cnCloud":{"set_server_url":{"server":"evil.example"}}}"#,
        );
        let f = mf(&m);
        assert_eq!(
            f[0],
            Finding::CloudRedirect {
                method: "cnCloud.set_server_url".into(),
                server: Some("evil.example".into()),
            }
        );
        assert_eq!(f[0].level(), Level::Warning);
        let m = xor(
            Direction::Request,
            r#"{"smartlife.iot.common.cloud":{"set_server_url":{"server":"x"}}}"#,
        );
        assert!(matches!(mf(&m)[0], Finding::CloudRedirect { .. }));
    }

    #[test]
    fn control_only_for_state_changes_in_requests_over_xor() {
        let on = r#"{"system":{"set_relay_state":{"state":1}}}"#;
        let f = mf(&xor(Direction::Request, on));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind(), Kind::UnauthenticatedControl);
        assert_eq!(f[0].level(), Level::Note);
        assert!(f[0].to_string().contains("192.0.2.10:50000"));
        // Reading is not a change; an answer is not a command; UDP counts too.
        assert!(mf(&xor(Direction::Request, r#"{"system":{"get_sysinfo":{}}}"#)).is_empty());
        assert!(
            mf(&xor(
                Direction::Response,
                r#"{"system":{"set_relay_state":{"err_code":0}}}"#
            ))
            .is_empty()
        );
        assert_eq!(mf(&msg(Direction::Request, Meta::XorUdp, on)).len(), 1);
        for method in [
            r#"{"system":{"reboot":{"delay":1}}}"#,
            r#"{"system":{"reset":{"delay":1}}}"#,
            r#"{"system":{"download_firmware":{"url":"http://x"}}}"#,
            r#"{"schedule":{"add_rule":{}}}"#,
            r#"{"count_down":{"delete_all_rules":null}}"#,
            r#"{"smartlife.iot.dimmer":{"set_brightness":{"brightness":5}}}"#,
            r#"{"smartlife.iot.smartbulb.lightingservice":{"transition_light_state":{"on_off":1}}}"#,
        ] {
            let f = mf(&xor(Direction::Request, method));
            assert_eq!(f.len(), 1, "{method}: {f:?}");
            assert_eq!(f[0].kind(), Kind::UnauthenticatedControl);
        }
    }

    #[test]
    fn secrets_anywhere_but_not_empty_values() {
        let f = mf(&xor(
            Direction::Request,
            r#"{"x":{"y":{"deep":[{"wpa_key":"abc"}],"password":""}}}"#,
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            matches!(&f[0], Finding::ClearSecret { kind: SecretKind::Other, key, method, .. }
            if key == "wpa_key" && method == "x.y")
        );
        // Not readable transports are not flagged.
        let klap = Meta::Klap(Box::new(crate::msg::KlapMeta {
            step: KlapStep::Request {
                seq: Some(1),
                signature: [0; 32],
                signature_ok: None,
                ciphertext_len: 0,
            },
            session: None,
            version: None,
            auth: None,
            decrypted: true,
        }));
        let m = msg(
            Direction::Request,
            klap,
            r#"{"method":"set_device_info","params":{"password":"x"}}"#,
        );
        assert!(mf(&m).is_empty());
    }

    #[test]
    fn default_account_on_handshake_answer() {
        let meta = |step, auth: Option<&str>| {
            Meta::Klap(Box::new(crate::msg::KlapMeta {
                step,
                session: None,
                version: None,
                auth: auth.map(str::to_owned),
                decrypted: false,
            }))
        };
        let reply = KlapStep::Handshake1Reply {
            remote_seed: [0; 16],
            server_hash: [0; 32],
        };
        let m = msg(Direction::Response, meta(reply, Some("default:kasa")), "");
        assert_eq!(
            mf(&m),
            vec![Finding::DefaultAccount {
                transport: Transport::Klap,
                account: "kasa".into()
            }]
        );
        let m = msg(Direction::Response, meta(reply, Some("user:1")), "");
        assert!(mf(&m).is_empty());
        let m = msg(
            Direction::Response,
            meta(
                KlapStep::Handshake1 {
                    local_seed: [0; 16],
                },
                Some("default:kasa"),
            ),
            "",
        );
        assert!(mf(&m).is_empty());
    }

    #[test]
    fn default_account_on_ssl_aes_login_answer() {
        let meta = |auth: &str| {
            Meta::Aes(Box::new(crate::msg::AesMeta {
                method: None,
                session: None,
                token: None,
                error_code: None,
                encrypted: false,
                decrypted: false,
                clear_response: false,
                ssl: Some(Box::new(crate::msg::SslAesMeta {
                    login: Some(crate::wire::ssl_aes::LoginStep::Digest),
                    auth: Some(auth.to_owned()),
                    ..Default::default()
                })),
            }))
        };
        let answer = msg(Direction::Response, meta("default:tapocamera"), "{}");
        assert_eq!(
            mf(&answer),
            vec![Finding::DefaultAccount {
                transport: Transport::Aes,
                account: "tapocamera".into()
            }]
        );
        // The login request itself is not where the device proved the match.
        let request = msg(Direction::Request, meta("default:tapocamera"), "{}");
        assert!(mf(&request).is_empty());
        let user = msg(Direction::Response, meta("user:1"), "{}");
        assert!(mf(&user).is_empty());
    }

    #[test]
    fn weak_protocol_once_per_device() {
        let mut audit = DeviceAudit::new();
        let answer = xor(
            Direction::Response,
            r#"{"system":{"get_sysinfo":{"mac":"50:C7:BF:00:00:01","err_code":0}}}"#,
        );
        assert!(audit.observe(&Subject::from(&answer)).is_empty());
        let mut tdp = crate::msg::TdpMeta {
            header: None,
            crc_ok: None,
            crc_computed: None,
            discovery: Some(Box::default()),
            probe_key: None,
            encrypt_info: None,
        };
        tdp.discovery.as_mut().unwrap().encrypt_type = Some("KLAP".into());
        tdp.discovery.as_mut().unwrap().mac = Some("50-c7-bf-00-00-01".into());
        let mut reply = msg(Direction::Response, Meta::Tdp(Box::new(tdp)), "{}");
        // Another address (NAT, DHCP change): the MAC ties it to the same device.
        reply.src = "192.0.2.99:20002".parse().unwrap();
        reply.frames = vec![9];
        assert_eq!(
            audit.observe(&Subject::from(&reply)),
            vec![Finding::WeakProtocolOpen {
                xor_frame: 7,
                klap_frame: 9
            }]
        );
        assert!(audit.observe(&Subject::from(&reply)).is_empty());
        assert!(audit.observe(&Subject::from(&answer)).is_empty());
        // A device that only answers XOR is not flagged.
        let mut other = DeviceAudit::new();
        assert!(other.observe(&Subject::from(&answer)).is_empty());
        assert!(other.observe(&Subject::from(&answer)).is_empty());
    }

    /// A KLAP answer of the device at 192.0.2.20, at `frame`.
    fn klap_answer(frame: u64) -> Message {
        let meta = Meta::Klap(Box::new(crate::msg::KlapMeta {
            step: crate::msg::KlapStep::Response {
                seq: Some(1),
                signature: [0; 32],
                signature_ok: None,
                ciphertext_len: 16,
            },
            session: None,
            version: None,
            auth: None,
            decrypted: false,
        }));
        let mut m = msg(Direction::Response, meta, "{}");
        m.frames = vec![frame];
        m
    }

    #[test]
    fn weak_protocol_when_xor_comes_after_klap() {
        // Followed first through KLAP only: its XOR answer is not the common case to skip.
        let mut audit = DeviceAudit::new();
        assert!(audit.observe(&Subject::from(&klap_answer(3))).is_empty());
        let answer = xor(Direction::Response, "{}");
        assert_eq!(
            audit.observe(&Subject::from(&answer)),
            vec![Finding::WeakProtocolOpen {
                xor_frame: 7,
                klap_frame: 3
            }]
        );
        assert!(audit.observe(&Subject::from(&answer)).is_empty());
    }

    #[test]
    fn a_full_table_still_follows_the_devices_in_it() {
        let mut audit = DeviceAudit::new();
        let answer = xor(Direction::Response, "{}");
        assert!(audit.observe(&Subject::from(&answer)).is_empty());
        // Fill the table with other devices.
        for n in 0..DeviceAudit::MAX_DEVICES as u32 {
            let mut other = answer.clone();
            other.src = SocketAddr::new(std::net::Ipv4Addr::from(0x0a00_0000 + n).into(), 9999);
            assert!(audit.observe(&Subject::from(&other)).is_empty());
        }
        assert_eq!(audit.devices.len(), DeviceAudit::MAX_DEVICES);
        // The first device is still followed: reported once, and remembered as reported.
        assert_eq!(
            audit.observe(&Subject::from(&klap_answer(9))),
            vec![Finding::WeakProtocolOpen {
                xor_frame: 7,
                klap_frame: 9
            }]
        );
        assert!(audit.observe(&Subject::from(&klap_answer(10))).is_empty());
    }
}
