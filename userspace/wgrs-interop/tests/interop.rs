// SPDX-License-Identifier: GPL-2.0
//! Interoperability with boringtun's independent WireGuard implementation.

#[path = "../../wgrs-proto/tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use common::{ipv4_udp, keypair_from, Ours, Out, C};
use wgrs_proto::proto::constants::NSEC_PER_SEC;
use wgrs_proto::proto::crypto::Crypto;

const SRC: [u8; 4] = [127, 0, 0, 1];
const PORT: u16 = 51820;

fn src() -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::from(SRC)))
}

struct Pair {
    ours: Ours,
    bt: Tunn,
    now: u64,
}

fn pair(bt_under_load: bool, psk: bool) -> Pair {
    let (our_sk, our_pk) = keypair_from(1);
    let (bt_sk, bt_pk) = keypair_from(2);
    let mut k = [0u8; 32];
    if psk {
        C.random(&mut k);
    }
    let limiter = if bt_under_load {
        // A limit of 0 makes boringtun consider itself under load always.
        Some(Arc::new(RateLimiter::new(&PublicKey::from(bt_pk), 0)))
    } else {
        None
    };
    let bt = Tunn::new(
        StaticSecret::from(bt_sk),
        PublicKey::from(our_pk),
        if psk { Some(k) } else { None },
        None,
        7,
        limiter,
    )
    .unwrap();
    Pair {
        ours: Ours::new(our_sk, bt_pk, k),
        bt,
        now: 1000 * NSEC_PER_SEC,
    }
}

/// Feed a datagram to boringtun, return what it wants on the network (if any)
/// or the tunnel packet (if any).
fn bt_in(bt: &mut Tunn, pkt: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut buf = vec![0u8; 4096];
    match bt.decapsulate(src(), pkt, &mut buf) {
        TunnResult::WriteToNetwork(p) => (Some(p.to_vec()), None),
        TunnResult::WriteToTunnelV4(p, _) => (None, Some(p.to_vec())),
        TunnResult::WriteToTunnelV6(p, _) => (None, Some(p.to_vec())),
        TunnResult::Done => (None, None),
        TunnResult::Err(e) => panic!("boringtun rejected packet: {e:?}"),
    }
}

fn bt_send(bt: &mut Tunn, plain: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    match bt.encapsulate(plain, &mut buf) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        other => panic!("boringtun encapsulate: {other:?}"),
    }
}

fn bt_initiation(bt: &mut Tunn, force: bool) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    match bt.format_handshake_initiation(&mut buf, force) {
        TunnResult::WriteToNetwork(p) => p.to_vec(),
        other => panic!("boringtun initiation: {other:?}"),
    }
}

fn expect_net(o: Out) -> Vec<u8> {
    match o {
        Out::Network(v) => v,
        other => panic!("expected a packet to send, got {other:?}"),
    }
}

fn expect_tunnel(o: Out) -> Vec<u8> {
    match o {
        Out::Tunnel(v) => v,
        other => panic!("expected a tunnel packet, got {other:?}"),
    }
}

/// Data both ways over the current session.
fn exchange(p: &mut Pair, tag: &[u8]) {
    let ip = ipv4_udp(tag);
    let pkt = p.ours.send(&ip, p.now).expect("ours has a sending key");
    let (net, tun) = bt_in(&mut p.bt, &pkt);
    assert!(net.is_none());
    assert_eq!(
        tun.as_deref(),
        Some(&ip[..]),
        "boringtun decrypted our data"
    );

    let ip2 = ipv4_udp(&[tag, b"-reply"].concat());
    let pkt = bt_send(&mut p.bt, &ip2);
    let got = expect_tunnel(p.ours.receive(&pkt, p.now, SRC, PORT));
    assert_eq!(&got[..ip2.len()], &ip2[..]);
    assert_eq!(
        p.ours.last_rx_index,
        p.ours.kps.current.as_ref().map(|k| k.local_index),
        "boringtun uses the newest session"
    );
    assert!(
        got[ip2.len()..].iter().all(|b| *b == 0),
        "anything after the IP packet is zero padding"
    );
}

fn ours_initiates(p: &mut Pair) {
    let init = p.ours.initiation(p.now);
    let (resp, _) = bt_in(&mut p.bt, &init);
    let resp = resp.expect("boringtun answers the initiation");
    let keepalive = expect_net(p.ours.receive(&resp, p.now, SRC, PORT));
    let (net, tun) = bt_in(&mut p.bt, &keepalive);
    assert!(net.is_none() && tun.is_none(), "keepalive consumed");
}

fn bt_initiates(p: &mut Pair, force: bool) {
    let init = bt_initiation(&mut p.bt, force);
    let resp = expect_net(p.ours.receive(&init, p.now, SRC, PORT));
    // Key confirmation: the responder must not send with the new keypair yet.
    let (net, _) = bt_in(&mut p.bt, &resp);
    let confirm = net.expect("boringtun confirms with a keepalive");
    let got = expect_tunnel(p.ours.receive(&confirm, p.now, SRC, PORT));
    assert!(got.is_empty(), "keepalive");
}

#[test]
fn ours_initiator_data_both_ways() {
    let mut p = pair(false, true);
    ours_initiates(&mut p);
    exchange(&mut p, b"hello");
    exchange(&mut p, b"again");
}

#[test]
fn boringtun_initiator_data_both_ways_with_key_confirmation() {
    let mut p = pair(false, true);
    let init = bt_initiation(&mut p.bt, false);
    let resp = expect_net(p.ours.receive(&init, p.now, SRC, PORT));
    assert!(
        p.ours.send(b"x", p.now).is_none(),
        "responder waits for confirmation"
    );
    let (net, _) = bt_in(&mut p.bt, &resp);
    let confirm = net.expect("boringtun confirms");
    assert!(expect_tunnel(p.ours.receive(&confirm, p.now, SRC, PORT)).is_empty());
    exchange(&mut p, b"hi");
}

#[test]
fn without_psk() {
    let mut p = pair(false, false);
    ours_initiates(&mut p);
    exchange(&mut p, b"nopsk");
}

#[test]
fn rekey_both_directions() {
    let mut p = pair(false, true);
    ours_initiates(&mut p);
    exchange(&mut p, b"one");
    let old_idx = p.ours.kps.current.as_ref().unwrap().local_index;
    // A packet boringtun sealed with the old session, delivered late.
    let late = bt_send(&mut p.bt, &ipv4_udp(b"late"));

    p.now += 121 * NSEC_PER_SEC;
    ours_initiates(&mut p);
    let cur = p.ours.kps.current.as_ref().unwrap();
    assert_ne!(cur.local_index, old_idx);
    assert_eq!(p.ours.kps.previous.as_ref().unwrap().local_index, old_idx);
    exchange(&mut p, b"two");
    // Previous keypair still decrypts in-flight packets.
    expect_tunnel(p.ours.receive(&late, p.now, SRC, PORT));

    p.now += 121 * NSEC_PER_SEC;
    bt_initiates(&mut p, true);
    exchange(&mut p, b"three");
    assert_eq!(p.ours.handshakes_completed, 3);
}

#[test]
fn cookie_reply_from_boringtun_under_load() {
    let mut p = pair(true, true);
    let init = p.ours.initiation(p.now);
    let (reply, _) = bt_in(&mut p.bt, &init);
    let reply = reply.expect("cookie reply");
    assert_eq!(reply.len(), 64, "a cookie reply");
    assert_eq!(p.ours.receive(&reply, p.now, SRC, PORT), Out::Nothing);
    let got_cookie = p.now;
    assert!(p.ours.cookie.has_valid_cookie(p.now));

    // Retry: mac2 is now set and boringtun proceeds.
    p.now += NSEC_PER_SEC;
    ours_initiates(&mut p);
    exchange(&mut p, b"cookie");

    // The cookie expires after 120 s - 5 s of latency margin.
    assert!(p
        .ours
        .cookie
        .has_valid_cookie(got_cookie + 115 * NSEC_PER_SEC - 1));
    assert!(!p
        .ours
        .cookie
        .has_valid_cookie(got_cookie + 115 * NSEC_PER_SEC));
}

#[test]
fn cookie_reply_from_us_under_load() {
    let mut p = pair(false, true);
    p.ours.under_load = true;
    let init = bt_initiation(&mut p.bt, false);
    let reply = expect_net(p.ours.receive(&init, p.now, SRC, PORT));
    assert_eq!(reply.len(), 64, "we answer with a cookie reply");
    assert_eq!(p.ours.handshakes_completed, 0);
    let (net, tun) = bt_in(&mut p.bt, &reply);
    assert!(net.is_none() && tun.is_none(), "boringtun takes the cookie");

    // boringtun retries with mac2, which we accept even under load.
    p.now += NSEC_PER_SEC;
    bt_initiates(&mut p, true);
    assert_eq!(p.ours.handshakes_completed, 1);
    exchange(&mut p, b"cookie2");
}

#[test]
fn tampered_packets_are_rejected() {
    let mut p = pair(false, true);
    ours_initiates(&mut p);
    let mut pkt = bt_send(&mut p.bt, &ipv4_udp(b"tamper"));
    let last = pkt.len() - 1;
    pkt[last] ^= 1;
    assert!(matches!(
        p.ours.receive(&pkt, p.now, SRC, PORT),
        Out::Dropped(_)
    ));
    // And a replay of a valid packet is rejected.
    let pkt = bt_send(&mut p.bt, &ipv4_udp(b"once"));
    expect_tunnel(p.ours.receive(&pkt, p.now, SRC, PORT));
    assert!(matches!(
        p.ours.receive(&pkt, p.now, SRC, PORT),
        Out::Dropped(_)
    ));
}

#[test]
fn timer_driven_rekey_after_rekey_after_time() {
    use wgrs_proto::proto::constants::REKEY_AFTER_TIME;
    let mut p = pair(false, true);
    ours_initiates(&mut p);
    let born = p.now;
    // Before REKEY_AFTER_TIME the initiator keeps its key.
    p.now = born + (REKEY_AFTER_TIME * NSEC_PER_SEC) - 1;
    exchange(&mut p, b"before");
    let kp = p.ours.kps.current.as_ref();
    assert!(!p.ours.timers.keep_key_fresh_send(kp, p.now));
    p.now = born + REKEY_AFTER_TIME * NSEC_PER_SEC;
    let kp = p.ours.kps.current.as_ref();
    assert!(
        p.ours.timers.keep_key_fresh_send(kp, p.now),
        "time to rekey"
    );
    assert!(p.ours.timers.should_send_initiation(p.now, false));
    ours_initiates(&mut p);
    exchange(&mut p, b"after");
    assert!(!p
        .ours
        .timers
        .keep_key_fresh_send(p.ours.kps.current.as_ref(), p.now));
}

#[test]
fn rekey_after_messages() {
    use wgrs_proto::proto::constants::{REJECT_AFTER_MESSAGES, REKEY_AFTER_MESSAGES};
    let mut p = pair(false, true);
    ours_initiates(&mut p);
    let kp = p.ours.kps.current.as_mut().unwrap();
    kp.set_sending_counter(REKEY_AFTER_MESSAGES + 1);
    assert!(p
        .ours
        .timers
        .keep_key_fresh_send(p.ours.kps.current.as_ref(), p.now));
    let kp = p.ours.kps.current.as_mut().unwrap();
    kp.set_sending_counter(REJECT_AFTER_MESSAGES - 1);
    assert!(kp.next_nonce(p.now).is_ok());
    assert!(kp.next_nonce(p.now).is_err(), "nonce space exhausted");
    assert!(p.ours.send(b"x", p.now).is_none());
}
