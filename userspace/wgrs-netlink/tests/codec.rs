//! Dump merging and set splitting, driven by synthetic message sequences.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use wgrs_netlink::codec::{
    build_dump_payloads, build_set_payloads, coalesce_peers, parse_device_payload,
};
use wgrs_netlink::consts::*;
use wgrs_netlink::{AllowedIp, Device, Peer, Timespec};

const MAX: usize = DEFAULT_MESSAGE_SIZE - NLMSG_HDRLEN - GENL_HDRLEN;

fn key(n: u32) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&n.to_be_bytes());
    k[31] = 0x42;
    k
}

fn many_ips(count: usize) -> Vec<AllowedIp> {
    (0..count)
        .map(|i| {
            let i = i as u32;
            if i.is_multiple_of(2) {
                AllowedIp {
                    addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
                    cidr: 32,
                    remove_me: false,
                }
            } else {
                let mut o = [0u8; 16];
                o[0] = 0xfd;
                o[12..].copy_from_slice(&i.to_be_bytes());
                AllowedIp {
                    addr: IpAddr::V6(Ipv6Addr::from(o)),
                    cidr: 128,
                    remove_me: false,
                }
            }
        })
        .collect()
}

fn sample_device(big: usize) -> Device {
    let mut dev = Device {
        name: "wg0".into(),
        ifindex: 7,
        listen_port: 51820,
        fwmark: 0x42,
        ..Default::default()
    };
    dev.flags.has_private_key = true;
    dev.flags.has_public_key = true;
    dev.private_key = key(1);
    dev.public_key = key(2);
    for i in 0..50 {
        let mut p = Peer {
            public_key: key(100 + i),
            ..Default::default()
        };
        p.flags.has_public_key = true;
        p.flags.replace_allowed_ips = true;
        if i.is_multiple_of(3) {
            p.flags.has_preshared_key = true;
            p.preshared_key = key(1000 + i);
        }
        if i.is_multiple_of(2) {
            p.endpoint = Some(SocketAddr::from(([192, 0, 2, i as u8], 51000 + i as u16)));
        } else {
            p.endpoint = Some("[2001:db8::1%3]:1234".parse().expect("literal"));
        }
        p.persistent_keepalive_interval = (i % 5) as u16 * 10;
        p.flags.has_persistent_keepalive_interval = true;
        p.last_handshake_time = Timespec {
            sec: 1_700_000_000 + i64::from(i),
            nsec: 5,
        };
        p.rx_bytes = u64::from(i) * 1000;
        p.tx_bytes = u64::from(i) * 77;
        p.allowed_ips = many_ips(if i == 25 { big } else { 3 });
        dev.peers.push(p);
    }
    dev
}

#[test]
fn dump_roundtrip_merges_split_peers() {
    let dev = sample_device(130_000);
    let msgs = build_dump_payloads(&dev, MAX).expect("build");
    assert!(
        msgs.len() > 100,
        "expected a multi-message dump, got {}",
        msgs.len()
    );
    let mut got = Device::default();
    for m in &msgs {
        assert!(m.len() <= MAX);
        parse_device_payload(m, &mut got).expect("parse");
    }
    assert!(
        got.peers.len() > dev.peers.len(),
        "split peers appear more than once before merging"
    );
    coalesce_peers(&mut got.peers);
    assert_eq!(got.peers.len(), 50);
    assert_eq!(got.name, "wg0");
    assert_eq!(got.ifindex, 7);
    assert_eq!(got.listen_port, 51820);
    assert_eq!(got.fwmark, 0x42);
    assert_eq!(got.private_key, dev.private_key);
    assert_eq!(got.public_key, dev.public_key);
    for (a, b) in got.peers.iter().zip(&dev.peers) {
        assert_eq!(a.public_key, b.public_key);
        assert_eq!(a.flags.has_preshared_key, b.flags.has_preshared_key);
        assert_eq!(a.preshared_key, b.preshared_key);
        assert_eq!(a.endpoint, b.endpoint);
        assert_eq!(
            a.persistent_keepalive_interval,
            b.persistent_keepalive_interval
        );
        assert_eq!(a.last_handshake_time, b.last_handshake_time);
        assert_eq!((a.rx_bytes, a.tx_bytes), (b.rx_bytes, b.tx_bytes));
        assert_eq!(a.allowed_ips, b.allowed_ips);
    }
}

#[test]
fn coalesce_only_merges_adjacent_duplicates() {
    let mut a = Peer {
        public_key: key(1),
        ..Default::default()
    };
    a.allowed_ips = many_ips(2);
    a.rx_bytes = 5;
    let mut a2 = Peer {
        public_key: key(1),
        ..Default::default()
    };
    a2.allowed_ips = many_ips(3)[2..].to_vec();
    let b = Peer {
        public_key: key(2),
        ..Default::default()
    };
    let mut peers = vec![a.clone(), a2, b.clone()];
    coalesce_peers(&mut peers);
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0].allowed_ips, many_ips(3));
    assert_eq!(peers[0].rx_bytes, 5);
    assert_eq!(peers[1], b);
}

/// Kernel-side view of one peer: PSK, endpoint, keepalive, allowed IPs.
type PeerState = (Option<[u8; 32]>, Option<SocketAddr>, u16, Vec<(IpAddr, u8)>);

/// Applies set messages the way the kernel's wg_set_device() does.
#[derive(Default, Debug, PartialEq)]
struct Kernel {
    private_key: Option<[u8; 32]>,
    port: u16,
    fwmark: u32,
    peers: BTreeMap<[u8; 32], PeerState>,
}

impl Kernel {
    fn apply(&mut self, msg: &[u8]) {
        let mut d = Device::default();
        parse_device_payload(msg, &mut d).expect("parse set message");
        if d.flags.has_private_key {
            self.private_key = Some(d.private_key);
        }
        if d.flags.has_listen_port {
            self.port = d.listen_port;
        }
        if d.flags.has_fwmark {
            self.fwmark = d.fwmark;
        }
        if d.flags.replace_peers {
            self.peers.clear();
        }
        for p in d.peers {
            if p.flags.remove_me {
                self.peers.remove(&p.public_key);
                continue;
            }
            let e = self.peers.entry(p.public_key).or_default();
            if p.flags.has_preshared_key || p.preshared_key != [0; 32] {
                e.0 = Some(p.preshared_key);
            }
            if p.endpoint.is_some() {
                e.1 = p.endpoint;
            }
            if p.flags.has_persistent_keepalive_interval {
                e.2 = p.persistent_keepalive_interval;
            }
            if p.flags.replace_allowed_ips {
                e.3.clear();
            }
            for ip in p.allowed_ips {
                if ip.remove_me {
                    e.3.retain(|x| *x != (ip.addr, ip.cidr));
                } else {
                    e.3.push((ip.addr, ip.cidr));
                }
            }
        }
    }
}

#[test]
fn set_is_split_and_nothing_is_lost() {
    let mut dev = sample_device(130_000);
    dev.flags.replace_peers = true;
    dev.flags.has_listen_port = true;
    dev.flags.has_fwmark = true;
    let msgs = build_set_payloads(&dev, MAX).expect("split");
    assert!(
        msgs.len() > 500,
        "130k allowed IPs need many messages, got {}",
        msgs.len()
    );
    let mut k = Kernel::default();
    // Pretend the device had stale state that REPLACE_PEERS must wipe.
    k.peers.insert(key(9999), Default::default());
    for (i, m) in msgs.iter().enumerate() {
        assert!(m.len() <= MAX, "message {i} is {} bytes", m.len());
        let mut d = Device::default();
        parse_device_payload(m, &mut d).expect("parse");
        assert_eq!(d.name, "wg0", "every message names the interface");
        if i > 0 {
            assert!(!d.flags.replace_peers && !d.flags.has_private_key && !d.flags.has_listen_port);
        }
        k.apply(m);
    }
    assert_eq!(k.private_key, Some(dev.private_key));
    assert_eq!((k.port, k.fwmark), (51820, 0x42));
    assert_eq!(k.peers.len(), 50);
    for p in &dev.peers {
        let e = &k.peers[&p.public_key];
        let want: Vec<_> = p.allowed_ips.iter().map(|a| (a.addr, a.cidr)).collect();
        assert_eq!(e.3.len(), want.len());
        assert_eq!(e.3, want);
        assert_eq!(e.1, p.endpoint);
        assert_eq!(e.2, p.persistent_keepalive_interval);
        assert_eq!(e.0, p.flags.has_preshared_key.then_some(p.preshared_key));
    }
}

#[test]
fn set_continuation_drops_replace_flag_but_keeps_remove() {
    let mut dev = Device {
        name: "wg1".into(),
        ..Default::default()
    };
    let mut p = Peer {
        public_key: key(5),
        ..Default::default()
    };
    p.flags.replace_allowed_ips = true;
    p.flags.has_preshared_key = true;
    p.preshared_key = key(6);
    p.allowed_ips = many_ips(1000);
    dev.peers.push(p);
    let msgs = build_set_payloads(&dev, 1024).expect("split");
    assert!(msgs.len() > 5);
    for (i, m) in msgs.iter().enumerate() {
        let mut d = Device::default();
        parse_device_payload(m, &mut d).expect("parse");
        assert_eq!(d.peers.len(), 1);
        assert_eq!(d.peers[0].flags.replace_allowed_ips, i == 0);
        assert_eq!(d.peers[0].flags.has_preshared_key, i == 0);
    }
}

#[test]
fn set_removal_flags_are_encoded() {
    let mut dev = Device {
        name: "wg0".into(),
        ..Default::default()
    };
    let mut p = Peer {
        public_key: key(5),
        ..Default::default()
    };
    p.allowed_ips = vec![AllowedIp {
        addr: "10.0.0.0".parse().expect("ip"),
        cidr: 8,
        remove_me: true,
    }];
    let mut gone = Peer {
        public_key: key(6),
        ..Default::default()
    };
    gone.flags.remove_me = true;
    dev.peers = vec![p, gone];
    let msgs = build_set_payloads(&dev, MAX).expect("build");
    assert_eq!(msgs.len(), 1);
    let mut d = Device::default();
    parse_device_payload(&msgs[0], &mut d).expect("parse");
    assert!(d.peers[0].allowed_ips[0].remove_me);
    assert!(!d.peers[0].flags.replace_allowed_ips);
    assert!(d.peers[1].flags.remove_me);
}

#[test]
fn device_only_set_is_one_message() {
    let mut dev = Device {
        name: "wg0".into(),
        ..Default::default()
    };
    dev.flags.has_listen_port = true;
    dev.listen_port = 1;
    let msgs = build_set_payloads(&dev, MAX).expect("build");
    assert_eq!(msgs.len(), 1);
}

#[test]
fn malformed_replies_are_errors_not_panics() {
    // Truncated attribute, zero-length CIDR, peer without key.
    let cases: Vec<Vec<u8>> = vec![
        vec![8, 0, 2, 0, b'w'],
        vec![0xff, 0xff, 1, 0],
        {
            let mut w = wgrs_netlink::attr::AttrWriter::new(4096);
            let peers = w.nest_start(WGDEVICE_A_PEERS).expect("fits");
            let peer = w.nest_start(0).expect("fits");
            assert!(w.put_u64(WGPEER_A_RX_BYTES, 1));
            w.nest_end(peer);
            w.nest_end(peers);
            w.into_vec()
        },
        {
            let mut w = wgrs_netlink::attr::AttrWriter::new(4096);
            let peers = w.nest_start(WGDEVICE_A_PEERS).expect("fits");
            let peer = w.nest_start(0).expect("fits");
            assert!(w.put(WGPEER_A_PUBLIC_KEY, &key(1)));
            let aips = w.nest_start(WGPEER_A_ALLOWEDIPS).expect("fits");
            let aip = w.nest_start(0).expect("fits");
            assert!(w.put_u16(WGALLOWEDIP_A_FAMILY, AF_INET));
            assert!(w.put(WGALLOWEDIP_A_IPADDR, &[1, 2, 3, 4]));
            assert!(w.put(WGALLOWEDIP_A_CIDR_MASK, &[]));
            w.nest_end(aip);
            w.nest_end(aips);
            w.nest_end(peer);
            w.nest_end(peers);
            w.into_vec()
        },
    ];
    for c in cases {
        let mut d = Device::default();
        assert!(parse_device_payload(&c, &mut d).is_err(), "{c:?}");
    }
}
