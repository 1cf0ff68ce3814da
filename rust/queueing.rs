// SPDX-License-Identifier: GPL-2.0

//! The transmit pipeline's queues, and the per-CPU workers (encryption;
//! received handshake messages).
//!
//! Every `send_staged` run hands over the packets that got their nonces
//! together, with the keypair they go out under, as one [`TxBatch`] in the
//! peer's [`TxQueue`] (nonce order). The peer's serial transmit stage (one
//! work item per peer, never concurrent with itself) sends the batch at the
//! head once it is encrypted, so packets leave in order. A batch is either
//!
//! - a [`TxJob`] (more than [`INLINE_JOB_MAX`] packets: a GSO super-packet's
//!   segments), which also goes to one device-wide [`CryptWorker`], chosen
//!   round-robin over the online CPUs: encryption of a peer's consecutive
//!   jobs runs on all CPUs at once; or
//! - inline packets, which the serial stage encrypts itself. Inline packets
//!   queued behind other inline packets of the same session join them, so
//!   a flood of small packets costs no allocation and no reference per
//!   packet, and the serial stage takes whatever piled up in one go.
//!
//! This is the C driver's split (parallel crypto, ordered serial stage),
//! handed over per batch rather than per packet: a GSO super-packet's
//! segments cross CPUs as one job, with one reference on each side.
//! Bounded like the C driver's per-peer queue: past the limit new packets
//! are refused.

use crate::abstractions::rcu::RcuRc;
use crate::abstractions::skb::{DropReason, SkBuff, SkbList};
use crate::abstractions::sync::{new_spinlock_bh, SpinLockBh};
use crate::noise::Keypair;
use crate::peer::Peer;
use crate::abstractions::workqueue::{cond_resched, cpu};
use crate::device::Device;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::workqueue::{impl_has_work, new_work, Work, WorkItem};

/// Packets queued per peer at most (as the C driver's MAX_QUEUED_PACKETS).
pub(crate) const MAX_QUEUED_PACKETS: u32 = 1024;
/// Packets waiting for a handshake per peer at most (MAX_STAGED_PACKETS).
pub(crate) const MAX_STAGED_PACKETS: u32 = 128;
/// Batches of at most this many packets are encrypted by the peer's serial
/// stage itself (measured: a crypt worker hand-off per small packet halves
/// the small-packet rate on two CPUs; performance.rst).
pub(crate) const INLINE_JOB_MAX: u32 = 2;

/// Packets to send with one keypair, encrypted by a crypt worker and sent
/// by the peer's serial stage.
///
/// # Invariants
///
/// `encrypted` becomes true once, after the crypt worker has put the
/// encrypted packets back into `packets` (Release); the serial stage takes
/// them only after seeing it (Acquire).
#[pin_data]
pub(crate) struct TxJob {
    pub(crate) keypair: RcuRc<Keypair>,
    #[pin]
    packets: SpinLockBh<SkbList>,
    count: u32,
    encrypted: AtomicBool,
}

impl TxJob {
    /// A job for `packets` (their nonces taken from `keypair`). Atomic
    /// context. On `ENOMEM` the packets are freed with the initialiser;
    /// the caller counts them as dropped.
    pub(crate) fn new(keypair: RcuRc<Keypair>, packets: SkbList) -> Result<Arc<Self>> {
        let count = packets.len();
        Arc::pin_init(
            pin_init!(Self {
                keypair,
                packets <- new_spinlock_bh!(packets, "wgrs_tx_job"),
                count,
                encrypted: AtomicBool::new(false),
            }),
            GFP_ATOMIC,
        )
    }

    /// Packets in the job when it was made.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    /// The crypt worker's side: encrypts the packets with `f` (which
    /// returns the packet back, or drops it and returns `None`), then marks
    /// the job encrypted.
    pub(crate) fn encrypt_with(&self, mut f: impl FnMut(crate::abstractions::skb::SkBuff) -> Option<crate::abstractions::skb::SkBuff>) {
        let mut todo = core::mem::replace(&mut *self.packets.lock(), SkbList::new());
        let mut done = SkbList::new();
        while let Some(skb) = todo.pop_front() {
            if let Some(skb) = f(skb) {
                done.push_back(skb);
            }
        }
        *self.packets.lock() = done;
        self.encrypted.store(true, Ordering::Release);
    }

    fn is_encrypted(&self) -> bool {
        self.encrypted.load(Ordering::Acquire)
    }

    /// The serial stage's side: the encrypted packets.
    pub(crate) fn take_packets(&self) -> SkbList {
        core::mem::replace(&mut *self.packets.lock(), SkbList::new())
    }
}

/// A FIFO over a vector: pushes at the end, pops from `head`, the space is
/// reclaimed whenever it drains.
struct Fifo<T> {
    items: KVec<Option<T>>,
    head: usize,
}

impl<T> Fifo<T> {
    const fn new() -> Self {
        Self { items: KVec::new(), head: 0 }
    }

    fn is_empty(&self) -> bool {
        self.head >= self.items.len()
    }

    /// Appends `v` (atomic context); gives it back if memory is short.
    fn push(&mut self, v: T) -> core::result::Result<(), T> {
        if self.is_empty() {
            self.items.clear();
            self.head = 0;
        }
        if self.items.len() == self.items.capacity() && self.items.reserve(1, GFP_ATOMIC).is_err() {
            return Err(v);
        }
        match self.items.push_within_capacity(Some(v)) {
            Ok(()) => Ok(()),
            Err(e) => match e.0 {
                Some(v) => Err(v),
                // Handed back what it was given, which was `Some`.
                None => Ok(()),
            },
        }
    }

    fn front(&self) -> Option<&T> {
        self.items.get(self.head).and_then(Option::as_ref)
    }

    fn back_mut(&mut self) -> Option<&mut T> {
        if self.is_empty() {
            return None;
        }
        self.items.last_mut().and_then(Option::as_mut)
    }

    fn pop(&mut self) -> Option<T> {
        let v = self.items.get_mut(self.head)?.take();
        self.head += 1;
        if self.is_empty() {
            self.items.clear();
            self.head = 0;
        }
        v
    }

    fn clear(&mut self) {
        self.items.clear();
        self.head = 0;
    }
}

/// Packets in a peer's transmit queue: the unit the serial stage sends.
pub(crate) enum TxBatch {
    /// Encrypted by a crypt worker; ready once it says so.
    Job(Arc<TxJob>),
    /// To be encrypted by the serial stage, with this session.
    Inline { keypair: RcuRc<Keypair>, packets: SkbList },
}

impl TxBatch {
    fn len(&self) -> u32 {
        match self {
            Self::Job(job) => job.len(),
            Self::Inline { packets, .. } => packets.len(),
        }
    }

    fn is_ready(&self) -> bool {
        match self {
            Self::Job(job) => job.is_encrypted(),
            Self::Inline { .. } => true,
        }
    }

    fn purge(self) -> u32 {
        match self {
            Self::Job(job) => job.take_packets().purge(DropReason::Shutdown),
            Self::Inline { mut packets, .. } => packets.purge(DropReason::Shutdown),
        }
    }
}

/// A peer's batches in nonce order, waiting for the serial transmit stage.
pub(crate) struct TxQueue {
    batches: Fifo<TxBatch>,
    packets: u32,
}

impl TxQueue {
    pub(crate) const fn new() -> Self {
        Self { batches: Fifo::new(), packets: 0 }
    }

    fn has_room(&self, n: u32) -> bool {
        self.packets.saturating_add(n) <= MAX_QUEUED_PACKETS
    }

    /// Appends a crypt worker's job; gives it back if the queue is full or
    /// memory is short (atomic context).
    pub(crate) fn push(&mut self, job: Arc<TxJob>) -> core::result::Result<(), Arc<TxJob>> {
        match self.push_batch(TxBatch::Job(job)) {
            Ok(()) => Ok(()),
            Err(TxBatch::Job(job)) => Err(job),
            // Handed back what it was given, which was a job.
            Err(TxBatch::Inline { .. }) => Ok(()),
        }
    }

    /// Appends packets for the serial stage to encrypt: to the last batch if
    /// that is inline with the same session, else as a batch of their own.
    /// Gives them back if the queue is full or memory is short (atomic
    /// context).
    pub(crate) fn push_inline(&mut self, keypair: RcuRc<Keypair>, mut packets: SkbList) -> core::result::Result<(), SkbList> {
        let n = packets.len();
        if let Some(TxBatch::Inline { keypair: k, packets: tail }) = self.batches.back_mut() {
            if RcuRc::ptr_eq(k, &keypair) && self.packets.saturating_add(n) <= MAX_QUEUED_PACKETS {
                tail.append(&mut packets);
                self.packets = self.packets.saturating_add(n);
                return Ok(());
            }
        }
        match self.push_batch(TxBatch::Inline { keypair, packets }) {
            Ok(()) => Ok(()),
            Err(TxBatch::Inline { packets, .. }) => Err(packets),
            // Handed back what it was given, which was inline packets.
            Err(TxBatch::Job(_)) => Ok(()),
        }
    }

    /// Appends `batch` as the newest; gives it back if the queue is full or
    /// memory is short.
    fn push_batch(&mut self, batch: TxBatch) -> core::result::Result<(), TxBatch> {
        let n = batch.len();
        if !self.has_room(n) {
            return Err(batch);
        }
        self.batches.push(batch)?;
        self.packets = self.packets.saturating_add(n);
        Ok(())
    }

    /// Takes the oldest batch if it is ready (inline, or encrypted by its
    /// worker); `None` if the queue is empty or its head is still with a
    /// crypt worker.
    pub(crate) fn pop_ready(&mut self) -> Option<TxBatch> {
        if !self.batches.front()?.is_ready() {
            return None;
        }
        let batch = self.batches.pop()?;
        self.packets = self.packets.saturating_sub(batch.len());
        Some(batch)
    }

    /// Drops everything; returns the number of packets.
    pub(crate) fn purge(&mut self) -> u32 {
        let mut n = 0u32;
        while let Some(batch) = self.batches.pop() {
            n = n.saturating_add(batch.purge());
        }
        self.batches.clear();
        self.packets = 0;
        n
    }
}

/// One CPU's encryption queue and the work item that drains it.
#[pin_data]
pub(crate) struct CryptWorker {
    #[pin]
    jobs: SpinLockBh<Fifo<(Arc<Peer>, Arc<TxJob>)>>,
    #[pin]
    work: Work<CryptWorker>,
}

impl_has_work! {
    impl HasWork<Self> for CryptWorker { self.work }
}

impl WorkItem for CryptWorker {
    type Pointer = Arc<CryptWorker>;
    fn run(this: Arc<CryptWorker>) {
        while let Some((peer, job)) = this.pop() {
            crate::send::encrypt_job(&peer, &job);
        }
    }
}

impl CryptWorker {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                jobs <- new_spinlock_bh!(Fifo::new(), "wgrs_crypt_jobs"),
                work <- new_work!("wgrs_crypt"),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues a job for this worker (atomic context); gives it back if
    /// memory is short. The caller then queues the work item.
    pub(crate) fn push(&self, peer: Arc<Peer>, job: Arc<TxJob>) -> core::result::Result<(), (Arc<Peer>, Arc<TxJob>)> {
        self.jobs.lock().push((peer, job))
    }

    fn pop(&self) -> Option<(Arc<Peer>, Arc<TxJob>)> {
        self.jobs.lock().pop()
    }

    /// Drops whatever is still queued (device teardown, after the queue
    /// that runs the workers is destroyed): the references to peers go.
    pub(crate) fn purge(&self) {
        let mut jobs = core::mem::replace(&mut *self.jobs.lock(), Fifo::new());
        while let Some((_peer, job)) = jobs.pop() {
            job.take_packets().purge(DropReason::Shutdown);
        }
    }
}

/// One worker per possible CPU and the round-robin cursor that spreads
/// work over the online ones.
pub(crate) struct CpuPool<T> {
    workers: KVec<Arc<T>>,
    last: AtomicI32,
}

/// The device's crypt workers.
pub(crate) type CryptPool = CpuPool<CryptWorker>;
/// The device's workers for received handshake messages.
pub(crate) type HandshakePool = CpuPool<HandshakeWorker>;

impl<T> CpuPool<T> {
    /// A pool of `nr_cpu_ids` workers, each made by `make`.
    pub(crate) fn new(make: impl Fn() -> Result<Arc<T>>) -> Result<Self> {
        let n = cpu::nr_cpu_ids() as usize;
        let mut workers = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            workers.push(make()?, GFP_KERNEL)?;
        }
        Ok(Self { workers, last: AtomicI32::new(-1) })
    }

    /// The next online CPU after the last one used. Racing callers may
    /// pick the same CPU; that only unbalances, it never loses work.
    pub(crate) fn next_cpu(&self) -> i32 {
        let cpu = cpu::next_online(self.last.load(Ordering::Relaxed));
        self.last.store(cpu, Ordering::Relaxed);
        cpu
    }

    pub(crate) fn worker(&self, cpu: i32) -> Option<&Arc<T>> {
        usize::try_from(cpu).ok().and_then(|i| self.workers.get(i))
    }
}

impl CpuPool<CryptWorker> {
    /// See [`CryptWorker::purge`].
    pub(crate) fn purge(&self) {
        for w in self.workers.iter() {
            w.purge();
        }
    }
}

/// Received handshake messages queued for processing on one CPU, and the
/// reference to their device that they need.
///
/// # Invariants
///
/// `dev` is `Some` whenever `skbs` is not empty: a worker that finds no
/// device has nothing to do. The reference goes when the worker finds the
/// list empty or the list is purged; the device destroys the queue that
/// runs the workers before it purges them, so the last reference to a
/// device is never dropped by its own worker.
struct HandshakeBacklog {
    skbs: SkbList,
    dev: Option<Arc<Device>>,
}

/// One CPU's share of the received handshake messages and the work item
/// that processes them (the C driver's per-CPU handshake workers). The
/// receive path hands messages round-robin to the online CPUs' workers, so
/// a flood of initiations is verified on every CPU at once.
#[pin_data]
pub(crate) struct HandshakeWorker {
    #[pin]
    backlog: SpinLockBh<HandshakeBacklog>,
    #[pin]
    work: Work<HandshakeWorker>,
}

impl_has_work! {
    impl HasWork<Self> for HandshakeWorker { self.work }
}

impl WorkItem for HandshakeWorker {
    type Pointer = Arc<HandshakeWorker>;
    fn run(this: Arc<HandshakeWorker>) {
        let Some(dev) = this.backlog.lock().dev.clone() else { return };
        loop {
            let skb = {
                let mut b = this.backlog.lock();
                match b.skbs.pop_front() {
                    Some(skb) => skb,
                    None => {
                        // A message pushed after this sets the reference
                        // again and queues the work item again.
                        let held = b.dev.take();
                        drop(b);
                        drop(held);
                        break;
                    }
                }
            };
            crate::receive::handshake_message(&dev, skb);
            cond_resched();
        }
    }
}

impl HandshakeWorker {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                backlog <- new_spinlock_bh!(
                    HandshakeBacklog { skbs: SkbList::new(), dev: None },
                    "wgrs_handshake_backlog"
                ),
                work <- new_work!("wgrs_handshake_rx"),
            }),
            GFP_KERNEL,
        )
    }

    /// Queues a message (any context); the caller then queues the work
    /// item on this worker's CPU.
    pub(crate) fn push(&self, dev: ArcBorrow<'_, Device>, skb: SkBuff) {
        let mut b = self.backlog.lock();
        b.skbs.push_back(skb);
        if b.dev.is_none() {
            b.dev = Some(dev.into());
        }
    }

    /// Frees what is queued and lets go of the device; returns how many
    /// messages were freed.
    pub(crate) fn purge(&self) -> u32 {
        let (mut skbs, held) = {
            let mut b = self.backlog.lock();
            (core::mem::replace(&mut b.skbs, SkbList::new()), b.dev.take())
        };
        let n = skbs.purge(DropReason::Shutdown);
        drop(held);
        n
    }
}

impl CpuPool<HandshakeWorker> {
    /// See [`HandshakeWorker::purge`]; the total freed.
    pub(crate) fn purge(&self) -> u32 {
        self.workers.iter().map(|w| w.purge()).sum()
    }
}
