// SPDX-License-Identifier: GPL-2.0
//! Gate state machine: table-driven cases and properties.

use proptest::prelude::*;
use wgrs_proto::proto::constants::NSEC_PER_SEC;
use wgrs_proto::proto::gate::*;
use wgrs_proto::proto::inner::{self, InnerHeader, IpAddr, IPPROTO_TCP, IPPROTO_UDP};

const S: u64 = NSEC_PER_SEC;
const T0: u64 = 10_000 * S;
const AUTH: u16 = 8443;
const LOCAL: [u8; 4] = [10, 9, 0, 1];
const POLICY: GatePolicy = GatePolicy {
    idle_timeout: 300,
    max_session: 3600,
    auth_port: AUTH,
};

fn hdr(proto: u8, sport: u16, dport: u16) -> InnerHeader {
    InnerHeader {
        src: IpAddr::V4([10, 9, 0, 2]),
        dst: IpAddr::V4(LOCAL),
        protocol: proto,
        ports: Some((sport, dport)),
        ip_len: 40,
    }
}

#[test]
fn new_peers_start_locked_and_only_auth_port_passes() {
    let mut p = GatePeer::new(false);
    assert_eq!(p.state(), GateState::Locked);
    // (protocol, dst port, dst local, expected verdict)
    let table = [
        (IPPROTO_TCP, AUTH, true, Verdict::Pass),
        (IPPROTO_UDP, AUTH, true, Verdict::Pass),
        (IPPROTO_TCP, AUTH, false, Verdict::Drop), // forwarded elsewhere
        (IPPROTO_TCP, 22, true, Verdict::Drop),
        (1, AUTH, true, Verdict::Drop), // ICMP with "ports" never passes
        (IPPROTO_UDP, AUTH + 1, true, Verdict::Drop),
    ];
    for (i, (proto, dport, local, want)) in table.into_iter().enumerate() {
        let h = hdr(proto, 40000, dport);
        let d = p.inbound(&POLICY, T0 + i as u64 * 10 * S, Some(&h), local);
        assert_eq!(d.verdict, want, "case {i}");
    }
    assert_eq!(p.rx_dropped, 4);
    // Unparseable inner packet from a locked peer: dropped.
    assert_eq!(p.inbound(&POLICY, T0, None, true).verdict, Verdict::Drop);
    // Outbound: only from the auth port.
    assert_eq!(
        p.outbound(&POLICY, T0, Some(&hdr(IPPROTO_TCP, AUTH, 40000)))
            .verdict,
        Verdict::Pass
    );
    assert_eq!(
        p.outbound(&POLICY, T0, Some(&hdr(IPPROTO_TCP, 22, 40000)))
            .verdict,
        Verdict::Drop
    );
    assert_eq!(
        p.outbound(&POLICY, T0, Some(&hdr(1, AUTH, 0))).verdict,
        Verdict::Drop
    );
    assert_eq!(p.outbound(&POLICY, T0, None).verdict, Verdict::Drop);
    assert_eq!(p.tx_dropped, 3);
}

#[test]
fn exempt_and_gate_off_pass_everything() {
    let mut e = GatePeer::new(true);
    assert_eq!(
        e.inbound(&POLICY, T0, Some(&hdr(IPPROTO_TCP, 1, 22)), true)
            .verdict,
        Verdict::Pass
    );
    assert_eq!(e.outbound(&POLICY, T0, None).verdict, Verdict::Pass);
    let off = GatePolicy {
        idle_timeout: 0,
        ..POLICY
    };
    let mut p = GatePeer::new(false);
    assert_eq!(p.inbound(&off, T0, None, false).verdict, Verdict::Pass);
    assert_eq!(p.outbound(&off, T0, None).verdict, Verdict::Pass);
}

#[test]
fn authorize_then_idle_expiry() {
    let mut p = GatePeer::new(false);
    assert!(p.authorize(T0));
    assert!(!p.authorize(T0), "idempotent");
    let ssh = hdr(IPPROTO_TCP, 40000, 22);
    assert_eq!(
        p.inbound(&POLICY, T0 + 200 * S, Some(&ssh), true).verdict,
        Verdict::Pass
    );
    // Activity at T0+200 pushes the idle deadline.
    assert_eq!(p.next_deadline(&POLICY), Some(T0 + 500 * S));
    assert_eq!(p.tick(&POLICY, T0 + 500 * S - 1), None);
    assert_eq!(p.tick(&POLICY, T0 + 500 * S), Some(LockReason::Idle));
    assert_eq!(p.state(), GateState::Locked);
    assert_eq!(p.tick(&POLICY, T0 + 501 * S), None, "reported once");
}

#[test]
fn auth_port_traffic_is_not_activity() {
    let mut p = GatePeer::new(false);
    p.authorize(T0);
    let auth = hdr(IPPROTO_TCP, 40000, AUTH);
    for i in 1..=299 {
        p.inbound(&POLICY, T0 + i * S, Some(&auth), true);
    }
    let d = p.inbound(&POLICY, T0 + 300 * S, Some(&auth), true);
    assert_eq!(d.locked, Some(LockReason::Idle));
    assert_eq!(
        d.verdict,
        Verdict::Pass,
        "auth port still passes when locked"
    );
}

#[test]
fn max_session_expiry_despite_activity() {
    let mut p = GatePeer::new(false);
    p.authorize(T0);
    let ssh = hdr(IPPROTO_TCP, 40000, 22);
    let mut t = T0;
    while t < T0 + 3600 * S {
        let d = p.inbound(&POLICY, t, Some(&ssh), true);
        assert_eq!(d.verdict, Verdict::Pass);
        t += 60 * S;
    }
    let d = p.inbound(&POLICY, T0 + 3600 * S, Some(&ssh), true);
    assert_eq!(d.locked, Some(LockReason::MaxSession));
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn revoke_locks_and_knocks_are_rate_limited() {
    let mut p = GatePeer::new(false);
    p.authorize(T0);
    assert!(p.revoke());
    assert!(!p.revoke());
    let ssh = hdr(IPPROTO_TCP, 40000, 22);
    assert!(p.inbound(&POLICY, T0, Some(&ssh), true).knock);
    assert!(!p.inbound(&POLICY, T0 + 4 * S, Some(&ssh), true).knock);
    assert!(p.inbound(&POLICY, T0 + 5 * S, Some(&ssh), true).knock);
    // Authorized peers never knock.
    p.authorize(T0 + 6 * S);
    assert!(!p.inbound(&POLICY, T0 + 20 * S, Some(&ssh), true).knock);
}

#[test]
fn inbound_packet_parses_real_headers() {
    let mut p = GatePeer::new(false);
    let mut pkt = vec![0u8; 40];
    pkt[0] = 0x45;
    pkt[2..4].copy_from_slice(&40u16.to_be_bytes());
    pkt[9] = IPPROTO_TCP;
    pkt[12..16].copy_from_slice(&[10, 9, 0, 2]);
    pkt[16..20].copy_from_slice(&LOCAL);
    pkt[20..22].copy_from_slice(&40000u16.to_be_bytes());
    pkt[22..24].copy_from_slice(&AUTH.to_be_bytes());
    let local = |a: &IpAddr| *a == IpAddr::V4(LOCAL);
    assert_eq!(
        p.inbound_packet(&POLICY, T0, &pkt, local).verdict,
        Verdict::Pass
    );
    pkt[16..20].copy_from_slice(&[10, 9, 0, 3]);
    assert_eq!(
        p.inbound_packet(&POLICY, T0, &pkt, local).verdict,
        Verdict::Drop
    );
    assert!(inner::parse(&pkt).is_ok());
}

#[derive(Debug, Clone)]
enum Op {
    Authorize,
    Revoke,
    In(u8, u16, bool),
    Out(u8, u16),
    Tick,
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let port = prop_oneof![Just(AUTH), any::<u16>()];
    let proto = prop_oneof![Just(IPPROTO_TCP), Just(IPPROTO_UDP), any::<u8>()];
    prop_oneof![
        1 => Just(Op::Authorize),
        1 => Just(Op::Revoke),
        6 => (proto.clone(), port.clone(), any::<bool>()).prop_map(|(a, b, c)| Op::In(a, b, c)),
        3 => (proto, port).prop_map(|(a, b)| Op::Out(a, b)),
        1 => Just(Op::Tick),
        4 => (0u32..4000).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Fail closed: only authorize() moves Locked -> Authorized; a locked
    /// gated peer only passes auth-port traffic; an authorized peer is
    /// never past its deadlines when it passes traffic.
    #[test]
    fn gate_invariants(ops in prop::collection::vec(op(), 1..300), exempt in any::<bool>(),
                       idle in 0u32..1000, max in 0u32..5000) {
        let policy = GatePolicy { idle_timeout: idle, max_session: max, auth_port: AUTH };
        let mut p = GatePeer::new(exempt);
        let mut now = T0;
        let mut last_auth: Option<u64> = None;
        let mut last_activity: Option<u64> = None;
        for o in ops {
            let before = p.state();
            let mut authorized_by_call = false;
            match o {
                Op::Authorize => { p.authorize(now); authorized_by_call = true; last_auth = Some(now); last_activity = Some(now); }
                Op::Revoke => { p.revoke(); prop_assert_eq!(p.state(), GateState::Locked); }
                Op::In(proto, port, local) => {
                    let h = hdr(proto, 1, port);
                    let d = p.inbound(&policy, now, Some(&h), local);
                    let to_auth = local && (proto == IPPROTO_TCP || proto == IPPROTO_UDP) && port == AUTH;
                    if policy.enabled() && !exempt {
                        if p.state() == GateState::Locked {
                            prop_assert_eq!(d.verdict == Verdict::Pass, to_auth);
                        } else {
                            // Authorized and passing: must be within both limits.
                            let a = last_auth.unwrap();
                            if max != 0 { prop_assert!(now < a + u64::from(max) * S); }
                            prop_assert!(now < last_activity.unwrap() + u64::from(idle) * S);
                        }
                    } else {
                        prop_assert_eq!(d.verdict, Verdict::Pass);
                    }
                    if !to_auth { last_activity = Some(now); }
                }
                Op::Out(proto, port) => {
                    let h = hdr(proto, port, 1);
                    let d = p.outbound(&policy, now, Some(&h));
                    if policy.enabled() && !exempt && p.state() == GateState::Locked {
                        let from_auth = (proto == IPPROTO_TCP || proto == IPPROTO_UDP) && port == AUTH;
                        prop_assert_eq!(d.verdict == Verdict::Pass, from_auth);
                    }
                }
                Op::Tick => { p.tick(&policy, now); }
                Op::Advance(s) => { now += u64::from(s) * S / 10; }
            }
            if before == GateState::Locked && p.state() == GateState::Authorized {
                prop_assert!(authorized_by_call, "unlocked without authorize()");
            }
        }
    }
}
