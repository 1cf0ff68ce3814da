// SPDX-License-Identifier: GPL-2.0

//! `struct net_device`, `struct net`, RTNL and GRO cells.

use crate::sys;
use kernel::prelude::*;
use kernel::types::Opaque;

/// A network device that the kernel owns.
///
/// # Invariants
///
/// The wrapped `net_device` is valid for as long as a reference to this
/// type exists: references are made from pointers the kernel passes to a
/// device callback (valid during it), or from a device the caller holds a
/// reference to or knows to be registered (documented at each `from_raw`).
#[repr(transparent)]
pub(crate) struct NetDevice(Opaque<sys::net_device>);

// SAFETY: a `net_device` is shared by every CPU; all accessors here are
// either read-only snapshots or kernel functions that synchronise.
unsafe impl Sync for NetDevice {}
// SAFETY: as above.
unsafe impl Send for NetDevice {}

/// Which error counter of the device to bump.
#[derive(Clone, Copy)]
pub(crate) enum ErrorCounter {
    /// `tx_errors`: a packet could not be sent (no peer, no endpoint).
    TxErrors,
    /// `rx_errors` and `rx_frame_errors`: bad inner packet type or source.
    RxFrame,
    /// `rx_errors` and `rx_length_errors`: bad inner packet size.
    RxLength,
}

impl NetDevice {
    /// Makes a reference from a pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `net_device` that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut sys::net_device) -> &'a Self {
        // SAFETY: transparent wrapper of `Opaque<net_device>`; validity per
        // the caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::net_device {
        self.0.get()
    }

    /// The interface index. It changes when the device moves to another
    /// namespace (both under RTNL), hence the proof of holding it.
    pub(crate) fn ifindex(&self, _rtnl: &Rtnl) -> u32 {
        // SAFETY: valid device (type invariant); RTNL excludes moves.
        let idx = unsafe { (*self.as_ptr()).ifindex };
        u32::try_from(idx).unwrap_or(0)
    }

    /// The interface name, NUL-padded. Renames happen under RTNL, which
    /// the caller holds.
    pub(crate) fn name(&self, _rtnl: &Rtnl) -> [u8; 16] {
        self.name_racy()
    }

    /// The interface name for a log line, read without RTNL: during a
    /// rename it may mix old and new bytes, never more.
    pub(crate) fn name_racy(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: valid device; `name` is IFNAMSIZ (16) bytes; volatile
        // byte reads tolerate a concurrent rename.
        let name = unsafe { core::ptr::addr_of!((*self.as_ptr()).name) }.cast::<u8>();
        for (i, o) in out.iter_mut().enumerate().take(15) {
            // SAFETY: `i < 16`, inside the array.
            *o = unsafe { core::ptr::read_volatile(name.add(i)) };
        }
        out
    }

    /// The current MTU.
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: valid device; a plain aligned read of an int that
        // changes only under RTNL (a stale value is harmless).
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).mtu)) }
    }

    /// Whether the device is up (`netif_running`).
    pub(crate) fn is_running(&self) -> bool {
        // SAFETY: valid device; a bit test.
        unsafe { sys::wgrs_netif_running(self.as_ptr()) }
    }

    /// Counts `n` dropped outgoing packets.
    pub(crate) fn count_tx_dropped(&self, n: u32) {
        // SAFETY: valid device; an atomic counter update.
        unsafe { sys::wgrs_dev_tx_dropped(self.as_ptr(), n) }
    }

    /// Counts `n` dropped incoming packets.
    pub(crate) fn count_rx_dropped(&self, n: u32) {
        // SAFETY: valid device; an atomic counter update.
        unsafe { sys::wgrs_dev_rx_dropped(self.as_ptr(), n) }
    }

    /// Counts `packets` received packets of `bytes` bytes together. Any
    /// context.
    pub(crate) fn count_rx(&self, packets: u32, bytes: u64) {
        // SAFETY: valid device with per-CPU dstats; the shim disables
        // bottom halves around the per-CPU update.
        unsafe { sys::wgrs_dev_rx_add(self.as_ptr(), packets, bytes) }
    }

    /// Counts an error.
    pub(crate) fn count_error(&self, which: ErrorCounter) {
        let w = match which {
            ErrorCounter::TxErrors => 0,
            ErrorCounter::RxFrame => 1,
            ErrorCounter::RxLength => 2,
        };
        // SAFETY: valid device; atomic counters.
        unsafe { sys::wgrs_dev_count_error(self.as_ptr(), w) }
    }

    /// Drops the carrier (the device can no longer send).
    pub(crate) fn carrier_off(&self) {
        // SAFETY: valid device.
        unsafe { sys::netif_carrier_off(self.as_ptr()) }
    }

    /// The interface index read without RTNL, for a notification sent
    /// where RTNL cannot be taken (softirq). A namespace move changes it
    /// under RTNL, but only while the device is down, when nothing is
    /// received and so nothing is reported from the data path.
    pub(crate) fn ifindex_racy(&self) -> u32 {
        // SAFETY: valid device (type invariant); an aligned int read.
        let idx = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).ifindex)) };
        u32::try_from(idx).unwrap_or(0)
    }

    /// The namespace the device is in.
    pub(crate) fn net(&self) -> &Net {
        // SAFETY: valid device. A namespace outlives the devices in it: its
        // exit moves or unregisters them first, and a move happens under
        // RTNL with the device down (see `ifindex_racy` for who reads this
        // without RTNL).
        unsafe { Net::from_raw(sys::wgrs_dev_net(self.as_ptr())) }
    }

    /// Whether `addr` (IPv4) is assigned to this device. RCU read side.
    pub(crate) fn has_addr_v4(&self, addr: &[u8; 4]) -> bool {
        // SAFETY: valid device; `addr` has the 4 bytes the shim reads; the
        // shim looks up under the caller's RCU read-side section.
        unsafe { sys::wgrs_dev_has_addr(self.as_ptr(), false, addr.as_ptr()) }
    }

    /// Whether `addr` (IPv6) is assigned to this device.
    pub(crate) fn has_addr_v6(&self, addr: &[u8; 16]) -> bool {
        // SAFETY: as above, 16 bytes.
        unsafe { sys::wgrs_dev_has_addr(self.as_ptr(), true, addr.as_ptr()) }
    }

    /// What the device asks of the inet layers when it comes up, as the C
    /// driver does: no ICMP redirects, no IPv6 link-local address.
    pub(crate) fn set_inet_defaults(&self, _rtnl: &Rtnl) {
        // SAFETY: valid device, RTNL held (`__in_dev_get_rtnl`).
        unsafe { sys::wgrs_dev_inet_defaults(self.as_ptr()) }
    }
}

/// The driver's way back to its device, valid from `newlink` until the
/// device is freed.
///
/// # Invariants
///
/// `dev` is null or a device that stays valid at least until the end of
/// every RCU read-side section in which it was read non-null: the rtnl
/// adapter clears it and waits for a grace period before the device is
/// freed.
pub(crate) struct NetDevHandle {
    dev: core::sync::atomic::AtomicPtr<sys::net_device>,
}

impl NetDevHandle {
    /// # Safety
    ///
    /// The caller must [`Self::invalidate`] the handle before the device
    /// is freed.
    pub(crate) unsafe fn new(dev: &NetDevice) -> Self {
        Self { dev: core::sync::atomic::AtomicPtr::new(dev.as_ptr()) }
    }

    /// The device, while it exists.
    pub(crate) fn get<'g>(&self, _guard: &'g crate::abstractions::rcu::Guard) -> Option<&'g NetDevice> {
        let p = self.dev.load(core::sync::atomic::Ordering::Acquire);
        // SAFETY: non-null means not freed before `_guard` is released
        // (type invariant).
        (!p.is_null()).then(|| unsafe { NetDevice::from_raw(p) })
    }

    /// The device is about to be freed. Process context.
    pub(crate) fn invalidate(&self) {
        self.dev.store(core::ptr::null_mut(), core::sync::atomic::Ordering::Release);
        crate::abstractions::rcu::synchronize();
    }
}

/// A network namespace, borrowed for the duration of a callback.
///
/// # Invariants
///
/// The `net` is valid while a reference to this type exists.
#[repr(transparent)]
pub(crate) struct Net(Opaque<sys::net>);

impl Net {
    /// # Safety
    ///
    /// `ptr` must point to a valid `net` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut sys::net) -> &'a Self {
        // SAFETY: transparent wrapper of `Opaque<net>`; validity per caller.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::net {
        self.0.get()
    }

    /// Whether the current task has CAP_NET_ADMIN in this namespace's user
    /// namespace.
    pub(crate) fn capable_net_admin(&self) -> bool {
        // SAFETY: valid namespace.
        unsafe { sys::wgrs_net_capable_admin(self.as_ptr()) }
    }
}

/// A namespace pointer kept without a reference, for identity checks and
/// for the namespace's own exit notification to clear (the C driver's
/// `creating_net`).
///
/// # Invariants
///
/// The pointer is only dereferenced while the namespace is known to be
/// alive: between `newlink` and its `exit_rtnl`, which clears it under RTNL.
pub(crate) struct NetRef(core::sync::atomic::AtomicPtr<sys::net>);

impl NetRef {
    pub(crate) fn new(net: &Net) -> Self {
        Self(core::sync::atomic::AtomicPtr::new(net.as_ptr()))
    }

    /// Whether this is `net`.
    pub(crate) fn is(&self, net: &Net) -> bool {
        self.0.load(core::sync::atomic::Ordering::Relaxed) == net.as_ptr()
    }

    /// Forgets the namespace (it is exiting).
    pub(crate) fn clear(&self, _rtnl: &Rtnl) {
        self.0.store(core::ptr::null_mut(), core::sync::atomic::Ordering::Relaxed);
    }

    /// Runs `f` with the namespace and a reference held on it, if it is
    /// still set and alive (`maybe_get_net`).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Net) -> R) -> Option<R> {
        let _rtnl_or_rcu = crate::abstractions::rcu::read_lock();
        let p = self.0.load(core::sync::atomic::Ordering::Relaxed);
        if p.is_null() {
            return None;
        }
        // SAFETY: set means the namespace has not run our exit hook yet, so
        // it is allocated; `maybe_get_net` fails if it is already dying.
        let got = unsafe { sys::wgrs_maybe_get_net(p) };
        drop(_rtnl_or_rcu);
        if got.is_null() {
            return None;
        }
        // SAFETY: we hold a reference until `put_net` below.
        let r = f(unsafe { Net::from_raw(got) });
        // SAFETY: releases the reference taken above.
        unsafe { sys::wgrs_put_net(got) };
        Some(r)
    }
}

/// Holds the RTNL mutex until dropped.
pub(crate) struct Rtnl(());

impl Rtnl {
    /// Takes RTNL. It may sleep: process context only.
    pub(crate) fn lock() -> Self {
        // SAFETY: released exactly once, in `drop`.
        unsafe { sys::rtnl_lock() };
        Self(())
    }

    /// Proof of RTNL for code the kernel calls with RTNL held.
    ///
    /// # Safety
    ///
    /// RTNL must be held for the lifetime of the returned reference.
    pub(crate) unsafe fn assume_held<'a>() -> &'a Rtnl {
        static HELD: Rtnl = Rtnl(());
        &HELD
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: taken in `lock` (`assume_held` hands out a static that is
        // never dropped).
        unsafe { sys::rtnl_unlock() };
    }
}

/// What a tunnel device looks like to the stack: set in `rtnl_link_ops.setup`.
pub(crate) struct TunnelSetup {
    /// Bytes the driver prepends (outer IP + UDP + WireGuard header),
    /// without the link-layer reserve.
    pub(crate) headroom: u16,
    /// Bytes the driver may append (padding and authentication tag).
    pub(crate) tailroom: u16,
    pub(crate) mtu: u32,
    pub(crate) max_mtu: u32,
}

/// `NET_SKB_PAD`: the link-layer reserve the stack keeps in front of
/// packets (64 on x86_64 with 64-byte cache lines).
pub(crate) fn net_skb_pad() -> u16 {
    // SAFETY: returns a constant.
    u16::try_from(unsafe { sys::wgrs_net_skb_pad() }).unwrap_or(64)
}

/// Applies `setup` to a device the rtnl core has just allocated.
///
/// # Safety
///
/// `dev` must be a device under construction in `rtnl_link_ops.setup`, not
/// yet registered, so that nothing else accesses it concurrently.
pub(crate) unsafe fn setup_tunnel(dev: *mut sys::net_device, setup: &TunnelSetup) {
    // SAFETY: the caller guarantees a valid device that is not yet shared.
    // The shim writes fields that sit in C struct groups and bitfields.
    unsafe {
        sys::wgrs_setup_tunnel(
            dev,
            setup.headroom.saturating_add(net_skb_pad()),
            setup.tailroom,
            setup.mtu,
            setup.max_mtu,
        )
    }
}

/// Per-CPU GRO for received packets (`struct gro_cells`).
///
/// # Invariants
///
/// `cells` is zeroed or was set up by `gro_cells_init` for one device;
/// `gro_cells_destroy` tolerates both and is called at most once while
/// set up (`destroy`), then on drop again on a zeroed state.
#[pin_data(PinnedDrop)]
pub(crate) struct GroCells {
    #[pin]
    cells: Opaque<sys::gro_cells>,
}

// SAFETY: the cells are per-CPU and used from softirq on each CPU.
unsafe impl Send for GroCells {}
// SAFETY: as above.
unsafe impl Sync for GroCells {}

impl GroCells {
    /// Unset cells (`gro_cells_receive` then falls back to `netif_rx`).
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self { cells: Opaque::zeroed() })
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::gro_cells {
        self.cells.get()
    }

    /// Sets the cells up for `dev`. Process context.
    pub(crate) fn init(&self, dev: &NetDevice) -> Result {
        // SAFETY: zeroed cells (type invariant: `init` is called once,
        // before any packet); valid device.
        kernel::error::to_result(unsafe { sys::gro_cells_init(self.as_ptr(), dev.as_ptr()) })
    }

    /// Tears the cells down. Process context, before the device is freed.
    pub(crate) fn destroy(&self) {
        // SAFETY: set up or zeroed; `gro_cells_destroy` handles both and
        // leaves them zeroed.
        unsafe { sys::gro_cells_destroy(self.as_ptr()) }
    }
}

#[pinned_drop]
impl PinnedDrop for GroCells {
    fn drop(self: Pin<&mut Self>) {
        // Normally destroyed explicitly before; a no-op on zeroed cells.
        // SAFETY: see `destroy`.
        unsafe { sys::gro_cells_destroy(self.as_ptr()) }
    }
}
