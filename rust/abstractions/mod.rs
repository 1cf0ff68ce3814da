// SPDX-License-Identifier: GPL-2.0

//! Safe Rust abstractions over the kernel C interfaces wgrs needs and the
//! kernel crate does not provide (net devices, sk_buffs, UDP tunnel sockets,
//! generic netlink, timers, per-CPU work, RCU-published data, bottom-half
//! spinlocks, lib/crypto).
//!
//! Every `unsafe` block of the module lives in this folder; each carries its
//! `// SAFETY:` argument and each type that relies on an invariant documents
//! it. Nothing here knows the driver: callbacks reach the driver through
//! traits it implements (the pattern of `kernel::net::phy`), and the few
//! entry points C calls by name are emitted into the driver by macros
//! (`link_driver!`, `genl_family!`, `pernet_exit!`), so the dependency runs
//! one way only, driver -> abstractions -> `sys`.

pub(crate) mod crypto;
pub(crate) mod errno;
pub(crate) mod genetlink;
pub(crate) mod napi;
pub(crate) mod netdev;
pub(crate) mod rcu;
pub(crate) mod rtnl;
pub(crate) mod skb;
pub(crate) mod sync;
pub(crate) mod time;
pub(crate) mod timer;
pub(crate) mod trie;
pub(crate) mod udp;
pub(crate) mod workqueue;

/// The module parameter `debug` (lifetime log lines).
pub(crate) fn debug_param() -> bool {
    // SAFETY: reads a module parameter; no requirements.
    unsafe { crate::sys::wgrs_debug_enabled() }
}
