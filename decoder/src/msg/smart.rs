//! The SMART JSON-RPC dialect (KLAP v2, AES passthrough, TDP): the top-level envelope keys
//! and what is kept of their values.
//!
//! ```text
//! request   {"method":"get_device_info","params":{..},"request_time_milis":..,"terminal_uuid":..}
//! batch     {"method":"multipleRequest","params":{"requests":[{"method":..,"params":..},..]}}
//! response  {"error_code":0,"result":{..}}        (a non-zero code may come with "msg")
//! answer    {"error_code":0,"result":{"responses":[{"method":..,"result":..,"error_code":..},..]}}
//! ```
//!
//! Like the IOT visitors in `body.rs`, these read the value once, keep only method names,
//! codes, messages and identity fields, and skip everything else through `Skip`, which holds
//! skipped values to `serde_json::Value`'s rules.

use super::Problem;
use super::body::{Body, Call, Code, Device, Dialect, Method, Skip, Text, push_code};
use core::fmt;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::sync::Arc;

/// The batch method, whose inner requests are listed instead of itself.
pub(super) const MULTIPLE_REQUEST: &str = "multipleRequest";
/// The method whose result (like a TDP discovery reply) identifies the device.
pub(super) const GET_DEVICE_INFO: &str = "get_device_info";

/// Visitor methods for scalars that all mean "nothing to keep": each calls `visit_unit`.
macro_rules! scalars_as_unit {
    ($value:ty) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> {
            self.visit_unit()
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$value, E> {
            self.visit_unit()
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$value, E> {
            self.visit_unit()
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$value, E> {
            self.visit_unit()
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$value, E> {
            self.visit_unit()
        }
    };
}

/// The SMART reading of the top level. Each slot holds the last value of its key, as
/// `serde_json::Value` would.
#[derive(Debug, Default)]
pub(super) struct SmartTop {
    /// `method`, when its value is a string.
    pub(super) method: Option<String>,
    /// `msg`, when its value is a string.
    pub(super) msg: Option<String>,
    pub(super) params: Option<Params>,
    pub(super) result: Option<SmartResult>,
    /// `Some` when the key is there; `Some(None)` when its value is not an `i64`.
    pub(super) error_code: Option<Option<i64>>,
}

impl SmartTop {
    /// Whether the top level is SMART: a string `method`, or an `error_code`, `result` or
    /// `params` key.
    pub(super) fn is_marked(&self) -> bool {
        self.method.is_some()
            || self.params.is_some()
            || self.result.is_some()
            || self.error_code.is_some()
    }

    pub(super) fn finish(self, body: &mut Body, problems: &mut Vec<Problem>) {
        body.dialect = Some(Dialect::Smart);
        body.has_err_code = self.error_code.is_some();
        body.has_result = self.result.is_some();
        body.error_code = self.error_code.flatten();
        body.error_msg = self.msg;
        let (responses, result_device) = match self.result {
            Some(r) => (r.responses, r.device),
            None => (None, None),
        };
        let requests = self.params.and_then(|p| p.requests);
        // The inner list: a batch answer's responses (when no other method is named), else a
        // multipleRequest's requests.
        let inner = match self.method.as_deref() {
            None => responses,
            Some(MULTIPLE_REQUEST) => responses.or(requests),
            Some(_) => None,
        };
        let nonzero = body.error_code.filter(|&c| c != 0);
        match inner.filter(|b| !b.methods.is_empty()) {
            Some(batch) => {
                body.batch = true;
                body.has_err_code |= batch.has_err_code;
                if let Some(code) = nonzero {
                    problems.push(Problem::ErrCode {
                        method: MULTIPLE_REQUEST.to_owned(),
                        code,
                        msg: body.error_msg.clone(),
                    });
                }
                for m in &batch.methods {
                    push_code(m, problems);
                }
                body.methods = batch.methods;
                body.device = batch.device.map(Arc::new);
            }
            None => match self.method {
                Some(method) => {
                    if method == GET_DEVICE_INFO {
                        body.device = result_device.map(Arc::new);
                    }
                    let m = Method {
                        call: Call::Smart {
                            method: method.into(),
                        },
                        err_code: body.error_code,
                        err_msg: body.error_msg.clone(),
                    };
                    push_code(&m, problems);
                    body.methods.push(m);
                }
                // A single response: no method to name (the session layer names it from the
                // request it answers), but its code still counts.
                None => {
                    if let Some(code) = nonzero {
                        problems.push(Problem::ErrCode {
                            method: String::new(),
                            code,
                            msg: body.error_msg.clone(),
                        });
                    }
                    body.device = result_device.map(Arc::new);
                }
            },
        }
    }
}

/// The inner requests or responses of a batch, as methods.
#[derive(Debug, Default)]
pub(super) struct Batch {
    methods: Vec<Method>,
    /// From the last inner `get_device_info` response that identifies a device.
    device: Option<Device>,
    /// Whether an inner response carries `error_code`.
    has_err_code: bool,
}

/// `params`: only a batch's `requests` is kept.
#[derive(Debug)]
pub(super) struct Params {
    /// `Some` when `requests` is an array.
    requests: Option<Batch>,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the params of a request")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
                let mut requests = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "requests" {
                        requests = map.next_value::<BatchList>()?.0;
                    } else {
                        map.next_value::<Skip>()?;
                    }
                }
                Ok(Params { requests })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                self.visit_unit()
            }
            fn visit_unit<E: de::Error>(self) -> Result<Params, E> {
                Ok(Params { requests: None })
            }
            scalars_as_unit!(Params);
        }
        d.deserialize_any(V)
    }
}

/// A `result`: a batch answer's `responses` (top level only), and the device it identifies.
#[derive(Debug, Default)]
pub(super) struct SmartResult {
    /// `Some` when `responses` is an array.
    responses: Option<Batch>,
    /// Identity fields, when they identify a device (`device_id`, `model` or `device_model`);
    /// whether they count depends on the method, decided by the caller.
    device: Option<Device>,
}

impl<'de> Deserialize<'de> for SmartResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ResultSeed { top: true })
    }
}

/// `top`: the top-level `result`, where `responses` is a batch answer. Inside a batch, a
/// result's `responses` is an ordinary key.
struct ResultSeed {
    top: bool,
}

impl<'de> DeserializeSeed<'de> for ResultSeed {
    type Value = SmartResult;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SmartResult, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed {
    type Value = SmartResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SmartResult, A::Error> {
        let mut responses = None;
        let mut id = Identity::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let slot = match &*key {
                "responses" if self.top => {
                    responses = map.next_value::<BatchList>()?.0;
                    continue;
                }
                "device_id" => &mut id.device_id,
                "model" => &mut id.model,
                "device_model" => &mut id.device_model,
                "nickname" => &mut id.nickname,
                "mac" => &mut id.mac,
                "fw_ver" => &mut id.fw_ver,
                "firmware_version" => &mut id.firmware_version,
                "hw_ver" => &mut id.hw_ver,
                "hardware_version" => &mut id.hardware_version,
                "type" => &mut id.kind,
                "device_type" => &mut id.device_type,
                _ => {
                    map.next_value::<Skip>()?;
                    continue;
                }
            };
            *slot = map.next_value::<Text>()?.0;
        }
        Ok(SmartResult {
            responses,
            device: id.device(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SmartResult, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        self.visit_unit()
    }

    fn visit_unit<E: de::Error>(self) -> Result<SmartResult, E> {
        Ok(SmartResult::default())
    }

    scalars_as_unit!(SmartResult);
}

/// The identity fields of a `get_device_info` result or a TDP discovery reply, as written.
#[derive(Debug, Default)]
struct Identity {
    device_id: Option<String>,
    model: Option<String>,
    device_model: Option<String>,
    nickname: Option<String>,
    mac: Option<String>,
    fw_ver: Option<String>,
    firmware_version: Option<String>,
    hw_ver: Option<String>,
    hardware_version: Option<String>,
    kind: Option<String>,
    device_type: Option<String>,
}

impl Identity {
    /// The device, if the fields identify one: a `device_id`, `model` or `device_model`.
    fn device(self) -> Option<Device> {
        if self.device_id.is_none() && self.model.is_none() && self.device_model.is_none() {
            return None;
        }
        Some(Device {
            model: self.model.or(self.device_model),
            alias: self.nickname.map(decode_nickname),
            mac: self.mac,
            device_id: self.device_id,
            sw_ver: self.fw_ver.or(self.firmware_version),
            hw_ver: self.hw_ver.or(self.hardware_version),
            kind: self.kind.or(self.device_type),
        })
    }
}

/// A batch's list: `Some` when the value is an array. Elements that are not objects naming a
/// `method` (a string) are skipped.
struct BatchList(Option<Batch>);

impl<'de> Deserialize<'de> for BatchList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BatchList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of requests or responses")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchList, A::Error> {
                let mut batch = Batch::default();
                while let Some(inner) = seq.next_element::<Inner>()? {
                    batch.has_err_code |= inner.has_err_code;
                    let Some(method) = inner.method else {
                        continue;
                    };
                    if method == GET_DEVICE_INFO && inner.device.is_some() {
                        batch.device = inner.device;
                    }
                    batch.methods.push(Method {
                        call: Call::Smart {
                            method: method.into(),
                        },
                        err_code: inner.err_code,
                        err_msg: inner.msg,
                    });
                }
                Ok(BatchList(Some(batch)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BatchList, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                self.visit_unit()
            }
            fn visit_unit<E: de::Error>(self) -> Result<BatchList, E> {
                Ok(BatchList(None))
            }
            scalars_as_unit!(BatchList);
        }
        d.deserialize_any(V)
    }
}

/// One element of a batch: `{"method":..,"params":..}` or `{"method":..,"result":..,
/// "error_code":..,"msg":..}`.
#[derive(Debug, Default)]
struct Inner {
    method: Option<String>,
    err_code: Option<i64>,
    has_err_code: bool,
    msg: Option<String>,
    device: Option<Device>,
}

impl<'de> Deserialize<'de> for Inner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Inner;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a request or response")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Inner, A::Error> {
                let mut inner = Inner::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "method" => inner.method = map.next_value::<Text>()?.0,
                        "error_code" => {
                            inner.err_code = map.next_value::<Code>()?.0;
                            inner.has_err_code = true;
                        }
                        "msg" => inner.msg = map.next_value::<Text>()?.0,
                        "result" => {
                            inner.device = map.next_value_seed(ResultSeed { top: false })?.device;
                        }
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(inner)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Inner, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                self.visit_unit()
            }
            fn visit_unit<E: de::Error>(self) -> Result<Inner, E> {
                Ok(Inner::default())
            }
            scalars_as_unit!(Inner);
        }
        d.deserialize_any(V)
    }
}

/// A `get_device_info` nickname: devices send it as base64 of UTF-8 text. Decoded when it is
/// exactly that (canonical standard base64 with padding, valid UTF-8), else kept as it is.
pub(super) fn decode_nickname(nickname: String) -> String {
    decode_base64(&nickname)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or(nickname)
}

/// Strict RFC 4648 base64 (standard alphabet, padded, no whitespace, zero trailing bits).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let chunks = text.as_bytes().chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return None;
    }
    let quads = chunks.len();
    let mut out = Vec::with_capacity(quads * 3);
    for (i, quad) in chunks.enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | sextet(c)?;
        }
        n <<= 6 * pad;
        let [_, b0, b1, b2] = n.to_be_bytes();
        let decoded = [b0, b1, b2];
        // The bits the padding leaves over must be zero: one encoding per byte string.
        if decoded[3 - pad..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&decoded[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::answers_all;
    use crate::msg::{Direction, summary};

    fn analyse(text: &str) -> (Body, Vec<Problem>) {
        let mut p = Vec::new();
        let b = Body::analyse(text.as_bytes(), &mut p);
        (b, p)
    }

    fn names(b: &Body) -> Vec<String> {
        b.methods.iter().map(Method::name).collect()
    }

    fn line(direction: Direction, b: &Body) -> String {
        let mut s = String::new();
        summary(&mut s, direction, b).unwrap();
        s
    }

    /// `vectors/klap.json` v2_user_example_com, the first request's plaintext.
    static KLAP_V2_REQUEST: &[u8] = br#"{"method":"get_device_info","params":null}"#;
    /// `vectors/aes.json` get_device_info, the inner request.
    static AES_GET_DEVICE_INFO: &[u8] = br#"{"method":"get_device_info","request_time_milis":1700000000000,"terminal_uuid":"AAAAAAAAAAAAAAAAAAAAAA=="}"#;
    /// `vectors/aes.json` foo_bar, the envelope around the encrypted inner JSON.
    static AES_ENVELOPE: &[u8] = br#"{"method":"securePassthrough","params":{"request":"DkA51mu3WNL+sN5mgEkH4r9plCWV0ZPLzJhEHczN4Ro="}}"#;
    /// `vectors/tdp.json` synthetic_probe_serial_01020304, the body.
    static TDP_PROBE: &[u8] = br#"{"params":{"rsa_key":"-----BEGIN PUBLIC KEY-----\nMFwwDQ==\n-----END PUBLIC KEY-----\n"}}"#;
    /// `vectors/tdp.json` real_reply_tapo_p110_fr, the body (a real P110(FR) reply).
    static TDP_REPLY: &[u8] = br#"{"result":{"device_id":"6084c1ce5aea73198f776c78210f12f8","owner":"866637D2A7BF8DEB82E5CB8BCEDFAB94","device_type":"SMART.TAPOPLUG","device_model":"P110(FR)","ip":"192.168.1.134","mac":"9C-53-22-A2-56-35","is_support_iot_cloud":true,"obd_src":"tplink","protocol_version":1,"factory_default":false,"mgt_encrypt_schm":{"is_support_https":false,"encrypt_type":"KLAP","http_port":80,"lv":2}},"error_code":0}"#;
    /// A get_device_info answer in python-kasa's fixture shape (trimmed), nickname in base64.
    static DEVICE_INFO_REPLY: &[u8] = br#"{"error_code":0,"result":{"device_id":"8022000000000000000000000000000000000000","fw_ver":"1.3.0 Build 230905 Rel.152200","hw_ver":"1.0","type":"SMART.TAPOPLUG","model":"P110","mac":"A8-42-A1-00-00-00","nickname":"TGl2aW5nIHJvb20=","device_on":true,"ssid":"IyNNQVNLRUROQU1FIyM=","rssi":-50}}"#;

    #[test]
    fn test_klap_v2_request() {
        let mut p = Vec::new();
        let b = Body::analyse(KLAP_V2_REQUEST, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert!(b.json_ok);
        assert_eq!(b.dialect, Some(Dialect::Smart));
        assert_eq!(b.methods, [Method::smart("get_device_info")]);
        assert_eq!(b.methods[0].module(), None);
        assert_eq!(b.methods[0].method(), Some("get_device_info"));
        assert!(!b.looks_like_response());
        assert_eq!(line(Direction::Request, &b), "Request get_device_info");
    }

    #[test]
    fn test_aes_inner_request_envelope_keys_are_not_modules() {
        let mut p = Vec::new();
        let b = Body::analyse(AES_GET_DEVICE_INFO, &mut p);
        assert!(p.is_empty());
        assert_eq!(b.dialect, Some(Dialect::Smart));
        assert_eq!(names(&b), ["get_device_info"]);
        let b = Body::analyse(AES_ENVELOPE, &mut p);
        assert_eq!(names(&b), ["securePassthrough"]);
        assert!(p.is_empty() && !b.looks_like_response());
    }

    #[test]
    fn test_tdp_reply_identifies_the_device() {
        let mut p = Vec::new();
        let b = Body::analyse(TDP_REPLY, &mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(b.dialect, Some(Dialect::Smart));
        assert!(b.methods.is_empty());
        assert_eq!(b.error_code, Some(0));
        assert!(b.looks_like_response() && b.has_err_code && b.has_result && !b.batch);
        assert_eq!(
            b.device.as_deref().cloned(),
            Some(Device {
                model: Some("P110(FR)".into()),
                alias: None,
                mac: Some("9C-53-22-A2-56-35".into()),
                device_id: Some("6084c1ce5aea73198f776c78210f12f8".into()),
                sw_ver: None,
                hw_ver: None,
                kind: Some("SMART.TAPOPLUG".into()),
            })
        );
        assert_eq!(
            line(Direction::Response, &b),
            "Response error_code=0 P110(FR)"
        );
    }

    #[test]
    fn test_tdp_probe() {
        let mut p = Vec::new();
        let b = Body::analyse(TDP_PROBE, &mut p);
        assert!(p.is_empty());
        assert_eq!(b.dialect, Some(Dialect::Smart));
        assert!(b.methods.is_empty() && !b.looks_like_response() && b.device.is_none());
        assert_eq!(line(Direction::Request, &b), "Request (no method)");
    }

    #[test]
    fn test_device_info_nickname_decoded() {
        let mut p = Vec::new();
        let b = Body::analyse(DEVICE_INFO_REPLY, &mut p);
        assert!(p.is_empty());
        let d = b.device.as_ref().unwrap();
        assert_eq!(d.alias.as_deref(), Some("Living room"));
        assert_eq!(d.model.as_deref(), Some("P110"));
        assert_eq!(d.sw_ver.as_deref(), Some("1.3.0 Build 230905 Rel.152200"));
        assert_eq!(d.hw_ver.as_deref(), Some("1.0"));
        assert_eq!(d.kind.as_deref(), Some("SMART.TAPOPLUG"));
        assert_eq!(d.mac.as_deref(), Some("A8-42-A1-00-00-00"));
        assert_eq!(
            line(Direction::Response, &b),
            "Response error_code=0 P110 \"Living room\""
        );
        // Named, the method carries the code.
        let (b, _) = analyse(
            r#"{"method":"get_device_info","error_code":0,"result":{"model":"P110(EU)","nickname":"Kitchen"}}"#,
        );
        assert_eq!(b.methods[0].err_code, Some(0));
        assert_eq!(b.device.unwrap().alias.as_deref(), Some("Kitchen"));
        // A result of another named method is not an identity.
        let (b, _) =
            analyse(r#"{"method":"get_latest_fw","error_code":0,"result":{"model":"X","type":1}}"#);
        assert_eq!(b.device, None);
        // Nor are result fields that name no device.
        let (b, _) =
            analyse(r#"{"error_code":0,"result":{"fw_ver":"1.2","type":"x","nickname":"YQ=="}}"#);
        assert_eq!(b.device, None);
    }

    #[test]
    fn test_batch_request_lists_inner_methods() {
        let (b, p) = analyse(
            r#"{"method":"multipleRequest","params":{"requests":[{"method":"get_device_info","params":{}},{"method":"get_energy_usage","params":null}]},"request_time_milis":1,"terminal_uuid":"x"}"#,
        );
        assert!(p.is_empty());
        assert!(b.batch);
        assert_eq!(names(&b), ["get_device_info", "get_energy_usage"]);
        assert_eq!(
            line(Direction::Request, &b),
            "Request get_device_info, get_energy_usage"
        );
        // Elements without a method, or not objects, are skipped; an empty batch stands for itself.
        let (b, _) = analyse(
            r#"{"method":"multipleRequest","params":{"requests":[1,"x",null,[],{"params":{}},{"method":7},{"method":"a"}]}}"#,
        );
        assert_eq!(names(&b), ["a"]);
        let (b, _) = analyse(r#"{"params":{"requests":[]},"method":"multipleRequest"}"#);
        assert_eq!(names(&b), ["multipleRequest"]);
        assert!(!b.batch);
        // `requests` of another method is not a batch.
        let (b, _) = analyse(r#"{"method":"x","params":{"requests":[{"method":"a"}]}}"#);
        assert_eq!(names(&b), ["x"]);
    }

    #[test]
    fn test_batch_answer() {
        let (b, p) = analyse(
            r#"{"error_code":0,"result":{"responses":[{"method":"get_device_info","result":{"device_id":"D","model":"P110(EU)","nickname":"TGl2aW5nIHJvb20="},"error_code":0},{"method":"get_energy_usage","result":{},"error_code":-1001,"msg":"Unknown"},{"result":{},"error_code":-5}]}}"#,
        );
        assert!(b.batch && b.looks_like_response());
        assert_eq!(names(&b), ["get_device_info", "get_energy_usage"]);
        assert_eq!(b.methods[1].err_code, Some(-1001));
        assert_eq!(b.methods[1].err_msg.as_deref(), Some("Unknown"));
        assert_eq!(
            p,
            [Problem::ErrCode {
                method: "get_energy_usage".into(),
                code: -1001,
                msg: Some("Unknown".into()),
            }]
        );
        assert_eq!(
            line(Direction::Response, &b),
            "Response get_device_info error_code=0, get_energy_usage error_code=-1001 P110(EU) \"Living room\""
        );
        // Without a top-level code (PROTOCOL.md 4.3), the inner codes still mark a response.
        let (b, _) =
            analyse(r#"{"result":{"responses":[{"method":"a","result":{},"error_code":0}]}}"#);
        assert!(b.has_err_code && b.batch);
        assert_eq!(b.error_code, None);
        // The whole batch failed: its code first, attributed to the batch.
        let (b, p) =
            analyse(r#"{"error_code":-1,"result":{"responses":[{"method":"a","error_code":0}]}}"#);
        assert_eq!(
            line(Direction::Response, &b),
            "Response error_code=-1, a error_code=0"
        );
        assert_eq!(
            p,
            [Problem::ErrCode {
                method: "multipleRequest".into(),
                code: -1,
                msg: None,
            }]
        );
    }

    #[test]
    fn test_unnamed_error_is_a_problem() {
        let (b, p) = analyse(r#"{"error_code":-1501,"msg":"Invalid request or credentials"}"#);
        assert_eq!(b.dialect, Some(Dialect::Smart));
        assert!(b.methods.is_empty() && b.looks_like_response());
        assert_eq!(b.error_code, Some(-1501));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].expert(), "kasa.err_code.nonzero");
        assert_eq!(
            p[0].to_string(),
            "the response returned error code -1501: Invalid request or credentials"
        );
        assert_eq!(line(Direction::Response, &b), "Response error_code=-1501");
        // A named one names its method.
        let (_, p) = analyse(r#"{"method":"login_device","error_code":-1501}"#);
        assert_eq!(p[0].to_string(), "login_device returned err_code -1501");
        // A code that is not an i64 marks a response but is no code.
        for text in [
            r#"{"error_code":"0"}"#,
            r#"{"error_code":1.5}"#,
            r#"{"error_code":99999999999999999999}"#,
            r#"{"error_code":-9223372036854775809}"#,
        ] {
            let (b, p) = analyse(text);
            assert!(b.json_ok && p.is_empty(), "{text}: {p:?}");
            assert!(b.looks_like_response() && b.error_code.is_none(), "{text}");
        }
    }

    /// The mixing rule: any SMART marker makes the whole document SMART, whatever the key
    /// order; its IOT-looking keys are envelope fields, so their err_codes are not problems.
    #[test]
    fn test_mixed_dialects_read_as_smart() {
        for text in [
            r#"{"system":{"get_sysinfo":{"err_code":-1,"model":"HS110(EU)"}},"method":"get_device_info"}"#,
            r#"{"method":"get_device_info","system":{"get_sysinfo":{"err_code":-1,"model":"HS110(EU)"}}}"#,
        ] {
            let (b, p) = analyse(text);
            assert_eq!(b.dialect, Some(Dialect::Smart), "{text}");
            assert_eq!(names(&b), ["get_device_info"]);
            assert!(p.is_empty() && b.device.is_none() && !b.looks_like_response());
        }
        // A `method` that is not a string is an IOT module.
        let (b, _) = analyse(r#"{"method":{"x":{}},"system":{"get_sysinfo":{}}}"#);
        assert_eq!(b.dialect, Some(Dialect::Iot));
        assert_eq!(names(&b), ["method.x", "system.get_sysinfo"]);
        // An empty object is IOT with no method.
        let (b, _) = analyse("{}");
        assert_eq!(b.dialect, Some(Dialect::Iot));
        assert!(b.methods.is_empty());
    }

    /// Duplicate keys: SMART's single-valued keys keep the last value, as `serde_json::Value`.
    #[test]
    fn test_duplicate_keys() {
        let (b, _) = analyse(r#"{"method":"a","method":"b"}"#);
        assert_eq!(names(&b), ["b"]);
        let (b, p) = analyse(r#"{"error_code":-1,"error_code":0}"#);
        assert_eq!(b.error_code, Some(0));
        assert!(p.is_empty());
        let (b, _) = analyse(r#"{"error_code":0,"result":{"model":"A"},"result":{"model":"B"}}"#);
        assert_eq!(b.device.unwrap().model.as_deref(), Some("B"));
        let (b, _) = analyse(r#"{"method":"x","msg":"a","msg":{"y":1}}"#);
        assert_eq!(b.error_msg, None);
        // The last `method` is no string and nothing else is SMART: IOT, both occurrences listed.
        let (b, _) = analyse(r#"{"method":"a","method":5}"#);
        assert_eq!(b.dialect, Some(Dialect::Iot));
        assert_eq!(names(&b), ["method", "method"]);
        let (b, _) = analyse(r#"{"method":"get_\u0064evice_info"}"#);
        assert_eq!(names(&b), ["get_device_info"]);
    }

    #[test]
    fn test_hostile_inputs_are_json_errors() {
        let deep_params = format!(
            r#"{{"method":"set_device_info","params":{{"nickname":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let deep_batch = format!(
            r#"{{"method":"multipleRequest","params":{{"requests":[{{"method":"a","params":{}{}}}]}}}}"#,
            "{\"a\":".repeat(200),
            "}".repeat(200)
        );
        let deep_result = format!(
            r#"{{"error_code":0,"result":{{"responses":[{{"method":"a","result":{{"x":{}1{}}}}}]}}}}"#,
            "[".repeat(130),
            "]".repeat(130)
        );
        for text in [
            deep_params.as_str(),
            deep_batch.as_str(),
            deep_result.as_str(),
            r#"{"method":"\ud800"}"#,
            r#"{"method":"a","params":{"requests":[{"method":"\udc00"}]}}"#,
            r#"{"error_code":0,"result":{"nickname":"\ud83d"}}"#,
            r#"{"method":"a","params":{"v":1e400}}"#,
            r#"{"error_code":1e400}"#,
            r#"{"error_code":0,"result":{"responses":[{"method":"a","error_code":-1e999}]}}"#,
            r#"{"method":"a",}"#,
            r#"{"method":"a"} {}"#,
            r#"[{"method":"a"}]"#,
            r#""method""#,
            "5",
            "null",
            "",
        ] {
            let (b, p) = analyse(text);
            let short = &text[..text.len().min(60)];
            assert!(
                !b.json_ok && b.dialect.is_none() && b.methods.is_empty(),
                "{short}"
            );
            assert!(matches!(p[..], [Problem::Json { .. }]), "{short}: {p:?}");
            assert!(
                !matches!(
                    serde_json::from_str::<serde_json::Value>(text),
                    Ok(serde_json::Value::Object(_))
                ),
                "{short}"
            );
        }
        // Deep but within the limit, and valid escapes: fine.
        let (b, p) = analyse(&format!(
            r#"{{"method":"a","params":{{"x":{}"\ud83d\ude00"{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        ));
        assert!(b.json_ok && p.is_empty(), "{p:?}");
    }

    #[test]
    fn test_answers() {
        let req = Method::smart("get_device_info");
        assert!(Method::smart("get_device_info").answers(&req));
        assert!(!Method::smart("get_energy_usage").answers(&req));
        assert!(!Method::iot("get_device_info", None).answers(&req));
        assert!(!req.answers(&Method::iot("get_device_info", None)));
        let iot = Method::iot("system", Some("get_sysinfo"));
        assert!(Method::iot("system", None).answers(&iot));
        assert!(!Method::iot("system", Some("x")).answers(&iot));
        let batch = [Method::smart("a"), Method::smart("b")];
        assert!(answers_all(
            &[Method::smart("b"), Method::smart("a")],
            &batch
        ));
        assert!(!answers_all(&[Method::smart("a")], &batch));
        // A single response names no method: pairing it is the transport's job.
        assert!(!answers_all(&[], &[req]));
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(
            decode_base64("TGl2aW5nIHJvb20=").as_deref(),
            Some(&b"Living room"[..])
        );
        assert_eq!(
            decode_base64("S8O8Y2hl").as_deref(),
            Some("Küche".as_bytes())
        );
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        for bad in [
            "Kitchen", "YQ", "YQ=", "YR==", "Y===", "YQ==YQ==", "Y Q=", "YQ=a", "_-8=",
        ] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    #[test]
    fn nickname_decoded_only_when_base64_of_utf8() {
        assert_eq!(decode_nickname("TGl2aW5nIHJvb20=".into()), "Living room");
        assert_eq!(decode_nickname("Kitchen".into()), "Kitchen");
        // Base64, but of bytes that are not UTF-8 ("Lamp" decodes to 2d a9 a9).
        assert_eq!(decode_nickname("Lamp".into()), "Lamp");
        assert_eq!(decode_nickname(String::new()), "");
    }
}
