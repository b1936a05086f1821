//! Request/response pairing, incremental so that the plugin can run it on its first pass.
//!
//! * TCP: in order per connection: a response answers the oldest unanswered request.
//! * UDP: like Modbus's walk-back: the latest earlier request from the same client endpoint to
//!   the same device (or to a broadcast address) whose methods the response answers
//!   ([`msg::answers_all`]). A broadcast request stays open for every device that answers it; a
//!   unicast one is answered once.

use super::session::{Link, MessageId};
use crate::msg::{self, Method};
use foldhash::HashMap;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// UDP requests remembered at most (the oldest are forgotten first).
pub const UDP_WINDOW: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Open {
    id: MessageId,
    time: Duration,
}

#[derive(Debug)]
struct UdpOpen {
    client: SocketAddr,
    device: SocketAddr,
    methods: Vec<Method>,
    id: MessageId,
    time: Duration,
    answered: bool,
}

#[derive(Debug)]
struct TdpOpen {
    client: SocketAddr,
    device: SocketAddr,
    serial: u32,
    id: MessageId,
    time: Duration,
}

/// Pairing state for a whole capture.
#[derive(Debug, Default)]
pub struct Pairer {
    tcp: HashMap<u64, VecDeque<Open>>,
    udp: VecDeque<UdpOpen>,
    tdp: VecDeque<TdpOpen>,
}

impl Pairer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A TCP request on connection `conn`; at most `limit` stay open (the oldest go first).
    pub fn tcp_request(&mut self, conn: u64, id: MessageId, time: Duration, limit: usize) {
        let open = self.tcp.entry(conn).or_default();
        if open.len() >= limit.max(1) {
            open.pop_front();
        }
        open.push_back(Open { id, time });
    }

    /// A TCP response on connection `conn`: the oldest open request, if any.
    pub fn tcp_response(&mut self, conn: u64, time: Duration) -> Option<Link> {
        let open = self.tcp.get_mut(&conn)?.pop_front()?;
        Some(Link {
            request: open.id,
            time: time.saturating_sub(open.time),
        })
    }

    /// Forgets a closed TCP connection.
    pub fn tcp_close(&mut self, conn: u64) {
        self.tcp.remove(&conn);
    }

    /// A UDP request from `client` to `device`.
    pub fn udp_request(
        &mut self,
        client: SocketAddr,
        device: SocketAddr,
        methods: &[Method],
        id: MessageId,
        time: Duration,
    ) {
        if self.udp.len() == UDP_WINDOW {
            self.udp.pop_front();
        }
        self.udp.push_back(UdpOpen {
            client,
            device,
            methods: methods.to_vec(),
            id,
            time,
            answered: false,
        });
    }

    /// A UDP response from `device` to `client`.
    pub fn udp_response(
        &mut self,
        client: SocketAddr,
        device: SocketAddr,
        methods: &[Method],
        time: Duration,
    ) -> Option<Link> {
        let open = self.udp.iter_mut().rev().find(|r| {
            let broadcast = is_broadcast(r.device.ip());
            r.client == client
                && r.device.port() == device.port()
                && (broadcast || r.device.ip() == device.ip())
                && (broadcast || !r.answered)
                && msg::answers_all(methods, &r.methods)
        })?;
        open.answered = true;
        Some(Link {
            request: open.id,
            time: time.saturating_sub(open.time),
        })
    }
}

impl Pairer {
    /// A TDP probe from `client` to `device` (often a broadcast address) with `serial`.
    pub fn tdp_probe(
        &mut self,
        client: SocketAddr,
        device: SocketAddr,
        serial: u32,
        id: MessageId,
        time: Duration,
    ) {
        if self.tdp.len() == UDP_WINDOW {
            self.tdp.pop_front();
        }
        self.tdp.push_back(TdpOpen {
            client,
            device,
            serial,
            id,
            time,
        });
    }

    /// A TDP reply from `device` to `client` echoing `serial`: the latest such probe sent to
    /// that device's port (a client probes 20002 and 20004 with one serial), at its address or
    /// a broadcast one (a broadcast probe stays open for every device that answers).
    pub fn tdp_reply(
        &mut self,
        client: SocketAddr,
        device: SocketAddr,
        serial: u32,
        time: Duration,
    ) -> Option<Link> {
        let open = self.tdp.iter().rev().find(|r| {
            r.client == client
                && r.serial == serial
                && r.device.port() == device.port()
                && (r.device.ip() == device.ip() || is_broadcast(r.device.ip()))
        })?;
        Some(Link {
            request: open.id,
            time: time.saturating_sub(open.time),
        })
    }
}

/// Whether a request to `ip` can be answered by several devices.
pub fn is_broadcast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_broadcast() || v4.is_multicast() || v4.octets()[3] == 255,
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(frame: u64) -> MessageId {
        MessageId { frame, index: 0 }
    }

    fn m(module: &str, method: Option<&str>) -> Method {
        Method::iot(module, method)
    }

    #[test]
    fn tcp_in_order() {
        let mut p = Pairer::new();
        p.tcp_request(1, id(4), Duration::from_millis(10), 8);
        p.tcp_request(1, id(5), Duration::from_millis(11), 8);
        assert_eq!(
            p.tcp_response(1, Duration::from_millis(20)),
            Some(Link {
                request: id(4),
                time: Duration::from_millis(10)
            })
        );
        assert_eq!(
            p.tcp_response(1, Duration::from_millis(21))
                .unwrap()
                .request
                .frame,
            5
        );
        assert_eq!(p.tcp_response(1, Duration::from_millis(22)), None);
        assert_eq!(p.tcp_response(2, Duration::from_millis(22)), None);
    }

    #[test]
    fn udp_broadcast_answered_by_several() {
        let mut p = Pairer::new();
        let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let bcast: SocketAddr = "255.255.255.255:9999".parse().unwrap();
        let sysinfo = [m("system", Some("get_sysinfo"))];
        p.udp_request(client, bcast, &sysinfo, id(1), Duration::ZERO);
        p.udp_request(client, bcast, &sysinfo, id(2), Duration::ZERO);
        for dev in ["127.0.0.2:9999", "127.0.0.3:9999"] {
            let got = p
                .udp_response(client, dev.parse().unwrap(), &sysinfo, Duration::ZERO)
                .unwrap();
            assert_eq!(got.request, id(2));
        }
        let other = [m("emeter", Some("get_realtime"))];
        assert_eq!(
            p.udp_response(
                client,
                "127.0.0.2:9999".parse().unwrap(),
                &other,
                Duration::ZERO
            ),
            None
        );
    }

    #[test]
    fn tdp_by_client_and_serial() {
        let mut p = Pairer::new();
        let client: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let other: SocketAddr = "10.0.0.1:5001".parse().unwrap();
        let bcast: SocketAddr = "255.255.255.255:20002".parse().unwrap();
        let dev: SocketAddr = "10.0.0.7:20002".parse().unwrap();
        let dev2: SocketAddr = "10.0.0.8:20002".parse().unwrap();
        let dev_20004: SocketAddr = "10.0.0.7:20004".parse().unwrap();
        p.tdp_probe(client, bcast, 7, id(1), Duration::ZERO);
        p.tdp_probe(client, dev_20004, 7, id(2), Duration::ZERO);
        p.tdp_probe(client, dev, 8, id(3), Duration::ZERO);
        let reply =
            |p: &mut Pairer, c, d, s| p.tdp_reply(c, d, s, Duration::ZERO).map(|l| l.request);
        // Two devices answer the broadcast; the probe to 20004 with the same serial is not it.
        assert_eq!(reply(&mut p, client, dev, 7), Some(id(1)));
        assert_eq!(reply(&mut p, client, dev2, 7), Some(id(1)));
        assert_eq!(reply(&mut p, client, dev_20004, 7), Some(id(2)));
        assert_eq!(reply(&mut p, client, dev, 8), Some(id(3)));
        assert_eq!(reply(&mut p, client, dev2, 8), None);
        assert_eq!(reply(&mut p, client, dev, 9), None);
        assert_eq!(reply(&mut p, other, dev, 8), None);
    }

    #[test]
    fn udp_unicast_answered_once() {
        let mut p = Pairer::new();
        let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let dev: SocketAddr = "127.0.0.2:9999".parse().unwrap();
        let q = [m("system", Some("get_sysinfo"))];
        p.udp_request(client, dev, &q, id(1), Duration::ZERO);
        assert!(p.udp_response(client, dev, &q, Duration::ZERO).is_some());
        assert!(p.udp_response(client, dev, &q, Duration::ZERO).is_none());
        assert!(
            p.udp_response(client, dev, &[m("system", None)], Duration::ZERO)
                .is_none()
        );
    }

    #[test]
    fn udp_smart_by_method_name() {
        let mut p = Pairer::new();
        let client: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let dev: SocketAddr = "127.0.0.2:20002".parse().unwrap();
        let batch = [
            Method::smart("get_device_info"),
            Method::smart("get_energy_usage"),
        ];
        p.udp_request(client, dev, &batch, id(1), Duration::ZERO);
        // An IOT method of the same name does not answer it, nor does a response naming none.
        let iot = [m("get_device_info", None), m("get_energy_usage", None)];
        assert!(p.udp_response(client, dev, &iot, Duration::ZERO).is_none());
        assert!(p.udp_response(client, dev, &[], Duration::ZERO).is_none());
        let answer = [
            Method::smart("get_energy_usage"),
            Method::smart("get_device_info"),
        ];
        assert_eq!(
            p.udp_response(client, dev, &answer, Duration::ZERO)
                .map(|m| m.request.frame),
            Some(1)
        );
    }
}
