// SPDX-License-Identifier: GPL-2.0

//! Userspace build of the wgrs sans-IO protocol core.
//!
//! `proto` is the very same module tree that the kernel module compiles
//! (rust/proto in the repository); this crate adds a RustCrypto
//! implementation of its [`proto::crypto::Crypto`] trait so the logic can be
//! tested, fuzzed and checked against other WireGuard implementations.

#![no_std]

#[path = "../../../rust/proto/mod.rs"]
pub mod proto;

pub mod fuzzing;
pub mod rustcrypto;

pub use proto::*;
