//! The key of a conversation's address pair in the decoder's hash tables.

use std::net::SocketAddr;

/// The two endpoints of a conversation, in either order, as one value to hash.
///
/// A pair of IPv4 endpoints (the common case) is packed into one `u128`, which hashes as a
/// single word; a `(SocketAddr, SocketAddr)` hashes as a dozen small writes (each address's
/// variant, octets and port), which showed in the decoder's profile at every segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairKey {
    /// Address, port, address, port of the lower endpoint then the higher, 96 bits.
    V4(u128),
    Other(SocketAddr, SocketAddr),
}

impl PairKey {
    pub fn new(a: SocketAddr, b: SocketAddr) -> PairKey {
        match (a, b) {
            // An endpoint as the number `address << 16 | port` orders as `SocketAddrV4` does
            // (address, then port), so the lower number is the lower endpoint.
            (SocketAddr::V4(a), SocketAddr::V4(b)) => {
                let end = |s: std::net::SocketAddrV4| {
                    (u128::from(u32::from(*s.ip())) << 16) | u128::from(s.port())
                };
                let (a, b) = (end(a), end(b));
                PairKey::V4((a.min(b) << 48) | a.max(b))
            }
            _ if a <= b => PairKey::Other(a, b),
            _ => PairKey::Other(b, a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn either_order_is_one_key() {
        let (a, b) = (at("192.168.1.10:20000"), at("192.168.1.20:9999"));
        assert_eq!(PairKey::new(a, b), PairKey::new(b, a));
        let (c, d) = (at("[fe80::1]:9999"), at("[fe80::2]:20000"));
        assert_eq!(PairKey::new(c, d), PairKey::new(d, c));
        assert_eq!(PairKey::new(c, d), PairKey::Other(c, d));
    }

    #[test]
    fn every_part_of_each_endpoint_counts() {
        let base = PairKey::new(at("10.0.0.1:1"), at("10.0.0.2:2"));
        for (x, y) in [
            ("10.0.0.1:1", "10.0.0.2:3"),
            ("10.0.0.1:3", "10.0.0.2:2"),
            ("10.0.0.3:1", "10.0.0.2:2"),
            ("10.0.0.1:1", "10.0.0.3:2"),
            // The same numbers spread differently over address and port.
            ("10.0.0.1:2", "10.0.0.2:1"),
            ("0.0.0.0:0", "10.0.0.2:2"),
        ] {
            assert_ne!(PairKey::new(at(x), at(y)), base, "{x} {y}");
        }
        assert_eq!(
            PairKey::new(at("255.255.255.255:65535"), at("255.255.255.254:65535")),
            PairKey::V4((0xffff_fffe_ffff_u128 << 48) | 0xffff_ffff_ffff_u128)
        );
    }
}
