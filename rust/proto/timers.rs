// SPDX-License-Identifier: GPL-2.0

//! Per-peer timer *decisions* (timers.c and the keep-key-fresh checks of
//! send.c/receive.c), without any real timer: the caller reports events with
//! the current monotonic time, asks for [`PeerTimers::next_deadline`], arms
//! one kernel timer for it, and when it fires calls [`PeerTimers::poll`]
//! until it returns `None`, performing each returned [`TimerAction`].
//!
//! Jitter is an input (`jitter_ns`, use [`jitter_from_random`]) so that the
//! logic stays deterministic under test.

use super::constants::{
    KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES, NSEC_PER_SEC, REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES,
    REKEY_AFTER_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX_NS,
};
use super::keypair::{has_expired, AsKeypair};

/// Map 32 random bits to a jitter in `[0, REKEY_TIMEOUT_JITTER_MAX_NS)`.
pub fn jitter_from_random(r: u32) -> u64 {
    (u64::from(r).wrapping_mul(REKEY_TIMEOUT_JITTER_MAX_NS)) >> 32
}

const fn secs(s: u64) -> u64 {
    s.saturating_mul(NSEC_PER_SEC)
}

/// What the caller must do when a deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerAction {
    /// Handshake not answered in time: clear the endpoint's cached source
    /// and send a new initiation (`is_retry = true`).
    RetransmitInitiation,
    /// Too many attempts: drop staged packets (key zeroing is scheduled).
    GiveUp,
    /// Send an empty data packet (passive keepalive).
    SendKeepalive,
    /// We sent data but heard nothing back: new initiation (`is_retry = false`).
    NewHandshake,
    /// Nothing happened for 3 x REJECT_AFTER_TIME: clear handshake and keypairs.
    ZeroKeyMaterial,
    /// Persistent keepalive interval elapsed: send a keepalive.
    PersistentKeepalive,
}

/// The five timers of a peer plus their bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct PeerTimers {
    retransmit_handshake: Option<u64>,
    send_keepalive: Option<u64>,
    new_handshake: Option<u64>,
    zero_key_material: Option<u64>,
    persistent_keepalive: Option<u64>,
    /// Retransmissions of the current handshake so far.
    pub handshake_attempts: u32,
    need_another_keepalive: bool,
    sent_lastminute_handshake: bool,
    last_sent_handshake: Option<u64>,
    /// Persistent keepalive interval in seconds (0 = off).
    pub persistent_keepalive_interval: u16,
    /// Whether the device is up (`netif_running`); timers are inert when not.
    pub running: bool,
}

impl PeerTimers {
    /// Timers of a new peer on a running device.
    pub fn new(persistent_keepalive_interval: u16) -> Self {
        Self {
            persistent_keepalive_interval,
            running: true,
            ..Self::default()
        }
    }

    /// Device went down: disarm everything (`wg_timers_stop`).
    pub fn stop(&mut self) {
        self.retransmit_handshake = None;
        self.send_keepalive = None;
        self.new_handshake = None;
        self.zero_key_material = None;
        self.persistent_keepalive = None;
        self.running = false;
    }

    /// Earliest armed deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        [
            self.retransmit_handshake,
            self.send_keepalive,
            self.new_handshake,
            self.zero_key_material,
            self.persistent_keepalive,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn arm(&self, slot: &mut Option<u64>, at: u64) {
        if self.running {
            *slot = Some(at);
        }
    }

    /// Whether [`Self::data_sent`] would arm anything now, so that callers
    /// draw its random jitter only when it is used (as the C driver does).
    pub fn data_sent_arms(&self) -> bool {
        self.new_handshake.is_none() && self.running
    }

    /// A data packet (not a keepalive) was sent (`wg_timers_data_sent`).
    pub fn data_sent(&mut self, now: u64, jitter_ns: u64) {
        if self.new_handshake.is_none() && self.running {
            let at = now
                .saturating_add(secs(KEEPALIVE_TIMEOUT.saturating_add(REKEY_TIMEOUT)))
                .saturating_add(jitter_ns.min(REKEY_TIMEOUT_JITTER_MAX_NS));
            self.new_handshake = Some(at);
        }
    }

    /// A data packet (not a keepalive) was received (`wg_timers_data_received`).
    pub fn data_received(&mut self, now: u64) {
        if !self.running {
            return;
        }
        if self.send_keepalive.is_none() {
            self.send_keepalive = Some(now.saturating_add(secs(KEEPALIVE_TIMEOUT)));
        } else {
            self.need_another_keepalive = true;
        }
    }

    /// Any authenticated packet (data, keepalive or handshake) was sent.
    pub fn any_authenticated_packet_sent(&mut self) {
        self.send_keepalive = None;
    }

    /// Any authenticated packet was received.
    pub fn any_authenticated_packet_received(&mut self) {
        self.new_handshake = None;
    }

    /// Any authenticated packet went either way (persistent keepalive restart).
    pub fn any_authenticated_packet_traversal(&mut self, now: u64) {
        if self.persistent_keepalive_interval != 0 && self.running {
            self.persistent_keepalive =
                Some(now.saturating_add(secs(u64::from(self.persistent_keepalive_interval))));
        }
    }

    /// An initiation was sent (`wg_timers_handshake_initiated`).
    pub fn handshake_initiated(&mut self, now: u64, jitter_ns: u64) {
        let at = now
            .saturating_add(secs(REKEY_TIMEOUT))
            .saturating_add(jitter_ns.min(REKEY_TIMEOUT_JITTER_MAX_NS));
        let mut slot = self.retransmit_handshake;
        self.arm(&mut slot, at);
        self.retransmit_handshake = slot;
    }

    /// A handshake completed (`wg_timers_handshake_complete`).
    pub fn handshake_complete(&mut self) {
        self.retransmit_handshake = None;
        self.handshake_attempts = 0;
        self.sent_lastminute_handshake = false;
    }

    /// New session keys were derived (`wg_timers_session_derived`).
    pub fn session_derived(&mut self, now: u64) {
        let mut slot = self.zero_key_material;
        self.arm(
            &mut slot,
            now.saturating_add(secs(REJECT_AFTER_TIME.saturating_mul(3))),
        );
        self.zero_key_material = slot;
    }

    /// Should an initiation be sent now (`wg_packet_send_handshake_initiation`
    /// gating)? At most one per REKEY_TIMEOUT. Records the send when `true`;
    /// a non-retry resets the attempt counter.
    pub fn should_send_initiation(&mut self, now: u64, is_retry: bool) -> bool {
        if !is_retry {
            self.handshake_attempts = 0;
        }
        if let Some(last) = self.last_sent_handshake {
            if !has_expired(last, REKEY_TIMEOUT, now) {
                return false;
            }
        }
        self.last_sent_handshake = Some(now);
        true
    }

    /// Whether an initiation may be sent now: at most one per REKEY_TIMEOUT
    /// (checks only; [`Self::note_handshake_sent`] records one).
    pub fn initiation_allowed(&self, now: u64) -> bool {
        self.last_sent_handshake
            .is_none_or(|last| has_expired(last, REKEY_TIMEOUT, now))
    }

    /// A handshake message (initiation or response) was just sent: the
    /// next initiation waits REKEY_TIMEOUT from now.
    pub fn note_handshake_sent(&mut self, now: u64) {
        self.last_sent_handshake = Some(now);
    }

    /// Allow an initiation right away (`wg_noise_reset_last_sent_handshake`:
    /// the device went down, or its key changed).
    pub fn reset_last_sent_handshake(&mut self) {
        self.last_sent_handshake = None;
    }

    /// After sending with `kp`: does the key need refreshing (send.c
    /// `keep_key_fresh`)? Then send an initiation with `is_retry = false`.
    pub fn keep_key_fresh_send<K: AsKeypair>(&self, kp: Option<&K>, now: u64) -> bool {
        match kp.map(AsKeypair::keypair) {
            Some(k) => {
                k.can_send(now)
                    && (k.sending_counter() > REKEY_AFTER_MESSAGES
                        || (k.i_am_the_initiator
                            && has_expired(k.birthdate, REKEY_AFTER_TIME, now)))
            }
            None => false,
        }
    }

    /// After receiving with the current keypair (receive.c `keep_key_fresh`):
    /// the initiator starts a handshake shortly before the key is rejected.
    pub fn keep_key_fresh_receive<K: AsKeypair>(&mut self, kp: Option<&K>, now: u64) -> bool {
        let Some(k) = kp.map(AsKeypair::keypair) else {
            return false;
        };
        if !k.i_am_the_initiator || self.sent_lastminute_handshake {
            return false;
        }
        let limit = REJECT_AFTER_TIME
            .saturating_sub(KEEPALIVE_TIMEOUT)
            .saturating_sub(REKEY_TIMEOUT);
        if has_expired(k.birthdate, limit, now) {
            self.sent_lastminute_handshake = true;
            true
        } else {
            false
        }
    }

    /// Process one expired timer, if any, returning what to do. Call in a
    /// loop until `None`.
    pub fn poll(&mut self, now: u64) -> Option<TimerAction> {
        if !self.running {
            return None;
        }
        let due = |t: Option<u64>| t.is_some_and(|t| t <= now);
        if due(self.retransmit_handshake) {
            self.retransmit_handshake = None;
            if self.handshake_attempts > MAX_TIMER_HANDSHAKES {
                self.send_keepalive = None;
                if self.zero_key_material.is_none() {
                    self.zero_key_material =
                        Some(now.saturating_add(secs(REJECT_AFTER_TIME.saturating_mul(3))));
                }
                return Some(TimerAction::GiveUp);
            }
            self.handshake_attempts = self.handshake_attempts.saturating_add(1);
            return Some(TimerAction::RetransmitInitiation);
        }
        if due(self.send_keepalive) {
            self.send_keepalive = None;
            if self.need_another_keepalive {
                self.need_another_keepalive = false;
                self.send_keepalive = Some(now.saturating_add(secs(KEEPALIVE_TIMEOUT)));
            }
            return Some(TimerAction::SendKeepalive);
        }
        if due(self.new_handshake) {
            self.new_handshake = None;
            return Some(TimerAction::NewHandshake);
        }
        if due(self.zero_key_material) {
            self.zero_key_material = None;
            return Some(TimerAction::ZeroKeyMaterial);
        }
        if due(self.persistent_keepalive) {
            self.persistent_keepalive = None;
            if self.persistent_keepalive_interval != 0 {
                return Some(TimerAction::PersistentKeepalive);
            }
        }
        None
    }
}
