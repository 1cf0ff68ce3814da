// SPDX-License-Identifier: GPL-2.0

//! Sessions: the kernel's keypair object around the protocol core's
//! `Keypair`, and the rotation of a peer's three slots. The handshake
//! arithmetic itself is `proto::noise`; this file gives its results a home
//! (index table, slots published for the send path) and a lifetime.

use crate::abstractions::crypto::KernelCrypto;
use crate::abstractions::rcu::{self, RcuRc};
use crate::abstractions::sync::{new_spinlock_bh, SpinLockBh};
use crate::log::{ifname, lifetime};
use crate::peer::Peer;
use crate::peerlookup;
use crate::proto::cookie::PeerCookie;
use crate::proto::keypair::{self as pk, AsKeypair, Evicted, Keypairs};
use crate::proto::noise::Handshake;
use crate::proto::replay::ReplayCounter;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

static KEYPAIR_IDS: AtomicU64 = AtomicU64::new(0);

/// One session of a peer, shared by the send and receive paths.
#[pin_data(PinnedDrop)]
pub(crate) struct Keypair {
    /// Keys, indices, counters, validity (the protocol core's).
    pub(crate) kp: pk::Keypair,
    /// The receive replay window; the receive path takes it per packet.
    #[pin]
    pub(crate) replay: SpinLockBh<ReplayCounter>,
    /// The peer it belongs to (a cycle, broken when the peer's slots are
    /// cleared).
    pub(crate) peer: Arc<Peer>,
    /// For log lines, as the C driver's `internal_id`.
    pub(crate) id: u64,
    /// A responder's new session, not confirmed by a received packet yet.
    pub(crate) unconfirmed: AtomicBool,
}

#[pinned_drop]
impl PinnedDrop for Keypair {
    fn drop(self: Pin<&mut Self>) {
        lifetime!(
            "{}: Keypair {} destroyed for peer {}\n",
            ifname(&self.peer.ifname),
            self.id,
            self.peer.id
        );
    }
}

impl AsKeypair for RcuRc<Keypair> {
    fn keypair(&self) -> &pk::Keypair {
        &self.kp
    }
}

/// A peer's handshake state, under the peer's handshake mutex (process
/// context: handshake work and netlink).
pub(crate) struct PeerHandshake {
    /// Noise state.
    pub(crate) hs: Handshake,
    /// Our MACs on messages to the peer and its cookie for us.
    pub(crate) cookie: PeerCookie,
    /// The index registered for the handshake in progress, if any.
    pub(crate) index: Option<u32>,
}

/// Removes keypairs that left the slots from the index table; the last
/// reference goes when in-flight packets are done with them.
pub(crate) fn retire(peer: &Peer, evicted: Evicted<RcuRc<Keypair>>) {
    for kp in evicted {
        peerlookup::index_remove_keypair(&peer.device.index, &kp);
    }
}

/// Publishes the current slot for the send path (called with the slots'
/// lock held, so publications follow slot changes in order).
fn publish(peer: &Peer, slots: &Keypairs<RcuRc<Keypair>>) {
    drop(peer.current.swap(slots.current.clone()));
}

/// The handshake completed (we sent or consumed the response): derive the
/// session, give it the handshake's index, put it in the slots. Process
/// context, with the handshake mutex held.
pub(crate) fn begin_session(peer: &Arc<Peer>, st: &mut PeerHandshake, now: u64) -> Result {
    let idx = st.index.take().ok_or(EINVAL)?;
    let fail = |peer: &Arc<Peer>| peerlookup::index_remove_handshake(&peer.device.index, idx, peer);
    let kp = match st.hs.begin_session(&KernelCrypto, now) {
        Ok(kp) => kp,
        Err(_) => {
            fail(peer);
            return Err(EINVAL);
        }
    };
    let unconfirmed = !kp.i_am_the_initiator;
    let id = KEYPAIR_IDS.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let rc = match RcuRc::pin_init(
        pin_init!(Keypair {
            kp,
            replay <- new_spinlock_bh!(ReplayCounter::new(), "wgrs_replay"),
            peer: peer.clone(),
            id,
            unconfirmed: AtomicBool::new(unconfirmed),
        }),
        GFP_KERNEL,
    ) {
        Ok(rc) => rc,
        Err(e) => {
            fail(peer);
            return Err(e);
        }
    };
    let _guard = rcu::read_lock();
    if peer.is_dead() {
        drop(_guard);
        fail(peer);
        return Err(ENOENT);
    }
    drop(_guard);
    peerlookup::index_replace_with_keypair(&peer.device.index, idx, rc.clone()).inspect_err(|_| fail(peer))?;
    let evicted = {
        let mut slots = peer.keypairs.lock();
        let evicted = slots.add(rc.clone());
        publish(peer, &slots);
        evicted
    };
    lifetime!(
        "{}: Keypair {} created for peer {}\n",
        ifname(&peer.ifname),
        id,
        peer.id
    );
    retire(peer, evicted);
    Ok(())
}

/// A packet authenticated with `kp`: if it is the responder's unconfirmed
/// session, it becomes current. Returns whether it did (the caller then
/// completes the handshake and sends what waited). Any context.
pub(crate) fn received_with(peer: &Peer, kp: &RcuRc<Keypair>) -> bool {
    if !kp.unconfirmed.load(Ordering::Relaxed) || !kp.unconfirmed.swap(false, Ordering::AcqRel) {
        return false;
    }
    let (rotated, evicted) = {
        let mut slots = peer.keypairs.lock();
        match slots.lookup(kp.kp.local_index) {
            Some(slot @ pk::Slot::Next) if slots.next.as_ref().is_some_and(|n| RcuRc::ptr_eq(n, kp)) => {
                let r = slots.received_with(slot);
                publish(peer, &slots);
                r
            }
            _ => (false, Evicted([None, None, None])),
        }
    };
    retire(peer, evicted);
    rotated
}

/// Drops every session of the peer (`wg_noise_keypairs_clear`).
pub(crate) fn keypairs_clear(peer: &Peer) {
    let evicted = {
        let mut slots = peer.keypairs.lock();
        let e = slots.clear();
        publish(peer, &slots);
        e
    };
    retire(peer, evicted);
}

/// Forgets a handshake in progress and its index.
pub(crate) fn handshake_clear(peer: &Arc<Peer>, st: &mut PeerHandshake) {
    st.hs.clear();
    if let Some(idx) = st.index.take() {
        peerlookup::index_remove_handshake(&peer.device.index, idx, peer);
    }
}

/// The device's key changed: no handshake in progress survives, sending
/// stops on the current sessions (receiving continues until a new
/// handshake), and a new initiation may go out at once.
pub(crate) fn expire_current(peer: &Arc<Peer>, st: &mut PeerHandshake) {
    handshake_clear(peer, st);
    peer.timers.lock().t.reset_last_sent_handshake();
    peer.keypairs.lock().expire_sending();
}

/// The replay window as the receive path uses it (the protocol core's
/// `ReplayCounter` behind the keypair's bottom-half lock), checked with the
/// C driver's counter self-test table (drivers/net/wireguard/selftest/
/// counter.c), adapted to the 8192-bit window.
#[kunit_tests(wgrs_replay)]
mod replay_tests {
    use super::*;
    use crate::proto::constants::REJECT_AFTER_MESSAGES;
    use crate::proto::replay::COUNTER_WINDOW_SIZE;

    #[test]
    fn c_driver_case_table() {
        let Ok(lock) = KBox::pin_init(new_spinlock_bh!(ReplayCounter::new(), "wgrs_replay_test"), GFP_KERNEL) else {
            assert!(false);
            return;
        };
        let lim = COUNTER_WINDOW_SIZE + 1;
        let r = REJECT_AFTER_MESSAGES;
        let table: [(u64, bool); 35] = [
            (0, true), (1, true), (1, false), (9, true), (8, true), (7, true), (7, false),
            (lim, true), (lim - 1, true), (lim - 1, false), (lim - 2, true), (2, true),
            (2, false), (lim + 16, true), (3, false), (lim + 16, false), (lim * 4, true),
            (lim * 4 - (lim - 1), true), (10, false), (lim * 4 - lim, false),
            (lim * 4 - (lim + 1), false), (lim * 4 - (lim - 2), true),
            (lim * 4 + 1 - lim, false), (0, false), (r, false), (r - 1, true), (r, false),
            (r - 1, false), (r - 2, true), (r + 1, false), (r + 2, false), (r - 2, false),
            (r - 3, true), (0, false), (u64::MAX, false),
        ];
        for (i, (n, want)) in table.iter().enumerate() {
            let got = lock.lock().validate(*n);
            if got != *want {
                pr_err!("wgrs_replay: step {} counter {}: got {}\n", i + 1, n, got);
            }
            assert_eq!(got, *want);
        }
    }

    #[test]
    fn whole_window_in_any_order() {
        let Ok(lock) = KBox::pin_init(new_spinlock_bh!(ReplayCounter::new(), "wgrs_replay_test"), GFP_KERNEL) else {
            assert!(false);
            return;
        };
        let w = COUNTER_WINDOW_SIZE;
        // Backwards over the whole window, then everything is a replay.
        for i in (1..=w).rev() {
            assert!(lock.lock().validate(i));
        }
        assert!(lock.lock().validate(0));
        for i in 0..=w {
            assert!(!lock.lock().validate(i));
        }
        // One past the window's far end is too old once the top moves.
        assert!(lock.lock().validate(w + 1 + w));
        assert!(!lock.lock().validate(w));
    }
}
