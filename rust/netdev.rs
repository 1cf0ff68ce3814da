// SPDX-License-Identifier: GPL-2.0

//! Abstractions over `struct net_device` and `struct sk_buff`.
//!
//! The driver sees only the safe types here; each raw access carries its
//! safety argument.

use crate::sys;
use core::ptr::NonNull;
use kernel::types::Opaque;

/// A network device that the kernel owns.
///
/// # Invariants
///
/// The wrapped `net_device` is valid for as long as a reference to this type
/// exists: references are only made from pointers the kernel passes to a
/// device callback, and are not kept past that callback.
#[repr(transparent)]
pub(crate) struct NetDevice(Opaque<sys::net_device>);

impl NetDevice {
    /// Makes a reference from a pointer the kernel gave us.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `net_device` that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut sys::net_device) -> &'a Self {
        // SAFETY: `NetDevice` is a transparent wrapper of `Opaque<net_device>`,
        // which has the layout of `net_device`; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::net_device {
        self.0.get()
    }

    /// The interface index.
    pub(crate) fn ifindex(&self) -> u32 {
        // SAFETY: the device is valid (type invariant); ifindex is fixed once
        // the device is registered.
        let idx = unsafe { (*self.as_ptr()).ifindex };
        u32::try_from(idx).unwrap_or(0)
    }

    /// The interface name, NUL-padded. The name only changes under RTNL, so
    /// callers that need a consistent name hold [`Rtnl`].
    pub(crate) fn name(&self, _rtnl: &Rtnl) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: the device is valid (type invariant) and RTNL, which the
        // caller holds, excludes renames; `name` is IFNAMSIZ (16) bytes.
        let name = unsafe { (*self.as_ptr()).name };
        for (o, c) in out.iter_mut().zip(name.iter()) {
            *o = *c;
        }
        out
    }

    /// The slot in the device's private area where the driver keeps its state.
    pub(crate) fn priv_slot(&self) -> *mut *mut core::ffi::c_void {
        // SAFETY: the device is valid (type invariant) and was allocated by
        // the rtnl core with `priv_size == sizeof(void *)` (see shim.c).
        unsafe { sys::wgrs_netdev_slot(self.as_ptr()) }
    }

    /// Counts one dropped outgoing packet in the per-CPU device statistics.
    pub(crate) fn count_tx_dropped(&self) {
        // SAFETY: the device is valid and uses per-CPU dstats (set in
        // `setup_tunnel`), which `dev_dstats_tx_dropped` updates locally.
        unsafe { sys::dev_dstats_tx_dropped(self.as_ptr()) }
    }

    /// Counts one dropped incoming packet in the per-CPU device statistics.
    #[allow(dead_code)]
    pub(crate) fn count_rx_dropped(&self) {
        // SAFETY: as for `count_tx_dropped`.
        unsafe { sys::dev_dstats_rx_dropped(self.as_ptr()) }
    }
}

/// A network namespace, borrowed for the duration of a callback.
///
/// # Invariants
///
/// The `net` is valid while a reference to this type exists: references are
/// only made from a namespace the kernel pins for the running callback.
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
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: taken in `lock`.
        unsafe { sys::rtnl_unlock() };
    }
}

/// What a tunnel device looks like to the stack: set in `rtnl_link_ops.setup`.
pub(crate) struct TunnelSetup {
    /// Bytes the driver prepends (outer IP + UDP + WireGuard header).
    pub(crate) headroom: u16,
    /// Bytes the driver may append (padding and authentication tag).
    pub(crate) tailroom: u16,
    pub(crate) mtu: u32,
    pub(crate) max_mtu: u32,
}

/// Applies `setup` to a device the rtnl core has just allocated.
///
/// # Safety
///
/// `dev` must be a device under construction in `rtnl_link_ops.setup`, not yet
/// registered, so that nothing else accesses it concurrently.
pub(crate) unsafe fn setup_tunnel(dev: *mut sys::net_device, setup: &TunnelSetup) {
    // SAFETY: the caller guarantees a valid device that is not yet shared.
    // The shim writes fields that sit in C struct groups and bitfields.
    unsafe {
        sys::wgrs_setup_tunnel(
            dev,
            setup.headroom,
            setup.tailroom,
            setup.mtu,
            setup.max_mtu,
        )
    }
}

/// Why a packet is dropped; reported to the kernel's drop monitor.
#[derive(Clone, Copy)]
pub(crate) enum DropReason {
    /// No peer's allowed-ips cover the destination.
    NoRoute,
}

impl DropReason {
    fn raw(self) -> sys::skb_drop_reason {
        match self {
            DropReason::NoRoute => sys::skb_drop_reason_SKB_DROP_REASON_IP_OUTNOROUTES,
        }
    }
}

/// An `sk_buff` the driver owns.
///
/// # Invariants
///
/// The pointer is a valid `sk_buff` to which this value holds the only
/// reference the driver has; it is released exactly once, by `drop_with`,
/// `consume` or `Drop`.
pub(crate) struct SkBuff(NonNull<sys::sk_buff>);

impl SkBuff {
    /// Takes ownership of an skb handed over by the stack.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid skb whose ownership passes to the returned value.
    pub(crate) unsafe fn from_raw(ptr: *mut sys::sk_buff) -> Option<Self> {
        NonNull::new(ptr).map(Self)
    }

    /// Frees the skb, telling the drop monitor why.
    pub(crate) fn drop_with(self, reason: DropReason) {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        // SAFETY: we own the skb (type invariant) and `forget` above makes
        // this the only release. kfree_skb_reason is callable from process
        // and softirq context, which is where the driver handles skbs.
        unsafe { sys::kfree_skb_reason(ptr, reason.raw()) }
    }

    /// Frees an skb that was handled successfully (not a drop).
    #[allow(dead_code)]
    pub(crate) fn consume(self) {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        // SAFETY: as in `drop_with`.
        unsafe { sys::consume_skb(ptr) }
    }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: we own the skb (type invariant); this is its only release.
        unsafe {
            sys::kfree_skb_reason(
                self.0.as_ptr(),
                sys::skb_drop_reason_SKB_DROP_REASON_NOT_SPECIFIED,
            )
        }
    }
}
