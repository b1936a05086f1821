//! What the JSON of one message says: `module.method` pairs, error codes, context, device.

use super::Problem;
use core::fmt;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;

/// One `module.method` of a message, with its result code in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub module: String,
    /// `None` when the module itself carries the result (`{"x":{"err_code":-1,...}}`).
    pub method: Option<String>,
    pub err_code: Option<i64>,
    pub err_msg: Option<String>,
}

impl Method {
    /// `module.method`, or `module` alone.
    pub fn name(&self) -> String {
        match &self.method {
            Some(m) => format!("{}.{}", self.module, m),
            None => self.module.clone(),
        }
    }
}

/// The optional top-level `context` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub source: Option<String>,
    pub child_ids: Vec<String>,
}

impl Context {
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.child_ids.is_empty()
    }
}

/// Device identity from a `get_sysinfo` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    pub model: Option<String>,
    pub alias: Option<String>,
    pub mac: Option<String>,
    pub device_id: Option<String>,
    pub sw_ver: Option<String>,
    pub hw_ver: Option<String>,
    pub kind: Option<String>,
}

/// The analysed content of one plaintext.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    /// Whether the plaintext parsed as a JSON object.
    pub json_ok: bool,
    pub methods: Vec<Method>,
    pub context: Context,
    pub device: Option<Device>,
    /// Whether any method or module carries `err_code`: the mark of a response.
    pub has_err_code: bool,
}

impl Body {
    /// Analyses a plaintext. Never panics; what is wrong goes to `problems`.
    ///
    /// Invalid UTF-8 is flagged and the JSON structure is still read from a lossy copy, so the
    /// methods of a message with one bad byte in an alias are not lost.
    ///
    /// The JSON is read in one streaming pass that keeps only what the model needs (method
    /// names, result codes, context, the identity fields of `get_sysinfo`) and skips every other
    /// value without building it. Nesting deeper than serde_json's recursion limit (128) is an
    /// error, never a stack overflow.
    pub fn analyse(plaintext: &[u8], problems: &mut Vec<Problem>) -> Body {
        let lossy;
        let text = match core::str::from_utf8(plaintext) {
            Ok(text) => text,
            Err(e) => {
                problems.push(Problem::Utf8 {
                    valid_up_to: e.valid_up_to(),
                });
                lossy = String::from_utf8_lossy(plaintext);
                &lossy
            }
        };
        let mut body = Body::default();
        let mut codes = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = de
            .deserialize_any(TopVisitor {
                body: &mut body,
                codes: &mut codes,
            })
            .and_then(|()| de.end());
        match parsed {
            Ok(()) => {
                body.json_ok = true;
                problems.extend(codes);
                body
            }
            Err(e) => {
                // A truncated message cannot parse; that is already said.
                if !problems
                    .iter()
                    .any(|p| matches!(p, Problem::Truncated { .. }))
                {
                    problems.push(Problem::Json {
                        detail: e.to_string(),
                    });
                }
                Body::default()
            }
        }
    }

    /// Whether the JSON says this is a response (some result carries `err_code`).
    pub fn looks_like_response(&self) -> bool {
        self.has_err_code
    }

    fn push(&mut self, m: Method, codes: &mut Vec<Problem>) {
        if let Some(code) = m.err_code.filter(|&c| c != 0) {
            codes.push(Problem::ErrCode {
                method: m.name(),
                code,
                msg: m.err_msg.clone(),
            });
        }
        self.methods.push(m);
    }
}

/// The top level: an object of modules, and `context`.
struct TopVisitor<'a> {
    body: &'a mut Body,
    codes: &'a mut Vec<Problem>,
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "context" {
                self.body.context = map.next_value::<ContextValue>()?.0;
                continue;
            }
            let module = map.next_value_seed(ModuleSeed { module: &key })?;
            if module.has_err_code {
                self.body.has_err_code = true;
            }
            if module.device.is_some() {
                self.body.device = module.device;
            }
            for m in module.methods {
                self.body.push(m, self.codes);
            }
        }
        Ok(())
    }
}

/// What one module's value says.
struct Module {
    methods: Vec<Method>,
    has_err_code: bool,
    device: Option<Device>,
}

struct ModuleSeed<'k> {
    module: &'k str,
}

impl<'de> DeserializeSeed<'de> for ModuleSeed<'_> {
    type Value = Module;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Module, D::Error> {
        d.deserialize_any(self)
    }
}

impl ModuleSeed<'_> {
    fn bare(&self) -> Module {
        Module {
            methods: vec![self.method(None, None, None)],
            has_err_code: false,
            device: None,
        }
    }

    fn method(
        &self,
        method: Option<String>,
        err_code: Option<i64>,
        err_msg: Option<String>,
    ) -> Method {
        Method {
            module: self.module.to_owned(),
            method,
            err_code,
            err_msg,
        }
    }
}

impl<'de> Visitor<'de> for ModuleSeed<'_> {
    type Value = Module;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a module")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Module, A::Error> {
        let mut methods = Vec::new();
        let (mut code, mut msg) = (None, None);
        let mut device = None;
        let mut has_err_code = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                // The module answered as a whole, e.g. "module not support".
                "err_code" => code = Some(map.next_value::<Code>()?.0),
                "err_msg" => msg = map.next_value::<Text>()?.0,
                method => {
                    let sysinfo = self.module == "system" && method == "get_sysinfo";
                    let r = map.next_value_seed(ResultSeed { sysinfo })?;
                    has_err_code |= r.err_code.is_some();
                    if r.device.is_some() {
                        device = r.device;
                    }
                    methods.push(self.method(
                        Some(method.to_owned()),
                        r.err_code.flatten(),
                        r.err_msg,
                    ));
                }
            }
        }
        if let Some(code) = code {
            return Ok(Module {
                methods: vec![self.method(None, code, msg)],
                has_err_code: true,
                device: None,
            });
        }
        if methods.is_empty() {
            return Ok(self.bare());
        }
        Ok(Module {
            methods,
            has_err_code,
            device,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Module, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(self.bare())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Module, E> {
        Ok(self.bare())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Module, E> {
        Ok(self.bare())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Module, E> {
        Ok(self.bare())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Module, E> {
        Ok(self.bare())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Module, E> {
        Ok(self.bare())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Module, E> {
        Ok(self.bare())
    }
}

/// One method's value: parameters in a request, a result in a response.
struct MethodResult {
    /// `Some` when the key is there; `Some(None)` when its value is not an `i64`.
    err_code: Option<Option<i64>>,
    err_msg: Option<String>,
    device: Option<Device>,
}

struct ResultSeed {
    sysinfo: bool,
}

impl<'de> DeserializeSeed<'de> for ResultSeed {
    type Value = MethodResult;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<MethodResult, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed {
    type Value = MethodResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a method's parameters or result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MethodResult, A::Error> {
        let mut r = MethodResult {
            err_code: None,
            err_msg: None,
            device: None,
        };
        let mut dev = Device::default();
        let (mut mic_mac, mut ethernet_mac, mut mic_type) = (None, None, None);
        let mut keys = 0usize;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            keys += 1;
            let slot = match &*key {
                "err_code" => {
                    r.err_code = Some(map.next_value::<Code>()?.0);
                    continue;
                }
                "err_msg" => &mut r.err_msg,
                _ if !self.sysinfo => {
                    map.next_value::<Skip>()?;
                    continue;
                }
                "model" => &mut dev.model,
                "alias" => &mut dev.alias,
                "mac" => &mut dev.mac,
                "mic_mac" => &mut mic_mac,
                "ethernet_mac" => &mut ethernet_mac,
                "deviceId" => &mut dev.device_id,
                "sw_ver" => &mut dev.sw_ver,
                "hw_ver" => &mut dev.hw_ver,
                "type" => &mut dev.kind,
                "mic_type" => &mut mic_type,
                _ => {
                    map.next_value::<Skip>()?;
                    continue;
                }
            };
            *slot = map.next_value::<Text>()?.0;
        }
        if self.sysinfo && r.err_code.is_some() && keys > 1 {
            dev.mac = dev.mac.or(mic_mac).or(ethernet_mac);
            dev.kind = dev.kind.or(mic_type);
            r.device = Some(dev);
        }
        Ok(r)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MethodResult, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(MethodResult {
            err_code: None,
            err_msg: None,
            device: None,
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MethodResult, E> {
        self.visit_unit()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MethodResult, E> {
        self.visit_unit()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MethodResult, E> {
        self.visit_unit()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MethodResult, E> {
        self.visit_unit()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<MethodResult, E> {
        self.visit_unit()
    }
    fn visit_unit<E: de::Error>(self) -> Result<MethodResult, E> {
        Ok(MethodResult {
            err_code: None,
            err_msg: None,
            device: None,
        })
    }
}

/// Any JSON value, read and dropped. Not serde's `IgnoredAny`: serde_json skips that without
/// checking nesting depth, number range or `\u` surrogates, so invalid JSON (100,000 nested
/// arrays, `"\ud800"`, `1e400`) would pass wherever the model skips it. Through
/// `deserialize_any` a skipped value obeys the rules of a kept one (and of `serde_json::Value`):
/// recursion limit 128, valid escapes, finite numbers.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// Any JSON value, kept when it is a string, else `None`.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value, kept when it is an integer that fits an `i64`, else `None`.
struct Code(Option<i64>);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Code;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Code, E> {
                Ok(Code(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Code, E> {
                Ok(Code(i64::try_from(v).ok()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Code, E> {
                Ok(Code(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Code, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Code(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Code, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Code(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `context` object: `source` and `child_ids`.
struct ContextValue(Context);

impl<'de> Deserialize<'de> for ContextValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContextValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the context object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContextValue, A::Error> {
                let mut c = Context::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "source" => c.source = map.next_value::<Text>()?.0,
                        "child_ids" => c.child_ids = map.next_value::<Ids>()?.0,
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(ContextValue(c))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ContextValue, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(ContextValue(Context::default()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ContextValue, E> {
                self.visit_unit()
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ContextValue, E> {
                self.visit_unit()
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ContextValue, E> {
                self.visit_unit()
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ContextValue, E> {
                self.visit_unit()
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ContextValue, E> {
                self.visit_unit()
            }
            fn visit_unit<E: de::Error>(self) -> Result<ContextValue, E> {
                Ok(ContextValue(Context::default()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `child_ids`: every element as text (numbers as written).
struct Ids(Vec<String>);

impl<'de> Deserialize<'de> for Ids {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Array(ids) => Ok(Ids(ids
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect())),
            _ => Ok(Ids(Vec::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse(text: &str) -> (Body, Vec<Problem>) {
        let mut p = Vec::new();
        let b = Body::analyse(text.as_bytes(), &mut p);
        (b, p)
    }

    #[test]
    fn request_methods_in_order() {
        let (b, p) = analyse(
            r#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":null},"context":{"source":"abc","child_ids":["X1","X2"]}}"#,
        );
        assert!(p.is_empty());
        let names: Vec<_> = b.methods.iter().map(Method::name).collect();
        assert_eq!(names, ["system.get_sysinfo", "emeter.get_realtime"]);
        assert!(!b.looks_like_response());
        assert_eq!(b.context.source.as_deref(), Some("abc"));
        assert_eq!(b.context.child_ids, ["X1", "X2"]);
    }

    #[test]
    fn response_with_device_and_errors() {
        let (b, p) = analyse(
            r#"{"system":{"get_sysinfo":{"model":"HS110(EU)","alias":"Küche ☃","mac":"50:C7:BF:00:00:01","deviceId":"D1","type":"IOT.SMARTPLUGSWITCH","err_code":0}},"foo":{"err_code":-1,"err_msg":"module not support"}}"#,
        );
        assert!(b.looks_like_response());
        let dev = b.device.as_ref().unwrap();
        assert_eq!(dev.model.as_deref(), Some("HS110(EU)"));
        assert_eq!(dev.alias.as_deref(), Some("Küche ☃"));
        assert_eq!(b.methods[1].name(), "foo");
        assert_eq!(b.methods[1].err_code, Some(-1));
        assert_eq!(
            p,
            [Problem::ErrCode {
                method: "foo".into(),
                code: -1,
                msg: Some("module not support".into())
            }]
        );
        let mut line = String::new();
        super::super::summary(&mut line, super::super::Direction::Response, &b).unwrap();
        assert_eq!(
            line,
            "Response system.get_sysinfo err_code=0, foo err_code=-1 HS110(EU) \"Küche ☃\""
        );
    }

    #[test]
    fn bad_json_and_utf8_are_flagged() {
        let (b, p) = analyse("{\"system\":");
        assert!(!b.json_ok);
        assert!(matches!(p[0], Problem::Json { .. }));
        let mut p = Vec::new();
        let b = Body::analyse(
            b"{\"system\":{\"set_dev_alias\":{\"alias\":\"\xff\"}}}",
            &mut p,
        );
        assert!(b.json_ok);
        assert_eq!(p, [Problem::Utf8 { valid_up_to: 37 }]);
        assert_eq!(b.methods[0].name(), "system.set_dev_alias");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let (b, p) = analyse(&deep);
        assert!(!b.json_ok);
        assert!(matches!(p[0], Problem::Json { .. }));
    }

    /// Regression (issue 5, fixtures/adversarial/adv_deep_json and adv_nul_and_utf8): a value
    /// the model skips is held to the same rules as `serde_json::Value`.
    #[test]
    fn skipped_values_are_still_validated() {
        let deep = format!(
            r#"{{"system":{{"set_dev_alias":{{"alias":{}{}}}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        for text in [
            deep.as_str(),
            r#"{"system":{"set_dev_alias":{"alias":"\ud800"}}}"#,
            r#"{"system":{"set_relay_state":{"state":1e400}}}"#,
            r#"{"a":{"b":[1,2,{"c":"\ud800"}]}}"#,
        ] {
            let (b, p) = analyse(text);
            assert!(!b.json_ok, "{}", &text[..60.min(text.len())]);
            assert!(matches!(p[..], [Problem::Json { .. }]), "{p:?}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_err());
        }
        let (b, p) =
            analyse(r#"{"system":{"set_dev_alias":{"alias":[[[[1e300,"\ud83d\ude00"]]]]}}}"#);
        assert!(b.json_ok && p.is_empty(), "{p:?}");
    }
}
