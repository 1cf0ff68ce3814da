// SPDX-License-Identifier: GPL-2.0

//! The WireGuard interface: one per `ip link add … type wireguard`.
//!
//! What the data path reads is published for lock-free reads (identity,
//! sockets, the lookup tables, the allowed-IPs tries); the configuration
//! (`Config`, behind the "device update lock" taken after RTNL, as in C)
//! is only for writers and dumps.

use crate::abstractions::crypto::{self, KernelCrypto, Secret, KEY_LEN};
use crate::abstractions::napi::{RxBatchReceiver, RxCells};
use crate::abstractions::netdev::{GroCells, Net, NetDevHandle, NetDevice, NetRef, Rtnl, TunnelSetup};
use crate::abstractions::rcu::{self, RcuCell, RcuHashTable};
use crate::abstractions::rtnl::LinkDriver;
use crate::abstractions::skb::{DropReason, SkBuff, SkbList};
use crate::abstractions::udp::{EncapReceiver, UdpSocket};
use crate::abstractions::workqueue::{flags, OwnedQueue};
use crate::abstractions::timer::{impl_has_timer, Timer, TimerCallback};
use crate::allowedips::{AllowedIps, Listing};
use crate::gate::{DeviceGate, GATE_WORK};
use crate::log::{ifname, lifetime};
use crate::noise;
use crate::peer::Peer;
use crate::peerlookup::{self, IndexTable, PubkeyTable, INDEX_BITS, PUBKEY_BITS};
use crate::proto::constants::MESSAGE_PADDING_MULTIPLE;
use crate::proto::cookie::{CookieChecker, CookieSecret, LoadTracker};
use crate::proto::noise::StaticIdentity;
use crate::queueing::{CryptPool, CryptWorker, HandshakePool, HandshakeWorker};
use crate::ratelimiter::RateLimiter;
use crate::{gate, receive, send, socket, timers};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{Arc, ArcBorrow, Mutex, SpinLock};
use kernel::workqueue::{impl_has_work, new_work, Work, WorkItem};

/// Transport data header in front of the payload.
const MESSAGE_DATA_HEADER: u16 = 16;
/// Poly1305 tag after the payload.
const AUTH_TAG: u16 = 16;
const UDP_HEADER: u16 = 8;
const IPV6_HEADER: u16 = 40;
/// The smallest data message (a keepalive): header and tag.
const MESSAGE_MINIMUM: u16 = MESSAGE_DATA_HEADER + AUTH_TAG;
/// Per packet on the wire, at most: outer IPv6 + UDP + WireGuard framing.
const OVERHEAD: u16 = MESSAGE_MINIMUM + UDP_HEADER + IPV6_HEADER;
const ETH_DATA_LEN: u32 = 1500;

/// Handshakes waiting to be processed, at most (as C).
pub(crate) const MAX_QUEUED_INCOMING_HANDSHAKES: u32 = 4096;
/// Waiting handshake messages from which a device is under load (as C).
pub(crate) const UNDER_LOAD_QUEUE_LEN: u32 = MAX_QUEUED_INCOMING_HANDSHAKES / 8;

/// The under-load threshold in force: [`UNDER_LOAD_QUEUE_LEN`] unless the
/// `handshake_load` module parameter lowered it (tests of the cookie path;
/// the module refuses to load with a value outside 1..=4096).
pub(crate) fn under_load_queue_len() -> u32 {
    *crate::module_parameters::handshake_load.value()
}

/// The device's key pair and what is derived from it, published for the
/// handshake workers; replaced as a whole when the key changes.
pub(crate) struct Identity {
    pub(crate) noise: StaticIdentity,
    pub(crate) cookie: CookieChecker,
}

/// The device's two sockets (either may be missing: no IPv6).
pub(crate) struct Sockets {
    pub(crate) v4: Option<UdpSocket>,
    pub(crate) v6: Option<UdpSocket>,
}

/// The configuration, under the device update lock.
pub(crate) struct Config {
    /// Clamped; all zero until set.
    pub(crate) private_key: Secret,
    pub(crate) public_key: [u8; KEY_LEN],
    /// A private key is set and has a public key.
    pub(crate) has_identity: bool,
    /// The configured port (0 = any); while up, the bound one.
    pub(crate) listen_port: u16,
    pub(crate) fwmark: u32,
    /// By creation id: the order dumps list them.
    pub(crate) peers: RBTree<u64, Arc<Peer>>,
    pub(crate) num_peers: usize,
    /// Each peer's allowed IPs, in insertion order (dumps, removal).
    pub(crate) listing: Listing,
    /// Bumped by every SET_DEVICE; dumps spanning a change are flagged.
    pub(crate) generation: u32,
}

impl Config {
    /// The identity the handshake code works with.
    pub(crate) fn static_identity(&self) -> StaticIdentity {
        if self.has_identity {
            StaticIdentity { private: *self.private_key.bytes(), public: self.public_key, has_identity: true }
        } else {
            StaticIdentity::empty()
        }
    }
}

/// Driver state of one interface.
#[pin_data]
pub(crate) struct Device {
    pub(crate) netdev: NetDevHandle,
    /// The "device update lock": taken after RTNL.
    #[pin]
    pub(crate) config: Mutex<Config>,
    pub(crate) identity: RcuCell<Identity>,
    #[pin]
    pub(crate) cookie_secret: SpinLock<CookieSecret>,
    #[pin]
    pub(crate) peers: PubkeyTable,
    #[pin]
    pub(crate) index: IndexTable,
    #[pin]
    pub(crate) allowed: AllowedIps,
    pub(crate) sockets: RcuCell<Sockets>,
    pub(crate) fwmark: AtomicU32,
    /// Where the sockets live; cleared when that namespace exits.
    pub(crate) creating_net: NetRef,
    /// Received handshake messages queued on all CPUs together.
    pub(crate) handshake_queue_len: AtomicU32,
    /// Per-CPU workers for received handshake messages, run on
    /// `wq_handshake_rx`.
    pub(crate) handshake: HandshakePool,
    #[pin]
    pub(crate) load: SpinLock<LoadTracker>,
    #[pin]
    pub(crate) ratelimiter: SpinLock<RateLimiter>,
    pub(crate) wq_handshake_rx: OwnedQueue,
    pub(crate) wq_handshake_tx: OwnedQueue,
    pub(crate) wq_crypt: OwnedQueue,
    /// Per-CPU encryption queues, run on `wq_crypt`.
    pub(crate) crypt: CryptPool,
    #[pin]
    pub(crate) gro: GroCells,
    /// Per-CPU lists that gather each softirq run's data messages.
    pub(crate) rx_cells: RxCells,
    /// The idle gate's policy and counters.
    #[pin]
    pub(crate) gate: DeviceGate,
    /// Fires at the next gate deadline.
    #[pin]
    gate_timer: Timer<Device>,
    /// Locks the peers whose sessions ran out (RTNL, update lock).
    #[pin]
    gate_work: Work<Device, GATE_WORK>,
    /// Runs `gate_work`; never flushed under RTNL or the update lock,
    /// which the work takes.
    pub(crate) wq_gate: OwnedQueue,
}

impl_has_work! {
    impl HasWork<Self, GATE_WORK> for Device { self.gate_work }
}
impl_has_timer!(Device, gate_timer);

impl WorkItem<GATE_WORK> for Device {
    type Pointer = Arc<Device>;
    fn run(this: Arc<Device>) {
        gate::expire_all(&this);
    }
}

impl TimerCallback for Device {
    fn expired(this: Arc<Self>) {
        gate::timer_fired(this);
    }
}

impl EncapReceiver for Device {
    fn receive(this: ArcBorrow<'_, Self>, skb: SkBuff) {
        receive::packet(this, skb);
    }
}

impl RxBatchReceiver for Device {
    fn receive_batch(this: &Self, packets: SkbList) {
        receive::data_batch(this, packets);
    }
}

impl Device {
    /// Runs `f` with the device if it still exists.
    pub(crate) fn with_netdev<R>(&self, f: impl FnOnce(&NetDevice) -> R) -> Option<R> {
        let g = rcu::read_lock();
        self.netdev.get(&g).map(f)
    }

    /// Publishes a new identity (or none), derived from the configuration.
    pub(crate) fn publish_identity(&self, cfg: &Config) -> Result {
        let id = if cfg.has_identity {
            let c = &KernelCrypto;
            Some(rcu::RcuNew::new(
                Identity { noise: cfg.static_identity(), cookie: CookieChecker::new(c, Some(&cfg.public_key)) },
                GFP_KERNEL,
            )?)
        } else {
            None
        };
        self.identity.replace(id);
        Ok(())
    }

    /// Sets the private key as the C driver does. Returns whether the
    /// device just got an identity (queued packets may go now).
    pub(crate) fn set_private_key(self: &Arc<Self>, cfg: &mut Config, key: &Secret) -> Result<bool> {
        if crypto::equal_ct(cfg.private_key.bytes(), key.bytes()) {
            return Ok(false);
        }
        let public = crypto::x25519_public(key.bytes());
        // A peer with our new public key would be ourselves: it goes first.
        if let Some(public) = &public {
            let found = {
                let g = rcu::read_lock();
                peerlookup::pubkey_lookup(&self.peers, public, &g).cloned()
            };
            if let Some(peer) = found {
                self.remove_peers(cfg, &[peer]);
            }
        }
        let had = cfg.has_identity;
        let mut private = Secret(*key.bytes());
        crypto::clamp_secret(&mut private.0);
        cfg.private_key = private;
        cfg.has_identity = public.is_some();
        cfg.public_key = public.unwrap_or([0; KEY_LEN]);
        self.publish_identity(cfg)?;
        let id = cfg.static_identity();
        for (_, peer) in cfg.peers.iter() {
            let mut st = peer.hs.lock();
            st.hs.precompute_static_static(&KernelCrypto, &id);
            noise::expire_current(peer, &mut st);
        }
        Ok(!had && cfg.has_identity)
    }

    /// Removes peers: unreachable first, then (after one grace period for
    /// all of them) stopped and released. Under the device update lock.
    pub(crate) fn remove_peers(&self, cfg: &mut Config, peers: &[Arc<Peer>]) {
        for peer in peers {
            self.allowed.remove_by_peer(&mut cfg.listing, peer);
            peerlookup::pubkey_remove(&self.peers, peer);
            if cfg.peers.remove(&peer.id).is_some() {
                cfg.num_peers = cfg.num_peers.saturating_sub(1);
            }
            Peer::mark_dead(peer);
        }
        rcu::synchronize_net();
        for peer in peers {
            Peer::remove_after_dead(peer);
        }
    }

    /// Removes every peer.
    pub(crate) fn remove_all_peers(&self, cfg: &mut Config) {
        self.allowed.clear(&mut cfg.listing);
        let mut all = KVec::new();
        let mut complete = true;
        for (_, peer) in cfg.peers.iter() {
            if all.push(peer.clone(), GFP_KERNEL).is_err() {
                complete = false;
                break;
            }
        }
        self.remove_peers(cfg, &all);
        // Out of memory for the list: the rest one at a time.
        if !complete {
            while let Some(p) = cfg.peers.iter().next().map(|(_, p)| p.clone()) {
                self.remove_peers(cfg, &[p]);
            }
        }
    }

    /// Puts a received handshake message on the next online CPU's
    /// handshake worker (any context).
    pub(crate) fn queue_handshake(this: ArcBorrow<'_, Self>, skb: SkBuff) {
        // Counted before it is queued, so that the worker's decrement
        // never comes first.
        if this.handshake_queue_len.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED_INCOMING_HANDSHAKES {
            this.handshake_queue_len.fetch_sub(1, Ordering::Relaxed);
            skb.drop_with(DropReason::QueueFull);
            return;
        }
        let cpu = this.handshake.next_cpu();
        let Some(w) = this.handshake.worker(cpu) else {
            this.handshake_queue_len.fetch_sub(1, Ordering::Relaxed);
            skb.drop_with(DropReason::QueueFull);
            return;
        };
        w.push(this, skb);
        let _ = this.wq_handshake_rx.enqueue_on::<Arc<HandshakeWorker>, 0>(cpu, w.clone());
    }

    /// A queued handshake message was processed or freed.
    pub(crate) fn handshake_done(&self, n: u32) {
        self.handshake_queue_len.fetch_sub(n, Ordering::Relaxed);
    }

    fn purge_handshake_queue(&self) {
        self.handshake_done(self.handshake.purge());
    }
}

fn queue(name: &str, dev: &[u8; 16], flags: u32) -> Result<OwnedQueue> {
    let mut buf = [0u8; 32];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    let d = ifname(dev).as_bytes();
    let m = d.len().min(buf.len() - n - 1);
    buf[n..n + m].copy_from_slice(&d[..m]);
    let s = CStr::from_bytes_with_nul(&buf[..=n + m]).map_err(|_| EINVAL)?;
    OwnedQueue::new(s, flags)
}

impl LinkDriver for Device {
    fn setup() -> TunnelSetup {
        let overhead = u32::from(OVERHEAD);
        let multiple = MESSAGE_PADDING_MULTIPLE as u32;
        // The largest MTU whose padded size still fits in an int.
        let max = (i32::MAX as u32) / multiple * multiple;
        TunnelSetup {
            headroom: MESSAGE_DATA_HEADER + UDP_HEADER + IPV6_HEADER,
            tailroom: MESSAGE_PADDING_MULTIPLE as u16 + AUTH_TAG,
            mtu: ETH_DATA_LEN - overhead,
            max_mtu: max - overhead,
        }
    }

    fn newlink(dev: &NetDevice, handle: NetDevHandle, creating_net: &Net) -> Result<Arc<Self>> {
        let name = dev.name_racy();
        let config = Config {
            private_key: Secret::default(),
            public_key: [0; KEY_LEN],
            has_identity: false,
            listen_port: 0,
            fwmark: 0,
            peers: RBTree::new(),
            num_peers: 0,
            listing: Listing::new(),
            generation: 1,
        };
        let device = Arc::pin_init(
            try_pin_init!(Self {
                netdev: handle,
                config <- kernel::new_mutex!(config, "wgrs_device_update"),
                identity: RcuCell::empty(),
                cookie_secret <- kernel::new_spinlock!(CookieSecret::new(), "wgrs_cookie_secret"),
                peers <- RcuHashTable::new(PUBKEY_BITS),
                index <- RcuHashTable::new(INDEX_BITS),
                allowed <- AllowedIps::new(),
                sockets: RcuCell::empty(),
                fwmark: AtomicU32::new(0),
                creating_net: NetRef::new(creating_net),
                handshake_queue_len: AtomicU32::new(0),
                handshake: HandshakePool::new(HandshakeWorker::new)?,
                load <- kernel::new_spinlock!(LoadTracker::new(), "wgrs_load"),
                ratelimiter <- kernel::new_spinlock!(RateLimiter::new(), "wgrs_ratelimiter"),
                wq_handshake_rx: queue("wg-kex-", &name, flags::CPU_INTENSIVE | flags::FREEZABLE | flags::PERCPU)?,
                wq_handshake_tx: queue("wg-kex-", &name, flags::UNBOUND | flags::FREEZABLE)?,
                wq_crypt: queue("wg-crypt-", &name, flags::CPU_INTENSIVE | flags::MEM_RECLAIM | flags::PERCPU)?,
                crypt: CryptPool::new(CryptWorker::new)?,
                gro <- GroCells::new(),
                rx_cells: RxCells::new(),
                gate <- DeviceGate::new(),
                gate_timer <- Timer::new(),
                gate_work <- new_work!("wgrs_gate_expiry"),
                wq_gate: queue("wg-gate-", &name, flags::UNBOUND)?,
            }? Error),
            GFP_KERNEL,
        )?;
        device.ratelimiter.lock().init()?;
        device.gro.init(dev)?;
        device.rx_cells.init(dev, &device)?;
        Ok(device)
    }

    fn registered(_this: ArcBorrow<'_, Self>, dev: &NetDevice) {
        lifetime!("{}: Interface created\n", ifname(&dev.name_racy()));
    }

    fn open(this: ArcBorrow<'_, Self>, dev: &NetDevice, rtnl: &Rtnl) -> Result {
        let this: Arc<Self> = this.into();
        dev.set_inet_defaults(rtnl);
        let mut cfg = this.config.lock();
        let socks = socket::init(&this, cfg.listen_port)?;
        cfg.listen_port = socket::reinit(&this, Some(socks)).unwrap_or(cfg.listen_port);
        for (_, peer) in cfg.peers.iter() {
            timers::start(peer);
            send::send_staged(peer);
            if peer.timers.lock().t.persistent_keepalive_interval != 0 {
                send::send_keepalive(peer);
            }
        }
        Ok(())
    }

    fn stop(this: ArcBorrow<'_, Self>, _dev: &NetDevice) {
        let cfg = this.config.lock();
        for (_, peer) in cfg.peers.iter() {
            let n = peer.staged.lock().purge(DropReason::Shutdown);
            if let Some(d) = this.netdev.get(&rcu::read_lock()) {
                d.count_tx_dropped(n);
            }
            timers::stop(peer);
            {
                let mut st = peer.hs.lock();
                noise::handshake_clear(peer, &mut st);
            }
            noise::keypairs_clear(peer);
            peer.timers.lock().t.reset_last_sent_handshake();
        }
        drop(cfg);
        this.purge_handshake_queue();
        socket::reinit(&this, None);
    }

    fn xmit(this: ArcBorrow<'_, Self>, dev: &NetDevice, skb: SkBuff) -> Result {
        send::xmit(&this, dev, skb)
    }

    fn destruct(this: &Arc<Self>, dev: &NetDevice) {
        {
            let _rtnl = Rtnl::lock();
            this.creating_net.clear(&_rtnl);
        }
        {
            let mut cfg = this.config.lock();
            cfg.listen_port = 0;
            socket::reinit(this, None);
            this.remove_all_peers(&mut cfg);
        }
        // The gate first: no expiry may start after this.
        Timer::shutdown(this);
        this.wq_gate.destroy();
        this.wq_handshake_rx.destroy();
        this.wq_handshake_tx.destroy();
        this.wq_crypt.destroy();
        // Empty already (every peer was flushed out); what a worker still
        // held would keep peers, and through them this device, alive.
        this.crypt.purge();
        this.purge_handshake_queue();
        // No socket feeds the receive cells any more; what they still hold
        // goes, and no poll runs after this.
        this.rx_cells.destroy();
        this.gro.destroy();
        // Peers are freed by RCU callbacks; wait for them while the
        // device can still be named in their log lines.
        rcu::barrier();
        rcu::barrier();
        this.identity.replace(None);
        lifetime!("{}: Interface destroyed\n", ifname(&dev.name_racy()));
    }

    fn netns_exit(this: ArcBorrow<'_, Self>, dev: &NetDevice, net: &Net, rtnl: &Rtnl) {
        if !this.creating_net.is(net) {
            return;
        }
        lifetime!("{}: Creating namespace exiting\n", ifname(&dev.name_racy()));
        dev.carrier_off();
        let cfg = this.config.lock();
        this.creating_net.clear(rtnl);
        socket::reinit(&this, None);
        // With the sockets gone nothing sends: cached routes into the dying
        // namespace can be released now.
        for (_, peer) in cfg.peers.iter() {
            peer.endpoint.lock().clear_src();
            peer.dst_cache.reset_now_unused();
        }
        drop(cfg);
    }

    fn netdev_handle(this: &Self) -> &NetDevHandle {
        &this.netdev
    }
}
