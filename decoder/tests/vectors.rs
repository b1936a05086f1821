//! The protocol test vectors in `fixtures/vectors/` (copied byte for byte from the project's
//! shared protocol material, `shared/vectors/`), loaded into serde structs that name every
//! field, and checked against the vectors' own expected values, never against values the code
//! under test computes.
//!
//! * `xor.json`: encryption, decryption, the TCP length prefix and the heuristics.
//! * `tdp.json`: `wire::tdp`'s header parse and emit, CRC and heuristic (and a one-byte flip
//!   failing the CRC), and what `discovery`/`probe_key` read from the bodies, compared with the
//!   body text read independently with `serde_json::Value`.
//! * `klap.json`: `wire::klap`'s auth hashes (every default credential, raw and base64),
//!   server and client hashes, `find_credential`, session keys and initial seq, the first
//!   request's URI, IV, signature, ciphertext and body, the first response's decryption.
//! * `aes.json`: `wire::aes`'s encryption and decryption with the given key and IV, and the
//!   `securePassthrough` envelope.
//! * All three: the JSON plaintexts inside them (SMART bodies, and the IOT bodies of KLAP v1)
//!   analyse to the dialect, methods, codes and device identity their text states; and the
//!   files are consistent with themselves.

use kasa_decoder::msg::{Body, Dialect, Method, Problem};
use kasa_decoder::wire::aes::{AesKeys, EnvelopeMethod, parse_request};
use kasa_decoder::wire::crypto;
use kasa_decoder::wire::klap::{
    self, AuthHash, Credential, KlapHandshake, KlapKeys, KlapUri, KlapVersion,
};
use kasa_decoder::wire::tdp::{self, TdpError, TdpHeader};
use kasa_decoder::wire::xor::{
    DEFAULT_MAX_MESSAGE, XorFrame, XorRepr, decrypt, tcp_heuristic, udp_heuristic,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

fn load<T: DeserializeOwned>(file: &str) -> T {
    let path = format!("{}/../fixtures/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    assert!(
        s.len().is_multiple_of(2) && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        "not lower-case hex: {s}"
    );
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `conventions`, the same in every file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Conventions {
    #[serde(rename = "*_hex")]
    hex: String,
    #[serde(rename = "*_b64")]
    b64: String,
    #[serde(rename = "*_utf8")]
    utf8: String,
    integers: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector<I, E> {
    name: String,
    inputs: I,
    expected: E,
    source: String,
}

// ---------------------------------------------------------------------------------------------
// xor.json

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XorFile {
    description: String,
    algorithm: String,
    conventions: Conventions,
    vectors: Vec<XorVector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XorVector {
    name: String,
    transport: String,
    inputs: XorInputs,
    expected: XorExpected,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XorInputs {
    plaintext_utf8: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XorExpected {
    length_prefix: Option<u32>,
    wire_hex: String,
    datagram_length: Option<usize>,
    /// `wire_hex` in base64, as plasticrake stores it.
    wire_b64: Option<String>,
    /// The payload (`wire_hex` without the prefix) in base64.
    payload_b64: Option<String>,
}

/// Standard padded base64, for comparing the files' `*_b64` fields with their `*_hex` ones.
fn b64(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

/// The documented heuristic (PROTOCOL.md 1.2, 2.2), from the plaintext alone: JSON that opens
/// with `{` and then a quote, whitespace or `}`.
fn heuristic_expected(plain: &[u8]) -> bool {
    matches!(
        plain,
        [b'{', b'"' | b' ' | b'\t' | b'\r' | b'\n' | b'}', ..]
    )
}

#[test]
fn xor_vectors() {
    let file: XorFile = load("xor.json");
    assert!(!file.description.is_empty() && !file.algorithm.is_empty());
    assert!(!file.conventions.hex.is_empty());
    assert_eq!(file.vectors.len(), 9);
    for v in &file.vectors {
        let name = &v.name;
        assert!(!v.source.is_empty(), "{name}");
        let plain = v.inputs.plaintext_utf8.as_bytes();
        let wire = hex(&v.expected.wire_hex);
        let repr = XorRepr { plaintext: plain };
        match v.transport.as_str() {
            "tcp" => {
                let len = v
                    .expected
                    .length_prefix
                    .expect("a TCP vector states its prefix");
                assert_eq!(wire[..4], len.to_be_bytes(), "{name}: prefix in wire_hex");
                assert_eq!(
                    len as usize,
                    plain.len(),
                    "{name}: prefix counts UTF-8 bytes"
                );
                if let Some(w) = &v.expected.wire_b64 {
                    assert_eq!(b64(w), wire, "{name}: wire_b64");
                }
                if let Some(p) = &v.expected.payload_b64 {
                    assert_eq!(b64(p), wire[4..], "{name}: payload_b64");
                }
                assert_eq!(repr.to_tcp(), wire, "{name}: encrypt");
                let (frame, rest) = XorFrame::from_slice(&wire).unwrap();
                assert!(rest.is_empty(), "{name}");
                assert_eq!(frame.length(), len, "{name}: length");
                assert_eq!(decrypt(frame.payload()), plain, "{name}: decrypt");
                assert_eq!(
                    tcp_heuristic(&wire, DEFAULT_MAX_MESSAGE),
                    heuristic_expected(plain),
                    "{name}: heuristic"
                );
            }
            "udp" => {
                assert_eq!(v.expected.length_prefix, None, "{name}");
                if let Some(n) = v.expected.datagram_length {
                    assert_eq!(wire.len(), n, "{name}: datagram length");
                }
                assert_eq!(repr.to_udp(), wire, "{name}: encrypt");
                assert_eq!(decrypt(&wire), plain, "{name}: decrypt");
                assert_eq!(
                    udp_heuristic(&wire),
                    heuristic_expected(plain),
                    "{name}: heuristic"
                );
            }
            other => panic!("{name}: unknown transport {other}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON bodies: what the text states, read with serde_json::Value.

/// What a body's own text says, read with `serde_json::Value` and PROTOCOL.md's rules.
#[derive(Debug, PartialEq)]
struct Stated {
    dialect: Dialect,
    methods: Vec<String>,
    /// SMART: the top-level `error_code`.
    error_code: Option<i64>,
    /// IOT: each method's `err_code`.
    err_codes: Vec<Option<i64>>,
    /// SMART: the identity of an unnamed or `get_device_info` result (device_id, model, mac,
    /// type), as written.
    identity: Option<[Option<String>; 4]>,
}

fn stated(text: &str) -> Stated {
    let Value::Object(top) = serde_json::from_str::<Value>(text).unwrap() else {
        panic!("not an object: {text}")
    };
    let method = top.get("method").and_then(Value::as_str);
    let smart = method.is_some()
        || ["error_code", "result", "params"]
            .iter()
            .any(|k| top.contains_key(*k));
    if smart {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let identity = top
            .get("result")
            .filter(|_| method.is_none_or(|m| m == "get_device_info"))
            .filter(|r| r.get("device_id").is_some() || r.get("device_model").is_some())
            .map(|r| {
                [
                    text(r, "device_id"),
                    text(r, "model").or(text(r, "device_model")),
                    text(r, "mac"),
                    text(r, "type").or(text(r, "device_type")),
                ]
            });
        assert_ne!(method, Some("multipleRequest"), "no batch in the vectors");
        return Stated {
            dialect: Dialect::Smart,
            methods: method.into_iter().map(str::to_owned).collect(),
            error_code: top.get("error_code").and_then(Value::as_i64),
            err_codes: method
                .map(|_| top.get("error_code").and_then(Value::as_i64))
                .into_iter()
                .collect(),
            identity,
        };
    }
    let mut methods = Vec::new();
    let mut err_codes = Vec::new();
    for (module, value) in &top {
        match value {
            Value::Object(m) if m.contains_key("err_code") && m.len() <= 2 => {
                methods.push(module.clone());
                err_codes.push(m["err_code"].as_i64());
            }
            Value::Object(m) if !m.is_empty() => {
                for (method, result) in m {
                    methods.push(format!("{module}.{method}"));
                    err_codes.push(result.get("err_code").and_then(Value::as_i64));
                }
            }
            _ => {
                methods.push(module.clone());
                err_codes.push(None);
            }
        }
    }
    Stated {
        dialect: Dialect::Iot,
        methods,
        error_code: None,
        err_codes,
        identity: None,
    }
}

/// Analyses `text` and compares with what it states; returns the body for further checks.
fn check_body(name: &str, text: &str) -> Body {
    let mut problems = Vec::new();
    let body = Body::analyse(text.as_bytes(), &mut problems);
    let want = stated(text);
    assert!(body.json_ok, "{name}: {problems:?}");
    let nonzero = want
        .err_codes
        .iter()
        .chain([&want.error_code])
        .any(|c| c.is_some_and(|c| c != 0));
    assert_eq!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::ErrCode { .. })),
        nonzero,
        "{name}: {problems:?}"
    );
    let got = Stated {
        dialect: body.dialect.unwrap(),
        methods: body.methods.iter().map(Method::name).collect(),
        error_code: body.error_code,
        err_codes: body.methods.iter().map(|m| m.err_code).collect(),
        identity: body
            .device
            .as_deref()
            .cloned()
            .map(|d| [d.device_id, d.model, d.mac, d.kind]),
    };
    assert_eq!(got, want, "{name}");
    body
}

// ---------------------------------------------------------------------------------------------
// tdp.json

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TdpFile {
    description: String,
    crc: String,
    conventions: Conventions,
    vectors: Vec<Vector<TdpInputs, TdpExpected>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TdpInputs {
    version: Option<u8>,
    msg_type: Option<u8>,
    op_code: Option<u16>,
    flags: Option<u8>,
    padding: Option<u8>,
    serial: Option<u32>,
    body_utf8: Option<String>,
    datagram_hex: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TdpExpected {
    datagram_hex: Option<String>,
    header_hex: Option<String>,
    crc32_hex: String,
    msg_size: Option<u16>,
    datagram_length: Option<usize>,
    version: Option<u8>,
    msg_type: Option<u8>,
    op_code: Option<u16>,
    flags: Option<u8>,
    padding: Option<u8>,
    serial_hex: Option<String>,
    crc_valid: Option<bool>,
    body_utf8: Option<String>,
}

/// `wire::tdp` against one vector: the parsed header equals every stated field, the CRC equals
/// `crc32_hex`, the heuristic accepts the datagram and a copy with one flipped byte fails the
/// CRC; a vector given by its fields emits `datagram_hex`; the bodies' discovery fields and
/// probe key equal what `serde_json::Value` reads from the same text.
fn check_tdp(v: &Vector<TdpInputs, TdpExpected>, datagram: &[u8], body: &str) {
    let (name, i, e) = (&v.name, &v.inputs, &v.expected);
    let crc = u32::from_be_bytes(hex(&e.crc32_hex).try_into().unwrap());
    let h = TdpHeader::parse(datagram).unwrap();
    for (stated, got) in [
        (i.version.or(e.version), h.version),
        (i.msg_type.or(e.msg_type), h.msg_type),
        (i.flags.or(e.flags), h.flags),
        (i.padding.or(e.padding), h.padding),
    ] {
        if let Some(stated) = stated {
            assert_eq!(stated, got, "{name}: header field");
        }
    }
    if let Some(op) = i.op_code.or(e.op_code) {
        assert_eq!(h.op_code, op, "{name}: op_code");
    }
    if let Some(serial) = i.serial {
        assert_eq!(h.serial, serial, "{name}: serial");
    }
    if let Some(serial) = &e.serial_hex {
        assert_eq!(
            h.serial.to_be_bytes()[..],
            hex(serial),
            "{name}: serial_hex"
        );
    }
    if let Some(size) = e.msg_size {
        assert_eq!(h.size, size, "{name}: msg_size");
    }
    assert_eq!(usize::from(h.size), body.len(), "{name}: size");
    assert_eq!(h.crc, crc, "{name}: stored crc");
    assert_eq!(tdp::crc(datagram), Some(crc), "{name}: computed crc");
    assert_eq!(tdp::check(datagram), Ok(h), "{name}");
    assert!(tdp::heuristic(datagram), "{name}: heuristic");
    assert_eq!(h.emit(body.as_bytes()), datagram, "{name}: emit");
    if let (
        Some(version),
        Some(msg_type),
        Some(op_code),
        Some(flags),
        Some(padding),
        Some(serial),
    ) = (
        i.version, i.msg_type, i.op_code, i.flags, i.padding, i.serial,
    ) {
        let from_inputs = TdpHeader {
            version,
            msg_type,
            op_code,
            size: 0,
            flags,
            padding,
            serial,
            crc: 0,
        };
        assert_eq!(
            from_inputs.emit(body.as_bytes()),
            datagram,
            "{name}: emit from inputs"
        );
    }
    // One flipped byte (in the body, or in the serial of an empty probe) fails the CRC.
    let mut flipped = datagram.to_vec();
    let at = if body.is_empty() {
        9
    } else {
        flipped.len() - 2
    };
    flipped[at] ^= 0x01;
    assert_eq!(
        tdp::check(&flipped),
        Err(TdpError::Crc {
            stored: crc,
            computed: tdp::crc(&flipped).unwrap()
        }),
        "{name}: flipped byte"
    );
    assert!(!tdp::heuristic(&flipped), "{name}");

    let doc: Option<Value> = serde_json::from_str(body).ok();
    let result = doc.as_ref().and_then(|d| d.get("result"));
    let disc = tdp::discovery(body.as_bytes());
    assert_eq!(disc.is_some(), result.is_some(), "{name}: discovery");
    if let (Some(r), Some(d)) = (result, &disc) {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let scheme = r.get("mgt_encrypt_schm");
        let at = |k: &str| scheme.and_then(|s| s.get(k));
        assert_eq!(d.device_type, text(r.get("device_type")), "{name}");
        assert_eq!(d.device_model, text(r.get("device_model")), "{name}");
        assert_eq!(d.device_id, text(r.get("device_id")), "{name}");
        assert_eq!(d.mac, text(r.get("mac")), "{name}");
        assert_eq!(d.ip, text(r.get("ip")), "{name}");
        assert_eq!(d.encrypt_type, text(at("encrypt_type")), "{name}");
        assert_eq!(
            d.http_port.map(u64::from),
            at("http_port").and_then(Value::as_u64),
            "{name}"
        );
        assert_eq!(
            d.login_version.map(u64::from),
            at("lv").and_then(Value::as_u64),
            "{name}"
        );
        assert_eq!(
            d.is_support_https,
            at("is_support_https").and_then(Value::as_bool),
            "{name}"
        );
        assert_eq!(d.tpap, None, "{name}");
        assert_eq!(d.encrypt_info, None, "{name}");
        assert!(d.top_encrypt_type.is_empty(), "{name}");
    }
    let key = doc
        .as_ref()
        .and_then(|d| d.pointer("/params/rsa_key"))
        .and_then(Value::as_str);
    assert_eq!(
        tdp::probe_key(body.as_bytes()).as_deref(),
        key,
        "{name}: probe key"
    );
}

/// TDP: `check_tdp` on every vector; the datagrams' bodies (a probe's `params`, a reply's
/// `result` and `error_code`), and the file's own consistency at the offsets its description
/// gives (body from byte 16, msg_size at 4..6, crc32 at 12..16).
#[test]
fn tdp_vectors() {
    let file: TdpFile = load("tdp.json");
    assert!(!file.description.is_empty() && !file.crc.is_empty());
    assert!(!file.conventions.b64.is_empty());
    assert_eq!(file.vectors.len(), 4);
    let mut bodies = 0;
    for v in &file.vectors {
        let name = &v.name;
        assert!(!v.source.is_empty(), "{name}");
        let datagram = hex(v
            .expected
            .datagram_hex
            .as_ref()
            .or(v.inputs.datagram_hex.as_ref())
            .unwrap());
        assert_eq!(
            datagram[12..16],
            hex(&v.expected.crc32_hex),
            "{name}: crc32 field"
        );
        if let Some(h) = &v.expected.header_hex {
            assert_eq!(datagram[..16], hex(h), "{name}: header");
        }
        if let Some(n) = v.expected.datagram_length {
            assert_eq!(datagram.len(), n, "{name}");
        }
        let body = v
            .expected
            .body_utf8
            .as_ref()
            .or(v.inputs.body_utf8.as_ref())
            .unwrap();
        assert_eq!(
            datagram[16..],
            *body.as_bytes(),
            "{name}: body from byte 16"
        );
        let size = u16::from_be_bytes([datagram[4], datagram[5]]);
        assert_eq!(usize::from(size), body.len(), "{name}: msg_size");
        if let Some(s) = v.expected.msg_size {
            assert_eq!(s, size, "{name}");
        }
        for (field, byte) in [
            (v.inputs.version.or(v.expected.version), datagram[0]),
            (v.inputs.msg_type.or(v.expected.msg_type), datagram[1]),
            (v.inputs.flags.or(v.expected.flags), datagram[6]),
            (v.inputs.padding.or(v.expected.padding), datagram[7]),
        ] {
            if let Some(f) = field {
                assert_eq!(f, byte, "{name}");
            }
        }
        if let Some(op) = v.inputs.op_code.or(v.expected.op_code) {
            assert_eq!(op.to_be_bytes(), datagram[2..4], "{name}");
        }
        if let Some(s) = v.inputs.serial {
            assert_eq!(s.to_be_bytes(), datagram[8..12], "{name}");
        }
        if let Some(s) = &v.expected.serial_hex {
            assert_eq!(hex(s), datagram[8..12], "{name}");
        }
        assert_ne!(v.expected.crc_valid, Some(false), "{name}");
        check_tdp(v, &datagram, body);
        if body.is_empty() {
            continue;
        }
        bodies += 1;
        let b = check_body(name, body);
        assert_eq!(b.dialect, Some(Dialect::Smart), "{name}");
        // PROTOCOL.md 3.2: the probe body has `params`, the reply body `result`.
        let reply = body.contains("\"result\"");
        assert_eq!(b.looks_like_response(), reply, "{name}");
        assert_eq!(b.device.is_some(), reply, "{name}");
    }
    assert_eq!(bodies, 2);
    // The real P110(FR) reply, in the words of PROTOCOL.md §3.3.
    let p110 = file
        .vectors
        .iter()
        .find(|v| v.name == "real_reply_tapo_p110_fr")
        .unwrap();
    let d = tdp::discovery(p110.expected.body_utf8.as_ref().unwrap().as_bytes()).unwrap();
    assert_eq!(
        (
            d.device_type.as_deref(),
            d.device_model.as_deref(),
            d.encrypt_type.as_deref(),
            d.http_port,
            d.login_version,
            d.is_support_https
        ),
        (
            Some("SMART.TAPOPLUG"),
            Some("P110(FR)"),
            Some("KLAP"),
            Some(80),
            Some(2),
            Some(false)
        )
    );
}

// ---------------------------------------------------------------------------------------------
// klap.json

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlapFile {
    description: String,
    formulas: BTreeMap<String, String>,
    conventions: Conventions,
    vectors: Vec<KlapVector>,
    default_credentials: DefaultCredentials,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlapVector {
    name: String,
    klap_version: u8,
    inputs: KlapInputs,
    expected: KlapExpected,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlapInputs {
    username_utf8: String,
    password_utf8: String,
    local_seed_hex: String,
    remote_seed_hex: String,
    first_request_plaintext_utf8: Option<String>,
    first_response_plaintext_utf8: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlapExpected {
    auth_hash_hex: String,
    handshake1_response_body_hex: Option<String>,
    handshake1_server_hash_hex: Option<String>,
    handshake2_request_body_hex: Option<String>,
    key_hex: Option<String>,
    iv_prefix_hex: Option<String>,
    initial_seq: i32,
    sig_key_hex: Option<String>,
    first_request: Option<KlapRequest>,
    first_response: Option<KlapResponse>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlapRequest {
    seq: i32,
    url_path: String,
    iv_hex: String,
    signature_hex: String,
    ciphertext_hex: String,
    body_hex: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KlapResponse {
    seq: i32,
    iv_hex: String,
    body_hex: String,
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultCredentials {
    description: String,
    entries: Vec<Vector<Credentials, CredentialHashes>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    username_utf8: String,
    password_utf8: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialHashes {
    auth_hash_v1_hex: String,
    auth_hash_v2_hex: String,
    credentials_hash_v1_b64: String,
    credentials_hash_v2_b64: String,
}

fn seed(text: &str) -> [u8; 16] {
    hex(text).try_into().expect("16-byte seed")
}

fn hash32(text: &str) -> [u8; 32] {
    hex(text).try_into().expect("32-byte hash")
}

/// `wire::klap` against one vector: every expected value.
fn check_klap(v: &KlapVector) {
    let (name, i, e) = (&v.name, &v.inputs, &v.expected);
    let version = match v.klap_version {
        1 => KlapVersion::V1,
        _ => KlapVersion::V2,
    };
    assert_eq!(version.number(), v.klap_version, "{name}");
    let (local, remote) = (seed(&i.local_seed_hex), seed(&i.remote_seed_hex));
    let auth = klap::auth_hash(version, &i.username_utf8, &i.password_utf8);
    assert_eq!(auth.as_bytes(), hex(&e.auth_hash_hex), "{name}: auth_hash");
    assert_eq!(auth.version(), version, "{name}");
    assert_eq!(
        AuthHash::from_bytes(&hex(&e.auth_hash_hex)),
        Some(auth.clone()),
        "{name}"
    );
    if let Some(h) = &e.handshake1_server_hash_hex {
        let want = hash32(h);
        assert_eq!(
            klap::server_hash(&local, &remote, &auth),
            want,
            "{name}: server_hash"
        );
        // The credential is found among the defaults plus the vector's own pair, with the
        // vector's version.
        let mut candidates = klap::default_credentials();
        candidates.push(Credential::new(
            "vector",
            &*i.username_utf8,
            &*i.password_utf8,
        ));
        let (at, found) = klap::find_credential(&candidates, &local, &remote, &want)
            .unwrap_or_else(|| panic!("{name}: no credential found"));
        assert_eq!(
            (candidates[at].username.as_str(), candidates[at].password()),
            (i.username_utf8.as_str(), i.password_utf8.as_str()),
            "{name}"
        );
        assert_eq!(found, auth, "{name}: found auth hash");
        assert_eq!(
            klap::find_auth_hash(std::slice::from_ref(&auth), &local, &remote, &want),
            Some(0),
            "{name}"
        );
    }
    if let Some(body) = &e.handshake1_response_body_hex {
        let body = hex(body);
        let KlapHandshake::HelloReply {
            remote_seed,
            server_hash,
        } = KlapHandshake::parse(KlapUri::Handshake1, &body).unwrap()
        else {
            panic!("{name}: handshake1 reply")
        };
        assert_eq!(*remote_seed, remote, "{name}");
        assert_eq!(
            *server_hash,
            klap::server_hash(&local, &remote, &auth),
            "{name}"
        );
    }
    if let Some(h) = &e.handshake2_request_body_hex {
        assert_eq!(
            klap::client_hash(&local, &remote, &auth),
            hash32(h),
            "{name}: client_hash"
        );
    }
    let keys = KlapKeys::derive(&local, &remote, &auth);
    assert_eq!(keys.initial_seq, e.initial_seq, "{name}: initial_seq");
    if let Some(k) = &e.key_hex {
        assert_eq!(keys.key()[..], hex(k), "{name}: key");
    }
    if let Some(k) = &e.iv_prefix_hex {
        assert_eq!(keys.iv_prefix()[..], hex(k), "{name}: iv_prefix");
    }
    if let Some(k) = &e.sig_key_hex {
        assert_eq!(keys.sig_key()[..], hex(k), "{name}: sig_key");
    }
    if let Some(r) = &e.first_request {
        let plain = i.first_request_plaintext_utf8.as_ref().unwrap().as_bytes();
        let ct = hex(&r.ciphertext_hex);
        assert_eq!(
            klap::klap_uri(&r.url_path),
            Some(KlapUri::Request),
            "{name}"
        );
        assert_eq!(klap::uri_seq(&r.url_path), Some(r.seq), "{name}: uri seq");
        assert_eq!(keys.iv(r.seq)[..], hex(&r.iv_hex), "{name}: iv");
        assert_eq!(
            keys.signature(r.seq, &ct)[..],
            hex(&r.signature_hex),
            "{name}: sig"
        );
        assert_eq!(keys.encrypt(r.seq, plain), ct, "{name}: encrypt");
        assert_eq!(keys.decrypt(r.seq, &ct).unwrap(), plain, "{name}: decrypt");
        assert_eq!(keys.seal(r.seq, plain), hex(&r.body_hex), "{name}: body");
        assert!(keys.verify(r.seq, &hex(&r.body_hex)), "{name}");
    }
    if let Some(r) = &e.first_response {
        let plain = i.first_response_plaintext_utf8.as_ref().unwrap().as_bytes();
        let body = hex(&r.body_hex);
        let (sig, ct) = klap::split_body(&body).unwrap();
        assert_eq!(keys.iv(r.seq)[..], hex(&r.iv_hex), "{name}: response iv");
        assert_eq!(
            keys.decrypt(r.seq, ct).unwrap(),
            plain,
            "{name}: response decrypt"
        );
        // The vector signs the response like a request (its note says so, an assumption).
        assert_eq!(keys.signature(r.seq, ct), *sig, "{name}: response sig");
        assert_eq!(keys.seal(r.seq, plain), body, "{name}: response body");
    }
}

/// One `default_credentials` entry: both auth hashes, raw and in python-kasa's base64 form,
/// and the entry is among `klap::default_credentials()` under `default:<name>`.
fn check_default_credential(c: &Vector<Credentials, CredentialHashes>) {
    let (name, i, e) = (&c.name, &c.inputs, &c.expected);
    for (version, hash_hex, hash_b64) in [
        (
            KlapVersion::V1,
            &e.auth_hash_v1_hex,
            &e.credentials_hash_v1_b64,
        ),
        (
            KlapVersion::V2,
            &e.auth_hash_v2_hex,
            &e.credentials_hash_v2_b64,
        ),
    ] {
        let auth = klap::auth_hash(version, &i.username_utf8, &i.password_utf8);
        assert_eq!(auth.as_bytes(), hex(hash_hex), "{name}: {version}");
        assert_eq!(
            b64(hash_b64),
            hex(hash_hex),
            "{name}: {version} b64 in the file"
        );
        assert_eq!(auth.to_b64(), *hash_b64, "{name}: {version} b64");
        assert_eq!(
            AuthHash::from_b64(hash_b64),
            Some(auth),
            "{name}: {version}"
        );
    }
    let label = format!("default:{name}");
    let defaults = klap::default_credentials();
    let d = defaults
        .iter()
        .find(|d| d.label == label)
        .unwrap_or_else(|| panic!("{label} missing"));
    assert_eq!(
        (d.username.as_str(), d.password()),
        (i.username_utf8.as_str(), i.password_utf8.as_str()),
        "{label}"
    );
}

/// KLAP: `check_klap` on every vector and `check_default_credential` on every default; the
/// plaintexts of the first request and response (IOT for v1, SMART for v2), and the file's
/// consistency between its own fields.
#[test]
fn klap_vectors() {
    let file: KlapFile = load("klap.json");
    assert!(!file.description.is_empty() && !file.conventions.utf8.is_empty());
    assert!(file.formulas.contains_key("key"));
    assert_eq!(file.vectors.len(), 5);
    assert!(!file.default_credentials.description.is_empty());
    assert_eq!(file.default_credentials.entries.len(), 6);
    let mut bodies = 0;
    for v in &file.vectors {
        let (name, i, e) = (&v.name, &v.inputs, &v.expected);
        assert!(!v.source.is_empty(), "{name}");
        let hash_len = match v.klap_version {
            1 => 16,
            2 => 32,
            other => panic!("{name}: KLAP v{other}"),
        };
        assert_eq!(hex(&e.auth_hash_hex).len(), hash_len, "{name}");
        assert_eq!(hex(&i.local_seed_hex).len(), 16, "{name}");
        assert_eq!(hex(&i.remote_seed_hex).len(), 16, "{name}");
        for key in [&e.key_hex, &e.sig_key_hex, &e.iv_prefix_hex]
            .into_iter()
            .flatten()
        {
            hex(key);
        }
        // The same pair in default_credentials states the same hash.
        for c in &file.default_credentials.entries {
            if (
                c.inputs.username_utf8.as_str(),
                c.inputs.password_utf8.as_str(),
            ) == (i.username_utf8.as_str(), i.password_utf8.as_str())
            {
                let h = match v.klap_version {
                    1 => &c.expected.auth_hash_v1_hex,
                    _ => &c.expected.auth_hash_v2_hex,
                };
                assert_eq!(*h, e.auth_hash_hex, "{name} vs {}", c.name);
            }
        }
        if let (Some(body), Some(hash)) = (
            &e.handshake1_response_body_hex,
            &e.handshake1_server_hash_hex,
        ) {
            assert_eq!(*body, format!("{}{hash}", i.remote_seed_hex), "{name}");
        }
        if let Some(h2) = &e.handshake2_request_body_hex {
            assert_eq!(hex(h2).len(), 32, "{name}");
        }
        if let Some(r) = &e.first_request {
            assert_eq!(r.seq, e.initial_seq.wrapping_add(1), "{name}");
            assert_eq!(r.url_path, format!("/app/request?seq={}", r.seq), "{name}");
            assert_eq!(
                r.body_hex,
                format!("{}{}", r.signature_hex, r.ciphertext_hex),
                "{name}"
            );
            assert_eq!(hex(&r.iv_hex).len(), 16, "{name}");
            assert!(
                r.iv_hex.starts_with(e.iv_prefix_hex.as_deref().unwrap()),
                "{name}"
            );
            assert_eq!(hex(&r.ciphertext_hex).len() % 16, 0, "{name}");
        }
        if let Some(r) = &e.first_response {
            let req = e.first_request.as_ref().unwrap();
            assert_eq!(
                (r.seq, &r.iv_hex),
                (req.seq, &req.iv_hex),
                "{name}: same IV"
            );
            assert!(!r.note.is_empty());
            hex(&r.body_hex);
        }
        for text in [
            &i.first_request_plaintext_utf8,
            &i.first_response_plaintext_utf8,
        ]
        .into_iter()
        .flatten()
        {
            bodies += 1;
            let b = check_body(name, text);
            // PROTOCOL.md 4.3: IOT.KLAP (v1) carries IOT JSON, SMART.KLAP (v2) SMART JSON.
            let want = if v.klap_version == 1 {
                Dialect::Iot
            } else {
                Dialect::Smart
            };
            assert_eq!(b.dialect, Some(want), "{name}");
        }
    }
    assert_eq!(bodies, 3);
    for v in &file.vectors {
        check_klap(v);
    }
    for c in &file.default_credentials.entries {
        check_default_credential(c);
        assert!(!c.source.is_empty());
        assert_eq!(hex(&c.expected.auth_hash_v1_hex).len(), 16, "{}", c.name);
        assert_eq!(hex(&c.expected.auth_hash_v2_hex).len(), 32, "{}", c.name);
        assert!(!c.expected.credentials_hash_v1_b64.is_empty());
        assert!(!c.expected.credentials_hash_v2_b64.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// aes.json

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AesFile {
    description: String,
    conventions: Conventions,
    vectors: Vec<Vector<AesInputs, AesExpected>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AesInputs {
    aes_key_hex: String,
    aes_iv_hex: String,
    inner_json_utf8: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AesExpected {
    request_b64: String,
    ciphertext_hex: String,
    envelope_utf8: Option<String>,
}

/// AES passthrough: `AesKeys` and `crypto::cbc_*` with the given key and IV give
/// `request_b64`/`ciphertext_hex` and back; `parse_request` reads the envelope's
/// `request_b64`; the inner JSON and the envelope analyse as their text states.
#[test]
fn aes_vectors() {
    let file: AesFile = load("aes.json");
    assert!(!file.description.is_empty() && !file.conventions.integers.is_empty());
    assert_eq!(file.vectors.len(), 2);
    for v in &file.vectors {
        let (name, i, e) = (&v.name, &v.inputs, &v.expected);
        assert!(!v.source.is_empty(), "{name}");
        assert_eq!(hex(&i.aes_key_hex).len(), 16, "{name}");
        assert_eq!(hex(&i.aes_iv_hex).len(), 16, "{name}");
        // PKCS7 pads to whole blocks, always adding at least one byte.
        let ct = hex(&e.ciphertext_hex);
        assert!(
            ct.len().is_multiple_of(16) && ct.len() > i.inner_json_utf8.len(),
            "{name}"
        );
        assert_eq!(b64(&e.request_b64), ct, "{name}: request_b64");
        check_body(name, &i.inner_json_utf8);
        let inner = i.inner_json_utf8.as_bytes();
        let keys = AesKeys::from_hex(&i.aes_key_hex, &i.aes_iv_hex).unwrap();
        assert_eq!(keys.encrypt_b64(inner), e.request_b64, "{name}: encrypt");
        assert_eq!(
            keys.decrypt_b64(&e.request_b64).unwrap(),
            inner,
            "{name}: decrypt"
        );
        let (key, iv) = (
            hex(&i.aes_key_hex).try_into().unwrap(),
            hex(&i.aes_iv_hex).try_into().unwrap(),
        );
        assert_eq!(
            crypto::cbc_encrypt(&key, &iv, inner),
            ct,
            "{name}: ciphertext"
        );
        assert_eq!(
            crypto::cbc_decrypt(&key, &iv, &ct).unwrap(),
            inner,
            "{name}"
        );
        if let Some(envelope) = &e.envelope_utf8 {
            let b = check_body(name, envelope);
            assert_eq!(b.methods, [Method::smart("securePassthrough")], "{name}");
            let doc: Value = serde_json::from_str(envelope).unwrap();
            assert_eq!(doc["params"]["request"], e.request_b64.as_str(), "{name}");
            let env = parse_request(envelope.as_bytes()).unwrap();
            assert_eq!(env.method, EnvelopeMethod::SecurePassthrough, "{name}");
            assert_eq!(
                env.request_b64.as_deref(),
                Some(e.request_b64.as_str()),
                "{name}"
            );
            assert_eq!(env.key_pem, None, "{name}");
        }
    }
}
