//! What the JSON of one message says: `module.method` pairs, error codes, context, device.

use super::Problem;
use serde_json::{Map, Value};

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
    pub fn analyse(plaintext: &[u8], problems: &mut Vec<Problem>) -> Body {
        let parsed = match core::str::from_utf8(plaintext) {
            Ok(text) => serde_json::from_str::<Value>(text),
            Err(e) => {
                problems.push(Problem::Utf8 {
                    valid_up_to: e.valid_up_to(),
                });
                serde_json::from_str::<Value>(&String::from_utf8_lossy(plaintext))
            }
        };
        match parsed {
            Ok(Value::Object(map)) => Body::from_object(&map, problems),
            Ok(other) => {
                problems.push(Problem::Json {
                    detail: format!("top level is {}, not an object", kind_of(&other)),
                });
                Body::default()
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

    fn from_object(map: &Map<String, Value>, problems: &mut Vec<Problem>) -> Body {
        let mut body = Body {
            json_ok: true,
            ..Body::default()
        };
        for (module, value) in map {
            if module == "context" {
                body.context = context(value);
                continue;
            }
            let Value::Object(inner) = value else {
                body.methods.push(Method {
                    module: module.clone(),
                    method: None,
                    err_code: None,
                    err_msg: None,
                });
                continue;
            };
            if inner.contains_key("err_code") {
                // The module answered as a whole, e.g. "module not support".
                body.push_result(module, None, inner, problems);
                continue;
            }
            if inner.is_empty() {
                body.methods.push(Method {
                    module: module.clone(),
                    method: None,
                    err_code: None,
                    err_msg: None,
                });
            }
            for (method, result) in inner {
                match result {
                    Value::Object(result) => {
                        body.push_result(module, Some(method), result, problems)
                    }
                    _ => body.methods.push(Method {
                        module: module.clone(),
                        method: Some(method.clone()),
                        err_code: None,
                        err_msg: None,
                    }),
                }
                if module == "system"
                    && method == "get_sysinfo"
                    && let Value::Object(info) = result
                    && info.contains_key("err_code")
                    && info.len() > 1
                {
                    body.device = Some(device(info));
                }
            }
        }
        body
    }

    fn push_result(
        &mut self,
        module: &str,
        method: Option<&String>,
        result: &Map<String, Value>,
        problems: &mut Vec<Problem>,
    ) {
        let err_code = result.get("err_code").and_then(Value::as_i64);
        let err_msg = result
            .get("err_msg")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if result.contains_key("err_code") {
            self.has_err_code = true;
        }
        let m = Method {
            module: module.to_owned(),
            method: method.cloned(),
            err_code,
            err_msg,
        };
        if let Some(code) = err_code.filter(|&c| c != 0) {
            problems.push(Problem::ErrCode {
                method: m.name(),
                code,
                msg: m.err_msg.clone(),
            });
        }
        self.methods.push(m);
    }

    /// Whether the JSON says this is a response (some result carries `err_code`).
    pub fn looks_like_response(&self) -> bool {
        self.has_err_code
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn context(v: &Value) -> Context {
    let source = v.get("source").and_then(Value::as_str).map(str::to_owned);
    let child_ids = match v.get("child_ids") {
        Some(Value::Array(ids)) => ids.iter().map(scalar_text).collect(),
        _ => Vec::new(),
    };
    Context { source, child_ids }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn device(info: &Map<String, Value>) -> Device {
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| info.get(*k).and_then(Value::as_str))
            .map(str::to_owned)
    };
    Device {
        model: text(&["model"]),
        alias: text(&["alias"]),
        mac: text(&["mac", "mic_mac", "ethernet_mac"]),
        device_id: text(&["deviceId"]),
        sw_ver: text(&["sw_ver"]),
        hw_ver: text(&["hw_ver"]),
        kind: text(&["type", "mic_type"]),
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
}
