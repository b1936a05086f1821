//! The cloud-link tracker (`conv::cloud::CloudTracker`) fed arbitrary sequences of DNS
//! answers, TCP segments (any flags, from a small pool of endpoints so that connections,
//! port reuse and retransmissions collide), ClientHellos, certificates and application-data
//! records, as a front end would feed it.
//!
//! Asserts: no panic; `tcp`/`app_record` say Some only for a connection `link_of` returns;
//! `links()` in order of id and first frame; per link, counts consistent and pushes within
//! the cap and in frame order; two addresses (the pool's last two) are never named by a cloud
//! DNS answer, never on a cloud port, never given a cloud SNI or certificate, and no frame
//! between them is ever reported as cloud; heap growth bounded per operation.
#![no_main]

use kasa_decoder::conv::cloud::{CloudTracker, MAX_PUSHES, Tcp};
use kasa_decoder::wire::dns::DnsAnswer;
use kasa_decoder::wire::tls::ClientHello;
use kasa_decoder::wire::x509::CertNames;
use kasa_fuzz::Bytes;
use kasa_fuzz::alloc::{self, Counting};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

#[global_allocator]
static A: Counting = Counting;

/// The pool's addresses; the last two are the unrelated ones.
const ADDRS: u8 = 6;

fn unrelated(a: SocketAddr) -> bool {
    a.ip() == ip(ADDRS - 1) || a.ip() == ip(ADDRS - 2)
}

fn both_unrelated(a: SocketAddr, b: SocketAddr) -> bool {
    unrelated(a) && unrelated(b)
}

fn ip(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i % ADDRS))
}

fn endpoint(b: &mut Bytes<'_>) -> SocketAddr {
    let a = b.u8();
    let i = a % ADDRS;
    let port = match (a / ADDRS) % 4 {
        0 => 443,
        1 if i < ADDRS - 2 => 50443,
        2 => 40000,
        _ => 40001,
    };
    SocketAddr::new(ip(i), port)
}

fn names(b: &mut Bytes<'_>, cloud_ok: bool) -> CertNames {
    let k = b.u8();
    let name = |x: u8| -> Option<String> {
        match x % 4 {
            0 if cloud_ok => Some("*.tplinkcloud.com".into()),
            1 if cloud_ok => Some("TP-LINK CA P1".into()),
            2 => Some("example.com".into()),
            _ => None,
        }
    };
    CertNames {
        subject_cn: name(k),
        subject_o: Some("TP-LINK CORPORATION LIMITED".into()),
        issuer_cn: name(k >> 2),
        issuer_o: None,
        dns_names: name(k >> 4).into_iter().collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut ops = 0usize;
    let (_, grew) = alloc::measure(|| {
        let mut b = Bytes::new(data);
        let ports: &[u16] = if b.u8() & 1 == 0 { &[50443] } else { &[] };
        let mut t = CloudTracker::new(ports);
        let mut frame = 0u64;
        let mut time = Duration::ZERO;
        while !b.is_empty() {
            ops += 1;
            frame += 1;
            time += Duration::from_millis(u64::from(b.u8()) * 100);
            let op = b.u8();
            match op % 6 {
                0 => {
                    let i = b.u8() % ADDRS;
                    let cloud = op & 0x80 != 0 && i < ADDRS - 2;
                    let name = if cloud {
                        "n-devs.tplinkcloud.com"
                    } else {
                        "example.com"
                    };
                    t.dns(
                        frame,
                        &[DnsAnswer {
                            name: name.into(),
                            addr: ip(i),
                        }],
                    );
                }
                1 | 2 => {
                    let (src, dst) = (endpoint(&mut b), endpoint(&mut b));
                    let f = b.u8();
                    let seg = Tcp {
                        frame,
                        time,
                        src,
                        dst,
                        syn: f & 1 != 0,
                        ack: f & 2 != 0,
                        fin: f & 4 != 0,
                        rst: f & 8 != 0,
                        payload_len: u32::from(b.u16()),
                    };
                    let said = t.tcp(&seg);
                    if let Some(id) = said {
                        assert_eq!(t.link_of(src, dst).map(|l| l.id), Some(id));
                        assert!(t.link(id).is_some());
                    }
                    if both_unrelated(src, dst) {
                        assert_eq!(said, None, "{seg:?}");
                    }
                }
                3 => {
                    let (src, dst) = (endpoint(&mut b), endpoint(&mut b));
                    let sni = match b.u8() % 3 {
                        0 if !unrelated(src) && !unrelated(dst) => {
                            Some("devs.tplinkcloud.com".into())
                        }
                        1 => Some("example.com".into()),
                        _ => None,
                    };
                    t.client_hello(
                        src,
                        dst,
                        &ClientHello {
                            version: 0x0303,
                            sni,
                        },
                    );
                }
                4 => {
                    let (src, dst) = (endpoint(&mut b), endpoint(&mut b));
                    let ok = !unrelated(src) && !unrelated(dst);
                    let leaf = names(&mut b, ok);
                    let chain = [names(&mut b, ok)];
                    t.certificate(src, dst, &leaf, &chain[..usize::from(op & 0x80 != 0)]);
                }
                _ => {
                    let (src, dst) = (endpoint(&mut b), endpoint(&mut b));
                    let role = t.app_record(frame, time, src, dst, u32::from(b.u16()));
                    if role.is_some() {
                        assert!(t.link_of(src, dst).is_some());
                    }
                    if both_unrelated(src, dst) {
                        assert_eq!(role, None);
                    }
                }
            }
        }
        let mut last: Option<(u64, u64)> = None;
        for l in t.links() {
            if let Some((id, first)) = last {
                assert!(l.id.0 > id && l.first_frame >= first);
            }
            last = Some((l.id.0, l.first_frame));
            assert!(l.first_frame <= l.identified_frame && l.identified_frame <= l.last_frame);
            assert!(l.pushes.len() <= MAX_PUSHES);
            assert!(l.records[0] >= l.pushes.len() as u64);
            assert!(l.pushes.windows(2).all(|w| w[0].frame <= w[1].frame));
            for p in &l.pushes {
                if let Some((f, _)) = p.answer {
                    assert!(f >= p.frame);
                }
            }
            assert!(!both_unrelated(l.client, l.server), "{l:?}");
            let _ = l.latency();
        }
    });
    let budget = 2048 * ops + (64 << 10);
    assert!(
        grew <= budget,
        "heap grew by {grew} bytes for {ops} operations"
    );
});
