// SPDX-License-Identifier: GPL-2.0

//! The rtnl link kind `wireguard`: registration and the device callbacks.
//!
//! The ops tables live in `sys/shim.c`; they call the `extern "C"` functions
//! here, which turn raw pointers into the safe types of `netdev` and hand over
//! to `device::Device`.

use crate::device::Device;
use crate::genetlink::errno;
use crate::netdev::{Net, NetDevice, SkBuff};
use core::ptr::NonNull;
use crate::sys;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// Keeps the link kind registered; unregistering deletes all its devices.
pub(crate) struct LinkRegistration;

impl LinkRegistration {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: called once from module init; the ops table is static C data.
        to_result(unsafe { sys::wgrs_rtnl_register() })?;
        Ok(Self)
    }
}

impl Drop for LinkRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. The kernel deletes every device of
        // this kind under RTNL, running our destructors, before returning.
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
/// completed `newlink`, and `device` is its driver state.
pub(crate) struct DeviceRef {
    dev: NonNull<sys::net_device>,
    device: Arc<Device>,
}

impl DeviceRef {
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
            return Err(errno::eopnotsupp());
        }
        // SAFETY: `dev` is valid; devices of ours that anyone can look up are
        // registered, so `newlink` completed, and `destruct` cannot run
        // while we hold a reference.
        let device = match unsafe { device_of(NetDevice::from_raw(dev.as_ptr())) } {
            Some(device) => device.into(),
            None => {
                put();
                return Err(ENODEV);
            }
        };
        // INVARIANT: reference held, device of ours with its state.
        Ok(Self { dev, device })
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    pub(crate) fn netdev(&self) -> &NetDevice {
        // SAFETY: the reference we hold keeps `dev` valid (type invariant).
        unsafe { NetDevice::from_raw(self.dev.as_ptr()) }
    }
}

impl Drop for DeviceRef {
    fn drop(&mut self) {
        // SAFETY: releases the reference `lookup` took (type invariant).
        unsafe { sys::dev_put(self.dev.as_ptr()) };
    }
}

/// Borrows the driver state of a device that completed `newlink`.
///
/// # Safety
///
/// `dev` must be valid, and its private slot must hold the pointer stored by
/// `wgrs_rust_newlink` (true from `newlink` until `destruct`).
unsafe fn device_of<'a>(dev: &'a NetDevice) -> Option<ArcBorrow<'a, Device>> {
    // SAFETY: the slot is the device's private area, valid with the device.
    let raw = unsafe { *dev.priv_slot() }.cast::<Device>();
    if raw.is_null() {
        return None;
    }
    // SAFETY: the pointer came from `Arc::into_raw` in `newlink` and its
    // reference is only released in `destruct`, after which no callback runs.
    Some(unsafe { ArcBorrow::from_raw(raw) })
}

#[no_mangle]
extern "C" fn wgrs_rust_setup(dev: *mut sys::net_device) {
    // SAFETY: the rtnl core calls `setup` on a freshly allocated device that
    // it has not registered yet.
    unsafe {
        *NetDevice::from_raw(dev).priv_slot() = core::ptr::null_mut();
        crate::netdev::setup_tunnel(dev, &Device::tunnel_setup());
    }
}

#[no_mangle]
extern "C" fn wgrs_rust_newlink(
    dev: *mut sys::net_device,
    _extack: *mut sys::netlink_ext_ack,
) -> kernel::ffi::c_int {
    // SAFETY: `newlink` is called under RTNL with a valid, set-up device.
    let netdev = unsafe { NetDevice::from_raw(dev) };
    match Device::new(netdev) {
        Ok(device) => {
            // SAFETY: the slot belongs to this device; the reference stored
            // here is released in `wgrs_rust_destruct`.
            unsafe { *netdev.priv_slot() = Arc::into_raw(device).cast_mut().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

#[no_mangle]
extern "C" fn wgrs_rust_destruct(dev: *mut sys::net_device) {
    // SAFETY: called once, from `priv_destructor` or a failed `newlink`, with
    // a valid device that no callback will use again.
    let netdev = unsafe { NetDevice::from_raw(dev) };
    // SAFETY: the slot is valid with the device.
    let slot = unsafe { &mut *netdev.priv_slot() };
    let raw = core::mem::replace(slot, core::ptr::null_mut()).cast::<Device>();
    if !raw.is_null() {
        // SAFETY: `raw` came from `Arc::into_raw` in `newlink`; taking it
        // back here releases that reference exactly once.
        let device = unsafe { Arc::from_raw(raw) };
        device.shutdown();
    }
}

#[no_mangle]
extern "C" fn wgrs_rust_open(dev: *mut sys::net_device) -> kernel::ffi::c_int {
    // SAFETY: ndo_open runs under RTNL on a registered device.
    let netdev = unsafe { NetDevice::from_raw(dev) };
    // SAFETY: registered devices have completed `newlink`.
    match unsafe { device_of(netdev) } {
        Some(device) => match device.open() {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        None => EINVAL.to_errno(),
    }
}

#[no_mangle]
extern "C" fn wgrs_rust_stop(dev: *mut sys::net_device) -> kernel::ffi::c_int {
    // SAFETY: ndo_stop runs under RTNL on a registered device.
    let netdev = unsafe { NetDevice::from_raw(dev) };
    // SAFETY: registered devices have completed `newlink`.
    if let Some(device) = unsafe { device_of(netdev) } {
        device.stop();
    }
    0
}

#[no_mangle]
extern "C" fn wgrs_rust_xmit(skb: *mut sys::sk_buff, dev: *mut sys::net_device) {
    // SAFETY: ndo_start_xmit passes a valid skb whose ownership moves to us.
    let Some(skb) = (unsafe { SkBuff::from_raw(skb) }) else {
        return;
    };
    // SAFETY: the stack only transmits on registered, valid devices.
    let netdev = unsafe { NetDevice::from_raw(dev) };
    // SAFETY: registered devices have completed `newlink`.
    match unsafe { device_of(netdev) } {
        Some(device) => device.xmit(netdev, skb),
        None => drop(skb),
    }
}
