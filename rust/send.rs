// SPDX-License-Identifier: GPL-2.0

//! The send path: from `ndo_start_xmit` to a peer's staged queue, nonces
//! taken together for everything staged (`send_staged`), then the peer's
//! serial transmit stage (a work item, one per peer, never concurrent with
//! itself) encrypts and sends in nonce order. Handshake messages are built
//! and sent from work items too, never in the transmit path.

use crate::abstractions::crypto::KernelCrypto;
use crate::abstractions::errno;
use crate::abstractions::netdev::{ErrorCounter, NetDevice};
use crate::abstractions::rcu;
use crate::abstractions::skb::{DropReason, PacketCb, SkBuff, SkbList};
use crate::abstractions::time;
use crate::device::Device;
use crate::gate;
use crate::noise::{self, PeerHandshake};
use crate::peer::{Peer, HANDSHAKE_WORK, TX_WORK};
use crate::peerlookup;
use crate::proto::messages::padding_len;
use crate::proto::noise::tai64n;
use crate::noise::Keypair;
use crate::queueing::{CryptWorker, TxJob, MAX_STAGED_PACKETS};
use crate::abstractions::rcu::RcuRc;
use crate::abstractions::sync::BhDisabled;
use crate::socket::{self, HANDSHAKE_DSCP};
use crate::timers::{self, jitter};
use kernel::prelude::*;
use kernel::sync::Arc;

/// `ndo_start_xmit`: find the peer by destination, split GSO packets, stage
/// them, and try to send.
pub(crate) fn xmit(device: &Device, dev: &NetDevice, mut skb: SkBuff) -> Result {
    let Some(dst) = skb.ip_dst() else {
        dev.count_error(ErrorCounter::TxErrors);
        skb.drop_with(DropReason::Invalid);
        return Err(errno::eprotonosupport());
    };
    let peer = {
        let g = rcu::read_lock();
        device.allowed.lookup(&dst, &g).cloned()
    };
    let Some(peer) = peer else {
        skb.icmp_unreachable();
        dev.count_error(ErrorCounter::TxErrors);
        skb.drop_with(DropReason::NoRoute);
        return Err(errno::enokey());
    };
    // The idle gate: a locked peer is sent only what its auth service
    // answers.
    if !gate::outbound(&peer, dev, &mut skb) {
        skb.icmp_prohibited();
        dev.count_tx_dropped(1);
        skb.drop_with(DropReason::Gate);
        // The sender learns of it from the ICMP error (gate.rst), not
        // from sendmsg.
        return Ok(());
    }
    if peer.endpoint.lock().family() == 0 {
        skb.icmp_unreachable();
        dev.count_error(ErrorCounter::TxErrors);
        skb.drop_with(DropReason::NoKey);
        return Err(errno::edestaddrreq());
    }
    let mtu = skb.route_mtu(dev);
    let mut segs = match skb.segment() {
        Ok(segs) => segs,
        Err((e, skb)) => {
            skb.icmp_unreachable();
            dev.count_error(ErrorCounter::TxErrors);
            skb.drop_with(DropReason::Invalid);
            return Err(e);
        }
    };
    let mut packets = SkbList::new();
    while let Some(mut s) = segs.pop_front() {
        s.set_cb(PacketCb { mtu, ..PacketCb::default() });
        packets.push_back(s);
    }
    let mut dropped = 0u32;
    {
        let mut staged = peer.staged.lock();
        // Too much waiting: the oldest go first, before the new segments
        // are added (so a GSO burst stays whole).
        while staged.len() > MAX_STAGED_PACKETS {
            if let Some(old) = staged.pop_front() {
                old.drop_with(DropReason::QueueFull);
                dropped += 1;
            }
        }
        staged.append(&mut packets);
    }
    if dropped != 0 {
        dev.count_tx_dropped(dropped);
    }
    send_staged(&peer);
    Ok(())
}

/// Sends what is staged if there is a usable session: every packet gets its
/// nonce now, and the batch goes to the peer's transmit stage. Without a
/// session the packets stay staged and a handshake is started. Any context.
pub(crate) fn send_staged(peer: &Arc<Peer>) {
    let mut packets = core::mem::replace(&mut *peer.staged.lock(), SkbList::new());
    if packets.is_empty() {
        return;
    }
    let now = time::now_ns();
    let kp = peer.current.get(&rcu::read_lock());
    if let Some(kp) = kp.filter(|k| k.kp.sending_valid()) {
        let mut ready = SkbList::new();
        let mut ok = true;
        while let Some(mut skb) = packets.pop_front() {
            match kp.kp.next_nonce(now) {
                Ok(nonce) => {
                    let mut cb = skb.cb();
                    cb.nonce = nonce;
                    cb.keepalive = u8::from(skb.len() == 0);
                    cb.ds = if skb.len() == 0 { 0 } else { skb.outer_ds() };
                    skb.set_cb(cb);
                    ready.push_back(skb);
                }
                Err(_) => {
                    // Expired or exhausted: all of them wait for a new one.
                    packets.prepend(&mut ready);
                    packets.push_back(skb);
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            queue_job(peer, kp, ready);
            return;
        }
        packets.prepend(&mut ready);
    }
    // Waiting for a handshake: do not hold up the senders' socket memory.
    let mut back = SkbList::new();
    while let Some(mut skb) = packets.pop_front() {
        skb.orphan();
        back.push_back(skb);
    }
    peer.staged.lock().prepend(&mut back);
    queue_handshake_initiation(peer, false);
}

/// Hands packets that have their nonces to the pipeline: the job goes to
/// the peer's serial queue (order) and to the next CPU's crypt worker
/// (parallel encryption). Any context.
fn queue_job(peer: &Arc<Peer>, keypair: RcuRc<Keypair>, packets: SkbList) {
    let n = packets.len();
    let g = rcu::read_lock();
    let dev = &peer.device;
    let dropped = |n: u32| {
        if let Some(d) = dev.netdev.get(&g) {
            d.count_tx_dropped(n);
        }
    };
    if peer.is_dead() {
        drop(packets);
        return;
    }
    let Ok(job) = TxJob::new(keypair, packets) else {
        dropped(n);
        return;
    };
    if let Err(job) = peer.tx.lock().push(job.clone()) {
        job.take_packets().purge(DropReason::QueueFull);
        dropped(n);
        return;
    }
    if job.inline {
        // The serial stage encrypts it (not dead: checked in this section).
        let _ = dev.wq_crypt.enqueue::<Arc<Peer>, TX_WORK>(peer.clone());
        return;
    }
    let cpu = dev.crypt.next_cpu();
    let queued = match dev.crypt.worker(cpu) {
        Some(w) => match w.push(peer.clone(), job.clone()) {
            Ok(()) => {
                // Already queued (or running and about to look again):
                // it will find this job.
                let _ = dev.wq_crypt.enqueue_on::<Arc<CryptWorker>, 0>(cpu, w.clone());
                true
            }
            Err(_) => false,
        },
        None => false,
    };
    drop(g);
    if !queued {
        // No worker could take it (memory): encrypt it here, in order all
        // the same, since the serial stage sends by queue position.
        encrypt_job(peer, &job);
    }
}

/// A crypt worker's step: encrypt one job in place, then let the peer's
/// serial stage send whatever is ready at the head of its queue.
pub(crate) fn encrypt_job(peer: &Arc<Peer>, job: &TxJob) {
    encrypt_packets(job);
    let _g = rcu::read_lock();
    if !peer.is_dead() {
        let _ = peer.device.wq_crypt.enqueue::<Arc<Peer>, TX_WORK>(peer.clone());
    }
}

/// Encrypts a job's packets in place (dropping any that cannot be) and
/// marks it encrypted.
fn encrypt_packets(job: &TxJob) {
    let kp = &job.keypair.kp;
    job.encrypt_with(|mut skb| {
        let cb = skb.cb();
        let padding = padding_len(skb.len() as usize, cb.mtu as usize) as u32;
        if skb.encrypt(padding, cb.nonce, kp.remote_index, kp.sending_key()) {
            Some(skb)
        } else {
            skb.drop_with(DropReason::NoMem);
            None
        }
    });
}

/// The peer's serial transmit stage (work item): send the encrypted jobs at
/// the head of its queue, in order; stop at the first one a crypt worker
/// still has (its worker queues this stage again when done).
pub(crate) fn tx_worker(peer: &Arc<Peer>) {
    loop {
        let Some(job) = peer.tx.lock().pop_ready() else {
            break;
        };
        if job.inline {
            encrypt_packets(&job);
        }
        let mut packets = job.take_packets();
        // The timers hear about the data *before* it leaves. The C driver
        // arms its new-handshake timer after sending; but the answer can be
        // processed on another CPU before this one returns from the send
        // (the bottom half it raises runs the receiver right here), and a
        // receipt that comes before the arming leaves the timer armed with
        // nothing to cancel it: a needless handshake 15 s later.
        let has_data = packets.iter_cb().any(|cb| cb.keepalive == 0);
        timers::update(peer, |t, now| {
            t.any_authenticated_packet_traversal(now);
            t.any_authenticated_packet_sent();
            if has_data && t.data_sent_arms() {
                t.data_sent(now, jitter());
            }
        });
        {
            // The whole job leaves with bottom halves off: what the sends
            // raise (a local receiver's backlog, the qdisc) runs once for
            // the job, so the receiving side sees it as one batch (GRO).
            let _bh = BhDisabled::new();
            while let Some(skb) = packets.pop_front() {
                let cb = skb.cb();
                let _ = socket::send_skb(peer, skb, cb.ds);
            }
        }
        keep_key_fresh(peer);
    }
}

/// After sending: start a new handshake when the key gets old (by time as
/// the initiator, or by messages).
fn keep_key_fresh(peer: &Arc<Peer>) {
    let now = time::now_ns();
    let send = {
        let g = rcu::read_lock();
        let kp = peer.current.load(&g).map(|k| &k.kp);
        peer.timers.lock().t.keep_key_fresh_send(kp, now)
    };
    if send {
        queue_handshake_initiation(peer, false);
    }
}

/// An empty data packet: confirms a session or keeps NAT state alive.
pub(crate) fn send_keepalive(peer: &Arc<Peer>) {
    {
        let mut staged = peer.staged.lock();
        if staged.is_empty() {
            let g = rcu::read_lock();
            let Some(dev) = peer.device.netdev.get(&g) else {
                return;
            };
            let Some(mut skb) = SkBuff::alloc_keepalive(dev) else {
                return;
            };
            skb.set_cb(PacketCb { mtu: dev.mtu(), ..PacketCb::default() });
            staged.push_back(skb);
        }
    }
    send_staged(peer);
}

/// Queues the sending of an initiation (rate limited to one per
/// REKEY_TIMEOUT). Any context.
pub(crate) fn queue_handshake_initiation(peer: &Arc<Peer>, is_retry: bool) {
    let now = time::now_ns();
    {
        let mut st = peer.timers.lock();
        if !is_retry {
            st.t.handshake_attempts = 0;
        }
        if !st.t.initiation_allowed(now) {
            return;
        }
    }
    let _g = rcu::read_lock();
    if peer.is_dead() {
        return;
    }
    let _ = peer.device.wq_handshake_tx.enqueue::<Arc<Peer>, HANDSHAKE_WORK>(peer.clone());
}

/// Work item: build and send an initiation.
pub(crate) fn send_handshake_initiation(peer: &Arc<Peer>) {
    let now = time::now_ns();
    {
        let mut st = peer.timers.lock();
        if !st.t.initiation_allowed(now) {
            return;
        }
        st.t.note_handshake_sent(now);
    }
    let dev = &peer.device;
    if !dev.identity.is_set() {
        return;
    }
    let packet = {
        let mut st = peer.hs.lock();
        let Ok(idx) = peerlookup::index_register_handshake(&dev.index, peer, st.index) else {
            return;
        };
        st.index = Some(idx);
        let (sec, nsec) = time::wall_clock();
        let ts = tai64n(u64::try_from(sec).unwrap_or(0), u32::try_from(nsec).unwrap_or(0));
        let msg = {
            let g = rcu::read_lock();
            let Some(id) = dev.identity.get(&g) else {
                return;
            };
            st.hs.create_initiation(&KernelCrypto, &id.noise, idx, &ts)
        };
        let Ok(msg) = msg else {
            return;
        };
        let mut bytes = msg.to_bytes();
        if st.cookie.add_macs(&KernelCrypto, &mut bytes, now).is_err() {
            return;
        }
        bytes
    };
    // The retransmission timer is armed before the initiation leaves (the
    // C driver arms it after sending): the response can be processed
    // before this thread runs again (the responder's work may preempt it
    // on this CPU), and a handshake that completed before the arming
    // would leave the timer set, for a needless initiation 5 s later.
    timers::update(peer, |t, now| {
        t.any_authenticated_packet_traversal(now);
        t.any_authenticated_packet_sent();
        t.note_handshake_sent(now);
        t.handshake_initiated(now, jitter());
    });
    let _ = socket::send_buffer(peer, &packet, HANDSHAKE_DSCP);
}

/// Answers a consumed initiation and derives the session (handshake mutex
/// held; process context).
pub(crate) fn send_handshake_response(peer: &Arc<Peer>, st: &mut PeerHandshake) {
    let now = time::now_ns();
    peer.timers.lock().t.note_handshake_sent(now);
    let Ok(idx) = peerlookup::index_register_handshake(&peer.device.index, peer, st.index) else {
        return;
    };
    st.index = Some(idx);
    let Ok(msg) = st.hs.create_response(&KernelCrypto, idx) else {
        return;
    };
    let mut bytes = msg.to_bytes();
    if st.cookie.add_macs(&KernelCrypto, &mut bytes, now).is_err() {
        return;
    }
    if noise::begin_session(peer, st, now).is_err() {
        return;
    }
    timers::update(peer, |t, now| {
        t.session_derived(now);
        t.any_authenticated_packet_traversal(now);
        t.any_authenticated_packet_sent();
        t.note_handshake_sent(now);
    });
    let _ = socket::send_buffer(peer, &bytes, HANDSHAKE_DSCP);
}
