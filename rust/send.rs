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
use crate::queueing::{self, CryptJob, Direction, TxBatch, INLINE_JOB_MAX, MAX_STAGED_PACKETS};
use crate::abstractions::rcu::RcuRc;
use crate::abstractions::sync::BhDisabled;
use crate::abstractions::workqueue::cond_resched;
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

/// Hands packets that have their nonces to the pipeline: a few are
/// encrypted here, by the sender, and go to the peer's serial queue ready
/// to send; more become a job that goes to the serial queue (order) and to
/// a crypt worker on another CPU than the serial stage's (parallel
/// encryption). Any context.
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
    if n <= INLINE_JOB_MAX {
        // Encrypting one or two packets costs less than handing them to
        // another CPU, and done here it keeps them off the serial CPU,
        // which sends every packet of the peer (performance.rst).
        let sealed = packets.filter_map(|skb| encrypt_one(&keypair, skb));
        let n_sealed = sealed.len();
        if n_sealed != n {
            dropped(n - n_sealed);
        }
        if n_sealed == 0 {
            return;
        }
        let pushed = peer.tx.lock().push_inline(keypair, sealed);
        if let Err(mut packets) = pushed {
            packets.purge(DropReason::QueueFull);
            dropped(n_sealed);
            return;
        }
        // The serial stage sends them (not dead: checked in this section).
        let _ = dev.wq_crypt.enqueue_on::<Arc<Peer>, TX_WORK>(peer.serial_cpu(), peer.clone());
        return;
    }
    let Ok(job) = CryptJob::new(keypair, packets) else {
        dropped(n);
        return;
    };
    if let Err(job) = peer.tx.lock().push(job.clone()) {
        job.take_packets().purge(DropReason::QueueFull);
        dropped(n);
        return;
    }
    let queued = queueing::submit(dev, peer, &job, Direction::Tx);
    drop(g);
    if !queued {
        // No worker could take it (memory): encrypt it here, in order all
        // the same, since the serial stage sends by queue position.
        encrypt_job(peer, &job);
    }
}

/// A crypt worker's step: encrypt one job in place, then let the peer's
/// serial stage send whatever is ready at the head of its queue.
pub(crate) fn encrypt_job(peer: &Arc<Peer>, job: &CryptJob) {
    encrypt_packets(job);
    let _g = rcu::read_lock();
    if !peer.is_dead() {
        let _ = peer.device.wq_crypt.enqueue_on::<Arc<Peer>, TX_WORK>(peer.serial_cpu(), peer.clone());
    }
}

/// Encrypts a job's packets in place (dropping any that cannot be) and
/// marks it encrypted.
fn encrypt_packets(job: &CryptJob) {
    job.run_with(|skb| encrypt_one(&job.keypair, skb));
}

/// Encrypts one packet in place with its nonce from the control block;
/// drops it (`None`) if it cannot be made writable.
fn encrypt_one(keypair: &Keypair, mut skb: SkBuff) -> Option<SkBuff> {
    let kp = &keypair.kp;
    let cb = skb.cb();
    let padding = padding_len(skb.len() as usize, cb.mtu as usize) as u32;
    if skb.encrypt(padding, cb.nonce, kp.remote_index, kp.sending_key()) {
        Some(skb)
    } else {
        skb.drop_with(DropReason::NoMem);
        None
    }
}

/// Packets sent with bottom halves off at a time. Sending raises the
/// bottom half that runs a local receiver (a veth peer's backlog, bounded
/// by `netdev_max_backlog`): a burst of small packets is let through in
/// slices that such a backlog holds.
const TX_SLICE: u32 = 64;

/// The peer's serial transmit stage (work item, on the peer's serial CPU):
/// send the batches at the head of its queue, in order; stop at the first
/// job a crypt worker still has (its worker queues this stage again when
/// done).
pub(crate) fn tx_worker(peer: &Arc<Peer>) {
    loop {
        let Some(batch) = peer.tx.lock().pop_ready() else {
            break;
        };
        match batch {
            TxBatch::Job(job) => send_batch(peer, job.take_packets()),
            TxBatch::Inline { mut packets, .. } => {
                // Many senders' packets may have piled up: in slices.
                while !packets.is_empty() {
                    let mut slice = SkbList::new();
                    while slice.len() < TX_SLICE {
                        let Some(skb) = packets.pop_front() else {
                            break;
                        };
                        slice.push_back(skb);
                    }
                    send_batch(peer, slice);
                }
            }
        }
        keep_key_fresh(peer);
        // A flood keeps the queue from draining: let others run between
        // batches.
        cond_resched();
    }
}

/// Sends encrypted packets of one batch, in order, after telling the timers.
fn send_batch(peer: &Arc<Peer>, mut packets: SkbList) {
    if packets.is_empty() {
        return;
    }
    // The timers hear about the data *before* it leaves. The C driver arms
    // its new-handshake timer after sending; but the answer can be
    // processed on another CPU before this one returns from the send (the
    // bottom half it raises runs the receiver right here), and a receipt
    // that comes before the arming leaves the timer armed with nothing to
    // cancel it: a needless handshake 15 s later.
    let has_data = packets.iter_cb().any(|cb| cb.keepalive == 0);
    timers::update(peer, |t, now| {
        t.any_authenticated_packet_traversal(now);
        t.any_authenticated_packet_sent();
        if has_data && t.data_sent_arms() {
            t.data_sent(now, jitter());
        }
    });
    // The whole batch leaves with bottom halves off: what the sends raise
    // (a local receiver's backlog, the qdisc) runs once for the batch, so
    // the receiving side sees it as one (GRO).
    let _bh = BhDisabled::new();
    while let Some(skb) = packets.pop_front() {
        let cb = skb.cb();
        let _ = socket::send_skb(peer, skb, cb.ds);
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
