//! Every message of the family, through bytes and back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netlink_packet_core::DefaultNla;
use wgrs_gate_netlink::codec::{self, from_bytes, to_bytes};
use wgrs_gate_netlink::consts::*;
use wgrs_gate_netlink::fake::FakeKernel;
use wgrs_gate_netlink::*;

fn key(n: u8) -> Key {
    let mut k = [n; 32];
    k[0] = 0xa5;
    k
}

fn round_trip(m: &GateMessage) -> GateMessage {
    let bytes = to_bytes(m);
    assert_eq!(bytes.len() % 4, 0);
    from_bytes(m.cmd, &bytes).expect("parses")
}

#[test]
fn requests_round_trip() {
    let full = PolicyUpdate {
        idle_timeout: Some(900),
        max_session: Some(28_800),
        auth_port: Some(51821),
    };
    let msgs = [
        codec::set_policy(3, &full),
        codec::set_policy(3, &PolicyUpdate::default()),
        codec::set_policy(
            3,
            &PolicyUpdate {
                auth_port: Some(80),
                ..PolicyUpdate::default()
            },
        ),
        codec::peer_set(3, &key(1), true),
        codec::peer_set(3, &key(1), false),
        codec::get(7),
        codec::authorize(7, &key(2)),
        codec::revoke(7, &key(3)),
    ];
    for m in &msgs {
        assert_eq!(&round_trip(m), m);
    }
    assert_eq!(msgs[0].cmd, WGRS_GATE_CMD_SET_POLICY);
    assert_eq!(msgs[1].attrs, vec![DeviceAttr::Ifindex(3)]);
    assert_eq!(msgs[3].cmd, WGRS_GATE_CMD_PEER_SET);
    assert_eq!(msgs[5].cmd, WGRS_GATE_CMD_GET);
    assert_eq!(msgs[6].cmd, WGRS_GATE_CMD_AUTHORIZE);
    assert_eq!(msgs[7].cmd, WGRS_GATE_CMD_REVOKE);
}

#[test]
fn authorize_wire_bytes() {
    let b = to_bytes(&codec::authorize(5, &key(9)));
    let mut want = Vec::new();
    // ifindex: len 8, type 1, u32 5 (host order)
    want.extend_from_slice(&8u16.to_ne_bytes());
    want.extend_from_slice(&1u16.to_ne_bytes());
    want.extend_from_slice(&5u32.to_ne_bytes());
    // peer nest: len 4 + 36, type 7 | NLA_F_NESTED
    want.extend_from_slice(&40u16.to_ne_bytes());
    want.extend_from_slice(&(7u16 | 0x8000).to_ne_bytes());
    // public-key: len 36, type 1
    want.extend_from_slice(&36u16.to_ne_bytes());
    want.extend_from_slice(&1u16.to_ne_bytes());
    want.extend_from_slice(&key(9));
    assert_eq!(b, want);
}

#[test]
fn set_policy_wire_bytes() {
    let b = to_bytes(&codec::set_policy(
        2,
        &PolicyUpdate {
            idle_timeout: None,
            max_session: None,
            auth_port: Some(0x1234),
        },
    ));
    // ifindex (8) + auth-port: len 6, type 4, padded to 8.
    assert_eq!(b.len(), 16);
    assert_eq!(&b[8..10], &6u16.to_ne_bytes());
    assert_eq!(&b[10..12], &4u16.to_ne_bytes());
    assert_eq!(&b[12..14], &0x1234u16.to_ne_bytes());
    assert_eq!(&b[14..16], &[0, 0]);
}

fn sample_status() -> GateStatus {
    GateStatus {
        ifindex: 4,
        policy: Policy {
            idle_timeout: 600,
            max_session: 3600,
            auth_port: 51821,
        },
        enforcing: true,
        events_lost: 17,
        peers: vec![
            PeerStatus::new_locked(key(1)),
            PeerStatus {
                public_key: key(2),
                exempt: false,
                state: PeerState::Authorized,
                lock_reason: None,
                idle_ms: Some(1500),
                authorized_age_ms: Some(60_000),
                session_remaining_ms: Some(3_540_000),
                rx_dropped: 3,
                tx_dropped: 4,
            },
            PeerStatus {
                public_key: key(3),
                exempt: true,
                state: PeerState::Locked,
                lock_reason: Some(LockReason::Idle),
                idle_ms: Some(u64::MAX),
                authorized_age_ms: None,
                session_remaining_ms: None,
                rx_dropped: u64::MAX,
                tx_dropped: 0,
            },
            PeerStatus {
                lock_reason: Some(LockReason::Unknown(200)),
                ..PeerStatus::new_locked(key(4))
            },
        ],
    }
}

#[test]
fn dump_round_trip() {
    let s = sample_status();
    let msgs = codec::get_replies(&s);
    assert_eq!(msgs.len(), 1 + s.peers.len());
    let back: Vec<GateMessage> = msgs.iter().map(round_trip).collect();
    assert_eq!(back, msgs);
    assert_eq!(codec::decode_get(&back).expect("decodes"), s);
}

#[test]
fn dump_ignores_unknown_attributes_and_rejects_bad_keys() {
    let mut msgs = codec::get_replies(&sample_status());
    msgs[0]
        .attrs
        .push(DeviceAttr::Other(DefaultNla::new(99, vec![1, 2, 3])));
    if let DeviceAttr::Peer(p) = &mut msgs[1].attrs[1] {
        p.push(PeerAttr::Other(DefaultNla::new(77, vec![0; 5])));
    }
    let back: Vec<GateMessage> = msgs.iter().map(round_trip).collect();
    assert_eq!(codec::decode_get(&back).expect("decodes"), sample_status());

    // A public key of 31 bytes does not parse.
    let mut raw = to_bytes(&codec::authorize(1, &key(1)));
    raw[8..10].copy_from_slice(&39u16.to_ne_bytes());
    raw[12..14].copy_from_slice(&35u16.to_ne_bytes());
    raw.truncate(12 + 35);
    raw.push(0);
    assert!(from_bytes(WGRS_GATE_CMD_AUTHORIZE, &raw).is_err());

    // A peer without a key, or with an unknown state, is an error.
    let m = GateMessage {
        cmd: WGRS_GATE_CMD_GET,
        attrs: vec![DeviceAttr::Peer(vec![PeerAttr::State(1)])],
    };
    assert!(codec::decode_get(&[round_trip(&m)]).is_err());
    let m = GateMessage {
        cmd: WGRS_GATE_CMD_GET,
        attrs: vec![DeviceAttr::Peer(vec![
            PeerAttr::PublicKey(key(1)),
            PeerAttr::State(9),
        ])],
    };
    assert!(codec::decode_get(&[round_trip(&m)]).is_err());
    // A peer whose state is missing is taken as locked.
    let m = GateMessage {
        cmd: WGRS_GATE_CMD_GET,
        attrs: vec![DeviceAttr::Peer(vec![PeerAttr::PublicKey(key(1))])],
    };
    let s = codec::decode_get(&[round_trip(&m)]).expect("decodes");
    assert_eq!(s.peers[0].state, PeerState::Locked);
}

#[test]
fn events_round_trip() {
    let events = [
        GateEvent::Locked {
            ifindex: 2,
            public_key: key(1),
            reason: LockReason::Idle,
        },
        GateEvent::Locked {
            ifindex: 2,
            public_key: key(1),
            reason: LockReason::MaxSession,
        },
        GateEvent::Locked {
            ifindex: 2,
            public_key: key(1),
            reason: LockReason::Revoked,
        },
        GateEvent::Locked {
            ifindex: 2,
            public_key: key(1),
            reason: LockReason::New,
        },
        GateEvent::Knock {
            ifindex: 3,
            public_key: key(2),
            endpoint: Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
                51820,
            )),
            inner_source: Some(IpAddr::V4(Ipv4Addr::new(10, 8, 0, 2))),
        },
        GateEvent::Knock {
            ifindex: 3,
            public_key: key(2),
            endpoint: Some("[2001:db8::1]:4500".parse().expect("addr")),
            inner_source: Some(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2))),
        },
        GateEvent::Knock {
            ifindex: 3,
            public_key: key(2),
            endpoint: None,
            inner_source: None,
        },
        GateEvent::Authorized {
            ifindex: 9,
            public_key: key(3),
        },
    ];
    for e in &events {
        let m = codec::encode_event(e).expect("a message");
        let back = round_trip(&m);
        assert_eq!(back, m);
        assert_eq!(
            codec::decode_event(&back).expect("decodes").as_ref(),
            Some(e)
        );
    }
    assert!(codec::encode_event(&GateEvent::Lost).is_none());
    assert_eq!(
        codec::encode_event(&events[0]).map(|m| m.cmd),
        Some(WGRS_GATE_CMD_PEER_LOCKED)
    );
    assert_eq!(
        codec::encode_event(&events[4]).map(|m| m.cmd),
        Some(WGRS_GATE_CMD_PEER_KNOCK)
    );
    assert_eq!(
        codec::encode_event(&events[7]).map(|m| m.cmd),
        Some(WGRS_GATE_CMD_PEER_AUTHORIZED)
    );
    // Replies of other commands are not notifications.
    assert_eq!(codec::decode_event(&codec::get(1)).expect("ok"), None);
    // peer-locked without a reason is malformed.
    let m = GateMessage {
        cmd: WGRS_GATE_CMD_PEER_LOCKED,
        attrs: vec![
            DeviceAttr::Ifindex(1),
            DeviceAttr::Peer(vec![PeerAttr::PublicKey(key(1))]),
        ],
    };
    assert!(codec::decode_event(&m).is_err());
}

#[test]
fn errors_are_clear() {
    let e = Error::Kernel {
        op: "authorize",
        errno: libc_enoent(),
        message: Some("peer not found".into()),
    };
    let s = e.to_string();
    assert!(
        s.starts_with("authorize: no such peer on this device"),
        "{s}"
    );
    assert!(s.ends_with("(peer not found)"), "{s}");
    assert_eq!(e.errno(), Some(2));
    assert!(Error::FamilyMissing("wgrs_gate".into())
        .to_string()
        .contains("the wgrs_gate generic netlink family is not registered"));
}

fn libc_enoent() -> i32 {
    2
}

#[test]
fn fake_kernel_follows_the_spec() {
    let k = FakeKernel::new();
    k.add_device(
        1,
        Policy {
            idle_timeout: 60,
            max_session: 0,
            auth_port: 51821,
        },
    );
    k.add_peer(1, key(1));
    let mut ev = k.events().expect("subscribe");
    k.authorize(1, &key(1)).expect("authorize");
    assert_eq!(
        ev.next_event().expect("event"),
        GateEvent::Authorized {
            ifindex: 1,
            public_key: key(1)
        }
    );
    let s = k.get(1).expect("get");
    assert!(s.enforcing);
    assert_eq!(s.peers[0].state, PeerState::Authorized);
    k.revoke(1, &key(1)).expect("revoke");
    assert_eq!(
        ev.next_event().expect("event"),
        GateEvent::Locked {
            ifindex: 1,
            public_key: key(1),
            reason: LockReason::Revoked
        }
    );
    assert_eq!(
        k.authorize(1, &key(2)).map_err(|e| e.errno()).err(),
        Some(Some(2))
    );
    assert_eq!(k.get(5).map_err(|e| e.errno()).err(), Some(Some(19)));
    k.overflow();
    assert_eq!(ev.next_event().expect("event"), GateEvent::Lost);
}

/// A datagram as the kernel multicasts it: netlink header, genl header,
/// attributes; several messages back to back, one of another family.
#[test]
fn notification_datagrams_decode() {
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_generic::GenlMessage;

    fn datagram(family: u16, m: GateMessage) -> Vec<u8> {
        let mut g = GenlMessage::from_payload(m);
        g.set_resolved_family_id(family);
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(g));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        buf
    }
    let locked = GateEvent::Locked {
        ifindex: 4,
        public_key: key(1),
        reason: LockReason::MaxSession,
    };
    let knock = GateEvent::Knock {
        ifindex: 4,
        public_key: key(2),
        endpoint: Some("198.51.100.9:51820".parse().expect("addr")),
        inner_source: Some(IpAddr::V4(Ipv4Addr::new(10, 8, 0, 9))),
    };
    let mut buf = datagram(0x22, codec::encode_event(&locked).expect("m"));
    buf.extend(datagram(0x23, codec::encode_event(&knock).expect("m")));
    buf.extend(datagram(0x22, codec::encode_event(&knock).expect("m")));
    buf.extend(datagram(0x22, codec::get(4)));
    let got = wgrs_gate_netlink::socket::decode_notifications(&buf, 0x22).expect("decode");
    assert_eq!(got, vec![locked, knock]);
    // Truncated: an error (the listener treats it as lost events).
    assert!(wgrs_gate_netlink::socket::decode_notifications(&buf[..buf.len() - 3], 0x22).is_err());
}

#[test]
fn extended_ack_messages() {
    use wgrs_gate_netlink::socket::extack_message;
    // Capped error: original nlmsghdr (16 bytes), then NLMSGERR_ATTR_MSG.
    let mut p = vec![0u8; 16];
    let msg = b"peer not found\0";
    p.extend_from_slice(&((4 + msg.len()) as u16).to_ne_bytes());
    p.extend_from_slice(&1u16.to_ne_bytes());
    p.extend_from_slice(msg);
    while !p.len().is_multiple_of(4) {
        p.push(0);
    }
    assert_eq!(
        extack_message(0x100 | 0x200, &p).as_deref(),
        Some("peer not found")
    );
    // No TLV flag: nothing, whatever follows.
    assert_eq!(extack_message(0x100, &p), None);
    // Uncapped: the whole request (length from its header) is skipped.
    let mut q = Vec::new();
    q.extend_from_slice(&24u32.to_ne_bytes());
    q.extend_from_slice(&[0u8; 20]);
    q.extend_from_slice(&p[16..]);
    assert_eq!(extack_message(0x200, &q).as_deref(), Some("peer not found"));
    // Garbage does not panic.
    assert_eq!(extack_message(0x200, &[1, 2]), None);
}
