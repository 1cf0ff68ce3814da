// SPDX-License-Identifier: GPL-2.0

//! Receive cells: per-CPU packet lists, each with a NAPI instance of the
//! device, that gather what one softirq run receives and hand it to the
//! driver as one list (the C side is in `shim.c`).
//!
//! A UDP socket's receive callback sees one datagram at a time and cannot
//! tell where a burst ends. Queueing the datagram on this CPU's cell and
//! scheduling the cell's NAPI defers the driver's work until the softirq
//! has finished the poll that delivered it (a veth backlog, a NIC's ring),
//! so the driver gets the whole run at once, up to the NAPI budget.

use crate::abstractions::netdev::NetDevice;
use crate::abstractions::skb::{SkBuff, SkbList};
use crate::sys;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

/// What receives the cells' batches.
pub(crate) trait RxBatchReceiver: Send + Sync + 'static {
    /// Packets one poll took from this CPU's cell, in arrival order.
    /// Softirq context.
    fn receive_batch(this: &Self, packets: SkbList);
}

/// The cells of one device.
///
/// # Invariants
///
/// `cells` is null or came from `wgrs_rx_cells_create` with, as its data,
/// the address of the `T` given to [`RxCells::init`], which contains these
/// cells (so it is pinned and lives while they do); it is destroyed once,
/// by [`RxCells::destroy`] or on drop, and set to null then.
pub(crate) struct RxCells {
    cells: AtomicPtr<sys::wgrs_rx_cells>,
}

unsafe extern "C" fn rx_batch<T: RxBatchReceiver>(data: *mut c_void, chain: *mut sys::sk_buff) {
    // SAFETY: the poll hands over a null-terminated chain it owned.
    let packets = unsafe { SkbList::from_chain(chain) };
    // SAFETY: `data` is the owner passed to `init` (type invariant), which
    // outlives its cells: they are destroyed (every poll finished) before
    // it goes.
    T::receive_batch(unsafe { &*data.cast::<T>() }, packets);
}

impl RxCells {
    /// No cells yet: [`Self::queue`] refuses every packet.
    pub(crate) const fn new() -> Self {
        Self { cells: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Sets the cells up on `dev`; their polls call `owner`. Process
    /// context, once. `owner` must contain `self` (an `Arc`'s contents
    /// never move; it destroys these cells, waiting for their polls,
    /// before it is freed).
    pub(crate) fn init<T: RxBatchReceiver>(&self, dev: &NetDevice, owner: &Arc<T>) -> Result {
        let data = ptr::from_ref::<T>(owner).cast_mut().cast::<c_void>();
        // SAFETY: valid device; the callback matches the C type; `data`
        // outlives the cells (the caller's contract above).
        let cells = unsafe { sys::wgrs_rx_cells_create(dev.as_ptr(), Some(rx_batch::<T>), data) };
        if cells.is_null() {
            return Err(ENOMEM);
        }
        if self.cells.compare_exchange(ptr::null_mut(), cells, Ordering::Release, Ordering::Relaxed).is_err() {
            // SAFETY: just created, never published.
            unsafe { sys::wgrs_rx_cells_destroy(cells) };
            return Err(EBUSY);
        }
        Ok(())
    }

    /// Queues `skb` on this CPU's cell (bottom halves off). Gives it back
    /// when there are no cells or the cell holds `netdev_max_backlog`.
    pub(crate) fn queue(&self, skb: SkBuff) -> core::result::Result<(), SkBuff> {
        let cells = self.cells.load(Ordering::Acquire);
        if cells.is_null() {
            return Err(skb);
        }
        let raw = skb.into_raw();
        // SAFETY: live cells (type invariant: destroyed only once nothing
        // queues); `raw` is an skb we own, on no list; on success the cell
        // owns it.
        if unsafe { sys::wgrs_rx_cells_queue(cells, raw) } {
            return Ok(());
        }
        // SAFETY: refused, so still ours and on no list.
        match unsafe { SkBuff::from_raw(raw) } {
            Some(skb) => Err(skb),
            None => Ok(()),
        }
    }

    /// Stops the polls, frees what is still queued and releases the cells.
    /// Process context, after the last [`Self::queue`] (the sockets that
    /// feed them are released).
    pub(crate) fn destroy(&self) {
        let cells = self.cells.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: null or created by `init` and not destroyed yet (the swap
        // hands it to one caller only); nothing queues any more.
        unsafe { sys::wgrs_rx_cells_destroy(cells) }
    }
}

impl Drop for RxCells {
    fn drop(&mut self) {
        self.destroy();
    }
}
