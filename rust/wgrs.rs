// SPDX-License-Identifier: GPL-2.0

//! wgrs: WireGuard as a Linux kernel module in Rust.
//!
//! A drop-in for the in-tree driver: it registers the same rtnl link kind
//! (`wireguard`) so that `ip link add wg0 type wireguard` creates its devices.
//!
//! Layers (see Documentation/design.rst):
//! - `sys`: bindgen output and the C shim; used only by the abstractions.
//! - abstractions: `netdev`, `rtnl`, `crypto`: every `unsafe` block lives here.
//! - driver: `device`: safe Rust on top.

use kernel::prelude::*;

mod crypto;
mod device;
mod netdev;
// The sans-IO protocol core, the very files userspace/wgrs-proto tests.
mod proto;
mod rtnl;
#[path = "sys/mod.rs"]
mod sys;

module! {
    type: Wgrs,
    name: "wgrs",
    authors: ["The wgrs developers"],
    description: "WireGuard secure network tunnel in Rust, with an idle gate",
    license: "GPL",
    alias: ["rtnl-link-wireguard"],
}

struct Wgrs {
    _link: rtnl::LinkRegistration,
}

impl kernel::Module for Wgrs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let link = rtnl::LinkRegistration::register()?;
        pr_info!("WireGuard (wgrs, Rust) loaded. See Documentation/ for the gate.\n");
        Ok(Wgrs { _link: link })
    }
}

impl Drop for Wgrs {
    fn drop(&mut self) {
        pr_info!("WireGuard (wgrs) unloading\n");
    }
}
