//! The SMART JSON-RPC dialect (KLAP v2, AES passthrough, TDP): the top-level envelope keys
//! and what is kept of their values.
//!
//! * request: `{"method":"get_device_info","params":{...},"request_time_milis":..,"terminal_uuid":..}`;
//! * batch: `{"method":"multipleRequest","params":{"requests":[{"method":..,"params":..},...]}}`;
//! * response: `{"error_code":0,"result":{...}}` (a non-zero code may come with `msg`);
//! * batch answer: `{"error_code":0,"result":{"responses":[{"method":..,"result":..,"error_code":..},...]}}`.
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
                body.device = batch.device;
            }
            None => match self.method {
                Some(method) => {
                    if method == GET_DEVICE_INFO {
                        body.device = result_device;
                    }
                    let m = Method {
                        call: Call::Smart { method },
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
                    body.device = result_device;
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
                        call: Call::Smart { method },
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
