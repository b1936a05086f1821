//! Statistics per device, transport and method: requests, responses, errors, unanswered
//! requests, mean and maximum response time.
//!
//! One [`Accumulator`], fed one shown message at a time ([`Sample`]), serves every front end:
//! `kasa-decode --stats` renders its [`Accumulator::render_text`] at the end of a capture; the
//! plugin's stats tree (`Statistics › Kasa › Devices and methods`, `tshark -z kasa,tree`) feeds
//! it from its tap and copies the rows a message changed into the tree's nodes. Nothing here
//! decides anything about the messages: direction, pairing, the device's endpoint and identity
//! are the session's ([`crate::conv::Session`]), carried by the sample.
//!
//! * A device is its endpoint (the session's `Record::device`), labelled with the last identity
//!   seen for it (model, alias) and the address.
//! * Each method of a message counts once: a request naming 14 methods is a request of each.
//! * An error is a response's method whose error code is present and not 0.
//! * A request is unanswered until a response paired with it is seen; at the end of a capture
//!   the count is the requests never answered. Answering a request answers all of its methods.
//! * The response time of a paired response counts for each of its methods.

use crate::conv::{Link, MessageId};
use crate::msg::{Device, Direction, Message, Transport};
use std::collections::HashMap;
use std::fmt::{self, Write};
use std::net::SocketAddr;

/// What the statistics need to know about one device's identity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity<'a> {
    pub model: Option<&'a str>,
    pub alias: Option<&'a str>,
}

impl<'a> Identity<'a> {
    pub fn of(d: &'a Device) -> Identity<'a> {
        Identity {
            model: d.model.as_deref(),
            alias: d.alias.as_deref(),
        }
    }
}

/// One method of a message: its display name and error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSample<'a> {
    pub name: &'a str,
    pub err_code: Option<i64>,
}

/// One shown message, as the statistics see it. Plain data (`Copy`, borrowed), so that the
/// plugin can keep it in packet memory for its tap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<'a> {
    pub id: MessageId,
    pub direction: Direction,
    pub transport: Transport,
    /// The device's endpoint.
    pub device: SocketAddr,
    /// The device's identity, carried by the message or known from an earlier answer.
    pub identity: Option<Identity<'a>>,
    /// No methods: counted as the one pseudo-method [`NO_METHOD`].
    pub methods: &'a [MethodSample<'a>],
    /// On a response: its request and the time since it.
    pub response_to: Option<Link>,
    /// A copy of an earlier datagram (a mirror port, an `any`-interface capture): not another
    /// message, not counted.
    pub duplicate: bool,
}

/// The row of a message without methods (a handshake, an encrypted or non-JSON body).
pub const NO_METHOD: &str = "(no method)";

/// The counts of one method of one device over one transport.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodRow {
    pub requests: u64,
    pub responses: u64,
    pub errors: u64,
    pub unanswered: u64,
    /// Paired responses (those with a response time).
    pub timed: u64,
    /// Sum, minimum and maximum of the response times, in seconds.
    pub time_sum: f64,
    pub time_min: f64,
    pub time_max: f64,
}

impl MethodRow {
    /// Mean response time in seconds, if any response was paired.
    pub fn time_mean(&self) -> Option<f64> {
        (self.timed > 0).then(|| self.time_sum / self.timed as f64)
    }
}

/// One transport of one device.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportRow {
    pub transport: Transport,
    /// Messages (each counted once, whatever its methods).
    pub messages: u64,
    /// In order of first appearance.
    pub methods: Vec<(String, MethodRow)>,
}

/// One device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub address: SocketAddr,
    pub model: Option<String>,
    pub alias: Option<String>,
    pub messages: u64,
    /// In order of first appearance.
    pub transports: Vec<TransportRow>,
}

impl DeviceRow {
    /// `HS110(US) "Mock hs110" 192.0.2.1:9999`: the parts known, then the address.
    pub fn label(&self) -> String {
        let mut s = String::new();
        if let Some(m) = &self.model {
            let _ = write!(s, "{m} ");
        }
        if let Some(a) = &self.alias {
            let _ = write!(s, "\"{a}\" ");
        }
        let _ = write!(s, "{}", self.address);
        s
    }
}

/// A request not yet answered: where its methods are counted.
#[derive(Debug)]
struct Pending {
    device: usize,
    transport: usize,
    methods: Vec<usize>,
}

/// What [`Accumulator::add`] changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    /// The device (index into [`Accumulator::devices`]) whose rows changed: only its rows did.
    pub device: usize,
    /// Its label before, when the message changed it (a newly learnt identity).
    pub relabelled: Option<String>,
    /// Whether the sample was counted (`false`: a message seen before in this pass).
    pub counted: bool,
}

/// The statistics of one capture (or one pass over it).
#[derive(Debug, Default)]
pub struct Accumulator {
    devices: Vec<DeviceRow>,
    by_address: HashMap<SocketAddr, usize>,
    pending: HashMap<MessageId, Pending>,
    last: Option<MessageId>,
}

impl Accumulator {
    pub fn new() -> Accumulator {
        Accumulator::default()
    }

    /// The devices, in order of first message.
    pub fn devices(&self) -> &[DeviceRow] {
        &self.devices
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Counts one message of a pass of Wireshark's over a capture (its tap hands them in
    /// capture order, message ids ascending): a message whose id is not above the last one's
    /// is not counted again when it is the same one, and starts a new pass when lower (the
    /// capture dissected again: what was counted is forgotten first).
    pub fn add_tapped(&mut self, s: &Sample<'_>) -> Added {
        match self.last {
            Some(last) if s.id == last => {
                return Added {
                    device: self.by_address.get(&s.device).copied().unwrap_or(0),
                    relabelled: None,
                    counted: false,
                };
            }
            Some(last) if s.id < last => *self = Accumulator::default(),
            _ => {}
        }
        self.last = Some(s.id);
        self.add(s)
    }

    /// Counts one message (a copy of a datagram is not counted).
    pub fn add(&mut self, s: &Sample<'_>) -> Added {
        if s.duplicate {
            return Added {
                device: self.by_address.get(&s.device).copied().unwrap_or(0),
                relabelled: None,
                counted: false,
            };
        }
        let d = *self.by_address.entry(s.device).or_insert_with(|| {
            self.devices.push(DeviceRow {
                address: s.device,
                model: None,
                alias: None,
                messages: 0,
                transports: Vec::new(),
            });
            self.devices.len() - 1
        });
        let device = &mut self.devices[d];
        let mut relabelled = None;
        if let Some(id) = s.identity {
            let (model, alias) = (id.model.map(str::to_owned), id.alias.map(str::to_owned));
            if (model.is_some() || alias.is_some())
                && (model != device.model || alias != device.alias)
            {
                let before = device.label();
                device.model = model;
                device.alias = alias;
                relabelled = Some(before);
            }
        }
        device.messages += 1;
        let t = match device
            .transports
            .iter()
            .position(|t| t.transport == s.transport)
        {
            Some(t) => t,
            None => {
                device.transports.push(TransportRow {
                    transport: s.transport,
                    messages: 0,
                    methods: Vec::new(),
                });
                device.transports.len() - 1
            }
        };
        let transport = &mut device.transports[t];
        transport.messages += 1;
        let no_method = [MethodSample {
            name: NO_METHOD,
            err_code: None,
        }];
        let methods = if s.methods.is_empty() {
            &no_method[..]
        } else {
            s.methods
        };
        let mut rows = Vec::with_capacity(methods.len());
        for m in methods {
            let at = match transport.methods.iter().position(|(n, _)| n == m.name) {
                Some(at) => at,
                None => {
                    transport
                        .methods
                        .push((m.name.to_owned(), MethodRow::default()));
                    transport.methods.len() - 1
                }
            };
            let row = &mut transport.methods[at].1;
            match s.direction {
                Direction::Request => {
                    row.requests += 1;
                    row.unanswered += 1;
                }
                Direction::Response => {
                    row.responses += 1;
                    if m.err_code.is_some_and(|c| c != 0) {
                        row.errors += 1;
                    }
                    if let Some(link) = s.response_to {
                        let secs = link.time.as_secs_f64();
                        if row.timed == 0 || secs < row.time_min {
                            row.time_min = secs;
                        }
                        row.timed += 1;
                        row.time_sum += secs;
                        if secs > row.time_max {
                            row.time_max = secs;
                        }
                    }
                }
            }
            rows.push(at);
        }
        match s.direction {
            Direction::Request => {
                self.pending.insert(
                    s.id,
                    Pending {
                        device: d,
                        transport: t,
                        methods: rows,
                    },
                );
            }
            Direction::Response => {
                if let Some(p) = s.response_to.and_then(|l| self.pending.remove(&l.request)) {
                    let transport = &mut self.devices[p.device].transports[p.transport];
                    for at in p.methods {
                        let row = &mut transport.methods[at].1;
                        row.unanswered = row.unanswered.saturating_sub(1);
                    }
                }
            }
        }
        Added {
            device: d,
            relabelled,
            counted: true,
        }
    }

    /// Counts a decoded message (`id` and `request` as [`crate::capture::Item`] gives them).
    pub fn add_message(&mut self, m: &Message, id: MessageId, request: Option<MessageId>) -> Added {
        let names: Vec<String> = m
            .body
            .methods
            .iter()
            .map(|m| m.display_name().to_string())
            .collect();
        let methods: Vec<MethodSample<'_>> = m
            .body
            .methods
            .iter()
            .zip(&names)
            .map(|(method, name)| MethodSample {
                name,
                err_code: method.err_code,
            })
            .collect();
        let identity = m
            .body
            .device
            .as_deref()
            .or(m.peer_device.as_deref())
            .map(Identity::of);
        self.add(&Sample {
            id,
            direction: m.direction,
            transport: m.transport(),
            device: m.device,
            identity,
            methods: &methods,
            response_to: request.map(|request| Link {
                request,
                time: m.pairing.time.unwrap_or_default(),
            }),
            duplicate: m.pairing.duplicate_of.is_some(),
        })
    }

    /// The table as text: one line per device, transport, method and count, indented as the
    /// stats tree's nodes are, with a count, and for response times (paired responses only)
    /// the mean, minimum and maximum in milliseconds.
    pub fn render_text(&self, w: &mut impl fmt::Write) -> fmt::Result {
        let width = 48;
        writeln!(w, "{TITLE}")?;
        writeln!(
            w,
            "{:<width$} {:>8} {:>12} {:>12} {:>12}",
            "Device / transport / method", "Count", "Average", "Min", "Max"
        )?;
        for d in &self.devices {
            writeln!(w, "{:<width$} {:>8}", d.label(), d.messages)?;
            for t in &d.transports {
                writeln!(
                    w,
                    "{:<width$} {:>8}",
                    format!("  {}", t.transport.as_str()),
                    t.messages
                )?;
                for (name, row) in &t.methods {
                    writeln!(
                        w,
                        "{:<width$} {:>8}",
                        format!("    {name}"),
                        row.requests + row.responses
                    )?;
                    for (what, n) in row.counts() {
                        writeln!(w, "{:<width$} {:>8}", format!("      {what}"), n)?;
                    }
                    // As in the stats tree, whose averaging node comes with its first value.
                    if let Some(mean) = row.time_mean() {
                        writeln!(
                            w,
                            "{:<width$} {:>8} {:>12.3} {:>12.3} {:>12.3}",
                            format!("      {RESPONSE_TIME}"),
                            row.timed,
                            mean * 1e3,
                            row.time_min * 1e3,
                            row.time_max * 1e3
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl MethodRow {
    /// The counts under a method, named as the stats tree names its nodes.
    pub fn counts(&self) -> [(&'static str, u64); 4] {
        [
            (REQUESTS, self.requests),
            (RESPONSES, self.responses),
            (ERRORS, self.errors),
            (UNANSWERED, self.unanswered),
        ]
    }
}

/// The table's title (the stats tree's name without its menu path).
pub const TITLE: &str = "Kasa devices and methods";
/// The names of the nodes under a method.
pub const REQUESTS: &str = "requests";
pub const RESPONSES: &str = "responses";
pub const ERRORS: &str = "errors";
pub const UNANSWERED: &str = "unanswered";
pub const RESPONSE_TIME: &str = "response time (ms)";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(frame: u64) -> MessageId {
        MessageId { frame, index: 0 }
    }

    #[test]
    fn pairs_counts_errors_and_relabels() {
        let dev: SocketAddr = "192.0.2.1:9999".parse().unwrap();
        let mut acc = Accumulator::new();
        let req = [
            MethodSample {
                name: "system.get_sysinfo",
                err_code: None,
            },
            MethodSample {
                name: "emeter.get_realtime",
                err_code: None,
            },
        ];
        let resp = [
            MethodSample {
                name: "system.get_sysinfo",
                err_code: Some(0),
            },
            MethodSample {
                name: "emeter.get_realtime",
                err_code: Some(-2),
            },
        ];
        let base = Sample {
            id: id(1),
            direction: Direction::Request,
            transport: Transport::XorTcp,
            device: dev,
            identity: None,
            methods: &req,
            response_to: None,
            duplicate: false,
        };
        assert!(acc.add_tapped(&base).relabelled.is_none());
        // The same message again (a second dissection in the same pass): not counted.
        assert!(!acc.add_tapped(&base).counted);
        let answer = Sample {
            id: id(2),
            direction: Direction::Response,
            identity: Some(Identity {
                model: Some("HS110(US)"),
                alias: Some("Plug"),
            }),
            methods: &resp,
            response_to: Some(Link {
                request: id(1),
                time: Duration::from_millis(4),
            }),
            ..base
        };
        let added = acc.add_tapped(&answer);
        assert_eq!(added.relabelled.as_deref(), Some("192.0.2.1:9999"));
        acc.add_tapped(&Sample { id: id(3), ..base });
        // A copy of that datagram (a mirror port): not another message.
        let copy = acc.add_tapped(&Sample {
            id: id(4),
            duplicate: true,
            ..base
        });
        assert!(!copy.counted);
        let d = &acc.devices()[0];
        assert_eq!(d.label(), "HS110(US) \"Plug\" 192.0.2.1:9999");
        assert_eq!(d.messages, 3);
        let rows = &d.transports[0].methods;
        assert_eq!(rows[0].0, "system.get_sysinfo");
        let (sys, em) = (&rows[0].1, &rows[1].1);
        assert_eq!(
            (sys.requests, sys.responses, sys.errors, sys.unanswered),
            (2, 1, 0, 1)
        );
        assert_eq!(
            (em.requests, em.responses, em.errors, em.unanswered),
            (2, 1, 1, 1)
        );
        assert_eq!(sys.timed, 1);
        assert!((sys.time_max - 0.004).abs() < 1e-9);
        // A lower id: a new pass; everything is counted afresh.
        acc.add_tapped(&base);
        assert_eq!(acc.devices()[0].messages, 1);
    }
}
