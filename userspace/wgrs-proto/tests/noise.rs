// SPDX-License-Identifier: GPL-2.0
//! Our Noise implementation against itself: failure cases the interop test
//! cannot reach, HMAC/KDF cross-checked with the `hmac` crate, cookies,
//! rate limiter and inner packet parser.

mod common;

use common::{keypair_from, Ours, Out, C};
use hmac::{Mac, SimpleHmac};
use proptest::prelude::*;
use wgrs_proto::proto::constants::*;
use wgrs_proto::proto::cookie::{
    handshake_action, CookieError, HandshakeAction, LoadTracker, MacState,
};
use wgrs_proto::proto::crypto::Crypto;
use wgrs_proto::proto::inner::{self, InnerError, IpAddr, IPPROTO_TCP, IPPROTO_UDP};
use wgrs_proto::proto::keypair::{Keypair, Keypairs, Session, Slot, TransportError};
use wgrs_proto::proto::messages::Initiation;
use wgrs_proto::proto::noise::{
    consume_initiation_begin, hmac as our_hmac, kdf, tai64n, HandshakeState, NoiseError,
};
use wgrs_proto::proto::ratelimit::{RateEntry, RateKey, PACKET_COST, TOKEN_MAX};

const S: u64 = NSEC_PER_SEC;

type PortsResult = Result<Option<(u16, u16)>, InnerError>;
type ProtoPortsResult = Result<(u8, Option<(u16, u16)>), InnerError>;
const A: [u8; 4] = [192, 0, 2, 1];

fn two(psk_a: [u8; 32], psk_b: [u8; 32]) -> (Ours, Ours) {
    let (ska, pka) = keypair_from(10);
    let (skb, pkb) = keypair_from(11);
    (Ours::new(ska, pkb, psk_a), Ours::new(skb, pka, psk_b))
}

fn net(o: Out) -> Vec<u8> {
    match o {
        Out::Network(v) => v,
        other => panic!("expected packet, got {other:?}"),
    }
}

#[test]
fn own_handshake_and_data() {
    let (mut a, mut b) = two([7; 32], [7; 32]);
    let now = 100 * S;
    let init = a.initiation(now);
    let resp = net(b.receive(&init, now, A, 1));
    let ka = net(a.receive(&resp, now, A, 1));
    assert_eq!(b.receive(&ka, now, A, 1), Out::Tunnel(vec![]));
    let pkt = b.send(b"0123456789abcdefX", now).unwrap();
    assert_eq!(pkt.len(), 16 + 32 + 16, "padded to 16");
    match a.receive(&pkt, now, A, 1) {
        Out::Tunnel(v) => assert_eq!(&v[..17], b"0123456789abcdefX"),
        o => panic!("{o:?}"),
    }
    assert_eq!(a.hs.state(), HandshakeState::Zeroed);
}

#[test]
fn replayed_initiation_and_flood_rejected() {
    let (mut a, mut b) = two([0; 32], [0; 32]);
    let now = 100 * S;
    let init = a.initiation(now);
    net(b.receive(&init, now, A, 1));
    // Exact replay: timestamp not greater.
    assert_eq!(
        b.receive(&init, now + S, A, 1),
        Out::Dropped("init finish Replay".into())
    );
    // A fresh initiation 10 ms later is a flood.
    let init2 = a.initiation(now);
    assert_eq!(
        b.receive(&init2, now + 10_000_000, A, 1),
        Out::Dropped("init finish Flood".into())
    );
    let init3 = a.initiation(now);
    net(b.receive(&init3, now + 30_000_000, A, 1));
}

#[test]
fn psk_mismatch_fails_at_response() {
    let (mut a, mut b) = two([1; 32], [2; 32]);
    let init = a.initiation(0);
    let resp = net(b.receive(&init, 0, A, 1));
    assert_eq!(
        a.receive(&resp, 0, A, 1),
        Out::Dropped("response Decrypt".into())
    );
}

#[test]
fn unknown_peer_and_wrong_responder() {
    let (mut a, _b) = two([0; 32], [0; 32]);
    let (_c, mut d) = two([0; 32], [0; 32]);
    let init = a.initiation(0);
    // d has a different static key: mac1 does not verify.
    assert!(matches!(d.receive(&init, 0, A, 1), Out::Dropped(s) if s.contains("InvalidMac")));
    // Even with the mac check bypassed, decryption of the static fails.
    let m = Initiation::parse(&init).unwrap();
    assert_eq!(
        consume_initiation_begin(&C, &d.id, &m).err(),
        Some(NoiseError::Decrypt)
    );
}

#[test]
fn low_order_points_are_rejected() {
    let (mut a, mut b) = two([0; 32], [0; 32]);
    let init = a.initiation(0);
    let mut m = Initiation::parse(&init).unwrap();
    // Ephemeral = a low-order point (all zero gives an all-zero DH).
    m.ephemeral = [0; 32];
    assert_eq!(
        consume_initiation_begin(&C, &b.id, &m).err(),
        Some(NoiseError::ZeroDh)
    );
    // A peer whose static key is low order: static-static precomputation is zero.
    let (sk, _) = keypair_from(1);
    let id = wgrs_proto::proto::noise::StaticIdentity::from_private(&C, &sk).unwrap();
    let mut hs = wgrs_proto::proto::noise::Handshake::new(&C, &id, &[0; 32], &[0; 32]);
    assert_eq!(
        hs.create_initiation(&C, &id, 1, &tai64n(1, 0)).err(),
        Some(NoiseError::ZeroDh)
    );
    assert_eq!(hs.state(), HandshakeState::Zeroed);
    let _ = &mut b;
}

#[test]
fn response_for_other_index_or_state_is_rejected() {
    let (mut a, mut b) = two([0; 32], [0; 32]);
    let init = a.initiation(0);
    let mut resp = net(b.receive(&init, 0, A, 1));
    resp[8] ^= 1; // receiver index
    assert!(matches!(a.receive(&resp, 0, A, 1), Out::Dropped(_)));
    // Responder cannot consume a response.
    let (mut c, mut d) = two([0; 32], [0; 32]);
    let init = c.initiation(0);
    let resp = net(d.receive(&init, 0, A, 1));
    assert!(matches!(d.receive(&resp, 0, A, 1), Out::Dropped(_)));
}

#[test]
fn tai64n_layout_and_order() {
    let t = tai64n(0, 0);
    assert_eq!(&t[..8], &0x4000_0000_0000_000au64.to_be_bytes());
    let a = tai64n(1_700_000_000, 999_999_999);
    let b = tai64n(1_700_000_001, 0);
    assert!(a < b);
    assert_eq!(
        u32::from_be_bytes(a[8..].try_into().unwrap()) % (1 << 24),
        0,
        "rounded"
    );
    let _ = tai64n(u64::MAX, u32::MAX);
}

proptest! {
    #[test]
    fn hmac_matches_hmac_crate(key in prop::collection::vec(any::<u8>(), 0..100), data in prop::collection::vec(any::<u8>(), 0..200), split in 0usize..200) {
        let mut ours = [0u8; 32];
        let split = split.min(data.len());
        prop_assert!(our_hmac(&C, &mut ours, &key, &[&data[..split], &data[split..]]));
        let mut m = <SimpleHmac<blake2::Blake2s256> as Mac>::new_from_slice(&key).unwrap();
        m.update(&data);
        prop_assert_eq!(&ours[..], &m.finalize().into_bytes()[..]);
    }
}

#[test]
fn kdf_outputs_chain() {
    let ck = [5u8; 32];
    let (mut a1, mut a2, mut a3) = ([0u8; 32], [0u8; 32], [0u8; 32]);
    assert!(kdf(
        &C,
        &ck,
        b"input",
        &mut a1,
        Some(&mut a2),
        Some(&mut a3)
    ));
    let mut secret = [0u8; 32];
    our_hmac(&C, &mut secret, &ck, &[b"input"]);
    let mut e1 = [0u8; 32];
    our_hmac(&C, &mut e1, &secret, &[&[1]]);
    let mut e2 = [0u8; 32];
    our_hmac(&C, &mut e2, &secret, &[&e1, &[2]]);
    let mut e3 = [0u8; 32];
    our_hmac(&C, &mut e3, &secret, &[&e2, &[3]]);
    assert_eq!((a1, a2, a3), (e1, e2, e3));
    let mut b1 = [0u8; 32];
    assert!(kdf(&C, &ck, b"input", &mut b1, None, None));
    assert_eq!(b1, e1);
}

#[test]
fn cookie_decisions_table() {
    use HandshakeAction::*;
    use MacState::*;
    let table = [
        (false, InvalidMac, true, Drop),
        (true, InvalidMac, true, Drop),
        (false, ValidMacButNoCookie, true, Process),
        (false, ValidMacWithCookie, false, Process),
        (true, ValidMacButNoCookie, true, SendCookieReply),
        (true, ValidMacWithCookie, true, Process),
        (true, ValidMacWithCookie, false, Drop),
    ];
    for (load, mac, rl, want) in table {
        assert_eq!(handshake_action(load, mac, rl), want, "{load} {mac:?} {rl}");
    }
    let mut l = LoadTracker::new();
    assert!(!l.update(0, 512, 0));
    assert!(l.update(512, 512, S));
    assert!(l.update(0, 512, 2 * S - 1), "sticky for a second");
    assert!(!l.update(0, 512, 2 * S));
}

#[test]
fn cookie_secret_rotates_every_two_minutes() {
    let (mut a, mut b) = two([0; 32], [0; 32]);
    b.under_load = true;
    let t = 1000 * S;
    let init = a.initiation(t);
    let reply = net(b.receive(&init, t, A, 1));
    assert_eq!(a.receive(&reply, t, A, 1), Out::Nothing);
    // Cookie from the same secret: accepted.
    let init = a.initiation(t + S);
    net(b.receive(&init, t + S, A, 1));
    // Different source port: different cookie, so another cookie reply.
    let init = a.initiation(t + 2 * S);
    assert_eq!(net(b.receive(&init, t + 2 * S, A, 2)).len(), 64);
    // After 120 s the secret rotated: the old cookie no longer works.
    let (mut a, mut b) = two([0; 32], [0; 32]);
    b.under_load = true;
    let reply = net(b.receive(&a.initiation(t), t, A, 1));
    a.receive(&reply, t, A, 1);
    let late = t + 110 * S;
    assert!(a.cookie.has_valid_cookie(late));
    // Force b's secret to be older than 120 s at `late`: b made it at t.
    let init = a.initiation(t + 121 * S);
    assert_eq!(
        net(b.receive(&init, t + 121 * S, A, 1)).len(),
        64,
        "rotated secret"
    );
    // A cookie reply is taken once per sent mac1, and must match that mac1.
    let r = wgrs_proto::proto::messages::CookieReply::parse(&reply).unwrap();
    let mut pc = wgrs_proto::proto::cookie::PeerCookie::new(&C, &b.id.public);
    assert_eq!(pc.consume_reply(&C, &r, t), Err(CookieError::Unexpected));
    let mut msg = [0u8; 148];
    pc.add_macs(&C, &mut msg, t).unwrap();
    assert_eq!(
        pc.consume_reply(&C, &r, t),
        Err(CookieError::Decrypt),
        "other mac1"
    );
}

#[test]
fn keypair_limits_and_tampering() {
    let tx = Keypair::new([1; 32], [2; 32], true, 7, 9, 0);
    let mut rx = Session::new(Keypair::new([2; 32], [1; 32], false, 9, 7, 0));
    let mut pkt = vec![0u8; 48];
    pkt[16..21].copy_from_slice(b"hello");
    assert_eq!(tx.seal(&C, 0, &mut pkt), Ok(0));
    let mut p = pkt.clone();
    assert_eq!(rx.open(&C, 0, &mut p), Ok((16, 0)));
    assert_eq!(&p[16..21], b"hello");
    let mut p = pkt.clone();
    assert_eq!(rx.open(&C, 0, &mut p), Err(TransportError::Replay));
    // The counter is the nonce: changing it breaks authentication.
    let mut p = pkt.clone();
    p[8] ^= 1;
    assert_eq!(rx.open(&C, 0, &mut p), Err(TransportError::Decrypt));
    // Wrong receiver index for this keypair.
    let mut p = pkt.clone();
    p[4] ^= 1;
    assert_eq!(rx.open(&C, 0, &mut p), Err(TransportError::KeyInvalid));
    // Expiry after REJECT_AFTER_TIME, both directions.
    assert_eq!(
        tx.seal(&C, 180 * S, &mut pkt),
        Err(TransportError::KeyInvalid)
    );
    let mut p = pkt.clone();
    assert_eq!(
        rx.open(&C, 180 * S, &mut p),
        Err(TransportError::KeyInvalid)
    );
    assert_eq!(
        tx.seal(&C, 0, &mut [0u8; 31]),
        Err(TransportError::BadLength)
    );
    tx.invalidate();
    assert_eq!(tx.seal(&C, 0, &mut pkt), Err(TransportError::KeyInvalid));
}

#[test]
fn responder_keypair_waits_for_confirmation() {
    let mut k = Keypairs::<Session>::new();
    let _ = k.add(Keypair::new([1; 32], [2; 32], false, 1, 11, 0));
    assert!(k.sending(0).is_none());
    assert_eq!(k.lookup(1), Some(Slot::Next));
    assert!(k.received_with(Slot::Next).0);
    assert!(k.sending(0).is_some());
    let _ = k.add(Keypair::new([3; 32], [4; 32], false, 2, 12, 0));
    assert_eq!(
        k.sending(0).unwrap().local_index,
        1,
        "old key keeps sending"
    );
    let _ = k.add(Keypair::new([5; 32], [6; 32], true, 3, 13, 0));
    assert_eq!(k.sending(0).unwrap().local_index, 3);
    assert_eq!(
        k.previous.as_ref().unwrap().local_index,
        2,
        "unconfirmed next becomes previous"
    );
    assert_eq!(k.expire(180 * S).into_iter().count(), 2);
    assert!(k.sending(180 * S).is_none());
    assert!(k.current.is_none() && k.previous.is_none() && k.next.is_none());
}

#[test]
fn nonce_exhaustion() {
    let kp = Keypair::new([1; 32], [1; 32], true, 7, 9, 0);
    // Skip ahead by sealing with explicit nonces, then check the limit logic
    // through next_nonce on a fresh keypair.
    for _ in 0..3 {
        kp.next_nonce(0).unwrap();
    }
    assert_eq!(kp.sending_counter(), 3);
    let mut rx = Session::new(Keypair::new([1; 32], [1; 32], false, 9, 7, 0));
    let mut p = vec![0u8; 32];
    kp.seal_with_nonce(&C, REJECT_AFTER_MESSAGES, &mut p)
        .unwrap();
    p[4..8].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(rx.open(&C, 0, &mut p), Err(TransportError::NonceExhausted));
}

#[test]
fn ratelimiter_entry() {
    let mut e = RateEntry::new(0);
    // First packet (creation) plus 4 more from the burst.
    for i in 0..4 {
        assert!(e.allow(0), "burst {i}");
    }
    assert!(!e.allow(0));
    assert!(!e.allow(PACKET_COST - 1));
    assert!(e.allow(2 * PACKET_COST - 1), "one token refilled");
    // 20 per second sustained.
    let mut e = RateEntry::new(0);
    let mut allowed = 1;
    let mut t = 0;
    while t < 10 * S {
        t += S / 100;
        if e.allow(t) {
            allowed += 1;
        }
    }
    assert!((200..=206).contains(&allowed), "{allowed}");
    assert_eq!(TOKEN_MAX, 5 * PACKET_COST);
    assert!(e.is_stale(t + S + 1));
    assert!(!e.is_stale(t + S));
    // Keys: IPv4 /32, IPv6 /64.
    let mut v6a = [0u8; 16];
    v6a[..8].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 1]);
    let mut v6b = v6a;
    v6b[15] = 99;
    assert_eq!(RateKey::v6(&v6a), RateKey::v6(&v6b));
    v6b[7] = 2;
    assert_ne!(RateKey::v6(&v6a), RateKey::v6(&v6b));
    assert_ne!(RateKey::v4([1, 2, 3, 4]), RateKey::v4([1, 2, 3, 5]));
    assert_eq!(RateKey::from_bytes(&[1, 2, 3]), None);
    // Time going backwards does not panic or mint tokens.
    let mut e = RateEntry::new(10 * S);
    for _ in 0..4 {
        e.allow(10 * S);
    }
    assert!(!e.allow(0));
}

fn v4(proto: u8, ihl: u8, total: u16, frag: u16, extra: usize) -> Vec<u8> {
    let mut p = vec![0u8; total as usize + extra];
    p[0] = 0x40 | ihl;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6..8].copy_from_slice(&frag.to_be_bytes());
    p[9] = proto;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let h = usize::from(ihl) * 4;
    if p.len() >= h + 4 {
        p[h..h + 2].copy_from_slice(&1111u16.to_be_bytes());
        p[h + 2..h + 4].copy_from_slice(&2222u16.to_be_bytes());
    }
    p
}

#[test]
fn inner_ipv4_table() {
    let ports = Some((1111, 2222));
    let cases: &[(Vec<u8>, PortsResult)] = &[
        (v4(IPPROTO_TCP, 5, 40, 0, 0), Ok(ports)),
        (v4(IPPROTO_UDP, 5, 28, 0, 12), Ok(ports)), // padding after
        (v4(IPPROTO_UDP, 6, 32, 0, 0), Ok(ports)),  // options
        (v4(1, 5, 28, 0, 0), Ok(None)),             // ICMP
        (v4(IPPROTO_TCP, 5, 40, 0x2000, 0), Ok(ports)), // MF, offset 0
        (v4(IPPROTO_TCP, 5, 40, 0x0001, 0), Ok(None)), // later fragment
        (v4(IPPROTO_TCP, 5, 22, 0, 0), Ok(None)),   // ports cut off
        (v4(IPPROTO_TCP, 4, 40, 0, 0), Err(InnerError::Malformed)),
        (v4(IPPROTO_TCP, 5, 19, 0, 1), Err(InnerError::Malformed)),
        (v4(IPPROTO_TCP, 15, 40, 0, 0), Err(InnerError::Malformed)),
        (
            v4(IPPROTO_TCP, 5, 40, 0, 0)[..39].to_vec(),
            Err(InnerError::Truncated),
        ),
        (vec![0x45; 10], Err(InnerError::Truncated)),
        (vec![0x55; 40], Err(InnerError::BadVersion)),
        (vec![], Err(InnerError::Truncated)),
    ];
    for (i, (pkt, want)) in cases.iter().enumerate() {
        assert_eq!(inner::parse(pkt).map(|h| h.ports), *want, "case {i}");
    }
    let h = inner::parse(&cases[0].0).unwrap();
    assert_eq!(
        (h.src, h.dst, h.protocol, h.ip_len),
        (
            IpAddr::V4([10, 0, 0, 1]),
            IpAddr::V4([10, 0, 0, 2]),
            IPPROTO_TCP,
            40
        )
    );
}

fn v6(next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
    p[6] = next;
    p[8] = 0xfd;
    p[24] = 0xfd;
    p[39] = 1;
    p.extend_from_slice(ext);
    p.extend_from_slice(l4);
    p
}

#[test]
fn inner_ipv6_table() {
    let l4 = [0x04, 0x57, 0x08, 0xae, 0, 0, 0, 0];
    let hop = [IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 0];
    let frag0 = [IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 1];
    let frag8 = [IPPROTO_TCP, 0, 0, 8, 0, 0, 0, 1];
    let cases: Vec<(Vec<u8>, ProtoPortsResult)> = vec![
        (
            v6(IPPROTO_TCP, &[], &l4),
            Ok((IPPROTO_TCP, Some((1111, 2222)))),
        ),
        (v6(0, &hop, &l4), Ok((IPPROTO_UDP, Some((1111, 2222))))),
        (v6(44, &frag0, &l4), Ok((IPPROTO_TCP, Some((1111, 2222))))),
        (v6(44, &frag8, &l4), Ok((IPPROTO_TCP, None))),
        (v6(58, &[], &l4), Ok((58, None))),
        (v6(IPPROTO_TCP, &[], &l4[..3]), Ok((IPPROTO_TCP, None))),
        (
            v6(0, &[IPPROTO_UDP, 2, 0, 0, 0, 0, 0, 0], &l4),
            Err(InnerError::Malformed),
        ),
        (
            v6(0, &[IPPROTO_UDP, 1, 0, 0, 0, 0, 0, 0], &l4),
            Ok((IPPROTO_UDP, None)),
        ),
        (
            v6(IPPROTO_TCP, &[], &l4)[..45].to_vec(),
            Err(InnerError::Truncated),
        ),
        (vec![0x60; 39], Err(InnerError::Truncated)),
    ];
    for (i, (pkt, want)) in cases.iter().enumerate() {
        assert_eq!(
            inner::parse(pkt).map(|h| (h.protocol, h.ports)),
            *want,
            "case {i}"
        );
    }
    // A chain of 9 hop-by-hop headers stops walking after 8.
    let mut ext = Vec::new();
    for _ in 0..9 {
        ext.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    }
    assert_eq!(inner::parse(&v6(0, &ext, &l4)).unwrap().protocol, 0);
}

#[test]
fn inner_prefix_of_a_longer_packet() {
    // The head of a 1400-byte TCP/IPv4 packet: 40 bytes are enough for the
    // ports; the full packet would be "truncated" for `parse`.
    let mut big = v4(IPPROTO_TCP, 5, 40, 0, 0);
    big[2..4].copy_from_slice(&1400u16.to_be_bytes());
    assert_eq!(inner::parse(&big), Err(InnerError::Truncated));
    let h = inner::parse_prefix(&big, 1400).unwrap();
    assert_eq!((h.ports, h.ip_len), (Some((1111, 2222)), 1400));
    // Claims more than the packet has: still truncated.
    assert_eq!(inner::parse_prefix(&big, 1399), Err(InnerError::Truncated));
    // Ports outside the head are not reported (not guessed).
    assert_eq!(
        inner::parse_prefix(&big[..22], 1400).map(|h| h.ports),
        Ok(None)
    );
    // IPv6: the head holds the fixed header and the ports of a 1280-byte
    // packet.
    let l4 = [0x04, 0x57, 0x08, 0xae, 0, 0, 0, 0];
    let mut p6 = v6(IPPROTO_UDP, &[], &l4);
    p6[4..6].copy_from_slice(&1240u16.to_be_bytes());
    let h = inner::parse_prefix(&p6, 1280).unwrap();
    assert_eq!(
        (h.protocol, h.ports, h.ip_len),
        (IPPROTO_UDP, Some((1111, 2222)), 1280)
    );
    // A length below the head is taken as the head's.
    assert!(inner::parse_prefix(&v4(IPPROTO_TCP, 5, 40, 0, 0), 0).is_ok());
}

#[test]
fn random_is_used_for_ephemerals() {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    C.random(&mut a);
    C.random(&mut b);
    assert_ne!(a, b);
}

#[test]
fn keypair_rotation_reports_what_it_evicts() {
    let idx = |e: wgrs_proto::proto::keypair::Evicted<Session>| {
        let mut v: Vec<u32> = e.into_iter().map(|s| s.local_index).collect();
        v.sort();
        v
    };
    let kp =
        |i: u32, initiator: bool| Keypair::new([i as u8; 32], [0; 32], initiator, i, 100 + i, 0);
    let mut k = Keypairs::<Session>::new();
    assert!(idx(k.add(kp(1, true))).is_empty());
    assert!(idx(k.add(kp(2, true))).is_empty(), "1 becomes previous");
    assert_eq!(idx(k.add(kp(3, true))), vec![1], "old previous goes");
    // Responder: next replaced, previous dropped, current kept.
    assert_eq!(idx(k.add(kp(4, false))), vec![2]);
    assert_eq!(idx(k.add(kp(5, false))), vec![4]);
    assert_eq!(k.current.as_ref().map(|s| s.local_index), Some(3));
    // Initiator while a next waits: next -> previous, current goes.
    assert_eq!(idx(k.add(kp(6, true))), vec![3]);
    assert_eq!(k.previous.as_ref().map(|s| s.local_index), Some(5));
    // Confirmation of a next: previous drops out.
    let _ = k.add(kp(7, false));
    let (rotated, out) = k.received_with(Slot::Next);
    assert!(rotated);
    assert_eq!(
        idx(out),
        Vec::<u32>::new(),
        "previous was dropped when 7 arrived"
    );
    assert_eq!(k.current.as_ref().map(|s| s.local_index), Some(7));
    assert_eq!(k.previous.as_ref().map(|s| s.local_index), Some(6));
    let (rotated, out) = k.received_with(Slot::Current);
    assert!(!rotated && out.is_empty());
    let cleared = k.clear();
    assert_eq!(idx(cleared), vec![6, 7]);
}

#[test]
fn nonces_are_unique_across_threads() {
    use std::sync::Arc;
    let kp = Arc::new(Keypair::new([1; 32], [2; 32], true, 1, 2, 0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let kp = kp.clone();
            std::thread::spawn(move || {
                (0..5000)
                    .map(|_| kp.next_nonce(0).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20_000);
    assert_eq!(kp.sending_counter(), 20_000);
    // Exhaustion invalidates once and keeps the counter pinned.
    kp.set_sending_counter(REJECT_AFTER_MESSAGES);
    assert_eq!(kp.next_nonce(0), Err(TransportError::NonceExhausted));
    assert_eq!(kp.next_nonce(0), Err(TransportError::KeyInvalid));
    assert!(!kp.can_send(0));
    assert_eq!(kp.sending_counter(), REJECT_AFTER_MESSAGES);
}

#[test]
fn cookie_checker_is_shared_and_the_secret_rotates() {
    use wgrs_proto::proto::cookie::{make_cookie, CookieChecker, CookieSecret, PeerCookie};
    use wgrs_proto::proto::noise::StaticIdentity;
    let (sk, _) = keypair_from(11);
    let id = StaticIdentity::from_private(&C, &sk).unwrap();
    let checker = CookieChecker::new(&C, Some(&id.public));
    let mut secret = CookieSecret::new();
    let s1 = secret.current(&C, 0);
    assert_eq!(
        secret.current(&C, 119 * S),
        s1,
        "same secret within two minutes"
    );
    let s2 = secret.current(&C, 121 * S);
    assert_ne!(s1, s2, "rotated after two minutes");
    let c1 = make_cookie(&C, &s2, &[10, 0, 0, 1], 5);
    assert_ne!(
        c1,
        make_cookie(&C, &s2, &[10, 0, 0, 1], 6),
        "port is part of it"
    );
    // A message macced by a peer that holds the cookie validates with it,
    // and not with another source's cookie.
    let mut pc = PeerCookie::new(&C, &id.public);
    let mut msg = [0u8; 148];
    msg[0] = 1;
    pc.add_macs(&C, &mut msg, 0).unwrap();
    assert_eq!(
        checker.validate(&C, &msg, None),
        MacState::ValidMacButNoCookie
    );
    let reply = checker.create_reply(&C, &msg, 3, &c1).unwrap();
    pc.consume_reply(&C, &reply, 0).unwrap();
    pc.add_macs(&C, &mut msg, 0).unwrap();
    assert_eq!(
        checker.validate(&C, &msg, Some(&c1)),
        MacState::ValidMacWithCookie
    );
    let other = make_cookie(&C, &s2, &[10, 0, 0, 2], 5);
    assert_eq!(
        checker.validate(&C, &msg, Some(&other)),
        MacState::ValidMacButNoCookie
    );
    msg[10] ^= 1;
    assert_eq!(checker.validate(&C, &msg, Some(&c1)), MacState::InvalidMac);
}
