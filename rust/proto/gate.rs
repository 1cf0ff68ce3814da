// SPDX-License-Identifier: GPL-2.0

//! The gate: per-peer second-factor state machine (Documentation/gate.rst).
//!
//! - Per device a [`GatePolicy`]: idle timeout (0 = gate off), maximum
//!   session (0 = none), auth port.
//! - Per peer a [`GatePeer`]: `Locked` or `Authorized`, `exempt`, activity
//!   and session times, drop counters, knock rate limiting.
//! - Fail closed: nothing here unlocks a peer except [`GatePeer::authorize`].
//! - Activity = an authenticated data packet received from the peer that
//!   carries an inner packet (not a keepalive) not addressed to the auth
//!   port. The caller must call [`GatePeer::inbound`] only for packets that
//!   authenticated (so knocks are only ever raised for them) and must not
//!   call it for keepalives.

use super::constants::NSEC_PER_SEC;
use super::inner::{self, InnerHeader, IpAddr, IPPROTO_TCP, IPPROTO_UDP};

/// Minimum interval between two knock events of one peer.
pub const KNOCK_INTERVAL_NS: u64 = 5 * NSEC_PER_SEC;

/// Device-wide gate settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatePolicy {
    /// Seconds of inactivity after which a peer is locked; 0 = gate off.
    pub idle_timeout: u32,
    /// Seconds after authorization after which a peer is locked; 0 = none.
    pub max_session: u32,
    /// TCP/UDP port of the authentication service on the device's addresses.
    pub auth_port: u16,
}

impl GatePolicy {
    /// Whether the gate is enabled.
    pub fn enabled(&self) -> bool {
        self.idle_timeout != 0
    }
}

/// Gate state of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    /// Only auth-port traffic passes.
    Locked,
    /// Everything passes.
    Authorized,
}

/// Why a peer became locked (the `peer-locked` event's reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReason {
    /// Idle longer than the idle timeout.
    Idle,
    /// Session older than max-session.
    MaxSession,
    /// Revoked by the administrator.
    Revoked,
    /// Newly added peer.
    New,
}

/// Pass or drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver / transmit.
    Pass,
    /// Drop and count (outbound: answer ICMP admin-prohibited).
    Drop,
}

/// Result of gating an inbound inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundDecision {
    /// What to do with the packet.
    pub verdict: Verdict,
    /// Emit a `peer-knock` event (rate limited per peer).
    pub knock: bool,
    /// The peer became locked while checking (emit `peer-locked`).
    pub locked: Option<LockReason>,
}

/// Result of gating an outbound inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundDecision {
    /// What to do with the packet.
    pub verdict: Verdict,
    /// The peer became locked while checking (emit `peer-locked`).
    pub locked: Option<LockReason>,
}

/// Per-peer gate state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatePeer {
    /// Exempt peers (site-to-site links) are never gated.
    pub exempt: bool,
    state: GateState,
    last_activity: Option<u64>,
    authorized_at: Option<u64>,
    last_knock: Option<u64>,
    /// Inbound packets dropped by the gate.
    pub rx_dropped: u64,
    /// Outbound packets dropped by the gate.
    pub tx_dropped: u64,
}

impl GatePeer {
    /// A new peer: locked (reason [`LockReason::New`]), whatever `exempt`.
    /// Exempt peers pass anyway.
    pub fn new(exempt: bool) -> Self {
        Self {
            exempt,
            state: GateState::Locked,
            last_activity: None,
            authorized_at: None,
            last_knock: None,
            rx_dropped: 0,
            tx_dropped: 0,
        }
    }

    /// Current state (after the last [`Self::tick`]).
    pub fn state(&self) -> GateState {
        self.state
    }

    /// Monotonic ns of the last activity.
    pub fn last_activity(&self) -> Option<u64> {
        self.last_activity
    }

    /// Monotonic ns of the authorization.
    pub fn authorized_at(&self) -> Option<u64> {
        self.authorized_at
    }

    /// When the session will expire by max-session (monotonic ns).
    pub fn session_expiry(&self, policy: &GatePolicy) -> Option<u64> {
        if self.state != GateState::Authorized {
            return None;
        }
        session_deadline(policy, self.authorized_at)
    }

    fn idle_expiry(&self, policy: &GatePolicy) -> Option<u64> {
        if self.state != GateState::Authorized {
            return None;
        }
        idle_deadline(policy, self.last_activity)
    }

    /// Whether the gate filters this peer's traffic at all.
    pub fn is_gated(&self, policy: &GatePolicy) -> bool {
        policy.enabled() && !self.exempt
    }

    /// The administrator (via the agent) authorized the peer.
    /// Returns `true` if the state changed (emit `peer-authorized`).
    pub fn authorize(&mut self, now: u64) -> bool {
        let changed = self.state != GateState::Authorized;
        self.state = GateState::Authorized;
        self.authorized_at = Some(now);
        self.last_activity = Some(now);
        changed
    }

    /// Revoke authorization. Returns `true` if the state changed.
    pub fn revoke(&mut self) -> bool {
        let changed = self.state != GateState::Locked;
        self.lock();
        changed
    }

    fn lock(&mut self) {
        self.state = GateState::Locked;
        self.authorized_at = None;
    }

    /// Apply expiry at `now`; returns the reason if the peer just became
    /// locked. Expiry applies whether or not the peer is currently gated, so
    /// a policy or exemption change cannot resurrect a stale authorization.
    pub fn tick(&mut self, policy: &GatePolicy, now: u64) -> Option<LockReason> {
        if self.state != GateState::Authorized {
            return None;
        }
        let reason = expired(policy, self.authorized_at, self.last_activity, now)?;
        self.lock();
        Some(reason)
    }

    /// Next time [`Self::tick`] may change the state.
    pub fn next_deadline(&self, policy: &GatePolicy) -> Option<u64> {
        match (self.session_expiry(policy), self.idle_expiry(policy)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Gate an inbound (received, authenticated, non-keepalive) inner packet.
    /// `hdr` is `None` when the packet could not be parsed. `dst_is_local`
    /// says whether the destination is an address of this device.
    pub fn inbound(
        &mut self,
        policy: &GatePolicy,
        now: u64,
        hdr: Option<&InnerHeader>,
        dst_is_local: bool,
    ) -> InboundDecision {
        let locked = self.tick(policy, now);
        let to_auth_port = hdr.is_some_and(|h| is_auth_dst(policy, h, dst_is_local));
        if !to_auth_port {
            // Activity is recorded whatever the state; it only matters while
            // authorized (authorize() resets it anyway).
            self.last_activity = Some(now);
        }
        if !self.is_gated(policy) || self.state == GateState::Authorized {
            return InboundDecision {
                verdict: Verdict::Pass,
                knock: false,
                locked,
            };
        }
        let knock = knock_due(self.last_knock, now);
        if knock {
            self.last_knock = Some(now);
        }
        if to_auth_port {
            InboundDecision {
                verdict: Verdict::Pass,
                knock,
                locked,
            }
        } else {
            self.rx_dropped = self.rx_dropped.saturating_add(1);
            InboundDecision {
                verdict: Verdict::Drop,
                knock,
                locked,
            }
        }
    }

    /// Convenience: parse `plaintext` and gate it; `is_local` tells whether
    /// an address belongs to the device.
    pub fn inbound_packet(
        &mut self,
        policy: &GatePolicy,
        now: u64,
        plaintext: &[u8],
        is_local: impl Fn(&IpAddr) -> bool,
    ) -> InboundDecision {
        let hdr = inner::parse(plaintext).ok();
        let local = hdr.as_ref().is_some_and(|h| is_local(&h.dst));
        self.inbound(policy, now, hdr.as_ref(), local)
    }

    /// Gate an outbound inner packet to this peer.
    pub fn outbound(
        &mut self,
        policy: &GatePolicy,
        now: u64,
        hdr: Option<&InnerHeader>,
    ) -> OutboundDecision {
        let locked = self.tick(policy, now);
        if !self.is_gated(policy) || self.state == GateState::Authorized {
            return OutboundDecision {
                verdict: Verdict::Pass,
                locked,
            };
        }
        if hdr.is_some_and(|h| is_auth_src(policy, h)) {
            OutboundDecision {
                verdict: Verdict::Pass,
                locked,
            }
        } else {
            self.tx_dropped = self.tx_dropped.saturating_add(1);
            OutboundDecision {
                verdict: Verdict::Drop,
                locked,
            }
        }
    }
}

/// Whether an inner packet goes to the auth service: local destination,
/// TCP or UDP, destination port == auth port.
pub fn is_auth_dst(policy: &GatePolicy, h: &InnerHeader, dst_is_local: bool) -> bool {
    dst_is_local
        && (h.protocol == IPPROTO_TCP || h.protocol == IPPROTO_UDP)
        && h.ports.is_some_and(|(_, dst)| dst == policy.auth_port)
}

/// Whether an outbound inner packet comes from the auth service: TCP or
/// UDP from the auth port (what a locked peer may still be sent).
pub fn is_auth_src(policy: &GatePolicy, h: &InnerHeader) -> bool {
    (h.protocol == IPPROTO_TCP || h.protocol == IPPROTO_UDP)
        && h.ports.is_some_and(|(src, _)| src == policy.auth_port)
}

/// Whether an inner packet's destination port is the auth port (TCP or
/// UDP); the destination must also be local for [`is_auth_dst`], which a
/// caller checks only when this holds.
pub fn to_auth_port(policy: &GatePolicy, h: &InnerHeader) -> bool {
    (h.protocol == IPPROTO_TCP || h.protocol == IPPROTO_UDP)
        && h.ports.is_some_and(|(_, dst)| dst == policy.auth_port)
}

/// When an authorized peer with this last activity goes idle (monotonic
/// ns); `None` without an idle timeout or activity.
pub fn idle_deadline(policy: &GatePolicy, last_activity: Option<u64>) -> Option<u64> {
    if policy.idle_timeout == 0 {
        return None;
    }
    last_activity
        .map(|a| a.saturating_add(u64::from(policy.idle_timeout).saturating_mul(NSEC_PER_SEC)))
}

/// When a session authorized at `authorized_at` ends by max-session.
pub fn session_deadline(policy: &GatePolicy, authorized_at: Option<u64>) -> Option<u64> {
    if policy.max_session == 0 {
        return None;
    }
    authorized_at
        .map(|a| a.saturating_add(u64::from(policy.max_session).saturating_mul(NSEC_PER_SEC)))
}

/// Whether an authorized peer must be locked at `now`, and why (the
/// session limit is checked first, as it is the harder one).
pub fn expired(
    policy: &GatePolicy,
    authorized_at: Option<u64>,
    last_activity: Option<u64>,
    now: u64,
) -> Option<LockReason> {
    if session_deadline(policy, authorized_at).is_some_and(|t| now >= t) {
        return Some(LockReason::MaxSession);
    }
    if idle_deadline(policy, last_activity).is_some_and(|t| now >= t) {
        return Some(LockReason::Idle);
    }
    None
}

/// The earliest time [`expired`] may change its answer.
pub fn next_expiry(
    policy: &GatePolicy,
    authorized_at: Option<u64>,
    last_activity: Option<u64>,
) -> Option<u64> {
    match (
        session_deadline(policy, authorized_at),
        idle_deadline(policy, last_activity),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether a knock event is due: at most one per [`KNOCK_INTERVAL_NS`].
pub fn knock_due(last_knock: Option<u64>, now: u64) -> bool {
    !matches!(last_knock, Some(t) if now.saturating_sub(t) < KNOCK_INTERVAL_NS)
}
