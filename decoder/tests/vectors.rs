//! The protocol test vectors in `fixtures/vectors/` (copied byte for byte from the project's
//! shared protocol material, `shared/vectors/`), loaded into serde structs that name every
//! field, and checked against the vectors' own expected values, never against values the code
//! under test computes.
//!
//! * `xor.json`: encryption, decryption, the TCP length prefix and the heuristics.
//! * `tdp.json`, `klap.json`, `aes.json`: the JSON plaintexts inside them (SMART bodies, and the
//!   IOT bodies of KLAP v1) analyse to the dialect, methods, codes and device identity their
//!   text states, read independently with `serde_json::Value`; and the files are consistent
//!   with themselves. The TDP header, KLAP crypto and AES are not implemented here.

use kasa_decoder::msg::{Body, Dialect, Method, Problem};
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
            .clone()
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

/// TDP: the datagrams' bodies (a probe's `params`, a reply's `result` and `error_code`), and
/// the file's own consistency at the offsets its description gives (body from byte 16,
/// msg_size at 4..6, crc32 at 12..16). No CRC is computed here.
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

/// KLAP: the plaintexts of the first request and response (IOT for v1, SMART for v2), and the
/// file's consistency between its own fields. No KLAP crypto here.
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
    for c in &file.default_credentials.entries {
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

/// AES passthrough: the inner JSON and the envelope analyse as their text states; the envelope
/// carries `request_b64`. No AES here.
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
        if let Some(envelope) = &e.envelope_utf8 {
            let b = check_body(name, envelope);
            assert_eq!(b.methods, [Method::smart("securePassthrough")], "{name}");
            let doc: Value = serde_json::from_str(envelope).unwrap();
            assert_eq!(doc["params"]["request"], e.request_b64.as_str(), "{name}");
        }
    }
}
