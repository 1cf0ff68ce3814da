// SPDX-License-Identifier: GPL-2.0

//! The rtnl link kind `wireguard` and the per-namespace exit hook.
//!
//! The ops tables are C data in `sys/shim.c`: `rtnl_link_ops` is written by
//! the kernel on registration, and `ndo_start_xmit` returns the C enum
//! `netdev_tx_t`, which a Rust function pointer cannot match under kCFI.
//! Their entries call the `wgrs_link_*` functions that [`link_driver!`]
//! emits into the driver for its [`LinkDriver`] type; those hand over to the
//! generic [`Adapter`] here, which turns raw pointers into safe types.

use crate::abstractions::netdev::{Net, NetDevHandle, NetDevice, Rtnl, TunnelSetup};
use crate::abstractions::skb::SkBuff;
use crate::sys;
use core::ptr::NonNull;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// A driver of `wireguard` devices: one `Arc<Self>` per device, kept in the
/// device's private area from `newlink` to `destruct`.
pub(crate) trait LinkDriver: Send + Sync + Sized + 'static {
    /// The device shape, applied in `setup`.
    fn setup() -> TunnelSetup;
    /// A device is being created in (for) `creating_net`; under RTNL.
    /// `handle` lets the driver reach the device later, until `destruct`.
    fn newlink(dev: &NetDevice, handle: NetDevHandle, creating_net: &Net) -> Result<Arc<Self>>;
    /// The device is registered (`newlink` is complete); under RTNL.
    fn registered(this: ArcBorrow<'_, Self>, dev: &NetDevice);
    /// `ndo_open`; under RTNL.
    fn open(this: ArcBorrow<'_, Self>, dev: &NetDevice, rtnl: &Rtnl) -> Result;
    /// `ndo_stop`; under RTNL.
    fn stop(this: ArcBorrow<'_, Self>, dev: &NetDevice);
    /// `ndo_start_xmit`: the driver always consumes the skb.
    /// The skb is always consumed. An error is what the stack hands back to
    /// a local sender (`sendmsg` fails with it), as C drivers do by
    /// returning a negative errno from `ndo_start_xmit`.
    fn xmit(this: ArcBorrow<'_, Self>, dev: &NetDevice, skb: SkBuff) -> Result;
    /// The device is being freed; the driver's reference goes away after.
    /// Process context, RTNL not held.
    fn destruct(this: &Arc<Self>, dev: &NetDevice);
    /// A network namespace is exiting (`pernet_operations.exit_rtnl`):
    /// called for every device of ours, wherever it is, under RTNL.
    fn netns_exit(this: ArcBorrow<'_, Self>, dev: &NetDevice, net: &Net, rtnl: &Rtnl);
    /// The handle to the device that `newlink` was given; the adapter
    /// invalidates it after `destruct`.
    fn netdev_handle(this: &Self) -> &NetDevHandle;
}

/// Keeps the link kind (and the pernet hook) registered; unregistering
/// deletes every device of this kind in every namespace.
pub(crate) struct LinkRegistration;

impl LinkRegistration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: called once from module init; the tables are static C data.
        to_result(unsafe { sys::wgrs_rtnl_register() })?;
        Ok(Self)
    }
}

impl Drop for LinkRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. The kernel deletes every device
        // of this kind under RTNL, running our destructors, before returning.
        unsafe { sys::wgrs_rtnl_unregister() }
    }
}

/// How a request names a device.
pub(crate) enum DeviceKey {
    Index(u32),
    /// NUL-terminated, NUL-padded.
    Name([u8; 16]),
}

/// A counted reference to one of our devices, found by index or name.
///
/// # Invariants
///
/// `dev` holds a reference taken by `dev_get_by_*` (released on drop), so
/// the `net_device` stays allocated; it is a `wireguard` device of ours that
/// completed `newlink`, and `driver` is its driver state.
pub(crate) struct DeviceRef<T: LinkDriver> {
    dev: NonNull<sys::net_device>,
    driver: Arc<T>,
}

// SAFETY: the reference on the `net_device` may be dropped on any CPU, and
// the driver state is `Send + Sync`.
unsafe impl<T: LinkDriver> Send for DeviceRef<T> {}

impl<T: LinkDriver> DeviceRef<T> {
    /// Looks the device up in `net`: `ENODEV` if there is none,
    /// `EOPNOTSUPP` if it is not a `wireguard` device of this module.
    pub(crate) fn lookup(net: &Net, key: &DeviceKey) -> Result<Self> {
        let raw = match key {
            DeviceKey::Index(idx) => {
                let idx = kernel::ffi::c_int::try_from(*idx).map_err(|_| ENODEV)?;
                // SAFETY: `net` is valid (type invariant of `Net`).
                unsafe { sys::dev_get_by_index(net.as_ptr(), idx) }
            }
            DeviceKey::Name(name) => {
                if !name.contains(&0) {
                    return Err(EINVAL);
                }
                // SAFETY: `net` is valid; `name` is NUL-terminated (checked).
                unsafe { sys::dev_get_by_name(net.as_ptr(), name.as_ptr().cast()) }
            }
        };
        let dev = NonNull::new(raw).ok_or(ENODEV)?;
        // SAFETY: we hold a reference to `dev`; dropping it releases it.
        let put = || unsafe { sys::dev_put(dev.as_ptr()) };
        // SAFETY: `dev` is valid while we hold the reference.
        if !unsafe { sys::wgrs_netdev_is_ours(dev.as_ptr()) } {
            put();
            return Err(crate::abstractions::genetlink::errno::eopnotsupp());
        }
        // SAFETY: `dev` is valid; devices of ours that anyone can look up are
        // registered, so `newlink` completed, and `destruct` cannot run
        // while we hold a reference.
        let driver = match unsafe { Adapter::<T>::driver_of(dev.as_ptr()) } {
            Some(d) => d.into(),
            None => {
                put();
                return Err(ENODEV);
            }
        };
        // INVARIANT: reference held, device of ours with its state.
        Ok(Self { dev, driver })
    }

    pub(crate) fn driver(&self) -> &Arc<T> {
        &self.driver
    }

    pub(crate) fn netdev(&self) -> &NetDevice {
        // SAFETY: the reference we hold keeps `dev` valid (type invariant).
        unsafe { NetDevice::from_raw(self.dev.as_ptr()) }
    }
}

impl<T: LinkDriver> Drop for DeviceRef<T> {
    fn drop(&mut self) {
        // SAFETY: releases the reference `lookup` took (type invariant).
        unsafe { sys::dev_put(self.dev.as_ptr()) };
    }
}

/// Turns the C callbacks into calls of a [`LinkDriver`].
pub(crate) struct Adapter<T>(core::marker::PhantomData<T>);

impl<T: LinkDriver> Adapter<T> {
    /// Borrows the driver state of a device that completed `newlink`.
    ///
    /// # Safety
    ///
    /// `dev` must be valid, and its private slot must hold null or the
    /// pointer stored by `newlink` (true from `setup` until `destruct`).
    unsafe fn driver_of<'a>(dev: *mut sys::net_device) -> Option<ArcBorrow<'a, T>> {
        // SAFETY: the slot is the device's private area, valid with it.
        let raw = unsafe { *sys::wgrs_netdev_slot(dev) }.cast::<T>();
        if raw.is_null() {
            return None;
        }
        // SAFETY: the pointer came from `Arc::into_raw` in `newlink` and its
        // reference is only released in `destruct`, after which no callback
        // runs.
        Some(unsafe { ArcBorrow::from_raw(raw) })
    }

    /// # Safety
    ///
    /// Called by `rtnl_link_ops.setup` on a freshly allocated device.
    pub(crate) unsafe fn setup(dev: *mut sys::net_device) {
        // SAFETY: the rtnl core calls `setup` on a device it has not
        // registered yet, so nothing else accesses it.
        unsafe {
            *sys::wgrs_netdev_slot(dev) = core::ptr::null_mut();
            crate::abstractions::netdev::setup_tunnel(dev, &T::setup());
        }
    }

    /// # Safety
    ///
    /// Called by `rtnl_link_ops.newlink` under RTNL with a set-up device and
    /// the namespace it is created for.
    pub(crate) unsafe fn newlink(dev: *mut sys::net_device, net: *mut sys::net) -> kernel::ffi::c_int {
        // SAFETY: valid for the callback (caller guarantee).
        let (netdev, net) = unsafe { (NetDevice::from_raw(dev), Net::from_raw(net)) };
        // SAFETY: the adapter invalidates this handle right after the
        // driver's `destruct`, before the device is freed.
        let handle = unsafe { NetDevHandle::new(netdev) };
        match T::newlink(netdev, handle, net) {
            Ok(driver) => {
                // SAFETY: the slot belongs to this device; the reference
                // stored here is released in `destruct`.
                unsafe { *sys::wgrs_netdev_slot(dev) = Arc::into_raw(driver).cast_mut().cast() };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called under RTNL right after `register_netdevice` succeeded.
    pub(crate) unsafe fn registered(dev: *mut sys::net_device) {
        // SAFETY: registered device, `newlink` completed.
        if let Some(d) = unsafe { Self::driver_of(dev) } {
            // SAFETY: valid for the callback.
            T::registered(d, unsafe { NetDevice::from_raw(dev) });
        }
    }

    /// # Safety
    ///
    /// Called once per device: from `priv_destructor`, or from `newlink`'s
    /// failure path; nothing else uses the driver state afterwards.
    pub(crate) unsafe fn destruct(dev: *mut sys::net_device) {
        // SAFETY: valid device; its slot is valid with it.
        let slot = unsafe { &mut *sys::wgrs_netdev_slot(dev) };
        let raw = core::mem::replace(slot, core::ptr::null_mut()).cast::<T>();
        if raw.is_null() {
            return;
        }
        // SAFETY: `raw` came from `Arc::into_raw` in `newlink`; taking it
        // back here releases that reference exactly once.
        let driver = unsafe { Arc::from_raw(raw) };
        // SAFETY: valid for the callback.
        T::destruct(&driver, unsafe { NetDevice::from_raw(dev) });
        // The device is freed when we return.
        T::netdev_handle(&driver).invalidate();
    }

    /// # Safety
    ///
    /// `ndo_open`, under RTNL, on a registered device.
    pub(crate) unsafe fn open(dev: *mut sys::net_device) -> kernel::ffi::c_int {
        // SAFETY: registered device, `newlink` completed.
        match unsafe { Self::driver_of(dev) } {
            // SAFETY: valid for the callback.
            // SAFETY: `ndo_open` runs under RTNL.
            Some(d) => match T::open(d, unsafe { NetDevice::from_raw(dev) }, unsafe { Rtnl::assume_held() }) {
                Ok(()) => 0,
                Err(e) => e.to_errno(),
            },
            None => EINVAL.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `ndo_stop`, under RTNL, on a registered device.
    pub(crate) unsafe fn stop(dev: *mut sys::net_device) {
        // SAFETY: registered device, `newlink` completed.
        if let Some(d) = unsafe { Self::driver_of(dev) } {
            // SAFETY: valid for the callback.
            T::stop(d, unsafe { NetDevice::from_raw(dev) });
        }
    }

    /// # Safety
    ///
    /// `ndo_start_xmit` with an skb whose ownership passes to us.
    pub(crate) unsafe fn xmit(skb: *mut sys::sk_buff, dev: *mut sys::net_device) -> kernel::ffi::c_int {
        // SAFETY: ownership of a valid skb passes to us.
        let Some(skb) = (unsafe { SkBuff::from_raw(skb) }) else {
            return 0;
        };
        // SAFETY: the stack only transmits on registered devices.
        let res = match unsafe { Self::driver_of(dev) } {
            // SAFETY: valid for the callback.
            Some(d) => T::xmit(d, unsafe { NetDevice::from_raw(dev) }, skb),
            None => {
                drop(skb);
                Err(ENODEV)
            }
        };
        match res {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `pernet_operations.exit_rtnl`: RTNL held, `net` valid, `dev` a
    /// registered device of ours.
    pub(crate) unsafe fn netns_exit(dev: *mut sys::net_device, net: *mut sys::net) {
        // SAFETY: registered device, `newlink` completed.
        if let Some(d) = unsafe { Self::driver_of(dev) } {
            // SAFETY: both valid for the callback.
            T::netns_exit(d, unsafe { NetDevice::from_raw(dev) }, unsafe { Net::from_raw(net) }, unsafe {
                Rtnl::assume_held()
            });
        }
    }
}

/// Emits the entry points `sys/shim.c` calls for the link kind, for the
/// driver type `$t`.
macro_rules! link_driver {
    ($t:ty) => {
        #[no_mangle]
        extern "C" fn wgrs_link_setup(dev: *mut $crate::sys::net_device) {
            // SAFETY: called by `rtnl_link_ops.setup` (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::setup(dev) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_newlink(
            dev: *mut $crate::sys::net_device,
            net: *mut $crate::sys::net,
        ) -> kernel::ffi::c_int {
            // SAFETY: called by `rtnl_link_ops.newlink` (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::newlink(dev, net) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_registered(dev: *mut $crate::sys::net_device) {
            // SAFETY: called by `newlink` after registration (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::registered(dev) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_destruct(dev: *mut $crate::sys::net_device) {
            // SAFETY: called once per device (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::destruct(dev) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_open(dev: *mut $crate::sys::net_device) -> kernel::ffi::c_int {
            // SAFETY: `ndo_open` (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::open(dev) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_stop(dev: *mut $crate::sys::net_device) {
            // SAFETY: `ndo_stop` (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::stop(dev) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_xmit(
            skb: *mut $crate::sys::sk_buff,
            dev: *mut $crate::sys::net_device,
        ) -> kernel::ffi::c_int {
            // SAFETY: `ndo_start_xmit` (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::xmit(skb, dev) }
        }
        #[no_mangle]
        extern "C" fn wgrs_link_netns_exit(dev: *mut $crate::sys::net_device, net: *mut $crate::sys::net) {
            // SAFETY: `exit_rtnl`, for each device of ours (shim.c).
            unsafe { $crate::abstractions::rtnl::Adapter::<$t>::netns_exit(dev, net) }
        }
    };
}
pub(crate) use link_driver;
