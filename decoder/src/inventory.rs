//! A capture's devices, for a report: who they are, where they were seen, what they spoke,
//! who told them what and when, what they measured, and the [`crate::audit`] findings.
//!
//! Fed the decoded messages in capture order ([`Inventory::add`]), then the capture's
//! [`Summary`] ([`Inventory::finish`]). Devices are told apart by the identity their messages
//! carry (device id, else MAC), so devices behind one NAT address stay apart; a message with no
//! identity goes to the device last identified at its address, else to that address alone.
//! Bounded: at most [`MAX_DEVICES`] devices, [`MAX_SAMPLES`] samples and [`MAX_COMMANDS`]
//! listed commands per device (later ones are counted, not kept).

use crate::audit::{self, Finding};
use crate::capture::Summary;
use crate::msg::{Body, Device, Direction, Message, Meta, Transport};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const MAX_DEVICES: usize = 1024;
pub const MAX_SAMPLES: usize = 100_000;
pub const MAX_COMMANDS: usize = 10_000;

/// One energy-meter reading (`emeter.get_realtime` and its Tapo equivalents), in SI units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergySample {
    pub time: Duration,
    pub frame: u64,
    pub power_w: Option<f64>,
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
    pub total_kwh: Option<f64>,
}

/// The switching state a device reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSample {
    pub time: Duration,
    pub frame: u64,
    /// Relay or light on.
    pub on: Option<bool>,
    /// Brightness, 0–100.
    pub brightness: Option<u8>,
}

/// One command sent to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub frame: u64,
    pub time: Duration,
    pub sender: SocketAddr,
    pub transport: Transport,
    /// `module.method` (IOT) or the method (SMART); several joined by `, `.
    pub methods: String,
    /// Whether one of the methods changes the device's state ([`audit::changes_state`]).
    pub changes_state: bool,
}

/// How often one sender used one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub count: u64,
    pub first: Duration,
    pub last: Duration,
    pub first_frame: u64,
}

/// Everything the capture says about one device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceReport {
    /// What tells it apart: `id:<device id>`, `mac:<MAC>`, or `ip:<address>`.
    pub key: String,
    pub identity: Device,
    /// Its addresses (and ports it answered on).
    pub addresses: BTreeSet<SocketAddr>,
    pub transports: BTreeSet<Transport>,
    /// Cloud servers it connected to (TLS SNI or DNS name, else the address).
    pub cloud_hosts: BTreeSet<String>,
    /// Cloud servers it was configured for (`cnCloud.get_info` answers) or told to use.
    pub cloud_config: BTreeSet<String>,
    /// Per (sender address, method): how often and when.
    pub usage: BTreeMap<(IpAddr, String), Usage>,
    /// Commands that change its state, in order (at most [`MAX_COMMANDS`]).
    pub commands: Vec<Command>,
    pub commands_dropped: u64,
    pub requests: u64,
    pub responses: u64,
    /// Findings at their frames, in capture order.
    pub findings: Vec<(u64, Finding)>,
    pub energy: Vec<EnergySample>,
    pub states: Vec<StateSample>,
    pub first_time: Option<Duration>,
    pub last_time: Option<Duration>,
}

/// The devices of a capture.
#[derive(Debug, Default)]
pub struct Inventory {
    devices: Vec<DeviceReport>,
    by_key: HashMap<String, usize>,
    /// The device last identified at an address.
    at_ip: HashMap<IpAddr, usize>,
    /// Every identified device seen at an address (several behind a NAT).
    identified_at: HashMap<IpAddr, BTreeSet<usize>>,
    /// Messages that could go to no device (the table was full).
    pub dropped: u64,
    pub first_time: Option<Duration>,
}

/// The finished report.
#[derive(Debug, Default)]
pub struct Report {
    pub devices: Vec<DeviceReport>,
    pub first_time: Option<Duration>,
    pub dropped: u64,
}

fn identity_key(d: &Device) -> Option<String> {
    if let Some(id) = d.device_id.as_deref().filter(|s| !s.is_empty()) {
        return Some(format!("id:{}", id.to_ascii_uppercase()));
    }
    let mac: String = d
        .mac
        .as_deref()?
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (mac.len() == 12).then(|| format!("mac:{mac}"))
}

fn tdp_identity(m: &Message) -> Option<Device> {
    let Meta::Tdp(t) = &m.meta else { return None };
    let d = t.discovery.as_ref()?;
    Some(Device {
        model: d.device_model.clone(),
        mac: d.mac.clone(),
        device_id: d.device_id.clone(),
        kind: d.device_type.clone(),
        ..Device::default()
    })
}

fn merge_identity(into: &mut Device, from: &Device) {
    let fields = [
        (&mut into.model, &from.model),
        (&mut into.alias, &from.alias),
        (&mut into.mac, &from.mac),
        (&mut into.device_id, &from.device_id),
        (&mut into.sw_ver, &from.sw_ver),
        (&mut into.hw_ver, &from.hw_ver),
        (&mut into.kind, &from.kind),
    ];
    for (to, from) in fields {
        if from.is_some() {
            to.clone_from(from);
        }
    }
}

impl Inventory {
    pub fn new() -> Inventory {
        Inventory::default()
    }

    fn device_for(&mut self, key: String) -> Option<usize> {
        if let Some(&i) = self.by_key.get(&key) {
            return Some(i);
        }
        if self.devices.len() >= MAX_DEVICES {
            return None;
        }
        self.devices.push(DeviceReport {
            key: key.clone(),
            ..DeviceReport::default()
        });
        self.by_key.insert(key, self.devices.len() - 1);
        Some(self.devices.len() - 1)
    }

    /// Adds one message, in capture order.
    pub fn add(&mut self, m: &Message) {
        self.first_time.get_or_insert(m.time);
        if m.transport() == Transport::Cloud {
            // The cloud link's messages are the device's own (its TLS client side); they
            // name no identity: the link itself is attributed in `finish`.
            return;
        }
        let device_side = m.device;
        let identity = m
            .body
            .device
            .as_deref()
            .cloned()
            .or_else(|| m.peer_device.as_deref().cloned())
            .or_else(|| tdp_identity(m));
        let key = identity.as_ref().and_then(identity_key);
        let index = match key {
            Some(k) => {
                let i = self.device_for(k);
                if let Some(i) = i {
                    self.at_ip.insert(device_side.ip(), i);
                    let seen = self.identified_at.entry(device_side.ip()).or_default();
                    if seen.len() < 64 {
                        seen.insert(i);
                    }
                }
                i
            }
            None => match self.at_ip.get(&device_side.ip()) {
                Some(&i) => Some(i),
                None => self.device_for(format!("ip:{}", device_side.ip())),
            },
        };
        let Some(index) = index else {
            self.dropped += 1;
            return;
        };
        let d = &mut self.devices[index];
        if let Some(id) = &identity {
            merge_identity(&mut d.identity, id);
        }
        d.first_time.get_or_insert(m.time);
        d.last_time = Some(m.time);
        if d.addresses.len() < 64 {
            d.addresses.insert(device_side);
        }
        d.transports.insert(m.transport());
        let frame = m.frame();
        d.findings
            .extend(m.findings.iter().map(|f| (frame, f.clone())));
        match m.direction {
            Direction::Request => {
                d.requests += 1;
                request(d, m);
            }
            Direction::Response => {
                d.responses += 1;
                response(d, m);
            }
        }
    }

    /// Attributes the cloud links and orphan addresses, and returns the report.
    pub fn finish(mut self, summary: &Summary) -> Report {
        for link in &summary.cloud {
            let host = link
                .server_name
                .clone()
                .unwrap_or_else(|| link.server.to_string());
            let i = match self.at_ip.get(&link.client.ip()) {
                Some(&i) => Some(i),
                None => self.device_for(format!("ip:{}", link.client.ip())),
            };
            if let Some(i) = i {
                let d = &mut self.devices[i];
                d.cloud_hosts.insert(host);
                d.transports.insert(Transport::Cloud);
                if d.addresses.len() < 64 {
                    d.addresses.insert(link.client);
                }
            }
        }
        self.merge_addresses();
        Report {
            devices: self.devices,
            first_time: self.first_time,
            dropped: self.dropped,
        }
    }
}

impl Inventory {
    /// Folds what was filed under an address alone (messages before the device said who it
    /// is) into the one device identified at that address; with several there (a NAT), it
    /// stays apart.
    fn merge_addresses(&mut self) {
        let mut gone = vec![false; self.devices.len()];
        #[allow(clippy::needless_range_loop)] // two devices of the vector are borrowed in turn
        for i in 0..self.devices.len() {
            let Some(ip) = self.devices[i]
                .key
                .strip_prefix("ip:")
                .and_then(|a| a.parse::<IpAddr>().ok())
            else {
                continue;
            };
            let Some(seen) = self.identified_at.get(&ip) else {
                continue;
            };
            let [target] = seen.iter().copied().collect::<Vec<_>>()[..] else {
                continue;
            };
            let from = std::mem::take(&mut self.devices[i]);
            let to = &mut self.devices[target];
            to.addresses.extend(from.addresses);
            to.transports.extend(from.transports);
            to.cloud_hosts.extend(from.cloud_hosts);
            to.cloud_config.extend(from.cloud_config);
            for (k, u) in from.usage {
                match to.usage.get_mut(&k) {
                    Some(t) => {
                        t.count += u.count;
                        if u.first < t.first {
                            t.first = u.first;
                            t.first_frame = u.first_frame;
                        }
                        t.last = t.last.max(u.last);
                    }
                    None => {
                        to.usage.insert(k, u);
                    }
                }
            }
            to.commands.extend(from.commands);
            to.commands.sort_by_key(|c| c.frame);
            to.commands_dropped += from.commands_dropped;
            to.requests += from.requests;
            to.responses += from.responses;
            to.findings.extend(from.findings);
            to.findings.sort_by_key(|f| f.0);
            to.energy.extend(from.energy);
            to.energy.sort_by_key(|e| e.frame);
            to.states.extend(from.states);
            to.states.sort_by_key(|e| e.frame);
            to.first_time = match (to.first_time, from.first_time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            to.last_time = to.last_time.max(from.last_time);
            gone[i] = true;
        }
        let mut i = 0;
        self.devices.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }
}

fn request(d: &mut DeviceReport, m: &Message) {
    let mut names = Vec::new();
    let mut changes = false;
    for method in &m.body.methods {
        let name = method.name();
        let u = d.usage.entry((m.src.ip(), name.clone())).or_insert(Usage {
            count: 0,
            first: m.time,
            last: m.time,
            first_frame: m.frame(),
        });
        u.count += 1;
        u.last = m.time;
        changes |= method.method().is_some_and(audit::changes_state);
        if let (Some("cnCloud" | "smartlife.iot.common.cloud"), Some("set_server_url")) =
            (method.module(), method.method())
            && let Some(server) = iot_value(&m.plaintext, &method_path(&name), "server")
                .and_then(|v| v.as_str().map(short))
        {
            d.cloud_config.insert(server);
        }
        names.push(name);
    }
    if changes {
        if d.commands.len() < MAX_COMMANDS {
            d.commands.push(Command {
                frame: m.frame(),
                time: m.time,
                sender: m.src,
                transport: m.transport(),
                methods: names.join(", "),
                changes_state: true,
            });
        } else {
            d.commands_dropped += 1;
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(audit::MAX_SHOWN).collect()
}

/// `module.method` split back into its two keys (the module may hold dots).
fn method_path(name: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((module, method)) => (module.to_owned(), method.to_owned()),
        None => (name.to_owned(), String::new()),
    }
}

fn iot_value(plaintext: &[u8], (module, method): &(String, String), key: &str) -> Option<Value> {
    let v: Value = serde_json::from_slice(plaintext).ok()?;
    v.get(module)?.get(method)?.get(key).cloned()
}

fn number(v: &Value, keys: &[(&str, f64)]) -> Option<f64> {
    keys.iter()
        .find_map(|(k, scale)| v.get(k).and_then(Value::as_f64).map(|x| x * scale))
        .filter(|x| x.is_finite())
}

fn response(d: &mut DeviceReport, m: &Message) {
    let body: &Body = &m.body;
    let wanted = body.methods.iter().any(|x| {
        matches!(
            x.method(),
            Some(
                "get_realtime"
                    | "get_sysinfo"
                    | "get_light_state"
                    | "transition_light_state"
                    | "get_info"
                    | "get_energy_usage"
                    | "get_current_power"
                    | "get_device_info"
            )
        )
    }) || body.dialect == Some(crate::msg::Dialect::Smart);
    if !wanted || !body.json_ok {
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&m.plaintext) else {
        return;
    };
    let (time, frame) = (m.time, m.frame());
    let energy = |d: &mut DeviceReport, r: &Value, smart_mw: bool| {
        let power_w = if smart_mw {
            number(r, &[("current_power", 1e-3)])
        } else {
            number(
                r,
                &[("power", 1.0), ("power_mw", 1e-3), ("current_power", 1.0)],
            )
        };
        let s = EnergySample {
            time,
            frame,
            power_w,
            voltage_v: number(r, &[("voltage", 1.0), ("voltage_mv", 1e-3)]),
            current_a: number(r, &[("current", 1.0), ("current_ma", 1e-3)]),
            total_kwh: number(r, &[("total", 1.0), ("total_wh", 1e-3)]),
        };
        if (s.power_w.is_some() || s.voltage_v.is_some() || s.current_a.is_some())
            && d.energy.len() < MAX_SAMPLES
        {
            d.energy.push(s);
        }
    };
    let state = |d: &mut DeviceReport, on: Option<bool>, brightness: Option<u8>| {
        if (on.is_some() || brightness.is_some()) && d.states.len() < MAX_SAMPLES {
            d.states.push(StateSample {
                time,
                frame,
                on,
                brightness,
            });
        }
    };
    let flag = |v: Option<&Value>| -> Option<bool> {
        v.and_then(|x| x.as_bool().or_else(|| x.as_i64().map(|n| n != 0)))
    };
    let level =
        |v: Option<&Value>| -> Option<u8> { v.and_then(Value::as_u64).map(|b| b.min(100) as u8) };
    if body.dialect == Some(crate::msg::Dialect::Smart) {
        let Some(result) = v.get("result") else {
            return;
        };
        // The request named the method; the answer's keys tell which it was.
        if result.get("current_power").is_some() && result.get("today_energy").is_some() {
            energy(d, result, true); // get_energy_usage: milliwatts
        } else if result.get("current_power").is_some() {
            energy(d, result, false); // get_current_power: watts
        }
        if result.get("device_on").is_some() {
            state(
                d,
                flag(result.get("device_on")),
                level(result.get("brightness")),
            );
        }
        return;
    }
    let Value::Object(top) = &v else { return };
    for (module, methods) in top {
        let Value::Object(methods) = methods else {
            continue;
        };
        for (method, r) in methods {
            match method.as_str() {
                "get_realtime" if module.contains("emeter") => energy(d, r, false),
                "get_sysinfo" => {
                    let light = r.get("light_state");
                    let on = flag(r.get("relay_state"))
                        .or_else(|| light.and_then(|l| flag(l.get("on_off"))));
                    let bright = level(r.get("brightness"))
                        .or_else(|| light.and_then(|l| level(l.get("brightness"))));
                    state(d, on, bright);
                }
                "get_light_state" | "transition_light_state" => {
                    state(d, flag(r.get("on_off")), level(r.get("brightness")));
                }
                "get_info" if module == "cnCloud" || module.ends_with(".cloud") => {
                    if let Some(server) = r.get("server").and_then(Value::as_str)
                        && !server.is_empty()
                    {
                        d.cloud_config.insert(short(server));
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Pairing;

    fn xor(direction: Direction, device: &str, frame: u64, secs: u64, text: &str) -> Message {
        let mut problems = Vec::new();
        let client: SocketAddr = "192.0.2.10:50000".parse().unwrap();
        let device: SocketAddr = device.parse().unwrap();
        let (src, dst) = match direction {
            Direction::Request => (client, device),
            Direction::Response => (device, client),
        };
        // As the session would give it (one message alone: no device-level findings).
        let mut m = Message {
            meta: Meta::XorTcp { len_header: 0 },
            direction,
            src,
            dst,
            frames: vec![frame],
            time: Duration::from_secs(secs),
            plaintext: text.as_bytes().to_vec(),
            body: Body::analyse(text.as_bytes(), &mut problems),
            problems,
            pairing: Pairing::default(),
            conversation: 0,
            device,
            peer_device: None,
            findings: Vec::new(),
        };
        m.findings = audit::message_findings(&(&m).into());
        m
    }

    const SYSINFO_A: &str = r#"{"system":{"get_sysinfo":{"model":"HS110(EU)","alias":"Kettle","mac":"50:C7:BF:00:00:0A","deviceId":"AAAA","sw_ver":"1.5.4","hw_ver":"2.0","relay_state":1,"err_code":0}}}"#;
    const SYSINFO_B: &str = r#"{"system":{"get_sysinfo":{"model":"HS100(UK)","alias":"Lamp","mac":"50:C7:BF:00:00:0B","deviceId":"BBBB","relay_state":0,"err_code":0}}}"#;

    #[test]
    fn devices_behind_one_address_stay_apart() {
        let mut inv = Inventory::new();
        // A request before any device answered there: filed under the address, which two
        // devices turn out to share, so it stays apart.
        inv.add(&xor(
            Direction::Request,
            "198.51.100.1:9999",
            1,
            0,
            r#"{"system":{"reboot":{"delay":1}}}"#,
        ));
        // Two devices answering from one (NAT) address, told apart by their ids.
        inv.add(&xor(
            Direction::Response,
            "198.51.100.1:9999",
            2,
            1,
            SYSINFO_A,
        ));
        inv.add(&xor(
            Direction::Response,
            "198.51.100.1:9999",
            4,
            2,
            SYSINFO_B,
        ));
        let r = inv.finish(&Summary::default());
        let keys: Vec<_> = r.devices.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["ip:198.51.100.1", "id:AAAA", "id:BBBB"]);
        let (ip, a, b) = (&r.devices[0], &r.devices[1], &r.devices[2]);
        assert_eq!(ip.commands.len(), 1);
        assert_eq!(a.identity.alias.as_deref(), Some("Kettle"));
        assert_eq!(a.identity.sw_ver.as_deref(), Some("1.5.4"));
        assert_eq!(b.identity.model.as_deref(), Some("HS100(UK)"));
        assert_eq!(a.states[0].on, Some(true));
        assert_eq!(b.states[0].on, Some(false));
        assert!(a.commands.is_empty() && b.commands.is_empty());
    }

    #[test]
    fn commands_usage_findings_and_energy() {
        let mut inv = Inventory::new();
        let dev = "192.0.2.20:9999";
        // Asked before it said who it is: folded into the one device at that address.
        inv.add(&xor(
            Direction::Request,
            dev,
            1,
            9,
            r#"{"system":{"get_sysinfo":{}}}"#,
        ));
        inv.add(&xor(Direction::Response, dev, 2, 10, SYSINFO_A));
        inv.add(&xor(
            Direction::Request,
            dev,
            3,
            11,
            r#"{"system":{"set_relay_state":{"state":0}}}"#,
        ));
        for (i, (p, v)) in [(1200.5, 231.0), (5.0, 229.5)].into_iter().enumerate() {
            let i = i as u64;
            inv.add(&xor(
                Direction::Request,
                dev,
                4 + 2 * i,
                12 + i,
                r#"{"emeter":{"get_realtime":{}}}"#,
            ));
            let text = format!(
                r#"{{"emeter":{{"get_realtime":{{"power":{p},"voltage":{v},"current":0.5,"total":1.25,"err_code":0}}}}}}"#
            );
            inv.add(&xor(Direction::Response, dev, 5 + 2 * i, 12 + i, &text));
        }
        // Newer firmware's milli-units.
        inv.add(&xor(
            Direction::Response,
            dev,
            9,
            20,
            r#"{"emeter":{"get_realtime":{"power_mw":2500,"voltage_mv":230500,"current_ma":11,"total_wh":3000,"err_code":0}}}"#,
        ));
        let r = inv.finish(&Summary::default());
        assert_eq!(
            r.devices.len(),
            1,
            "messages without identity join the device at that address"
        );
        let d = &r.devices[0];
        assert_eq!(d.requests, 4);
        let sysinfo = (
            "192.0.2.10".parse().unwrap(),
            "system.get_sysinfo".to_owned(),
        );
        assert_eq!(d.usage[&sysinfo].first_frame, 1);
        assert_eq!(d.first_time, Some(Duration::from_secs(9)));
        assert_eq!(d.responses, 4);
        assert_eq!(d.commands.len(), 1);
        assert_eq!(d.commands[0].methods, "system.set_relay_state");
        assert_eq!(d.commands[0].frame, 3);
        assert_eq!(d.commands[0].sender, "192.0.2.10:50000".parse().unwrap());
        let key = (
            "192.0.2.10".parse().unwrap(),
            "emeter.get_realtime".to_owned(),
        );
        assert_eq!(d.usage[&key].count, 2);
        assert_eq!(d.usage[&key].first_frame, 4);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings[0].0, 3);
        let powers: Vec<_> = d.energy.iter().map(|s| s.power_w.unwrap()).collect();
        assert_eq!(powers, [1200.5, 5.0, 2.5]);
        assert_eq!(d.energy[0].voltage_v, Some(231.0));
        assert_eq!(d.energy[2].voltage_v, Some(230.5));
        assert_eq!(d.energy[2].current_a, Some(0.011));
        assert_eq!(d.energy[2].total_kwh, Some(3.0));
        assert_eq!(d.energy[1].time, Duration::from_secs(13));
    }
}
