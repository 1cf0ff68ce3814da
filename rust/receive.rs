// SPDX-License-Identifier: GPL-2.0

//! The receive path. Data messages go through four steps:
//!
//! 1. the UDP socket's callback (softirq) checks the message's type and
//!    length and queues it on this CPU's receive cell;
//! 2. the cell's NAPI poll, once the softirq has delivered everything it
//!    had, takes the whole run: it finds each message's session by index
//!    (one RCU read-side section for the run) and groups consecutive
//!    messages of one session;
//! 3. each group is decrypted right there, in place over the skb's
//!    scatter-gather list, or, when the `rx_handoff` module parameter asks
//!    for it and the group is long enough, becomes one job for the next
//!    CPU's crypt worker (one allocation, one peer reference and at most
//!    one wake-up per train), so a train of a peer's packets is decrypted
//!    on another CPU while this one receives the next;
//! 4. the peer's receive stage delivers the decrypted packets in arrival
//!    order ([`RxQueue`](crate::queueing::RxQueue) says who runs it): the
//!    replay window, the endpoint update, the timers and the handshake
//!    confirmation once per batch, then per packet the inner packet's
//!    checks, cryptokey routing, the gate and GRO.
//!
//! Handshake messages go to a bounded queue and per-CPU work items, off
//! the fast path; "under load" (a long queue) they must carry a cookie.

use crate::abstractions::crypto::KernelCrypto;
use crate::abstractions::netdev::ErrorCounter;
use crate::abstractions::rcu::{self, Guard, RcuRc};
use crate::abstractions::skb::{DropReason, InnerError, SkBuff, SkbList};
use crate::abstractions::sync::BhDisabled;
use crate::abstractions::time;
use crate::abstractions::workqueue::cond_resched;
use crate::device::Device;
use crate::gate;
use crate::noise::{self, Keypair};
use crate::peer::Peer;
use crate::peerlookup;
use crate::proto::cookie::{handshake_action, make_cookie, HandshakeAction, MacState};
use crate::proto::messages::{
    classify_len, CookieReply, DataHeader, Initiation, MessageKind, Response, DATA_MIN_LEN,
};
use crate::proto::noise::consume_initiation_begin;
use crate::proto::ratelimit::RateKey;
use crate::proto::util::le32;
use crate::queueing::{self, CryptJob, Direction};
use crate::send;
use crate::socket;
use crate::timers;
use core::sync::atomic::Ordering;
use kernel::sync::{Arc, ArcBorrow};

/// The most packets a receive cell's poll hands over at once (its NAPI
/// budget), so the largest group.
pub(crate) const RX_BATCH_MAX: u32 = 64;

/// The smallest group handed to a crypt worker; 0: none is (the default).
/// From the `rx_handoff` module parameter (0 or 2..=[`RX_BATCH_MAX`],
/// checked at load). Handing over costs a wake-up of another CPU; on the
/// two CPUs `make bench` runs on it made TCP slower than decrypting where
/// the packets arrive (performance.rst).
fn handoff_min() -> u32 {
    match *crate::module_parameters::rx_handoff.value() {
        0 => u32::MAX,
        n => n,
    }
}

/// A UDP packet arrived on one of the device's sockets.
pub(crate) fn packet(dev: ArcBorrow<'_, Device>, mut skb: SkBuff) {
    let Some((len, ds)) = skb.rx_prepare() else {
        skb.drop_with(DropReason::Invalid);
        return;
    };
    let Some(ty) = le32(skb.head(), 0) else {
        skb.drop_with(DropReason::Truncated);
        return;
    };
    let Ok(kind) = classify_len(ty, len as usize) else {
        skb.drop_with(DropReason::Invalid);
        return;
    };
    if !skb.pull_message(kind.header_len() as u32) {
        skb.drop_with(DropReason::Truncated);
        return;
    }
    match kind {
        MessageKind::Data => {
            let mut cb = skb.cb();
            cb.ds = ds;
            skb.set_cb(cb);
            if let Err(skb) = dev.rx_cells.queue(skb) {
                dev.with_netdev(|d| d.count_rx_dropped(1));
                skb.drop_with(DropReason::QueueFull);
            }
        }
        _ => Device::queue_handshake(dev, skb),
    }
}

/// A receive cell's poll: one softirq run's data messages (any peers, in
/// arrival order) grouped by session and handed on group by group.
pub(crate) fn data_batch(dev: &Device, mut packets: SkbList) {
    let now = time::now_ns();
    let g = rcu::read_lock();
    let mut group: Option<(RcuRc<Keypair>, SkbList)> = None;
    while let Some(mut skb) = packets.pop_front() {
        // Only the header is linear (`pull_message`); the ciphertext and
        // tag may sit in page fragments (virtio-net delivers full-size
        // frames so), and `classify_len` already checked the total length.
        let Ok(hdr) = DataHeader::parse_header(skb.head()) else {
            skb.drop_with(DropReason::Truncated);
            continue;
        };
        // Consecutive messages to one index belong to the session the
        // group holds: an index names one session while that session is in
        // the table, and a session replaced meanwhile under a reused index
        // only fails authentication, as it would a moment later.
        if group.as_ref().is_none_or(|(kp, _)| kp.kp.local_index != hdr.receiver) {
            if let Some((kp, list)) = group.take() {
                hand_over(kp, list, &g);
            }
            let Some(kp) = peerlookup::index_keypair(&dev.index, hdr.receiver, &g) else {
                skb.drop_with(DropReason::Unauthenticated);
                continue;
            };
            group = Some((kp, SkbList::new()));
        }
        let Some((kp, list)) = group.as_mut() else {
            skb.drop_with(DropReason::NoKey);
            continue;
        };
        if kp.peer.is_dead() || kp.kp.check_receive(hdr.counter, now).is_err() {
            skb.drop_with(DropReason::NoKey);
            continue;
        }
        let mut cb = skb.cb();
        cb.nonce = hdr.counter;
        skb.set_cb(cb);
        list.push_back(skb);
    }
    if let Some((kp, list)) = group {
        hand_over(kp, list, &g);
    }
}

/// One session's group from a receive run: decrypted here, or by a crypt
/// worker when it is at least `rx_handoff` long; delivered in order either
/// way. Softirq, inside
/// the RCU section in which the session was found (and its peer alive).
fn hand_over(kp: RcuRc<Keypair>, packets: SkbList, g: &Guard) {
    let n = packets.len();
    if n == 0 {
        return;
    }
    let peer = &kp.peer;
    let inline = n < handoff_min();
    if inline && peer.rx.lock().claim_idle() {
        // Nothing of this peer's is in flight: deliver straight away.
        let plain = packets.filter_map(|skb| decrypt_one(&kp, skb));
        deliver(peer, &kp, plain);
        run_stage(peer, false);
        return;
    }
    let peer = peer.clone();
    let dropped = |n: u32| {
        if let Some(d) = peer.device.netdev.get(g) {
            d.count_rx_dropped(n);
        }
    };
    let Ok(job) = CryptJob::new(kp, packets) else {
        dropped(n);
        return;
    };
    if let Err(job) = peer.rx.lock().push(job.clone()) {
        job.take_packets().purge(DropReason::QueueFull);
        dropped(n);
        return;
    }
    if inline || !queueing::submit(&peer.device, &peer, &job, Direction::Rx) {
        // Behind packets still in flight (or no worker could take it):
        // decrypted here, delivered after them.
        decrypt_job(&peer, &job, false);
    }
}

/// Authenticates and decrypts one data message in place (its counter is in
/// the control block); drops it (`None`) if that fails.
fn decrypt_one(kp: &Keypair, mut skb: SkBuff) -> Option<SkBuff> {
    if skb.decrypt(skb.cb().nonce, kp.kp.receiving_key()) {
        Some(skb)
    } else {
        skb.drop_with(DropReason::Unauthenticated);
        None
    }
}

/// A crypt worker's step (or the softirq's, see [`hand_over`]; only a
/// worker `may_sleep`): decrypt one job, then deliver whatever is done at
/// the head of the peer's queue unless another context is doing so.
pub(crate) fn decrypt_job(peer: &Arc<Peer>, job: &CryptJob, may_sleep: bool) {
    job.run_with(|skb| decrypt_one(&job.keypair, skb));
    if peer.rx.lock().claim() {
        run_stage(peer, may_sleep);
    }
}

/// The peer's receive stage, claimed by the caller: delivers the done jobs
/// at the head of its queue, then gives the stage up. `may_sleep`: called
/// from a worker, which yields between jobs (bottom halves are off only
/// per job).
fn run_stage(peer: &Arc<Peer>, may_sleep: bool) {
    loop {
        let Some(job) = peer.rx.lock().next_ready() else {
            break;
        };
        {
            // GRO cells are per CPU and fed with bottom halves off; what
            // they collect runs (as one GRO batch) when they come back on.
            let _bh = BhDisabled::new();
            deliver(peer, &job.keypair, job.take_packets());
        }
        if may_sleep {
            cond_resched();
        }
    }
}

/// Delivers decrypted packets of one session, in order: the replay window,
/// then, for what passed, the endpoint (the last packet's: roaming follows
/// authenticated packets, before any other check can drop them), the
/// session's confirmation, the timers, and per packet the inner checks,
/// cryptokey routing, the gate and GRO. Bottom halves off.
fn deliver(peer: &Arc<Peer>, kp: &RcuRc<Keypair>, mut packets: SkbList) {
    let mut valid = SkbList::new();
    let mut any_data = false;
    {
        let mut replay = kp.replay.lock();
        while let Some(skb) = packets.pop_front() {
            if replay.validate(skb.cb().nonce) {
                any_data |= skb.len() != 0;
                valid.push_back(skb);
            } else {
                skb.drop_with(DropReason::Unauthenticated);
            }
        }
    }
    if valid.is_empty() {
        return;
    }
    let now = time::now_ns();
    if let Some(ep) = valid.with_back(|skb| skb.endpoint()).flatten() {
        peer.set_endpoint(&ep);
    }
    if noise::received_with(peer, kp) {
        handshake_complete(peer);
        send::send_staged(peer);
    }
    keep_key_fresh(peer);
    // One pass over the timers (one lock) for everything the batch tells
    // them; a keepalive is not data.
    timers::update(peer, |t, now| {
        t.any_authenticated_packet_received();
        t.any_authenticated_packet_traversal(now);
        if any_data {
            t.data_received(now);
        }
    });
    let g = rcu::read_lock();
    let netdev = peer.device.netdev.get(&g);
    let (mut count, mut bytes) = (0u32, 0u64);
    while let Some(mut skb) = valid.pop_front() {
        let padded = skb.len();
        if padded == 0 {
            // A keepalive: counted, not delivered.
            count = count.wrapping_add(1);
            bytes = bytes.wrapping_add(u64::from(DATA_MIN_LEN as u32));
            skb.consume();
            continue;
        }
        let Some(netdev) = netdev else {
            skb.drop_with(DropReason::Shutdown);
            continue;
        };
        skb.reset_for_rx();
        let ds = skb.cb().ds;
        if let Err(e) = skb.finish_inner(netdev, ds) {
            match e {
                InnerError::Type => netdev.count_error(ErrorCounter::RxFrame),
                InnerError::Size => netdev.count_error(ErrorCounter::RxLength),
                InnerError::NoMem => {}
            }
            skb.drop_with(DropReason::Invalid);
            continue;
        }
        // Cryptokey routing: the inner source must be one of this peer's.
        let routed = skb.ip_src().and_then(|src| peer.device.allowed.lookup(&src, &g));
        if !routed.is_some_and(|p| Arc::ptr_eq(p, peer)) {
            netdev.count_error(ErrorCounter::RxFrame);
            skb.drop_with(DropReason::SourceNotAllowed);
            continue;
        }
        // The idle gate: what a locked peer sends reaches only the auth port.
        if !gate::inbound(peer, netdev, &mut skb, now) {
            netdev.count_rx_dropped(1);
            skb.drop_with(DropReason::Gate);
            continue;
        }
        skb.gro_receive(&peer.device.gro);
        count = count.wrapping_add(1);
        bytes = bytes.wrapping_add(u64::from(padded.saturating_add(DATA_MIN_LEN as u32)));
    }
    if count != 0 {
        if let Some(netdev) = netdev {
            netdev.count_rx(count, bytes);
        }
        peer.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Counts a received handshake message of `len` bytes for the device and
/// the peer.
fn rx_stats(peer: &Peer, len: u32) {
    peer.device.with_netdev(|d| d.count_rx(1, u64::from(len)));
    peer.rx_bytes.fetch_add(u64::from(len), Ordering::Relaxed);
}

/// The initiator starts a new handshake shortly before its session must be
/// dropped, while it still hears from the responder.
fn keep_key_fresh(peer: &Arc<Peer>) {
    let now = time::now_ns();
    let send = {
        let g = rcu::read_lock();
        let kp = peer.current.load(&g).map(|k| &k.kp);
        peer.timers.lock().t.keep_key_fresh_receive(kp, now)
    };
    if send {
        send::queue_handshake_initiation(peer, false);
    }
}

/// A handshake completed: timers, and the time `wg show` reports.
fn handshake_complete(peer: &Arc<Peer>) {
    timers::update(peer, |t, _| t.handshake_complete());
    peer.note_handshake_time();
}

/// A handshake worker's step: process one queued handshake message.
pub(crate) fn handshake_message(dev: &Arc<Device>, skb: SkBuff) {
    handshake_packet(dev, &skb);
    skb.consume();
    dev.handshake_done(1);
}

fn handshake_packet(dev: &Arc<Device>, skb: &SkBuff) {
    let msg = skb.head();
    let c = &KernelCrypto;
    let now = time::now_ns();
    let Some(ty) = le32(msg, 0) else { return };
    let Ok(kind) = classify_len(ty, msg.len()) else { return };
    if kind == MessageKind::CookieReply {
        let Ok(reply) = CookieReply::parse(msg) else { return };
        let peer = peerlookup::index_peer(&dev.index, reply.receiver, true, &rcu::read_lock());
        if let Some(peer) = peer {
            let _ = peer.hs.lock().cookie.consume_reply(c, &reply, now);
        }
        return;
    }
    let Some(ep) = skb.endpoint() else { return };
    let Some((src_ip, src_port)) = ep.ip_and_port() else { return };
    let qlen = dev.handshake_queue_len.load(Ordering::Relaxed) as usize;
    let under_load = dev.load.lock().update(qlen, crate::device::under_load_queue_len() as usize, now);

    // MACs first: only a message macced for our key goes on; under load it
    // must also carry the cookie its source address earns.
    let g = rcu::read_lock();
    let Some(id) = dev.identity.get(&g) else { return };
    let cookie = under_load.then(|| {
        let secret = dev.cookie_secret.lock().current(c, now);
        make_cookie(c, &secret, src_ip, src_port)
    });
    let mac = id.cookie.validate(c, msg, cookie.as_ref());
    let rate_ok = if under_load && mac == MacState::ValidMacWithCookie {
        match RateKey::from_bytes(src_ip) {
            Some(key) => dev.ratelimiter.lock().allow(key, now),
            None => false,
        }
    } else {
        true
    };
    let sender = le32(msg, 4).unwrap_or(0);
    match handshake_action(under_load, mac, rate_ok) {
        HandshakeAction::Drop => return,
        HandshakeAction::SendCookieReply => {
            let Some(cookie) = cookie else { return };
            let Ok(reply) = id.cookie.create_reply(c, msg, sender, &cookie) else { return };
            drop(g);
            let _ = socket::send_reply(dev.as_arc_borrow(), skb, &reply.to_bytes());
            return;
        }
        HandshakeAction::Process => {}
    }

    let peer = match kind {
        MessageKind::Initiation => {
            let Ok(init) = Initiation::parse(msg) else { return };
            let Ok(partial) = consume_initiation_begin(c, &id.noise, &init) else { return };
            let Some(peer) = peerlookup::pubkey_lookup(&dev.peers, &partial.remote_static, &g).cloned() else {
                return;
            };
            drop(g);
            {
                let mut st = peer.hs.lock();
                if st.hs.consume_initiation_finish(c, &partial, now).is_err() {
                    return;
                }
                peer.set_endpoint(&ep);
                send::send_handshake_response(&peer, &mut st);
            }
            peer
        }
        MessageKind::Response => {
            let Ok(resp) = Response::parse(msg) else { return };
            let Some(peer) = peerlookup::index_peer(&dev.index, resp.receiver, false, &g) else { return };
            drop(g);
            let began = {
                let mut st = peer.hs.lock();
                let consumed = {
                    let g = rcu::read_lock();
                    match dev.identity.get(&g) {
                        Some(id) => st.hs.consume_response(c, &id.noise, &resp).is_ok(),
                        None => false,
                    }
                };
                if !consumed {
                    return;
                }
                peer.set_endpoint(&ep);
                noise::begin_session(&peer, &mut st, now).is_ok()
            };
            if began {
                timers::update(&peer, |t, now| t.session_derived(now));
                handshake_complete(&peer);
                // Sends what waited, or a keepalive to confirm the session.
                send::send_keepalive(&peer);
            }
            peer
        }
        _ => return,
    };
    rx_stats(&peer, msg.len() as u32);
    timers::update(&peer, |t, now| {
        t.any_authenticated_packet_received();
        t.any_authenticated_packet_traversal(now);
    });
}
