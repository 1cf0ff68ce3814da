// SPDX-License-Identifier: GPL-2.0

//! The pipelines' queues, and the per-CPU workers (encryption and
//! decryption; received handshake messages).
//!
//! Every `send_staged` run hands over the packets that got their nonces
//! together, with the keypair they go out under, as one [`TxBatch`] in the
//! peer's [`TxQueue`] (nonce order). The peer's serial transmit stage (one
//! work item per peer, never concurrent with itself) sends the batch at the
//! head once it is encrypted, so packets leave in order. A batch is either
//!
//! - a [`CryptJob`] (more than [`INLINE_JOB_MAX`] packets: a GSO super-packet's
//!   segments), which also goes to one device-wide [`CryptWorker`], chosen
//!   round-robin over the online CPUs other than the peer's serial CPU:
//!   encryption of a peer's consecutive jobs runs on those CPUs at once,
//!   and the CPU that sends is left to send; or
//! - inline packets, which their sender encrypted before queueing them
//!   (cheaper than a hand-off for so few, and off the serial CPU). Inline
//!   packets queued behind other inline packets of the same session join them, so
//!   a flood of small packets costs no allocation and no reference per
//!   packet, and the serial stage takes whatever piled up in one go.
//!
//! This is the C driver's split (parallel crypto, ordered serial stage),
//! handed over per batch rather than per packet: a GSO super-packet's
//! segments cross CPUs as one job, with one reference on each side.
//! Bounded like the C driver's per-peer queue: past the limit new packets
//! are refused.
//!
//! On receive, a peer's [`RxQueue`] keeps the groups of received packets
//! in arrival order, as [`CryptJob`]s decrypted by the receive softirq or
//! (module parameter `rx_handoff`) by the same crypt workers; its
//! [`StageQueue`] says which context delivers them (see `receive.rs`).

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
/// Batches of at most this many packets are encrypted by their sender
/// (`send_staged`) (measured: a crypt worker hand-off per small packet halves
/// the small-packet rate on two CPUs; performance.rst).
pub(crate) const INLINE_JOB_MAX: u32 = 2;

/// Packets of one session that a crypt worker encrypts (to send) or
/// decrypts (received), handed over and back as one unit: the peer's serial
/// stage of that direction takes them, in queue order, once it is done.
///
/// # Invariants
///
/// `done` becomes true once, after the worker has put the packets it kept
/// back into `packets` (Release); the serial stage takes them only after
/// seeing it (Acquire).
#[pin_data]
pub(crate) struct CryptJob {
    pub(crate) keypair: RcuRc<Keypair>,
    #[pin]
    packets: SpinLockBh<SkbList>,
    count: u32,
    done: AtomicBool,
}

impl CryptJob {
    /// A job for `packets` of `keypair`'s session. Atomic context. On
    /// `ENOMEM` the packets are freed with the initialiser; the caller
    /// counts them as dropped.
    pub(crate) fn new(keypair: RcuRc<Keypair>, packets: SkbList) -> Result<Arc<Self>> {
        let count = packets.len();
        Arc::pin_init(
            pin_init!(Self {
                keypair,
                packets <- new_spinlock_bh!(packets, "wgrs_crypt_job"),
                count,
                done: AtomicBool::new(false),
            }),
            GFP_ATOMIC,
        )
    }

    /// Packets in the job when it was made.
    pub(crate) fn len(&self) -> u32 {
        self.count
    }

    /// The crypt worker's side: runs `f` over the packets (it returns each
    /// packet back, or drops it and returns `None`), then marks the job
    /// done.
    pub(crate) fn run_with(&self, mut f: impl FnMut(SkBuff) -> Option<SkBuff>) {
        let todo = core::mem::replace(&mut *self.packets.lock(), SkbList::new());
        *self.packets.lock() = todo.filter_map(&mut f);
        self.done.store(true, Ordering::Release);
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The serial stage's side: the packets the worker kept.
    pub(crate) fn take_packets(&self) -> SkbList {
        core::mem::replace(&mut *self.packets.lock(), SkbList::new())
    }
}

/// Which way a crypt worker's job goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Encrypt, then the peer's serial transmit stage sends.
    Tx,
    /// Decrypt, then the peer's receive stage delivers.
    Rx,
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

    /// Empties the FIFO front to back through `purge`, which frees an
    /// item's packets and says how many; returns the total.
    fn purge_with(&mut self, mut purge: impl FnMut(T) -> u32) -> u32 {
        let mut n = 0u32;
        while let Some(item) = self.pop() {
            n = n.saturating_add(purge(item));
        }
        self.clear();
        n
    }
}

/// Packets in a peer's transmit queue: the unit the serial stage sends.
pub(crate) enum TxBatch {
    /// Encrypted by a crypt worker; ready once it says so.
    Job(Arc<CryptJob>),
    /// Encrypted by their sender under this session; ready at once.
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
            Self::Job(job) => job.is_done(),
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
    pub(crate) fn push(&mut self, job: Arc<CryptJob>) -> core::result::Result<(), Arc<CryptJob>> {
        match self.push_batch(TxBatch::Job(job)) {
            Ok(()) => Ok(()),
            Err(TxBatch::Job(job)) => Err(job),
            // Handed back what it was given, which was a job.
            Err(TxBatch::Inline { .. }) => Ok(()),
        }
    }

    /// Appends encrypted packets: to the last batch if
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
        self.packets = 0;
        self.batches.purge_with(TxBatch::purge)
    }
}

/// What a [`StageQueue`] holds: a unit of packets that becomes ready once.
pub(crate) trait StageJob {
    /// Packets in it (for the queue's bound).
    fn len(&self) -> u32;
    /// Whether it may be delivered.
    fn is_done(&self) -> bool;
    /// Frees its packets; returns how many there were.
    fn purge(self) -> u32;
}

impl StageJob for Arc<CryptJob> {
    fn len(&self) -> u32 {
        CryptJob::len(self)
    }

    fn is_done(&self) -> bool {
        CryptJob::is_done(self)
    }

    fn purge(self) -> u32 {
        self.take_packets().purge(DropReason::Shutdown)
    }
}

/// A peer's received jobs in arrival order, and who delivers them.
pub(crate) type RxQueue = StageQueue<Arc<CryptJob>>;

/// Jobs in arrival order, and whether a context holds the serial stage
/// that delivers them.
///
/// The receive stage (delivering decrypted packets to the stack: replay
/// window, endpoint, timers, cryptokey routing, GRO) runs in one context
/// at a time per peer: whoever claims it under this queue's lock (a crypt
/// worker that finished a job, or the receive softirq for packets it
/// decrypts itself) delivers every job that is done at the head, and
/// gives the stage up, under the same lock, when the head is not done.
/// A worker marks its job done before it takes the lock to claim, so a
/// finished job is never left behind: either the holder sees it done or
/// the worker gets the stage.
pub(crate) struct StageQueue<J: StageJob> {
    jobs: Fifo<J>,
    packets: u32,
    delivering: bool,
}

impl<J: StageJob> StageQueue<J> {
    pub(crate) const fn new() -> Self {
        Self { jobs: Fifo::new(), packets: 0, delivering: false }
    }

    /// Claims the stage if nothing is queued or being delivered: packets
    /// received now may then be delivered at once, in order.
    pub(crate) fn claim_idle(&mut self) -> bool {
        if self.delivering || !self.jobs.is_empty() {
            return false;
        }
        self.delivering = true;
        true
    }

    /// Claims the stage unless another context has it (which then delivers
    /// what is done).
    pub(crate) fn claim(&mut self) -> bool {
        if self.delivering {
            return false;
        }
        self.delivering = true;
        true
    }

    /// Appends a job; gives it back if the peer has [`MAX_QUEUED_PACKETS`]
    /// waiting already, or memory is short (atomic context).
    pub(crate) fn push(&mut self, job: J) -> core::result::Result<(), J> {
        let n = job.len();
        if self.packets.saturating_add(n) > MAX_QUEUED_PACKETS {
            return Err(job);
        }
        self.jobs.push(job)?;
        self.packets = self.packets.saturating_add(n);
        Ok(())
    }

    /// For the stage's holder: the head job if it is done; otherwise the
    /// stage is given up and `None` returned.
    pub(crate) fn next_ready(&mut self) -> Option<J> {
        if self.jobs.front().is_some_and(|j| j.is_done()) {
            if let Some(job) = self.jobs.pop() {
                self.packets = self.packets.saturating_sub(job.len());
                return Some(job);
            }
        }
        self.delivering = false;
        None
    }

    /// Drops everything (peer removal, when no context can run the stage
    /// any more); returns the number of packets.
    pub(crate) fn purge(&mut self) -> u32 {
        self.packets = 0;
        self.delivering = false;
        self.jobs.purge_with(J::purge)
    }
}

/// One CPU's encryption queue and the work item that drains it.
#[pin_data]
pub(crate) struct CryptWorker {
    #[pin]
    jobs: SpinLockBh<Fifo<(Arc<Peer>, Arc<CryptJob>, Direction)>>,
    #[pin]
    work: Work<CryptWorker>,
}

impl_has_work! {
    impl HasWork<Self> for CryptWorker { self.work }
}

impl WorkItem for CryptWorker {
    type Pointer = Arc<CryptWorker>;
    fn run(this: Arc<CryptWorker>) {
        while let Some((peer, job, dir)) = this.pop() {
            match dir {
                Direction::Tx => crate::send::encrypt_job(&peer, &job),
                Direction::Rx => crate::receive::decrypt_job(&peer, &job, true),
            }
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
    pub(crate) fn push(
        &self,
        peer: Arc<Peer>,
        job: Arc<CryptJob>,
        dir: Direction,
    ) -> core::result::Result<(), (Arc<Peer>, Arc<CryptJob>, Direction)> {
        self.jobs.lock().push((peer, job, dir))
    }

    fn pop(&self) -> Option<(Arc<Peer>, Arc<CryptJob>, Direction)> {
        self.jobs.lock().pop()
    }

    /// Drops whatever is still queued (device teardown, after the queue
    /// that runs the workers is destroyed): the references to peers go.
    pub(crate) fn purge(&self) {
        let mut jobs = core::mem::replace(&mut *self.jobs.lock(), Fifo::new());
        while let Some((_peer, job, _dir)) = jobs.pop() {
            job.take_packets().purge(DropReason::Shutdown);
        }
    }
}

/// Hands `job` of `peer` to a crypt worker: the next online CPU's in the
/// round robin that spreads a peer's consecutive jobs. Encryption passes
/// over the peer's serial CPU (unless it is the only one online): that CPU
/// sends every packet of the peer (and, when the receiver is local, as
/// with a veth pair, runs the receiving bottom half too), so encryption
/// queued there waits behind the sends while the other CPUs sit idle
/// (measured: one of two vCPUs about 65 % idle during a TCP transfer,
/// performance.rst).
///
/// False if no worker could take it (memory); the caller then runs it
/// itself, in order all the same, since the serial stages go by queue
/// position. Atomic context, inside an RCU read-side section that saw the
/// peer alive.
pub(crate) fn submit(dev: &Device, peer: &Arc<Peer>, job: &Arc<CryptJob>, dir: Direction) -> bool {
    let cpu = match dir {
        Direction::Tx => dev.crypt.next_cpu_except(peer.serial_cpu()),
        Direction::Rx => dev.crypt.next_cpu(),
    };
    let Some(w) = dev.crypt.worker(cpu) else {
        return false;
    };
    if w.push(peer.clone(), job.clone(), dir).is_err() {
        return false;
    }
    // Already queued (or running and about to look again): it will find
    // this job.
    let _ = dev.wq_crypt.enqueue_on::<Arc<CryptWorker>, 0>(cpu, w.clone());
    true
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

    /// As [`Self::next_cpu`], passing over `busy` unless it is the only
    /// CPU online.
    pub(crate) fn next_cpu_except(&self, busy: i32) -> i32 {
        let cpu = self.next_cpu();
        if cpu != busy {
            return cpu;
        }
        self.next_cpu()
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

#[kunit_tests(wgrs_stage_queue)]
mod tests {
    use super::{StageJob, StageQueue, MAX_QUEUED_PACKETS};
    use crate::abstractions::sync::{new_spinlock_bh, SpinLockBh};
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use kernel::prelude::*;
    use kernel::sync::Arc;
    use kernel::time::{delay::fsleep, Delta};

    struct TestJob {
        seq: u32,
        len: u32,
        done: AtomicBool,
    }

    impl StageJob for Arc<TestJob> {
        fn len(&self) -> u32 {
            self.len
        }

        fn is_done(&self) -> bool {
            self.done.load(Ordering::Acquire)
        }

        fn purge(self) -> u32 {
            self.len
        }
    }

    fn job(seq: u32, len: u32) -> Option<Arc<TestJob>> {
        Arc::new(TestJob { seq, len, done: AtomicBool::new(false) }, GFP_KERNEL).ok()
    }

    #[test]
    fn delivers_in_order_and_gives_up_at_a_pending_head() {
        let mut q = StageQueue::<Arc<TestJob>>::new();
        let (Some(a), Some(b)) = (job(1, 1), job(2, 1)) else {
            assert!(false);
            return;
        };
        assert!(q.push(a.clone()).is_ok());
        assert!(q.push(b.clone()).is_ok());
        // Jobs queued: no delivery straight away.
        assert!(!q.claim_idle());
        // The second finishes first: its worker claims, but the head is
        // not done, so the stage is given up again with nothing delivered.
        b.done.store(true, Ordering::Release);
        assert!(q.claim());
        assert!(q.next_ready().is_none());
        // The first finishes: its worker gets the stage and delivers both.
        a.done.store(true, Ordering::Release);
        assert!(q.claim());
        assert!(!q.claim());
        assert_eq!(q.next_ready().map(|j| j.seq), Some(1));
        assert_eq!(q.next_ready().map(|j| j.seq), Some(2));
        assert!(q.next_ready().is_none());
        // Idle again: packets may be delivered at once.
        assert!(q.claim_idle());
        assert!(!q.claim_idle());
        assert!(!q.claim());
        assert!(q.next_ready().is_none());
    }

    #[test]
    fn bounded_and_purged() {
        let mut q = StageQueue::<Arc<TestJob>>::new();
        let (Some(a), Some(b), Some(c)) = (job(1, MAX_QUEUED_PACKETS - 1), job(2, 2), job(3, 1)) else {
            assert!(false);
            return;
        };
        assert!(q.push(a).is_ok());
        // Over the bound: refused and handed back.
        assert_eq!(q.push(b).err().map(|j| j.seq), Some(2));
        assert!(q.push(c).is_ok());
        assert!(q.claim());
        assert_eq!(q.purge(), MAX_QUEUED_PACKETS);
        // Purging also ends the stage.
        assert!(q.claim_idle());
    }

    const JOBS: u32 = 3000;

    #[pin_data]
    struct Shared {
        #[pin]
        q: SpinLockBh<StageQueue<Arc<TestJob>>>,
        #[pin]
        todo: SpinLockBh<KVec<Arc<TestJob>>>,
        next: AtomicU32,
        holders: AtomicU32,
        bad: AtomicU32,
        finished: AtomicU32,
    }

    /// A crypt worker's part: finish jobs in whatever order they come off
    /// the shared list, and deliver as the receive path does.
    fn worker(s: Arc<Shared>) {
        loop {
            let Some(j) = s.todo.lock().pop() else {
                break;
            };
            j.done.store(true, Ordering::Release);
            if !s.q.lock().claim() {
                continue;
            }
            while let Some(d) = s.q.lock().next_ready() {
                // One holder at a time, arrival order, only finished jobs.
                if s.holders.fetch_add(1, Ordering::AcqRel) != 0 {
                    s.bad.fetch_add(1, Ordering::Relaxed);
                }
                if s.next.load(Ordering::Relaxed) != d.seq || !d.done.load(Ordering::Acquire) {
                    s.bad.fetch_add(1, Ordering::Relaxed);
                }
                s.next.store(d.seq + 1, Ordering::Relaxed);
                s.holders.fetch_sub(1, Ordering::AcqRel);
            }
        }
        s.finished.fetch_add(1, Ordering::Release);
    }

    #[test]
    fn racing_workers_deliver_everything_in_order() {
        // Empty jobs (the bound counts packets), in order; the workers
        // take them from the end of a list shuffled by blocks, so later
        // jobs often finish first and the two workers interleave.
        let (Ok(mut todo), Ok(mut in_order)) = (
            KVec::<Arc<TestJob>>::with_capacity(JOBS as usize, GFP_KERNEL),
            KVec::<Arc<TestJob>>::with_capacity(JOBS as usize, GFP_KERNEL),
        ) else {
            assert!(false);
            return;
        };
        for seq in 0..JOBS {
            let Some(j) = job(seq, 0) else { continue };
            if todo.push(j.clone(), GFP_KERNEL).is_err() || in_order.push(j, GFP_KERNEL).is_err() {
                break;
            }
        }
        assert_eq!(todo.len(), JOBS as usize);
        assert_eq!(in_order.len(), JOBS as usize);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in (1..todo.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = i.saturating_sub((x % 8) as usize);
            todo.swap(i, k);
        }
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                q <- new_spinlock_bh!(StageQueue::new(), "wgrs_test_stage"),
                todo <- new_spinlock_bh!(todo, "wgrs_test_todo"),
                next: AtomicU32::new(0),
                holders: AtomicU32::new(0),
                bad: AtomicU32::new(0),
                finished: AtomicU32::new(0),
            }? Error),
            GFP_KERNEL,
        );
        let Ok(s) = shared else {
            assert!(false);
            return;
        };
        let mut pushed = 0u32;
        for j in in_order.iter() {
            if s.q.lock().push(j.clone()).is_ok() {
                pushed += 1;
            }
        }
        assert_eq!(pushed, JOBS);
        let mut spawned = 0u32;
        for _ in 0..2 {
            let s2 = s.clone();
            if kernel::workqueue::system_unbound().try_spawn(GFP_KERNEL, move || worker(s2)).is_ok() {
                spawned += 1;
            }
        }
        assert_eq!(spawned, 2);
        for _ in 0..1000 {
            if s.finished.load(Ordering::Acquire) == 2 {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        assert_eq!(s.finished.load(Ordering::Acquire), 2);
        assert_eq!(s.bad.load(Ordering::Relaxed), 0);
        assert_eq!(s.next.load(Ordering::Relaxed), JOBS);
        // Everything delivered and the stage given up.
        assert!(s.q.lock().claim_idle());
    }

    /// The crypt workers' round robin with a CPU passed over: it never
    /// picks that CPU while another is online, and still reaches every
    /// other online CPU.
    #[test]
    fn round_robin_passes_over_the_busy_cpu() {
        use super::{cpu, CpuPool};
        let Ok(pool) = CpuPool::<()>::new(|| Ok(Arc::new((), GFP_KERNEL)?)) else {
            assert!(false);
            return;
        };
        // The online CPUs, in the order the round robin visits them.
        let mut online = [false; 64];
        let mut n = 0usize;
        let first = cpu::next_online(-1);
        let mut c = first;
        loop {
            if let Some(slot) = usize::try_from(c).ok().and_then(|i| online.get_mut(i)) {
                *slot = true;
            }
            n += 1;
            c = cpu::next_online(c);
            if c == first || n > 4096 {
                break;
            }
        }
        for busy in [first, cpu::next_online(first)] {
            let mut seen = [false; 64];
            for _ in 0..(2 * n + 2) {
                let got = pool.next_cpu_except(busy);
                if n > 1 {
                    assert_ne!(got, busy);
                } else {
                    assert_eq!(got, busy);
                }
                if let Some(slot) = usize::try_from(got).ok().and_then(|i| seen.get_mut(i)) {
                    *slot = true;
                }
            }
            // Every online CPU but the busy one was picked (up to 64).
            for (i, (&on, &picked)) in online.iter().zip(seen.iter()).enumerate() {
                let want = on && (n == 1 || i32::try_from(i).ok() != Some(busy));
                assert_eq!(picked, want);
            }
        }
    }
}
