//! What the JSON of one message says: methods, error codes, context, device identity.
//!
//! Two JSON dialects share the model ([`Dialect`]): the IOT shape of the XOR protocol
//! (`{"module":{"method":{...}}}`, results with `err_code`) and the SMART JSON-RPC shape
//! carried by KLAP v2, AES passthrough and TDP (`{"method":..,"params":..}`,
//! `{"error_code":0,"result":..}`).
//! The SMART visitors are in `smart.rs`; this file holds the model, the top level (where the
//! dialect is decided) and the IOT visitors.

use super::Problem;
use super::name::Name;
use super::smart::SmartTop;
use core::fmt;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::sync::Arc;

/// The JSON shape of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `{"module":{"method":{...}}}`, results with `err_code`/`err_msg` (XOR, KLAP v1).
    Iot,
    /// JSON-RPC: `{"method":..,"params":..}`, `{"error_code":..,"result":..}` (KLAP v2, AES, TDP).
    Smart,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Iot => "iot",
            Dialect::Smart => "smart",
        }
    }
}

/// What a method is called, in its dialect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Call {
    /// An IOT `module.method`. `method` is `None` when the module itself carries the result
    /// (`{"x":{"err_code":-1,...}}`) or its value is not an object.
    Iot { module: Name, method: Option<Name> },
    /// A SMART JSON-RPC method, e.g. `get_device_info`.
    Smart { method: Name },
}

/// One method of a message, with its result code in a response.
///
/// IOT: one per `module.method` (or per module that answered as a whole). SMART: the request's
/// or response's `method`; for a `multipleRequest` batch, one per inner request (or inner
/// response of the answer), and the `multipleRequest` wrapper itself is **not** listed (unless
/// it carries no inner request, then it stands for itself). A SMART single response
/// (`{"error_code":0,"result":{...}}`) names no method and has none here: its code is
/// [`Body::error_code`]; the session layer names it from the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub call: Call,
    /// IOT `err_code`, SMART `error_code` (`None` when absent or not an `i64`).
    pub err_code: Option<i64>,
    /// IOT `err_msg`, SMART `msg`.
    pub err_msg: Option<String>,
}

impl Method {
    /// An IOT method (or module, with `method` `None`) without a result code.
    pub fn iot(module: &str, method: Option<&str>) -> Method {
        Method::from(Call::Iot {
            module: Name::new(module),
            method: method.map(Name::new),
        })
    }

    /// A SMART method without a result code.
    pub fn smart(method: &str) -> Method {
        Method::from(Call::Smart {
            method: Name::new(method),
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self.call {
            Call::Iot { .. } => Dialect::Iot,
            Call::Smart { .. } => Dialect::Smart,
        }
    }

    /// IOT `module.method` or `module` alone; SMART the method name.
    pub fn name(&self) -> String {
        self.display_name().to_string()
    }

    /// [`Method::name`] without allocating, for writing it out.
    pub fn display_name(&self) -> MethodName<'_> {
        MethodName(self)
    }

    /// The IOT module; `None` in SMART.
    pub fn module(&self) -> Option<&str> {
        match &self.call {
            Call::Iot { module, .. } => Some(module),
            Call::Smart { .. } => None,
        }
    }

    /// The method alone: IOT the method within its module (`None` for a whole module), SMART
    /// the method name.
    pub fn method(&self) -> Option<&str> {
        match &self.call {
            Call::Iot { method, .. } => method.as_deref(),
            Call::Smart { method } => Some(method),
        }
    }

    /// Whether this method's result is where [`Body::device`] is read from: IOT
    /// `system.get_sysinfo`, SMART `get_device_info`.
    pub fn carries_device(&self) -> bool {
        match &self.call {
            Call::Iot { module, method } => {
                module == "system" && method.as_deref() == Some("get_sysinfo")
            }
            Call::Smart { method } => method == "get_device_info",
        }
    }

    /// Whether this (a response's method) answers `request`: IOT the same module, and the same
    /// method unless the module answered as a whole; SMART the same method name. Never across
    /// dialects.
    pub fn answers(&self, request: &Method) -> bool {
        match (&self.call, &request.call) {
            (
                Call::Iot { module, method },
                Call::Iot {
                    module: req_module,
                    method: req_method,
                },
            ) => module == req_module && (method.is_none() || method == req_method),
            (Call::Smart { method }, Call::Smart { method: req }) => method == req,
            _ => false,
        }
    }
}

impl From<Call> for Method {
    fn from(call: Call) -> Method {
        Method {
            call,
            err_code: None,
            err_msg: None,
        }
    }
}

/// Whether a response's methods answer a request's: the same count, and each response method
/// answers one of the requested ones ([`Method::answers`]). A SMART single response names no
/// method, so it answers only a request without methods: pair it by transport (TCP order, the
/// TDP serial, the HTTP exchange), not by this.
pub fn answers_all(response: &[Method], request: &[Method]) -> bool {
    request.len() == response.len()
        && response
            .iter()
            .all(|m| request.iter().any(|r| m.answers(r)))
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

/// Device identity from an IOT `get_sysinfo` answer, or a SMART `get_device_info` answer or TDP
/// discovery reply.
///
/// | Field | IOT `get_sysinfo` | SMART `get_device_info` / TDP reply |
/// |---|---|---|
/// | `model` | `model` | `model` / `device_model` |
/// | `alias` | `alias` | `nickname`, base64-decoded when it is base64 of UTF-8, else as it is |
/// | `mac` | `mac`, `mic_mac`, `ethernet_mac` | `mac` |
/// | `device_id` | `deviceId` | `device_id` |
/// | `sw_ver` | `sw_ver` | `fw_ver` / `firmware_version` |
/// | `hw_ver` | `hw_ver` | `hw_ver` / `hardware_version` |
/// | `kind` | `type`, `mic_type` | `type` / `device_type` |
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
    /// The plaintext is neither a JSON object nor UTF-8 text: bytes that are not this protocol
    /// (a random datagram to the port) or not decrypted right.
    pub undecodable: bool,
    /// The JSON shape; `None` when the plaintext is not a JSON object.
    pub dialect: Option<Dialect>,
    pub methods: Vec<Method>,
    pub context: Context,
    /// Shared, so that the session remembers it for its device address without a copy.
    pub device: Option<Arc<Device>>,
    /// Whether any result carries an error code: IOT `err_code` on a method or module; SMART
    /// `error_code` at the top level or in a batch answer's response. The mark of a response.
    pub has_err_code: bool,
    /// SMART: the top level carries `result` (also the mark of a response).
    pub has_result: bool,
    /// SMART: the top-level `error_code` (`None` when absent or not an `i64`). For a single
    /// response that names no method this is its only code; with a named method the method
    /// carries it too.
    pub error_code: Option<i64>,
    /// SMART: the top-level `msg`.
    pub error_msg: Option<String>,
    /// SMART: the message is a `multipleRequest` batch or its answer, and `methods` are the
    /// inner requests or responses (the top-level `error_code` then belongs to the batch).
    pub batch: bool,
}

impl Body {
    /// Analyses a plaintext. Never panics; what is wrong goes to `problems`.
    ///
    /// Invalid UTF-8 is flagged and the JSON structure is still read from a lossy copy, so the
    /// methods of a message with one bad byte in an alias are not lost.
    ///
    /// The JSON is read in one streaming pass that keeps only what the model needs (method
    /// names, result codes, context, the identity fields of `get_sysinfo` and `get_device_info`)
    /// and skips every other value without building it. Nesting deeper than serde_json's
    /// recursion limit (128) is an error, never a stack overflow. A plain IOT message (no
    /// `\u` escape, no escape in what is kept, no exponent) is read by a hand-written pass that
    /// borrows from the text (`fast.rs`); everything else, and every invalid document, by
    /// serde_json and the visitors below, to the same result.
    ///
    /// The dialect is decided in the same pass: a top-level `method` whose value is a string,
    /// or a top-level `error_code`, `result` or `params` key (whatever its value) makes the
    /// message SMART; every other JSON object is IOT (so `{}` is IOT with no method). In a SMART
    /// message the other top-level keys (`request_time_milis`, `terminal_uuid`, a stray
    /// `"system":{...}`) are envelope fields, not modules: a document mixing both shapes is read
    /// as SMART and its IOT-looking keys are ignored. Where a key repeats, the last value wins
    /// for SMART's single-valued keys (as in `serde_json::Value`); IOT modules are listed
    /// every time they occur.
    pub fn analyse(plaintext: &[u8], problems: &mut Vec<Problem>) -> Body {
        let lossy;
        let (text, utf8) = match core::str::from_utf8(plaintext) {
            Ok(text) => (text, true),
            Err(e) => {
                problems.push(Problem::Utf8 {
                    valid_up_to: e.valid_up_to(),
                });
                lossy = String::from_utf8_lossy(plaintext);
                (&*lossy, false)
            }
        };
        if let Some(body) = super::fast::analyse_iot(text) {
            for m in &body.methods {
                push_code(m, problems);
            }
            return body;
        }
        let mut body = analyse_serde(text, problems);
        body.undecodable = !utf8 && !body.json_ok;
        body
    }

    /// Whether the JSON says this is a response: some result carries an error code (IOT
    /// `err_code`, SMART `error_code`), or a SMART message carries `result`.
    pub fn looks_like_response(&self) -> bool {
        self.has_err_code || self.has_result
    }
}

/// The reading of [`Body::analyse`] through the serde visitors: every document, with
/// serde_json's error for an invalid one. The fast path (`fast.rs`) reads the common IOT
/// messages to the same result.
pub(super) fn analyse_serde(text: &str, problems: &mut Vec<Problem>) -> Body {
    {
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = de.deserialize_any(TopVisitor).and_then(|top| {
            de.end()?;
            Ok(top)
        });
        match parsed {
            Ok(top) => {
                let mut body = Body {
                    json_ok: true,
                    context: top.context,
                    ..Body::default()
                };
                if top.smart.is_marked() {
                    top.smart.finish(&mut body, problems);
                } else {
                    top.iot.finish(&mut body, problems);
                }
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
}

/// A method's non-zero code as the problem the expert info shows (`kasa.err_code.nonzero`).
pub(super) fn push_code(m: &Method, problems: &mut Vec<Problem>) {
    if let Some(code) = m.err_code.filter(|&c| c != 0) {
        problems.push(Problem::ErrCode {
            method: m.name(),
            code,
            msg: m.err_msg.clone(),
        });
    }
}

/// Everything the top level said, read in one pass, before the dialect is known: the IOT
/// reading (modules) and the SMART reading (envelope keys) side by side; `finish` keeps one.
struct Top {
    context: Context,
    iot: IotTop,
    smart: SmartTop,
}

/// The IOT reading of the top level.
#[derive(Default)]
struct IotTop {
    methods: Vec<Method>,
    device: Option<Device>,
    has_err_code: bool,
}

impl IotTop {
    fn add(&mut self, module: Module) {
        self.has_err_code |= module.has_err_code;
        if module.device.is_some() {
            self.device = module.device;
        }
        self.methods.extend(module.methods);
    }

    fn finish(self, body: &mut Body, problems: &mut Vec<Problem>) {
        body.dialect = Some(Dialect::Iot);
        body.has_err_code = self.has_err_code;
        body.device = self.device.map(Arc::new);
        for m in &self.methods {
            push_code(m, problems);
        }
        body.methods = self.methods;
    }
}

/// The top level: an object of IOT modules, or a SMART envelope, and `context`.
struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let mut top = Top {
            context: Context::default(),
            iot: IotTop::default(),
            smart: SmartTop::default(),
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "context" => top.context = map.next_value::<ContextValue>()?.0,
                // A string is SMART's; anything else (and, for IOT, a string too) is a module.
                "method" | "msg" => {
                    let (text, module) = map.next_value_seed(TextOrModule { module: &key })?;
                    if key == "method" {
                        top.smart.method = text;
                    } else {
                        top.smart.msg = text;
                    }
                    top.iot.add(module);
                }
                "params" => top.smart.params = Some(map.next_value()?),
                "result" => top.smart.result = Some(map.next_value()?),
                "error_code" => top.smart.error_code = Some(map.next_value::<Code>()?.0),
                _ => top
                    .iot
                    .add(map.next_value_seed(ModuleSeed { module: &key })?),
            }
        }
        Ok(top)
    }
}

/// A top-level value that is a SMART string (`method`, `msg`) or else an IOT module: the
/// string if it is one, and the module reading in every case.
struct TextOrModule<'k> {
    module: &'k str,
}

impl<'de> DeserializeSeed<'de> for TextOrModule<'_> {
    type Value = (Option<String>, Module);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextOrModule<'_> {
    type Value = (Option<String>, Module);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a method name or a module")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Some(v.to_owned()), self.seed().bare()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok((None, self.seed().visit_map(map)?))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok((None, self.seed().visit_seq(seq)?))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((None, self.seed().bare()))
    }
}

impl TextOrModule<'_> {
    fn seed(&self) -> ModuleSeed<'_> {
        ModuleSeed {
            module: self.module,
        }
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
        method: Option<&str>,
        err_code: Option<i64>,
        err_msg: Option<String>,
    ) -> Method {
        Method {
            call: Call::Iot {
                module: Name::new(self.module),
                method: method.map(Name::new),
            },
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
                    methods.push(self.method(Some(method), r.err_code.flatten(), r.err_msg));
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
pub(super) struct Skip;

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
pub(super) struct Text(pub(super) Option<String>);

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
pub(super) struct Code(pub(super) Option<i64>);

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

/// A method's name as [`Method::name`] spells it, written on demand.
#[derive(Debug, Clone, Copy)]
pub struct MethodName<'a>(&'a Method);

impl core::fmt::Display for MethodName<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.0.call {
            Call::Iot {
                module,
                method: Some(m),
            } => write!(f, "{module}.{m}"),
            Call::Iot {
                module,
                method: None,
            } => f.write_str(module),
            Call::Smart { method } => f.write_str(method),
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
