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
    /// IEEE 802.11 without a radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD's `pflog` (a `pfloghdr`, then the IP packet).
    pub const PFLOG: LinkType = LinkType(117);
    /// IEEE 802.11 behind a radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// A PPI header, then the frame of the link type it names (802.11 in practice).
    pub const PPI: LinkType = LinkType(192);
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
            | LinkType::LINUX_SLL2
            | LinkType::IEEE802_11
            | LinkType::PFLOG
            | LinkType::IEEE802_11_RADIOTAP
            | LinkType::PPI => Ok(()),
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
    let sliced = slice(link, data, 0)?;
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

/// The link layer peeled down to what etherparse reads. `depth` bounds PPI's nesting.
fn slice(link: LinkType, data: &[u8], depth: u8) -> Option<LaxSlicedPacket<'_>> {
    Some(match link {
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
        LinkType::PFLOG => LaxSlicedPacket::from_ip(data.get(pflog_len(data)?..)?).ok()?,
        LinkType::IEEE802_11 => dot11(data)?,
        LinkType::IEEE802_11_RADIOTAP => dot11(data.get(radiotap_len(data)?..)?)?,
        LinkType::PPI if depth == 0 => {
            let (len, inner) = ppi(data)?;
            slice(inner, data.get(len..)?, depth + 1)?
        }
        LinkType::PPI => return None,
        _ => LaxSlicedPacket::from_ip(data).ok()?,
    })
}

/// The length of OpenBSD's `pfloghdr`: its first byte, rounded up to a multiple of 4 (BPF's
/// word alignment). At least the 45 bytes of the oldest layout.
fn pflog_len(data: &[u8]) -> Option<usize> {
    let len = usize::from(*data.first()?);
    (len >= 45).then_some((len + 3) & !3)
}

/// The length of a radiotap header (version 0: `it_len`, little-endian, at offset 2).
fn radiotap_len(data: &[u8]) -> Option<usize> {
    if *data.first()? != 0 {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([*data.get(2)?, *data.get(3)?]));
    (len >= 8).then_some(len)
}

/// A PPI header's length and the link type of what follows (`pph_len`, `pph_dlt`, both
/// little-endian).
fn ppi(data: &[u8]) -> Option<(usize, LinkType)> {
    if *data.first()? != 0 {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([*data.get(2)?, *data.get(3)?]));
    let dlt = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
    (len >= 8).then_some((len, LinkType(dlt)))
}

/// What an 802.11 frame is, as far as this decoder cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dot11<'a> {
    /// An unprotected data frame with an LLC/SNAP header: its EtherType and payload.
    Data { ether_type: u16, payload: &'a [u8] },
    /// A data frame with the Protected bit set (WEP, WPA, WPA2, WPA3): unreadable here.
    Protected,
    /// Management, control, null data, A-MSDU, non-SNAP, or too short.
    Other,
}

/// Reads an 802.11 frame (no radio header). Data frames only: the header is 24 bytes, 30 with
/// the fourth address (ToDS and FromDS), 2 more with QoS control, 4 more with an HT control
/// field (Order bit in a QoS frame); then LLC/SNAP `AA AA 03 00 00 00` and the EtherType.
pub fn dot11_frame(data: &[u8]) -> Dot11<'_> {
    let (Some(&fc0), Some(&fc1)) = (data.first(), data.get(1)) else {
        return Dot11::Other;
    };
    let (kind, subtype) = ((fc0 >> 2) & 3, fc0 >> 4);
    if kind != 2 || subtype & 0x4 != 0 {
        // Not data, or a data frame without a body (null, CF-Ack/Poll only).
        return Dot11::Other;
    }
    if fc1 & 0x40 != 0 {
        return Dot11::Protected;
    }
    let qos = subtype & 0x8 != 0;
    let mut len = 24;
    if fc1 & 0x03 == 0x03 {
        len += 6;
    }
    if qos {
        // A-MSDU aggregates (QoS control bit 7) carry subframes, not one packet.
        if data.get(len).is_some_and(|qc| qc & 0x80 != 0) {
            return Dot11::Other;
        }
        len += 2;
        if fc1 & 0x80 != 0 {
            len += 4;
        }
    }
    match data.get(len..len + 8) {
        Some([0xAA, 0xAA, 0x03, 0, 0, 0, hi, lo]) => Dot11::Data {
            ether_type: u16::from_be_bytes([*hi, *lo]),
            payload: &data[len + 8..],
        },
        _ => Dot11::Other,
    }
}

fn dot11(data: &[u8]) -> Option<LaxSlicedPacket<'_>> {
    match dot11_frame(data) {
        Dot11::Data {
            ether_type,
            payload,
        } => Some(LaxSlicedPacket::from_ether_type(
            EtherType(ether_type),
            payload,
        )),
        Dot11::Protected | Dot11::Other => None,
    }
}

/// Whether a frame is a protected 802.11 data frame (for the count of frames this decoder
/// cannot read: decrypt in Wireshark with the WPA passphrase, or capture on the wire).
pub fn is_protected_dot11(link: LinkType, data: &[u8]) -> bool {
    let frame = match link {
        LinkType::IEEE802_11 => Some(data),
        LinkType::IEEE802_11_RADIOTAP => radiotap_len(data).and_then(|l| data.get(l..)),
        LinkType::PPI => match ppi(data) {
            Some((len, inner)) if inner == LinkType::IEEE802_11 => data.get(len..),
            Some((len, inner)) if inner == LinkType::IEEE802_11_RADIOTAP => {
                data.get(len..).and_then(|d| d.get(radiotap_len(d)?..))
            }
            _ => None,
        },
        _ => None,
    };
    frame.is_some_and(|f| dot11_frame(f) == Dot11::Protected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP_IP: [u8; 8] = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];

    fn frame(fc0: u8, fc1: u8, extra: usize) -> Vec<u8> {
        let mut f = vec![fc0, fc1];
        f.resize(24 + extra, 0);
        f.extend_from_slice(&SNAP_IP);
        f.extend_from_slice(b"IP");
        f
    }

    #[test]
    fn dot11_header_lengths() {
        // Data, FromDS: 24 bytes.
        let f = frame(0x08, 0x02, 0);
        assert_eq!(
            dot11_frame(&f),
            Dot11::Data {
                ether_type: 0x0800,
                payload: b"IP"
            }
        );
        // Four addresses (ToDS and FromDS): 30.
        assert!(matches!(
            dot11_frame(&frame(0x08, 0x03, 6)),
            Dot11::Data { payload: b"IP", .. }
        ));
        // QoS data: 26; with HT control (Order): 30; both with four addresses: 36.
        assert!(matches!(
            dot11_frame(&frame(0x88, 0x01, 2)),
            Dot11::Data { payload: b"IP", .. }
        ));
        assert!(matches!(
            dot11_frame(&frame(0x88, 0x81, 6)),
            Dot11::Data { payload: b"IP", .. }
        ));
        assert!(matches!(
            dot11_frame(&frame(0x88, 0x83, 12)),
            Dot11::Data { payload: b"IP", .. }
        ));
    }

    #[test]
    fn dot11_what_is_not_read() {
        assert_eq!(dot11_frame(&frame(0x08, 0x42, 0)), Dot11::Protected);
        // Null data, a beacon (management), a control frame.
        assert_eq!(dot11_frame(&frame(0x48, 0x01, 0)), Dot11::Other);
        assert_eq!(dot11_frame(&frame(0x80, 0x00, 0)), Dot11::Other);
        assert_eq!(dot11_frame(&frame(0xD4, 0x00, 0)), Dot11::Other);
        // A-MSDU (QoS control bit 7).
        let mut amsdu = frame(0x88, 0x01, 2);
        amsdu[24] = 0x80;
        assert_eq!(dot11_frame(&amsdu), Dot11::Other);
        // Cut short anywhere: never a panic.
        let f = frame(0x88, 0x83, 12);
        for n in 0..f.len() {
            let _ = dot11_frame(&f[..n]);
        }
        assert_eq!(dot11_frame(&[]), Dot11::Other);
    }

    #[test]
    fn radio_headers() {
        let mut rt = vec![0, 0, 8, 0, 0, 0, 0, 0];
        rt.extend(frame(0x08, 0x42, 0));
        assert!(is_protected_dot11(LinkType::IEEE802_11_RADIOTAP, &rt));
        assert!(!is_protected_dot11(LinkType::ETHERNET, &rt));
        // A radiotap header claiming more than the frame, or of another version.
        assert_eq!(radiotap_len(&[0, 0, 0xFF, 0xFF]), Some(0xFFFF));
        assert!(!is_protected_dot11(
            LinkType::IEEE802_11_RADIOTAP,
            &[0, 0, 0xFF, 0xFF, 0, 0, 0, 0]
        ));
        assert_eq!(radiotap_len(&[1, 0, 8, 0]), None);
        // PPI naming radiotap naming 802.11.
        let mut ppi = vec![0, 0, 8, 0, 127, 0, 0, 0];
        ppi.extend(&rt);
        assert!(is_protected_dot11(LinkType::PPI, &ppi));
        // PPI inside PPI is refused, not followed.
        let mut nested = vec![0, 0, 8, 0, 192, 0, 0, 0];
        nested.extend(&ppi);
        assert!(parse(LinkType::PPI, &nested, nested.len() as u32).is_none());
        // pflog: at least the oldest header, padded to 4.
        assert_eq!(pflog_len(&[61]), Some(64));
        assert_eq!(pflog_len(&[44]), None);
        assert_eq!(pflog_len(&[]), None);
    }
}
