// SPDX-License-Identifier: GPL-2.0

//! Sans-IO WireGuard protocol core.
//!
//! This module tree is compiled twice from the very same files: by the kernel
//! module (mounted at its crate root as `#[path = "proto/mod.rs"] mod proto;`)
//! and by the userspace crate `wgrs-proto` for tests, fuzzing and interop.
//!
//! Rules for everything below this directory:
//! - only `core`, no `alloc`, no `std`, no dependencies, no `unsafe`;
//! - no panic reachable from any input: no indexing, no unchecked arithmetic,
//!   no `unwrap`/`expect`;
//! - time and randomness come in as arguments or through [`crypto::Crypto`];
//! - modest stack usage (no multi-KiB locals).
//!
//! Sibling modules are referred to via `super::`.

#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]
#![warn(missing_docs)]
// The kernel mounts this tree privately and builds with -Wunreachable_pub.
#![allow(dead_code, unreachable_pub)]

pub mod constants;
pub mod cookie;
pub mod crypto;
pub mod gate;
pub mod inner;
pub mod keypair;
pub mod messages;
pub mod noise;
pub mod ratelimit;
pub mod replay;
pub mod selftest;
pub mod timers;
pub mod util;
