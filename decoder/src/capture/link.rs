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
    if link == LinkType::ETHERNET
        && let Some(seg) = ethernet_ipv4_tcp(data)
    {
        return Some(seg);
    }
    sliced(link, data, orig_len)
}

/// Ethernet II, IPv4 and TCP, every byte of the IP packet captured and not a fragment: the
/// frame nearly every capture is made of, read here without etherparse's general slicing.
/// `None` for anything else, which [`sliced`] reads; where both read a frame they agree (a
/// property test holds them to it).
fn ethernet_ipv4_tcp(data: &[u8]) -> Option<Segment<'_>> {
    let (ether, ip) = data.split_at_checked(14)?;
    let &[
        vihl,
        _,
        tl0,
        tl1,
        _,
        _,
        fl0,
        fl1,
        _,
        protocol,
        _,
        _,
        s0,
        s1,
        s2,
        s3,
        d0,
        d1,
        d2,
        d3,
        ..,
    ] = ip
    else {
        return None;
    };
    if ether[12..] != [0x08, 0x00] || vihl >> 4 != 4 || protocol != 6 {
        return None;
    }
    let header = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([tl0, tl1]));
    // More Fragments or an offset: a fragment. Past `total`: Ethernet padding.
    if header < 20
        || total < header
        || total > ip.len()
        || u16::from_be_bytes([fl0, fl1]) & 0x3fff != 0
    {
        return None;
    }
    let tcp = &ip[header..total];
    let &[
        sp0,
        sp1,
        dp0,
        dp1,
        q0,
        q1,
        q2,
        q3,
        a0,
        a1,
        a2,
        a3,
        offset,
        flags,
        ..,
    ] = tcp
    else {
        return None;
    };
    let tcp_header = usize::from(offset >> 4) * 4;
    if tcp_header < 20 || tcp_header > tcp.len() {
        return None;
    }
    let end = |a: [u8; 4], p: [u8; 2]| SocketAddr::new(IpAddr::from(a), u16::from_be_bytes(p));
    Some(Segment {
        src: end([s0, s1, s2, s3], [sp0, sp1]),
        dst: end([d0, d1, d2, d3], [dp0, dp1]),
        l4: L4::Tcp {
            seq: u32::from_be_bytes([q0, q1, q2, q3]),
            ack: (flags & 0x10 != 0).then_some(u32::from_be_bytes([a0, a1, a2, a3])),
            syn: flags & 0x02 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
            payload: &tcp[tcp_header..],
        },
        missing: 0,
    })
}

/// [`parse`] through etherparse's slicing, for every link type.
fn sliced(link: LinkType, data: &[u8], orig_len: u32) -> Option<Segment<'_>> {
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

    /// An Ethernet/IPv4/TCP frame: `ihl` and `offset` in 32-bit words, `total` the IP total
    /// length as written, `pad` bytes after the packet.
    fn tcp_frame(
        ihl: u8,
        offset: u8,
        total: Option<u16>,
        frag: u16,
        flags: u8,
        payload: &[u8],
        pad: usize,
    ) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        let ip_len = usize::from(ihl) * 4 + usize::from(offset) * 4 + payload.len();
        let total = total.unwrap_or(ip_len as u16);
        f.push(0x40 | ihl);
        f.push(0);
        f.extend(total.to_be_bytes());
        f.extend([0x12, 0x34]);
        f.extend(frag.to_be_bytes());
        f.extend([64, 6, 0, 0, 192, 168, 1, 10, 192, 168, 1, 20]);
        f.resize(14 + usize::from(ihl) * 4, 0x01);
        let tcp_at = f.len();
        f.extend([
            0x4e,
            0x20,
            0x27,
            0x0f,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            offset << 4,
            flags,
            0xff,
            0xff,
            0,
            0,
            0,
            0,
        ]);
        f.resize(tcp_at + usize::from(offset) * 4, 0x01);
        f.extend(payload);
        f.resize(f.len() + pad, 0);
        f
    }

    #[test]
    fn ordinary_tcp_is_read_directly() {
        let f = tcp_frame(5, 5, None, 0x4000, 0x18, b"{\"x\":1}", 6);
        let seg = ethernet_ipv4_tcp(&f).expect("the direct path reads it");
        assert_eq!(Some(seg), sliced(LinkType::ETHERNET, &f, f.len() as u32));
        assert_eq!(seg.src, "192.168.1.10:20000".parse().unwrap());
        assert_eq!(seg.dst, "192.168.1.20:9999".parse().unwrap());
        let L4::Tcp {
            seq,
            ack,
            syn,
            fin,
            rst,
            payload,
        } = seg.l4
        else {
            panic!("TCP")
        };
        assert_eq!(
            (seq, ack, syn, fin, rst),
            (0x0102_0304, Some(0x0506_0708), false, false, false)
        );
        assert_eq!(payload, b"{\"x\":1}", "the padding is not payload");
        // A fragment, a packet cut by the snaplen, IP options and TCP options.
        assert!(ethernet_ipv4_tcp(&tcp_frame(5, 5, None, 0x2000, 0x18, b"ab", 0)).is_none());
        assert!(ethernet_ipv4_tcp(&tcp_frame(5, 5, Some(60), 0, 0x18, b"ab", 0)).is_none());
        assert!(ethernet_ipv4_tcp(&tcp_frame(6, 8, None, 0, 0x02, b"", 0)).is_some());
    }

    proptest::proptest! {
        /// Wherever the direct path reads a frame, it reads what etherparse's slicing reads.
        #[test]
        fn direct_path_agrees_with_etherparse(
            ihl in 0u8..16,
            offset in 0u8..16,
            total in proptest::option::of(0u16..200),
            frag in proptest::prop_oneof![proptest::strategy::Just(0u16), proptest::strategy::Just(0x4000u16), 0u16..],
            flags: u8,
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            pad in 0usize..8,
            cut in 0usize..120,
            flip in proptest::option::of((0usize..60, proptest::num::u8::ANY)),
        ) {
            let mut f = tcp_frame(ihl.max(5), offset, total, frag, flags, &payload, pad);
            if ihl < 5 {
                f[14] = 0x40 | ihl;
            }
            if let Some((at, b)) = flip && at < f.len() {
                f[at] = b;
            }
            f.truncate(f.len().saturating_sub(cut % 40));
            if let Some(direct) = ethernet_ipv4_tcp(&f) {
                proptest::prop_assert_eq!(Some(direct), sliced(LinkType::ETHERNET, &f, f.len() as u32));
            }
        }
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
