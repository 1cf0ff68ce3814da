// SPDX-License-Identifier: GPL-2.0

//! Clocks and randomness.

use crate::sys;

/// Monotonic nanoseconds including suspend, coarse (tick precision): the
/// clock of the protocol's timers, as the C driver's
/// `ktime_get_coarse_boottime_ns`.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: no requirements; any context.
    let t = unsafe { sys::ktime_get_coarse_boottime_ns() };
    u64::try_from(t).unwrap_or(0)
}

/// Wall-clock time (seconds, nanoseconds since the epoch).
pub(crate) fn wall_clock() -> (i64, i64) {
    let mut ts = sys::timespec64::default();
    // SAFETY: `ts` is a valid out parameter.
    unsafe { sys::ktime_get_real_ts64(&mut ts) };
    (ts.tv_sec, ts.tv_nsec as i64)
}

/// The current jiffies count.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: no requirements.
    unsafe { sys::wgrs_jiffies() }
}

/// Nanoseconds as jiffies, rounded up.
pub(crate) fn ns_to_jiffies(ns: u64) -> u64 {
    // SAFETY: no requirements.
    unsafe { sys::nsecs_to_jiffies64(ns) }
}

/// 32 random bits from the kernel's CRNG.
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no requirements; any context.
    unsafe { sys::get_random_u32() }
}
