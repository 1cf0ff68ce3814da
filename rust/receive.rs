// SPDX-License-Identifier: GPL-2.0

//! The receive path. Data messages are handled where they arrive (the UDP
//! socket's softirq): session lookup by index under RCU, in-place
//! decryption over the skb's scatter-gather list, the replay check, the
//! endpoint update, then the inner packet's checks and GRO delivery.
//! Handshake messages go to a bounded queue and a work item, off the fast
//! path; "under load" (a long queue) they must carry a cookie.

use crate::abstractions::crypto::KernelCrypto;
use crate::abstractions::netdev::ErrorCounter;
use crate::abstractions::rcu;
use crate::abstractions::skb::{DropReason, InnerError, SkBuff};
use crate::abstractions::time;
use crate::abstractions::udp::Endpoint;
use crate::device::Device;
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
use crate::gate;
use crate::send;
use crate::socket;
use crate::timers;
use crate::abstractions::rcu::RcuRc;
use core::sync::atomic::Ordering;
use kernel::sync::{Arc, ArcBorrow};

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
            consume_data(&dev, skb);
        }
        _ => Device::queue_handshake(dev, skb),
    }
}

/// Counts a received message of `len` bytes for the device and the peer.
fn rx_stats(peer: &Peer, len: u32) {
    peer.device.with_netdev(|d| d.count_rx(len));
    peer.rx_bytes.fetch_add(u64::from(len), Ordering::Relaxed);
}

fn consume_data(dev: &Device, mut skb: SkBuff) {
    // Only the header is linear (`pull_message`); the ciphertext and tag
    // may sit in page fragments (virtio-net delivers full-size frames so),
    // and `classify_len` already checked the total length.
    let Ok(hdr) = DataHeader::parse_header(skb.head()) else {
        skb.drop_with(DropReason::Truncated);
        return;
    };
    let kp = {
        let g = rcu::read_lock();
        peerlookup::index_keypair(&dev.index, hdr.receiver, &g)
    };
    let Some(kp) = kp else {
        skb.drop_with(DropReason::Unauthenticated);
        return;
    };
    let peer = &kp.peer;
    let now = time::now_ns();
    if peer.is_dead() || kp.kp.check_receive(hdr.counter, now).is_err() {
        skb.drop_with(DropReason::NoKey);
        return;
    }
    if !skb.decrypt(hdr.counter, kp.kp.receiving_key()) {
        skb.drop_with(DropReason::Unauthenticated);
        return;
    }
    if !kp.replay.lock().validate(hdr.counter) {
        skb.drop_with(DropReason::Unauthenticated);
        return;
    }
    let Some(ep) = skb.endpoint() else {
        skb.drop_with(DropReason::Invalid);
        return;
    };
    skb.reset_for_rx();
    data_done(peer, &kp, skb, &ep, now);
}

fn data_done(peer: &Arc<Peer>, kp: &RcuRc<Keypair>, mut skb: SkBuff, ep: &Endpoint, now: u64) {
    // Roaming: the endpoint follows authenticated packets, before any other
    // check can drop them.
    peer.set_endpoint(ep);
    if noise::received_with(peer, kp) {
        handshake_complete(peer);
        send::send_staged(peer);
    }
    keep_key_fresh(peer);
    // One pass over the timers (one lock) for everything this packet
    // tells them; a keepalive is not data.
    let keepalive = skb.len() == 0;
    timers::update(peer, |t, now| {
        t.any_authenticated_packet_received();
        t.any_authenticated_packet_traversal(now);
        if !keepalive {
            t.data_received(now);
        }
    });
    if keepalive {
        rx_stats(peer, DATA_MIN_LEN as u32);
        skb.consume();
        return;
    }
    let padded = skb.len();
    let ds = skb.cb().ds;
    let g = rcu::read_lock();
    let Some(netdev) = peer.device.netdev.get(&g) else {
        skb.drop_with(DropReason::Shutdown);
        return;
    };
    match skb.finish_inner(netdev, ds) {
        Ok(()) => {}
        Err(e) => {
            match e {
                InnerError::Type => netdev.count_error(ErrorCounter::RxFrame),
                InnerError::Size => netdev.count_error(ErrorCounter::RxLength),
                InnerError::NoMem => {}
            }
            skb.drop_with(DropReason::Invalid);
            return;
        }
    }
    // Cryptokey routing: the inner source must be one of this peer's.
    let routed = skb.ip_src().and_then(|src| peer.device.allowed.lookup(&src, &g));
    if !routed.is_some_and(|p| Arc::ptr_eq(p, peer)) {
        netdev.count_error(ErrorCounter::RxFrame);
        skb.drop_with(DropReason::SourceNotAllowed);
        return;
    }
    // The idle gate: what a locked peer sends reaches only the auth port.
    if !gate::inbound(peer, netdev, &mut skb, now) {
        netdev.count_rx_dropped(1);
        skb.drop_with(DropReason::Gate);
        return;
    }
    skb.gro_receive(&peer.device.gro);
    drop(g);
    rx_stats(peer, padded.saturating_add(DATA_MIN_LEN as u32));
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
