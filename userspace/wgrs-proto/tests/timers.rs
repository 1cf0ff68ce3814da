// SPDX-License-Identifier: GPL-2.0
//! Timer decisions: table-driven scenarios and property tests.

use proptest::prelude::*;
use wgrs_proto::proto::constants::*;
use wgrs_proto::proto::keypair::Keypair;
use wgrs_proto::proto::timers::{jitter_from_random, PeerTimers, TimerAction};

const S: u64 = NSEC_PER_SEC;
const T0: u64 = 1_000 * S;

fn drain(t: &mut PeerTimers, now: u64) -> Vec<TimerAction> {
    let mut v = Vec::new();
    while let Some(a) = t.poll(now) {
        v.push(a);
        assert!(v.len() < 16, "poll must terminate");
    }
    v
}

#[test]
fn constants() {
    assert_eq!(REKEY_AFTER_MESSAGES, 1 << 60);
    assert_eq!(REJECT_AFTER_MESSAGES, u64::MAX - 8192);
    assert_eq!(
        (REKEY_AFTER_TIME, REJECT_AFTER_TIME, REKEY_ATTEMPT_TIME),
        (120, 180, 90)
    );
    assert_eq!(
        (REKEY_TIMEOUT, KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES),
        (5, 10, 18)
    );
    assert_eq!(REKEY_TIMEOUT_JITTER_MAX_NS, 333_000_000);
    assert_eq!(jitter_from_random(0), 0);
    assert!(jitter_from_random(u32::MAX) < REKEY_TIMEOUT_JITTER_MAX_NS);
}

#[test]
fn retransmits_then_gives_up_after_90s_and_zeroes_keys_later() {
    let mut t = PeerTimers::new(0);
    let mut now = T0;
    assert!(t.should_send_initiation(now, false));
    t.handshake_initiated(now, 0);
    let mut sent = 1;
    loop {
        let d = t.next_deadline().unwrap();
        assert!(
            drain(&mut t, d - 1).is_empty(),
            "nothing before the deadline"
        );
        now = d;
        match drain(&mut t, now).as_slice() {
            [TimerAction::RetransmitInitiation] => {
                assert!(t.should_send_initiation(now, true));
                t.handshake_initiated(now, 100);
                sent += 1;
            }
            [TimerAction::GiveUp] => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // 1 + MAX_TIMER_HANDSHAKES + 1 initiations over ~ 20 * (5 s + jitter).
    assert_eq!(sent, MAX_TIMER_HANDSHAKES + 2);
    assert!(now - T0 >= (MAX_TIMER_HANDSHAKES as u64 + 1) * REKEY_TIMEOUT * S);
    // Zeroing scheduled 3 x REJECT_AFTER_TIME after giving up.
    assert_eq!(t.next_deadline(), Some(now + 3 * REJECT_AFTER_TIME * S));
    assert_eq!(
        drain(&mut t, now + 3 * REJECT_AFTER_TIME * S),
        vec![TimerAction::ZeroKeyMaterial]
    );
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn handshake_complete_stops_retransmission() {
    let mut t = PeerTimers::new(0);
    t.handshake_initiated(T0, 5);
    t.handshake_complete();
    t.session_derived(T0);
    assert_eq!(t.next_deadline(), Some(T0 + 540 * S));
    assert_eq!(t.handshake_attempts, 0);
}

#[test]
fn initiations_rate_limited_to_one_per_rekey_timeout() {
    let mut t = PeerTimers::new(0);
    assert!(t.should_send_initiation(T0, false));
    assert!(!t.should_send_initiation(T0 + 4 * S, false));
    assert!(!t.should_send_initiation(T0 + 5 * S - 1, true));
    assert!(t.should_send_initiation(T0 + 5 * S, false));
}

#[test]
fn passive_keepalive_after_receiving_without_sending() {
    let mut t = PeerTimers::new(0);
    t.data_received(T0);
    t.data_received(T0 + S); // needs another
    assert_eq!(t.next_deadline(), Some(T0 + 10 * S));
    assert_eq!(drain(&mut t, T0 + 10 * S), vec![TimerAction::SendKeepalive]);
    assert_eq!(t.next_deadline(), Some(T0 + 20 * S));
    // Sending anything authenticated cancels it.
    t.any_authenticated_packet_sent();
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn new_handshake_when_data_sent_but_nothing_heard() {
    let mut t = PeerTimers::new(0);
    t.data_sent(T0, 7);
    t.data_sent(T0 + 3 * S, 0); // does not re-arm
    assert_eq!(t.next_deadline(), Some(T0 + 15 * S + 7));
    t.any_authenticated_packet_received();
    assert_eq!(t.next_deadline(), None);
    t.data_sent(T0 + 20 * S, 0);
    assert_eq!(drain(&mut t, T0 + 35 * S), vec![TimerAction::NewHandshake]);
}

#[test]
fn persistent_keepalive() {
    let mut t = PeerTimers::new(25);
    t.any_authenticated_packet_traversal(T0);
    assert_eq!(t.next_deadline(), Some(T0 + 25 * S));
    assert_eq!(
        drain(&mut t, T0 + 25 * S),
        vec![TimerAction::PersistentKeepalive]
    );
    let mut off = PeerTimers::new(0);
    off.any_authenticated_packet_traversal(T0);
    assert_eq!(off.next_deadline(), None);
}

#[test]
fn stopped_device_has_no_timers() {
    let mut t = PeerTimers::new(25);
    t.data_received(T0);
    t.stop();
    t.data_received(T0);
    t.handshake_initiated(T0, 0);
    t.session_derived(T0);
    assert_eq!(t.next_deadline(), None);
    assert!(drain(&mut t, u64::MAX).is_empty());
}

#[test]
fn keep_key_fresh_rules() {
    let t = PeerTimers::new(0);
    let init = Keypair::new([1; 32], [2; 32], true, 1, 2, T0);
    let resp = Keypair::new([1; 32], [2; 32], false, 1, 2, T0);
    // Initiator rekeys after REKEY_AFTER_TIME, the responder does not.
    assert!(!t.keep_key_fresh_send(Some(&init), T0 + 119 * S));
    assert!(t.keep_key_fresh_send(Some(&init), T0 + 120 * S));
    assert!(!t.keep_key_fresh_send(Some(&resp), T0 + 120 * S));
    // Nobody sends after REJECT_AFTER_TIME.
    assert!(!t.keep_key_fresh_send(Some(&init), T0 + 180 * S));
    assert!(!t.keep_key_fresh_send(None::<&Keypair>, T0));
    // Receive side: last-minute handshake once, at 180 - 10 - 5 s.
    let mut t = PeerTimers::new(0);
    assert!(!t.keep_key_fresh_receive(Some(&init), T0 + 164 * S));
    assert!(t.keep_key_fresh_receive(Some(&init), T0 + 165 * S));
    assert!(!t.keep_key_fresh_receive(Some(&init), T0 + 166 * S));
    assert!(!t.keep_key_fresh_receive(Some(&resp), T0 + 166 * S));
    t.handshake_complete();
    assert!(t.keep_key_fresh_receive(Some(&init), T0 + 166 * S));
}

#[derive(Debug, Clone)]
enum Ev {
    DataSent(u32),
    DataReceived,
    AuthSent,
    AuthReceived,
    Traversal,
    Initiated(u32),
    Complete,
    Derived,
    Advance(u32),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        any::<u32>().prop_map(Ev::DataSent),
        Just(Ev::DataReceived),
        Just(Ev::AuthSent),
        Just(Ev::AuthReceived),
        Just(Ev::Traversal),
        any::<u32>().prop_map(Ev::Initiated),
        Just(Ev::Complete),
        Just(Ev::Derived),
        (0u32..200_000).prop_map(Ev::Advance),
    ]
}

proptest! {
    /// poll never fires early, deadlines are never in the past relative to
    /// when they were armed, and everything fires once its deadline passed.
    #[test]
    fn deadlines_are_consistent(evs in prop::collection::vec(ev(), 1..200), ka in 0u16..60) {
        let mut t = PeerTimers::new(ka);
        let mut now = T0;
        for e in evs {
            match e {
                Ev::DataSent(r) => t.data_sent(now, jitter_from_random(r)),
                Ev::DataReceived => t.data_received(now),
                Ev::AuthSent => t.any_authenticated_packet_sent(),
                Ev::AuthReceived => t.any_authenticated_packet_received(),
                Ev::Traversal => t.any_authenticated_packet_traversal(now),
                Ev::Initiated(r) => t.handshake_initiated(now, jitter_from_random(r)),
                Ev::Complete => t.handshake_complete(),
                Ev::Derived => t.session_derived(now),
                Ev::Advance(ms) => {
                    let target = now + u64::from(ms) * 1_000_000;
                    while let Some(d) = t.next_deadline() {
                        if d > target { break; }
                        prop_assert!(d >= now || d >= T0, "deadline in the past");
                        if d > now {
                            prop_assert!(t.poll(d - 1).is_none(), "fired early");
                        }
                        now = now.max(d);
                        let mut n = 0;
                        while t.poll(now).is_some() { n += 1; prop_assert!(n < 16); }
                        prop_assert!(t.next_deadline().is_none_or(|d2| d2 > now), "all due timers handled");
                    }
                    now = target;
                }
            }
            prop_assert!(t.handshake_attempts <= MAX_TIMER_HANDSHAKES + 1);
        }
    }
}
