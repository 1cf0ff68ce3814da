// SPDX-License-Identifier: GPL-2.0

//! The peer's timers: the protocol core decides (`proto::timers`), one
//! kernel timer per peer fires at the earliest deadline, and this file
//! carries out what the core says when it does.

use crate::abstractions::skb::DropReason;
use crate::abstractions::time;
use crate::abstractions::timer::Timer;
use crate::abstractions::rcu;
use crate::log::{ifname, lifetime};
use crate::peer::{Peer, CLEAR_WORK};
use crate::proto::constants::{KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES, REKEY_TIMEOUT};
use crate::proto::timers::{jitter_from_random, PeerTimers, TimerAction};
use crate::send;
use kernel::sync::Arc;

/// A peer's timer decisions and when the kernel timer is set to fire.
pub(crate) struct TimerState {
    pub(crate) t: PeerTimers,
    armed_at: Option<u64>,
}

impl TimerState {
    pub(crate) fn new(t: PeerTimers) -> Self {
        Self { t, armed_at: None }
    }
}

/// Random jitter for handshake retries, as the C driver adds.
pub(crate) fn jitter() -> u64 {
    jitter_from_random(time::random_u32())
}

/// Makes the kernel timer fire no later than the earliest deadline. A
/// deadline that moved later lets the timer fire early; it then re-arms.
fn rearm(peer: &Arc<Peer>, st: &mut TimerState, now: u64) {
    if let Some(next) = st.t.next_deadline() {
        if st.armed_at.is_none_or(|a| next < a) {
            Timer::arm_in(peer, next.saturating_sub(now));
            st.armed_at = Some(next);
        }
    }
}

/// Reports an event to the timer logic.
pub(crate) fn update(peer: &Arc<Peer>, f: impl FnOnce(&mut PeerTimers, u64)) {
    let now = time::now_ns();
    let mut st = peer.timers.lock();
    f(&mut st.t, now);
    rearm(peer, &mut st, now);
}

/// The device came up: timers may run.
pub(crate) fn start(peer: &Arc<Peer>) {
    peer.timers.lock().t.running = true;
}

/// The device went down: every timer off until it comes up again.
pub(crate) fn stop(peer: &Arc<Peer>) {
    {
        let mut st = peer.timers.lock();
        st.t.stop();
        st.armed_at = None;
    }
    Timer::cancel_sync(peer);
}

/// The kernel timer fired (softirq context).
pub(crate) fn expired(peer: &Arc<Peer>) {
    let now = time::now_ns();
    let mut actions = [None; 6];
    {
        let mut st = peer.timers.lock();
        st.armed_at = None;
        for slot in actions.iter_mut() {
            match st.t.poll(now) {
                Some(a) => *slot = Some(a),
                None => break,
            }
        }
        rearm(peer, &mut st, now);
    }
    for action in actions.into_iter().flatten() {
        perform(peer, action);
    }
}

fn perform(peer: &Arc<Peer>, action: TimerAction) {
    match action {
        TimerAction::RetransmitInitiation => {
            lifetime!(
                "{}: Peer {}: no handshake response within {} seconds, sending initiation again (attempt {})\n",
                ifname(&peer.ifname),
                peer.id,
                REKEY_TIMEOUT,
                peer.timers.lock().t.handshake_attempts.saturating_add(1)
            );
            // The cached source may be why nothing gets through.
            peer.clear_endpoint_src();
            send::queue_handshake_initiation(peer, true);
        }
        TimerAction::GiveUp => {
            lifetime!(
                "{}: Peer {}: handshake given up after {} attempts\n",
                ifname(&peer.ifname),
                peer.id,
                MAX_TIMER_HANDSHAKES.saturating_add(2)
            );
            // Nothing waits for a handshake that will not come.
            let n = peer.staged.lock().purge(DropReason::Purged);
            if let Some(dev) = peer.device.netdev.get(&rcu::read_lock()) {
                dev.count_tx_dropped(n);
            }
        }
        TimerAction::SendKeepalive | TimerAction::PersistentKeepalive => send::send_keepalive(peer),
        TimerAction::NewHandshake => {
            lifetime!(
                "{}: Peer {}: sent data but heard nothing back for {} seconds, starting a new handshake\n",
                ifname(&peer.ifname),
                peer.id,
                KEEPALIVE_TIMEOUT.saturating_add(REKEY_TIMEOUT)
            );
            peer.clear_endpoint_src();
            send::queue_handshake_initiation(peer, false);
        }
        TimerAction::ZeroKeyMaterial => {
            // Needs the handshake mutex: done in process context.
            let _guard = rcu::read_lock();
            if !peer.is_dead() {
                let _ = peer.device.wq_handshake_tx.enqueue::<Arc<Peer>, CLEAR_WORK>(peer.clone());
            }
        }
    }
}
