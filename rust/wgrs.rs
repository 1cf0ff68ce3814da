// SPDX-License-Identifier: GPL-2.0

//! wgrs: WireGuard as a Linux kernel module in Rust.
//!
//! A drop-in for the in-tree driver: the same rtnl link kind (`wireguard`)
//! and generic netlink family, so `ip`, `wg` and `wg-quick` work unchanged.
//!
//! Layers (see Documentation/design.rst):
//! - `sys`: bindgen output and the C shim; used only by the abstractions.
//! - `abstractions`: safe wrappers over kernel C; every `unsafe` block of the
//!   module lives there.
//! - `proto`: the sans-IO protocol core, shared with userspace.
//! - the driver (everything else): safe Rust, one concern per file, named
//!   like the C driver's (device, peer, peerlookup, allowedips, noise,
//!   cookie, ratelimiter, send, receive, socket, timers, queueing, netlink).

use kernel::prelude::*;

mod abstractions;
mod allowedips;
mod bench;
mod device;
mod gate;
mod gate_netlink;
mod log;
mod netlink;
mod noise;
mod peer;
mod peerlookup;
// The sans-IO protocol core, the very files userspace/wgrs-proto tests.
mod proto;
mod queueing;
mod ratelimiter;
mod receive;
mod send;
mod socket;
#[path = "sys/mod.rs"]
mod sys;
mod timers;

use abstractions::{genetlink, rcu, rtnl};

module! {
    type: Wgrs,
    name: "wgrs",
    authors: ["The wgrs developers"],
    description: "WireGuard secure network tunnel in Rust, with an idle gate",
    license: "GPL",
    alias: [
        "rtnl-link-wireguard",
        "net-pf-16-proto-16-family-wireguard",
        "net-pf-16-proto-16-family-wgrs_gate",
    ],
    params: {
        bench: i64 {
            default: 0,
            description: "1: run the in-module microbenchmarks (crypto, allowed-IPs) at load, 2: quickly; for make bench",
        },
        handshake_load: u32 {
            default: crate::device::UNDER_LOAD_QUEUE_LEN,
            description: "handshake messages waiting at which a device is under load and demands cookies (1 to 4096; 512 as the C driver); lower it only to test the cookie path",
        },
        rx_handoff: u32 {
            default: 0,
            description: "0 (default): received packets are decrypted on the CPU they arrive on; N (2 to 64): a train of at least N packets of one session goes to another CPU's crypt worker (see Documentation/performance.rst)",
        },
    },
}

// The entry points C calls, bound to the driver's types.
rtnl::link_driver!(device::Device);
genetlink::wireguard_family!(netlink::Family);
genetlink::gate_family!(gate_netlink::Family);

struct Wgrs {
    // Dropped in this order: the `wireguard` family first, as the C
    // driver's exit does; the gate family after the devices, which send
    // its notifications until they are gone.
    genl: Option<genetlink::FamilyRegistration>,
    link: Option<rtnl::LinkRegistration>,
    gate: Option<genetlink::GateRegistration>,
}

impl kernel::Module for Wgrs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let load = *module_parameters::handshake_load.value();
        if !(1..=device::MAX_QUEUED_INCOMING_HANDSHAKES).contains(&load) {
            pr_err!(
                "handshake_load={} refused: it must lie in 1..={} (handshake messages waiting)\n",
                load,
                device::MAX_QUEUED_INCOMING_HANDSHAKES
            );
            return Err(EINVAL);
        }
        if load != device::UNDER_LOAD_QUEUE_LEN {
            pr_warn!(
                "handshake_load={}: under load from {} waiting handshake messages (not {})\n",
                load,
                load,
                device::UNDER_LOAD_QUEUE_LEN
            );
        }
        let handoff = *module_parameters::rx_handoff.value();
        if handoff == 1 || handoff > receive::RX_BATCH_MAX {
            pr_err!(
                "rx_handoff={} refused: 0 (off) or 2..={} (packets in a train)\n",
                handoff,
                receive::RX_BATCH_MAX
            );
            return Err(EINVAL);
        }
        if handoff != 0 {
            pr_info!("rx_handoff={}: received trains of {} or more packets go to crypt workers\n", handoff, handoff);
        }
        match *module_parameters::bench.value() {
            1 => bench::run(false),
            2 => bench::run(true),
            0 => {}
            v => pr_warn!("bench={} ignored: 1 runs the microbenchmarks, 2 their quick version\n", v),
        }
        let gate = genetlink::GateRegistration::register()?;
        let link = rtnl::LinkRegistration::register()?;
        let genl = genetlink::FamilyRegistration::register()?;
        pr_info!("WireGuard (wgrs, Rust) loaded. See Documentation/ for the gate.\n");
        Ok(Wgrs { genl: Some(genl), link: Some(link), gate: Some(gate) })
    }
}

impl Drop for Wgrs {
    fn drop(&mut self) {
        drop(self.genl.take());
        // Deletes every device; their teardown waits for their work.
        drop(self.link.take());
        drop(self.gate.take());
        // Callbacks queued with call_rcu run code of this module: wait for
        // all of them (twice: a callback may queue another).
        rcu::barrier();
        rcu::barrier();
        pr_info!("WireGuard (wgrs) unloaded\n");
    }
}
