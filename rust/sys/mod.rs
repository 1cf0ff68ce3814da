// SPDX-License-Identifier: GPL-2.0

//! Raw bindings to the kernel interfaces wgrs uses.
//!
//! Generated at build time by bindgen from `wgrs_sys.h` (see `Kbuild`). Nothing
//! outside the abstraction modules (`netdev`, `rtnl`, `crypto`) may use this
//! module: every call into it is `unsafe` and is wrapped there with its safety
//! argument.

#![allow(
    clippy::all,
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unnecessary_transmutes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]

// The kernel's Rust treats these as the native pointer-sized integers; the
// bindgen parameters blocklist them so that they are defined once, here.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");
