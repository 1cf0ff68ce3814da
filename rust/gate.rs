// SPDX-License-Identifier: GPL-2.0

//! The gate in the data path: a peer idle for longer than the device's
//! idle timeout (or past its maximum session) is locked, and a locked
//! peer's inner packets pass only to and from the auth port on the device's
//! own addresses (`Documentation/gate.rst`). The decisions (what is
//! activity, what reaches the auth service, when a session ends, when a
//! knock is due) are the protocol core's (`proto::gate`); this file keeps
//! the state where the data path reads it without locks, runs expiry from
//! a timer and a work item, and sends the notifications.
//!
//! Cost per packet: gate off, one load and a branch; an authorized peer,
//! a few loads, a look at the inner header's ports (auth-port traffic is
//! not activity) and a store of the activity time when the coarse clock
//! moved; a locked peer, also the address check and a counter. No lock,
//! allocation or clock read beyond the one the receive path already makes;
//! the send path reads no clock (expiry is the timer's job).
//!
//! Locking: state changes (authorize, revoke, expiry) take the device
//! gate's spinlock, so each sends its notification exactly once; the data
//! path only reads the state and stores activity, knock times and counters.
//! Process-context callers hold RTNL (so the ifindex they report is the
//! device's); the knock, sent from softirq, reads it without (see
//! `NetDevice::ifindex_racy`).

use crate::abstractions::genetlink::{gate as g, Event, Msg};
use crate::abstractions::netdev::{NetDevice, Rtnl};
use crate::abstractions::rcu;
use crate::abstractions::skb::SkBuff;
use crate::abstractions::sync::{new_spinlock_bh, SpinLockBh};
use crate::abstractions::time;
use crate::abstractions::timer::Timer;
use crate::device::{Config, Device};
use crate::peer::Peer;
use crate::proto::constants::{NSEC_PER_MSEC, NSEC_PER_SEC};
use crate::proto::gate::{self as pg, GatePolicy, LockReason};
use crate::proto::inner::{self, InnerHeader, IpAddr};
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Work item id of the expiry work inside a [`Device`].
pub(crate) const GATE_WORK: u64 = 1;

/// Bytes of an inner packet made linear before looking at its headers:
/// IPv6 with a few extension headers, then the ports.
const INNER_HEADERS: u32 = 128;

/// Longest idle timeout and session accepted: a year.
pub(crate) const MAX_SECONDS: u32 = 365 * 24 * 3600;

/// The expiry work runs at most this often.
const MIN_EXPIRY_INTERVAL_NS: u64 = NSEC_PER_SEC / 10;

/// A device's policy, counters and expiry bookkeeping.
#[pin_data]
pub(crate) struct DeviceGate {
    /// Seconds; 0 = gate off. Read first by the data path.
    idle_timeout: AtomicU32,
    max_session: AtomicU32,
    auth_port: AtomicU16,
    /// Notifications that could not be delivered.
    events_lost: AtomicU64,
    /// Bumped by every change of gate state (dumps compare it).
    generation: AtomicU32,
    /// When the expiry timer is set to fire (ns), 0 = not set.
    scheduled: AtomicU64,
    /// Serialises state transitions (authorize, revoke, expiry, policy).
    #[pin]
    lock: SpinLockBh<()>,
}

impl DeviceGate {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            idle_timeout: AtomicU32::new(0),
            max_session: AtomicU32::new(0),
            auth_port: AtomicU16::new(0),
            events_lost: AtomicU64::new(0),
            generation: AtomicU32::new(0),
            scheduled: AtomicU64::new(0),
            lock <- new_spinlock_bh!((), "wgrs_gate"),
        })
    }

    /// The policy now.
    pub(crate) fn policy(&self) -> GatePolicy {
        GatePolicy {
            idle_timeout: self.idle_timeout.load(Ordering::Acquire),
            max_session: self.max_session.load(Ordering::Relaxed),
            auth_port: self.auth_port.load(Ordering::Relaxed),
        }
    }

    /// Whether the gate is on (one load: what the data path checks first).
    pub(crate) fn enabled(&self) -> bool {
        self.idle_timeout.load(Ordering::Acquire) != 0
    }

    pub(crate) fn events_lost(&self) -> u64 {
        self.events_lost.load(Ordering::Relaxed)
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation.load(Ordering::Relaxed)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }
}

fn opt(t: u64) -> Option<u64> {
    (t != 0).then_some(t)
}

/// A peer's gate state, read by the data path without locks; its state
/// (`authorized`, `reason`, `authorized_at`) changes under the device
/// gate's lock, the rest by single stores.
pub(crate) struct PeerGate {
    exempt: AtomicBool,
    authorized: AtomicBool,
    /// `gate::LOCK_REASON_*` while locked.
    reason: AtomicU8,
    /// Monotonic ns (0 = never).
    last_activity: AtomicU64,
    authorized_at: AtomicU64,
    last_knock: AtomicU64,
    rx_dropped: AtomicU64,
    tx_dropped: AtomicU64,
}

/// A peer's gate state as a dump reports it.
pub(crate) struct PeerGateView {
    pub(crate) exempt: bool,
    pub(crate) authorized: bool,
    pub(crate) reason: u8,
    pub(crate) idle_ms: Option<u64>,
    pub(crate) authorized_age_ms: Option<u64>,
    pub(crate) session_remaining_ms: Option<u64>,
    pub(crate) rx_dropped: u64,
    pub(crate) tx_dropped: u64,
}

fn reason_code(r: LockReason) -> u8 {
    match r {
        LockReason::Idle => g::LOCK_REASON_IDLE,
        LockReason::MaxSession => g::LOCK_REASON_MAX_SESSION,
        LockReason::Revoked => g::LOCK_REASON_REVOKED,
        LockReason::New => g::LOCK_REASON_NEW,
    }
}

impl PeerGate {
    /// A new peer: locked (reason "new"), not exempt.
    pub(crate) fn new() -> Self {
        Self {
            exempt: AtomicBool::new(false),
            authorized: AtomicBool::new(false),
            reason: AtomicU8::new(g::LOCK_REASON_NEW),
            last_activity: AtomicU64::new(0),
            authorized_at: AtomicU64::new(0),
            last_knock: AtomicU64::new(0),
            rx_dropped: AtomicU64::new(0),
            tx_dropped: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_exempt(&self) -> bool {
        self.exempt.load(Ordering::Relaxed)
    }

    /// Whether an authorized peer's session has run out at `now` (before
    /// the expiry work got to it).
    fn expired(&self, policy: &GatePolicy, now: u64) -> Option<LockReason> {
        pg::expired(
            policy,
            opt(self.authorized_at.load(Ordering::Relaxed)),
            opt(self.last_activity.load(Ordering::Relaxed)),
            now,
        )
    }

    fn next_expiry(&self, policy: &GatePolicy) -> Option<u64> {
        pg::next_expiry(
            policy,
            opt(self.authorized_at.load(Ordering::Relaxed)),
            opt(self.last_activity.load(Ordering::Relaxed)),
        )
    }

    pub(crate) fn view(&self, policy: &GatePolicy, now: u64) -> PeerGateView {
        let authorized = self.authorized.load(Ordering::Acquire);
        let last = opt(self.last_activity.load(Ordering::Relaxed));
        let at = opt(self.authorized_at.load(Ordering::Relaxed)).filter(|_| authorized);
        let ms = |ns: u64| ns / NSEC_PER_MSEC;
        PeerGateView {
            exempt: self.is_exempt(),
            authorized,
            reason: self.reason.load(Ordering::Relaxed),
            idle_ms: last.map(|l| ms(now.saturating_sub(l))),
            authorized_age_ms: at.map(|a| ms(now.saturating_sub(a))),
            session_remaining_ms: pg::session_deadline(policy, at).map(|d| ms(d.saturating_sub(now))),
            rx_dropped: self.rx_dropped.load(Ordering::Relaxed),
            tx_dropped: self.tx_dropped.load(Ordering::Relaxed),
        }
    }

    /// Whether a knock is due at `now`, claiming it if so: of any number
    /// of concurrent callers, one per `KNOCK_INTERVAL_NS` gets `true`.
    fn take_knock(&self, now: u64) -> bool {
        let last = self.last_knock.load(Ordering::Relaxed);
        // 0 means "never"; a knock at time 0 is stored as 1.
        pg::knock_due(opt(last), now)
            && self.last_knock.compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// Records activity at `now`; the coarse clock moves once a tick, so
    /// most packets find the value current and do not write the line.
    fn note_activity(&self, now: u64) {
        if self.last_activity.load(Ordering::Relaxed) != now {
            self.last_activity.store(now, Ordering::Relaxed);
        }
    }
}

/// Whether `addr` is one of the device's own addresses.
fn is_local(dev: &NetDevice, addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => dev.has_addr_v4(a),
        IpAddr::V6(a) => dev.has_addr_v6(a),
    }
}

/// The inner packet's headers (made linear first).
fn headers(skb: &mut SkBuff) -> Option<InnerHeader> {
    if !skb.pull_headers(INNER_HEADERS) {
        return None;
    }
    inner::parse_prefix(skb.head(), skb.len() as usize).ok()
}

/// A received, authenticated, decrypted inner packet from `peer`, already
/// past the allowed-IPs source check (keepalives never come here): deliver
/// it? Records activity and knocks. Softirq context, RCU read side.
pub(crate) fn inbound(peer: &Arc<Peer>, netdev: &NetDevice, skb: &mut SkBuff, now: u64) -> bool {
    let dev = &peer.device;
    if !dev.gate.enabled() {
        return true;
    }
    let pgate = &peer.gate;
    if pgate.is_exempt() {
        return true;
    }
    let policy = dev.gate.policy();
    let hdr = headers(skb);
    let to_auth = hdr.as_ref().is_some_and(|h| pg::to_auth_port(&policy, h) && is_local(netdev, &h.dst));
    if !to_auth {
        // Recorded in every state; it counts only while authorized
        // (authorize starts afresh).
        pgate.note_activity(now);
    }
    if pgate.authorized.load(Ordering::Acquire) {
        if pgate.expired(&policy, now).is_none() {
            return true;
        }
        // Past its deadline: the expiry work makes it official (event).
        kick(dev, 0);
    }
    knock(peer, netdev, hdr.as_ref(), now);
    if to_auth {
        return true;
    }
    pgate.rx_dropped.fetch_add(1, Ordering::Relaxed);
    false
}

/// An inner packet to send to `peer`: may it go? The caller answers a
/// refused one with ICMP administratively prohibited and counts it for the
/// device. Any context.
pub(crate) fn outbound(peer: &Peer, netdev: &NetDevice, skb: &mut SkBuff) -> bool {
    let dev = &peer.device;
    if !dev.gate.enabled() {
        return true;
    }
    let pgate = &peer.gate;
    if pgate.is_exempt() || pgate.authorized.load(Ordering::Acquire) {
        return true;
    }
    let policy = dev.gate.policy();
    // From the auth service: its port, on one of the device's addresses
    // (not something forwarded from elsewhere that happens to use it).
    let _rcu = rcu::read_lock();
    if headers(skb).is_some_and(|h| pg::is_auth_src(&policy, &h) && is_local(netdev, &h.src)) {
        return true;
    }
    pgate.tx_dropped.fetch_add(1, Ordering::Relaxed);
    false
}

/// At most one knock per peer per `KNOCK_INTERVAL_NS`, whatever the packet
/// rate or the number of CPUs: only the CPU that moves `last_knock` sends.
fn knock(peer: &Arc<Peer>, netdev: &NetDevice, hdr: Option<&InnerHeader>, now: u64) {
    if !peer.gate.take_knock(now) {
        return;
    }
    let ep = *peer.endpoint.lock();
    let mut src = [0u8; 16];
    let src_len = match hdr.map(|h| &h.src) {
        Some(IpAddr::V4(a)) => {
            src[..4].copy_from_slice(a);
            4
        }
        Some(IpAddr::V6(a)) => {
            src = *a;
            16
        }
        None => 0,
    };
    send_event(&peer.device, netdev, netdev.ifindex_racy(), g::CMD_PEER_KNOCK, peer, true, |m| {
        if let Some(sa) = ep.sockaddr() {
            m.put(g::A_PEER_ENDPOINT, sa)?;
        }
        if src_len != 0 {
            m.put(g::A_PEER_INNER_SOURCE, &src[..src_len])?;
        }
        Ok(())
    });
}

/// Multicasts `cmd` about `peer` to the listeners in the device's
/// namespace (nobody listening is fine); a notification that cannot be
/// built or delivered is counted in `events-lost`.
fn send_event(
    dev: &Device,
    netdev: &NetDevice,
    ifindex: u32,
    cmd: u32,
    peer: &Peer,
    atomic: bool,
    extra: impl FnOnce(&mut Msg<'_>) -> Result,
) {
    let built = (|| -> Result<Event> {
        let mut ev = Event::new(cmd, atomic).ok_or(ENOMEM)?;
        {
            let mut m = ev.msg();
            m.put_u32(g::A_DEVICE_IFINDEX, ifindex)?;
            let nest = m.nest_start(g::A_DEVICE_PEER)?;
            m.put(g::A_PEER_PUBLIC_KEY, &peer.public_key)?;
            if cmd == g::CMD_PEER_LOCKED {
                m.put_u8(g::A_PEER_LOCK_REASON, peer.gate.reason.load(Ordering::Relaxed))?;
            }
            extra(&mut m)?;
            m.nest_end(nest);
        }
        Ok(ev)
    })();
    if built.and_then(|ev| ev.send(netdev.net())).is_err() {
        dev.gate.events_lost.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends `cmd` about `peer` from process context (RTNL held; the message
/// is allocated atomically, inside the RCU section that finds the device).
fn notify(dev: &Device, rtnl: &Rtnl, cmd: u32, peer: &Peer) {
    let g_ = rcu::read_lock();
    if let Some(netdev) = dev.netdev.get(&g_) {
        send_event(dev, netdev, netdev.ifindex(rtnl), cmd, peer, true, |_| Ok(()));
    }
}

/// A peer was just created: with the gate on it starts locked, and
/// listeners hear so.
pub(crate) fn peer_created(dev: &Device, rtnl: &Rtnl, peer: &Peer) {
    if dev.gate.enabled() {
        notify(dev, rtnl, g::CMD_PEER_LOCKED, peer);
    }
}

/// Sets the exempt flag of a peer. A peer that loses it while locked and
/// the gate is on is announced as locked.
pub(crate) fn set_exempt(dev: &Arc<Device>, rtnl: &Rtnl, peer: &Peer, exempt: bool) {
    let (gated_again, locked) = {
        let _g = dev.gate.lock.lock();
        let was = peer.gate.exempt.swap(exempt, Ordering::Relaxed);
        dev.gate.bump();
        (was && !exempt, !peer.gate.authorized.load(Ordering::Acquire))
    };
    if gated_again && dev.gate.enabled() {
        if locked {
            notify(dev, rtnl, g::CMD_PEER_LOCKED, peer);
        } else {
            // Its session may have run out while it was exempt (nothing
            // recorded its activity meanwhile).
            kick(dev, 0);
        }
    }
}

/// Changes the policy (what is given). No peer changes state: turning the
/// gate off stops enforcing, turning it on again enforces what each peer's
/// state is then (and announces every locked, gated peer, so listeners
/// know who is locked without a dump). Sessions that ran out meanwhile are
/// locked by the expiry work, scheduled here.
pub(crate) fn set_policy(dev: &Arc<Device>, rtnl: &Rtnl, cfg: &Config, idle: Option<u32>, max: Option<u32>, port: Option<u16>) {
    let was_on = {
        let _g = dev.gate.lock.lock();
        let was_on = dev.gate.enabled();
        if let Some(p) = port {
            dev.gate.auth_port.store(p, Ordering::Relaxed);
        }
        if let Some(m) = max {
            dev.gate.max_session.store(m, Ordering::Relaxed);
        }
        if let Some(i) = idle {
            // Last, with release: a reader that sees the gate on sees the
            // rest of the policy.
            dev.gate.idle_timeout.store(i, Ordering::Release);
        }
        dev.gate.bump();
        was_on
    };
    if !was_on && dev.gate.enabled() {
        for (_, peer) in cfg.peers.iter() {
            if !peer.gate.is_exempt() && !peer.gate.authorized.load(Ordering::Acquire) {
                notify(dev, rtnl, g::CMD_PEER_LOCKED, peer);
            }
        }
    }
    kick(dev, 0);
}

/// Authorizes a peer: its session starts now, which counts as activity.
/// Sends `peer-authorized` if it was locked. Process context, RTNL held.
pub(crate) fn authorize(dev: &Arc<Device>, rtnl: &Rtnl, peer: &Peer) {
    let now = time::now_ns();
    let was_locked = {
        let _g = dev.gate.lock.lock();
        peer.gate.authorized_at.store(now, Ordering::Relaxed);
        peer.gate.last_activity.store(now, Ordering::Relaxed);
        peer.gate.reason.store(0, Ordering::Relaxed);
        let was_locked = !peer.gate.authorized.swap(true, Ordering::AcqRel);
        dev.gate.bump();
        was_locked
    };
    if was_locked {
        notify(dev, rtnl, g::CMD_PEER_AUTHORIZED, peer);
    }
    if let Some(next) = peer.gate.next_expiry(&dev.gate.policy()) {
        kick(dev, next.saturating_sub(now));
    }
}

/// Locks a peer now (reason "revoked", also when it was locked already).
/// Sends `peer-locked` if it was authorized.
pub(crate) fn revoke(dev: &Device, rtnl: &Rtnl, peer: &Peer) {
    if lock_peer(dev, peer, LockReason::Revoked) {
        notify(dev, rtnl, g::CMD_PEER_LOCKED, peer);
    }
}

/// Locks `peer` for `reason`; whether it was authorized. A revoke also
/// restates the reason of a peer that was locked already.
fn lock_peer(dev: &Device, peer: &Peer, reason: LockReason) -> bool {
    let _g = dev.gate.lock.lock();
    let was = peer.gate.authorized.swap(false, Ordering::AcqRel);
    if was || reason == LockReason::Revoked {
        peer.gate.reason.store(reason_code(reason), Ordering::Relaxed);
        peer.gate.authorized_at.store(0, Ordering::Relaxed);
        dev.gate.bump();
    }
    was
}

/// Makes the expiry timer fire within `delay_ns` (never later than it is
/// set to already).
fn kick(dev: &Arc<Device>, delay_ns: u64) {
    let at = time::now_ns().saturating_add(delay_ns);
    let cur = dev.gate.scheduled.load(Ordering::Relaxed);
    if cur != 0 && cur <= at {
        return;
    }
    dev.gate.scheduled.store(at, Ordering::Relaxed);
    Timer::arm_in(dev, delay_ns);
}

/// The expiry timer fired (softirq): the work item does the rest.
pub(crate) fn timer_fired(dev: Arc<Device>) {
    dev.gate.scheduled.store(0, Ordering::Relaxed);
    // Already queued: it will see this deadline too.
    let _ = dev.wq_gate.enqueue::<Arc<Device>, GATE_WORK>(dev.clone());
}

/// Locks every authorized peer whose session ran out, one `peer-locked`
/// each, and sets the timer for the next deadline. The work item; also run
/// before a dump so that it shows no stale authorization.
pub(crate) fn expire_all(dev: &Arc<Device>) {
    let rtnl = Rtnl::lock();
    let cfg = dev.config.lock();
    expire_locked(dev, &rtnl, &cfg);
}

/// [`expire_all`] for a caller that holds RTNL and the device update lock.
pub(crate) fn expire_locked(dev: &Arc<Device>, rtnl: &Rtnl, cfg: &Config) {
    // Off: nothing is enforced, so nothing expires; turning it on again
    // runs this.
    if !dev.gate.enabled() {
        return;
    }
    let now = time::now_ns();
    let policy = dev.gate.policy();
    let mut next: Option<u64> = None;
    for (_, peer) in cfg.peers.iter() {
        // Exempt peers record no activity: they are left as they are.
        if peer.gate.is_exempt() || !peer.gate.authorized.load(Ordering::Acquire) {
            continue;
        }
        match peer.gate.expired(&policy, now) {
            Some(reason) => {
                if lock_peer(dev, peer, reason) {
                    notify(dev, rtnl, g::CMD_PEER_LOCKED, peer);
                }
            }
            None => {
                if let Some(d) = peer.gate.next_expiry(&policy) {
                    next = Some(next.map_or(d, |n| n.min(d)));
                }
            }
        }
    }
    if let Some(n) = next {
        kick(dev, n.saturating_sub(now).max(MIN_EXPIRY_INTERVAL_NS));
    }
}

#[kunit_tests(wgrs_gate)]
mod tests {
    use super::*;
    use crate::proto::gate::KNOCK_INTERVAL_NS;

    const T0: u64 = 1000 * NSEC_PER_SEC;

    fn policy(idle: u32, max: u32) -> GatePolicy {
        GatePolicy { idle_timeout: idle, max_session: max, auth_port: 8080 }
    }

    /// A new peer is locked ("new"), has no activity, no session.
    #[test]
    fn new_peer_is_locked() {
        let p = PeerGate::new();
        let v = p.view(&policy(60, 0), T0);
        assert!(!v.authorized);
        assert_eq!(v.reason, g::LOCK_REASON_NEW);
        assert!(v.idle_ms.is_none() && v.authorized_age_ms.is_none() && v.session_remaining_ms.is_none());
        assert!(!v.exempt);
    }

    /// Idle and session deadlines as the data path and the expiry work see
    /// them, in the kernel's atomics (0 = never).
    #[test]
    fn deadlines() {
        let p = PeerGate::new();
        p.authorized_at.store(T0, Ordering::Relaxed);
        p.note_activity(T0);
        let idle = policy(2, 0);
        assert!(p.expired(&idle, T0 + 2 * NSEC_PER_SEC - 1).is_none());
        assert_eq!(p.expired(&idle, T0 + 2 * NSEC_PER_SEC), Some(LockReason::Idle));
        // Activity moves the idle deadline, never the session's.
        p.note_activity(T0 + NSEC_PER_SEC);
        assert!(p.expired(&idle, T0 + 2 * NSEC_PER_SEC).is_none());
        let both = policy(2, 3);
        p.note_activity(T0 + 3 * NSEC_PER_SEC - 1);
        assert_eq!(p.expired(&both, T0 + 3 * NSEC_PER_SEC), Some(LockReason::MaxSession));
        assert_eq!(p.next_expiry(&both), Some(T0 + 3 * NSEC_PER_SEC));
        // The dump's view: remaining session time, idle age, in ms.
        p.authorized.store(true, Ordering::Relaxed);
        let v = p.view(&both, T0 + NSEC_PER_SEC);
        assert_eq!(v.session_remaining_ms, Some(2000));
        assert_eq!(v.authorized_age_ms, Some(1000));
        // Gate off (idle 0) with no session limit: nothing ever expires.
        assert!(p.expired(&policy(0, 0), u64::MAX).is_none());
    }

    /// However many packets arrive, one knock per interval is claimed.
    #[test]
    fn knocks_are_rate_limited() {
        let p = PeerGate::new();
        let mut claimed = 0u32;
        let mut t = T0;
        // 10,000 packets over 12 seconds.
        for _ in 0..10_000 {
            if p.take_knock(t) {
                claimed += 1;
            }
            t += 12 * NSEC_PER_SEC / 10_000;
        }
        assert_eq!(claimed, 3);
        assert!(!p.take_knock(t));
        assert!(p.take_knock(t + KNOCK_INTERVAL_NS));
        // A knock at time 0 still counts as one.
        let q = PeerGate::new();
        assert!(q.take_knock(0));
        assert!(!q.take_knock(1));
    }
}
