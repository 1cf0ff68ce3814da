// SPDX-License-Identifier: GPL-2.0

//! Workqueues the module owns, and queueing work on a chosen CPU.
//!
//! Work items themselves are the kernel crate's (`kernel::workqueue::Work`,
//! `impl_has_work!`, `WorkItem`); what it lacks is allocating a queue with
//! flags and `queue_work_on` a specific CPU.

use crate::abstractions::rcu;
use crate::sys;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::workqueue::RawWorkItem;

/// Queue flags (`WQ_*`).
pub(crate) mod flags {
    use crate::sys;
    /// Bound to CPUs (`WQ_PERCPU`).
    pub(crate) const PERCPU: u32 = sys::wq_flags_WQ_PERCPU;
    /// Not bound (`WQ_UNBOUND`).
    pub(crate) const UNBOUND: u32 = sys::wq_flags_WQ_UNBOUND;
    /// Long CPU-bound work (`WQ_CPU_INTENSIVE`).
    pub(crate) const CPU_INTENSIVE: u32 = sys::wq_flags_WQ_CPU_INTENSIVE;
    /// Frozen on suspend (`WQ_FREEZABLE`).
    pub(crate) const FREEZABLE: u32 = sys::wq_flags_WQ_FREEZABLE;
    /// Has a rescuer for progress under memory pressure (`WQ_MEM_RECLAIM`).
    pub(crate) const MEM_RECLAIM: u32 = sys::wq_flags_WQ_MEM_RECLAIM;
}

/// A workqueue allocated by the module.
///
/// # Invariants
///
/// `wq` is null (destroyed) or a queue from `alloc_workqueue`. It is read
/// inside RCU read-side sections only, and destroyed one grace period after
/// it was cleared, so nobody queues on a destroyed queue.
pub(crate) struct OwnedQueue {
    wq: AtomicPtr<sys::workqueue_struct>,
}

impl OwnedQueue {
    /// Allocates a queue named `name` (at most 15 characters shown).
    pub(crate) fn new(name: &CStr, flags: u32) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; the shim passes it as "%s".
        let wq = unsafe { sys::wgrs_alloc_workqueue(name.as_char_ptr(), flags) };
        if wq.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self { wq: AtomicPtr::new(wq) })
    }

    fn with<R>(&self, f: impl FnOnce(*mut sys::workqueue_struct) -> Option<R>) -> Option<R> {
        let _guard = rcu::read_lock();
        let wq = self.wq.load(Ordering::Acquire);
        if wq.is_null() {
            return None;
        }
        f(wq)
    }

    /// Queues `w` on any CPU. `Err(w)` if it is queued already or the queue
    /// is destroyed.
    pub(crate) fn enqueue<W: RawWorkItem<ID, EnqueueOutput = core::result::Result<(), W>> + Send + 'static, const ID: u64>(
        &self,
        w: W,
    ) -> core::result::Result<(), W> {
        self.enqueue_on(sys::wq_misc_consts_WORK_CPU_UNBOUND as i32, w)
    }

    /// Queues `w` on `cpu`.
    pub(crate) fn enqueue_on<W: RawWorkItem<ID, EnqueueOutput = core::result::Result<(), W>> + Send + 'static, const ID: u64>(
        &self,
        cpu: i32,
        w: W,
    ) -> core::result::Result<(), W> {
        let mut w = Some(w);
        let r = self.with(|wq| {
            let w = w.take()?;
            // SAFETY: `wq` is a live queue for this RCU section (type
            // invariant); the closure returns false only if the work is
            // already queued, as `__enqueue` requires; `W` is `Send` and
            // `'static`.
            Some(unsafe { w.__enqueue(move |work| sys::queue_work_on(cpu, wq, work.cast())) })
        });
        match (r, w) {
            (Some(r), _) => r,
            (None, Some(w)) => Err(w),
            // Unreachable: `with` returned None after taking `w` only if
            // the enqueue closure itself returned None, which it does not.
            (None, None) => Ok(()),
        }
    }

    /// Waits for everything queued so far to finish. Process context.
    pub(crate) fn flush(&self) {
        let wq = self.wq.load(Ordering::Acquire);
        if !wq.is_null() {
            // SAFETY: only `destroy` frees the queue, and callers do not
            // flush concurrently with it (both run under the device's
            // configuration lock); may sleep, process context.
            unsafe { sys::__flush_workqueue(wq) };
        }
    }

    /// Drains and frees the queue; queueing fails from now on. Process
    /// context.
    pub(crate) fn destroy(&self) {
        let wq = self.wq.swap(ptr::null_mut(), Ordering::AcqRel);
        if wq.is_null() {
            return;
        }
        rcu::synchronize();
        // SAFETY: nobody can queue on it any more (grace period after the
        // pointer was cleared); `destroy_workqueue` drains what is queued.
        unsafe { sys::destroy_workqueue(wq) };
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // Normally destroyed explicitly, in process context, before this.
        self.destroy();
    }
}


/// Gives the CPU up if something else should run (long work items).
pub(crate) fn cond_resched() {
    // SAFETY: process context (work items), no locks held by the callers.
    unsafe { sys::wgrs_cond_resched() }
}

/// CPU numbers, for spreading work over the CPUs.
pub(crate) mod cpu {
    use crate::sys;

    /// How many CPU ids there can be (`nr_cpu_ids`): every CPU number is
    /// below it.
    pub(crate) fn nr_cpu_ids() -> u32 {
        // SAFETY: reads a value fixed at boot.
        unsafe { sys::wgrs_nr_cpu_ids() }
    }

    /// The online CPU after `prev`, wrapping around (`prev` = -1: the
    /// first one).
    pub(crate) fn next_online(prev: i32) -> i32 {
        // SAFETY: any `prev`; the shim only reads the online mask.
        unsafe { sys::wgrs_next_online_cpu(prev) }
    }

    /// A CPU for the object numbered `id`: `stored` while that CPU is
    /// online, else the `id`-th online CPU (wrapping), so that objects
    /// spread evenly over the CPUs and each keeps its own.
    pub(crate) fn choose_online(stored: i32, id: u64) -> i32 {
        // SAFETY: any arguments; the shim only reads the online mask.
        unsafe { sys::wgrs_choose_online_cpu(stored, id) }
    }
}
