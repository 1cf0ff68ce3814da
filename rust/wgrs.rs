// SPDX-License-Identifier: GPL-2.0

//! wgrs: WireGuard as a Linux kernel module in Rust.
//!
//! A drop-in for the in-tree driver: it registers the same rtnl link kind
//! (`wireguard`) so that `ip link add wg0 type wireguard` creates its devices.
//!
//! Layers (see Documentation/design.rst):
//! - `sys`: bindgen output and the C shim; used only by the abstractions.
//! - abstractions: `netdev`, `rtnl`, `genetlink`, `crypto`: every `unsafe`
//!   block lives here.
//! - driver: `device`, `peer`, `allowedips`, `netlink`: safe Rust on top.

use kernel::prelude::*;

mod allowedips;
mod crypto;
mod device;
mod genetlink;
mod netdev;
mod netlink;
mod peer;
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
    alias: ["rtnl-link-wireguard", "net-pf-16-proto-16-family-wireguard"],
}

struct Wgrs {
    // Dropped in this order: the family first, as the C driver's exit does.
    _genl: genetlink::FamilyRegistration,
    _link: rtnl::LinkRegistration,
}

impl kernel::Module for Wgrs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let link = rtnl::LinkRegistration::register()?;
        let genl = genetlink::FamilyRegistration::register()?;
        pr_info!("WireGuard (wgrs, Rust) loaded. See Documentation/ for the gate.\n");
        Ok(Wgrs { _genl: genl, _link: link })
    }
}

impl Drop for Wgrs {
    fn drop(&mut self) {
        pr_info!("WireGuard (wgrs) unloading\n");
    }
}
