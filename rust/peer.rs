// SPDX-License-Identifier: GPL-2.0

//! A peer: its configuration, handshake, sessions, endpoint, queues, timers
//! and work items, shared (`Arc`) by every table and context that reaches
//! it, and its removal, which makes sure all of them let go.

use crate::abstractions::crypto::{KernelCrypto, Secret};
use crate::abstractions::rcu::{self, RcuRc, RcuRcSlot};
use crate::abstractions::skb::{DropReason, SkbList};
use crate::abstractions::sync::{new_spinlock_bh, SpinLockBh};
use crate::abstractions::timer::{impl_has_timer, Timer, TimerCallback};
use crate::abstractions::udp::{DstCache, Endpoint};
use crate::device::Device;
use crate::gate::PeerGate;
use crate::log::{ifname, lifetime};
use crate::noise::{self, Keypair, PeerHandshake};
use crate::proto::constants::KEY_LEN;
use crate::proto::cookie::PeerCookie;
use crate::proto::keypair::Keypairs;
use crate::proto::noise::{Handshake, StaticIdentity};
use crate::proto::timers::PeerTimers;
use crate::queueing::{RxQueue, TxQueue};
use crate::timers::TimerState;
use crate::abstractions::workqueue::cpu;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::workqueue::{impl_has_work, new_work, Work, WorkItem};

/// As the C driver's MAX_PEERS_PER_DEVICE.
pub(crate) const MAX_PEERS: usize = 1 << 20;

static PEER_IDS: AtomicU64 = AtomicU64::new(0);

/// Work item ids inside a [`Peer`].
pub(crate) const TX_WORK: u64 = 1;
pub(crate) const HANDSHAKE_WORK: u64 = 2;
pub(crate) const CLEAR_WORK: u64 = 3;

/// One peer of a device.
#[pin_data(PinnedDrop)]
pub(crate) struct Peer {
    pub(crate) device: Arc<Device>,
    /// For log lines and dump order, as the C driver's `internal_id`.
    pub(crate) id: u64,
    pub(crate) public_key: [u8; KEY_LEN],
    /// The interface name when the peer was made (log lines pair by it).
    pub(crate) ifname: [u8; 16],
    /// Handshake state; process context only.
    #[pin]
    pub(crate) hs: Mutex<PeerHandshake>,
    /// The three session slots; writers only (the send path reads
    /// `current`).
    #[pin]
    pub(crate) keypairs: SpinLockBh<Keypairs<RcuRc<Keypair>>>,
    /// `keypairs.current`, published for the send path.
    pub(crate) current: RcuRcSlot<Keypair>,
    #[pin]
    pub(crate) endpoint: SpinLockBh<Endpoint>,
    #[pin]
    pub(crate) dst_cache: DstCache,
    /// Packets waiting for a session (bounded, oldest dropped).
    #[pin]
    pub(crate) staged: SpinLockBh<SkbList>,
    /// Packets with nonces, in order, waiting for encryption and sending.
    #[pin]
    pub(crate) tx: SpinLockBh<TxQueue>,
    /// Received packets in arrival order, being decrypted or waiting for
    /// the receive stage.
    #[pin]
    pub(crate) rx: SpinLockBh<RxQueue>,
    #[pin]
    pub(crate) timers: SpinLockBh<TimerState>,
    #[pin]
    pub(crate) timer: Timer<Peer>,
    #[pin]
    pub(crate) tx_work: Work<Peer, TX_WORK>,
    #[pin]
    pub(crate) handshake_work: Work<Peer, HANDSHAKE_WORK>,
    #[pin]
    pub(crate) clear_work: Work<Peer, CLEAR_WORK>,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    /// Wall-clock time of the last completed handshake (0 = never).
    pub(crate) last_handshake_sec: AtomicI64,
    pub(crate) last_handshake_nsec: AtomicI64,
    /// The idle gate's state of this peer.
    pub(crate) gate: PeerGate,
    /// The CPU the serial transmit stage runs on (-1: not chosen yet).
    serial_cpu: AtomicI32,
    dead: AtomicBool,
}

impl_has_work! {
    impl HasWork<Self, TX_WORK> for Peer { self.tx_work }
    impl HasWork<Self, HANDSHAKE_WORK> for Peer { self.handshake_work }
    impl HasWork<Self, CLEAR_WORK> for Peer { self.clear_work }
}
impl_has_timer!(Peer, timer);

impl WorkItem<TX_WORK> for Peer {
    type Pointer = Arc<Peer>;
    fn run(this: Arc<Peer>) {
        crate::send::tx_worker(&this);
    }
}

impl WorkItem<HANDSHAKE_WORK> for Peer {
    type Pointer = Arc<Peer>;
    fn run(this: Arc<Peer>) {
        crate::send::send_handshake_initiation(&this);
    }
}

impl WorkItem<CLEAR_WORK> for Peer {
    type Pointer = Arc<Peer>;
    fn run(this: Arc<Peer>) {
        lifetime!(
            "{}: Zeroing out all keys for peer {}, since we haven't received a new one in 540 seconds\n",
            ifname(&this.ifname),
            this.id
        );
        noise::handshake_clear(&this, &mut this.hs.lock());
        noise::keypairs_clear(&this);
    }
}

impl TimerCallback for Peer {
    fn expired(this: Arc<Self>) {
        crate::timers::expired(&this);
    }
}

#[pinned_drop]
impl PinnedDrop for Peer {
    fn drop(self: Pin<&mut Self>) {
        lifetime!("{}: Peer {} destroyed\n", ifname(&self.ifname), self.id);
    }
}

impl Peer {
    /// The CPU of this peer's serial transmit stage: fixed per peer (peers
    /// spread over the online CPUs by id), chosen again only when it goes
    /// offline. Being fixed, it lets the scheduler move the sending thread
    /// off that CPU, so a flood of small packets is split between the
    /// sender's CPU (the stack down to the staged queue) and this one
    /// (encryption, sending, and a local receiver's bottom half), where a
    /// stage queued on the sender's own CPU would share that CPU with it.
    pub(crate) fn serial_cpu(&self) -> i32 {
        let stored = self.serial_cpu.load(Ordering::Relaxed);
        let cpu = cpu::choose_online(stored, self.id);
        if cpu != stored {
            self.serial_cpu.store(cpu, Ordering::Relaxed);
        }
        cpu
    }

    /// A new peer of `device` (not yet in any table).
    pub(crate) fn new(
        device: &Arc<Device>,
        identity: &StaticIdentity,
        public_key: [u8; KEY_LEN],
        preshared_key: &Secret,
        running: bool,
        name: [u8; 16],
    ) -> Result<Arc<Self>> {
        let c = &KernelCrypto;
        let hs = Handshake::new(c, identity, &public_key, preshared_key.bytes());
        let cookie = PeerCookie::new(c, &public_key);
        let mut timers = PeerTimers::new(0);
        timers.running = running;
        let id = PEER_IDS.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let peer = Arc::pin_init(
            try_pin_init!(Self {
                device: device.clone(),
                id,
                public_key,
                ifname: name,
                hs <- kernel::new_mutex!(PeerHandshake { hs, cookie, index: None }, "wgrs_peer_handshake"),
                keypairs <- new_spinlock_bh!(Keypairs::new(), "wgrs_peer_keypairs"),
                current: RcuRcSlot::empty(),
                endpoint <- new_spinlock_bh!(Endpoint::default(), "wgrs_peer_endpoint"),
                dst_cache <- DstCache::new(),
                staged <- new_spinlock_bh!(SkbList::new(), "wgrs_peer_staged"),
                tx <- new_spinlock_bh!(TxQueue::new(), "wgrs_peer_tx"),
                rx <- new_spinlock_bh!(RxQueue::new(), "wgrs_peer_rx"),
                timers <- new_spinlock_bh!(TimerState::new(timers), "wgrs_peer_timers"),
                timer <- Timer::new(),
                tx_work <- new_work!("wgrs_peer_tx"),
                handshake_work <- new_work!("wgrs_peer_handshake"),
                clear_work <- new_work!("wgrs_peer_clear"),
                rx_bytes: AtomicU64::new(0),
                tx_bytes: AtomicU64::new(0),
                last_handshake_sec: AtomicI64::new(0),
                last_handshake_nsec: AtomicI64::new(0),
                gate: PeerGate::new(),
                serial_cpu: AtomicI32::new(-1),
                dead: AtomicBool::new(false),
            }? Error),
            GFP_KERNEL,
        )?;
        lifetime!("{}: Peer {} created\n", ifname(&peer.ifname), peer.id);
        Ok(peer)
    }

    /// Whether the peer is being removed: nothing may hand it to another
    /// context any more. Read inside an RCU read-side section, so that the
    /// remover's grace period covers every check that saw `false`.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// First step of removal: no new work, timers or sessions from now on
    /// (once a grace period has passed).
    pub(crate) fn mark_dead(this: &Arc<Self>) {
        this.dead.store(true, Ordering::Release);
        Timer::kill(this);
    }

    /// Second step of removal, one grace period after [`Self::mark_dead`]:
    /// drop the sessions and the handshake, stop the timer, wait for the
    /// work items, throw away queued packets. Process context.
    pub(crate) fn remove_after_dead(this: &Arc<Self>) {
        noise::keypairs_clear(this);
        noise::handshake_clear(this, &mut this.hs.lock());
        Timer::shutdown(this);
        let dev = &this.device;
        // Twice, as the C driver: the first waits for the crypt workers,
        // which may queue this peer's serial transmit stage (and run its
        // receive stage themselves); the second for that.
        dev.wq_crypt.flush();
        dev.wq_crypt.flush();
        dev.wq_handshake_tx.flush();
        let n = this.staged.lock().purge(DropReason::Shutdown);
        let m = this.tx.lock().purge();
        let r = this.rx.lock().purge();
        if let Some(netdev) = dev.netdev.get(&rcu::read_lock()) {
            netdev.count_tx_dropped(n.saturating_add(m));
            netdev.count_rx_dropped(r);
        }
    }

    /// Stores a newly learnt or configured endpoint (no-op if unchanged);
    /// cached routes are dropped when it changes.
    pub(crate) fn set_endpoint(&self, ep: &Endpoint) {
        let mut cur = self.endpoint.lock();
        if cur.same_as(ep) {
            return;
        }
        if ep.family() == 0 {
            return;
        }
        *cur = *ep;
        self.dst_cache.reset();
    }

    /// Forgets the sticky source address (it may be why we do not get
    /// through).
    pub(crate) fn clear_endpoint_src(&self) {
        self.endpoint.lock().clear_src();
        self.dst_cache.reset();
    }

    /// Records a completed handshake (for `wg show latest-handshakes`).
    pub(crate) fn note_handshake_time(&self) {
        let (s, ns) = crate::abstractions::time::wall_clock();
        self.last_handshake_sec.store(s, Ordering::Relaxed);
        self.last_handshake_nsec.store(ns, Ordering::Relaxed);
    }
}
