//! From a frame's link layer down to a TCP or UDP payload.

use super::CaptureError;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, SocketAddr};

/// A pcap link type (`LINKTYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// `DLT_RAW` as some BSDs write it.
    const RAW_BSD: [LinkType; 2] = [LinkType(12), LinkType(14)];

    /// Whether this decoder reads frames of this link type.
    pub fn check(self) -> Result<(), CaptureError> {
        match self {
            LinkType::NULL
            | LinkType::ETHERNET
            | LinkType::RAW
            | LinkType::LOOP
            | LinkType::LINUX_SLL
            | LinkType::IPV4
            | LinkType::IPV6
            | LinkType::LINUX_SLL2 => Ok(()),
            l if LinkType::RAW_BSD.contains(&l) => Ok(()),
            LinkType(other) => Err(CaptureError::UnsupportedLinkType(other)),
        }
    }
}

/// What a transport segment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4<'a> {
    Tcp {
        seq: u32,
        ack: Option<u32>,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &'a [u8],
    },
    Udp {
        payload: &'a [u8],
    },
}

/// A TCP segment or UDP datagram with its endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub l4: L4<'a>,
    /// Payload bytes the snaplen cut off.
    pub missing: u64,
}

/// Parses a frame; `None` for anything that is not a whole-header TCP or UDP packet (ARP,
/// ICMP, an IP fragment after the first, a header cut by the snaplen).
pub fn parse(link: LinkType, data: &[u8], orig_len: u32) -> Option<Segment<'_>> {
    let sliced = match link {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok()?,
        LinkType::LINUX_SLL => {
            let proto = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(16..)?)
        }
        LinkType::LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), data.get(20..)?)
        }
        LinkType::NULL | LinkType::LOOP => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        _ => LaxSlicedPacket::from_ip(data).ok()?,
    };
    let net = sliced.net.as_ref()?;
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match net {
        LaxNetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        LaxNetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let ip_payload = net.ip_payload_ref()?;
    let (incomplete, fragmented) = (ip_payload.incomplete, ip_payload.fragmented);
    if fragmented {
        return None;
    }
    let missing = if incomplete {
        u64::from(orig_len).saturating_sub(data.len() as u64)
    } else {
        0
    };
    let (sport, dport, l4) = match sliced.transport.as_ref()? {
        TransportSlice::Tcp(tcp) => (
            tcp.source_port(),
            tcp.destination_port(),
            L4::Tcp {
                seq: tcp.sequence_number(),
                ack: tcp.ack().then(|| tcp.acknowledgment_number()),
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                payload: tcp.payload(),
            },
        ),
        TransportSlice::Udp(udp) => (
            udp.source_port(),
            udp.destination_port(),
            L4::Udp {
                payload: udp.payload(),
            },
        ),
        _ => return None,
    };
    Some(Segment {
        src: SocketAddr::new(src_ip, sport),
        dst: SocketAddr::new(dst_ip, dport),
        l4,
        missing,
    })
}
