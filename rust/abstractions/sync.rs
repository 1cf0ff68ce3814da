// SPDX-License-Identifier: GPL-2.0

//! A spinlock that disables bottom halves while held (`spin_lock_bh`).
//!
//! State that both process context (netlink, work items) and softirq context
//! (receive, timers, transmit) touch must be locked with bottom halves off,
//! or a softirq arriving on the CPU that holds the lock deadlocks on it. The
//! kernel crate's `SpinLock` is the plain `spin_lock`; this is the same
//! `Lock` type with a `_bh` backend, so lockdep checks it like any other.

use crate::sys;
use kernel::bindings;
use kernel::sync::lock::{Backend, Lock};

/// A spinlock taken with bottom halves disabled.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Makes a [`SpinLockBh`] initialiser with a name and its own lock class.
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:literal $(,)?) => {
        kernel::sync::lock::Lock::<_, $crate::abstractions::sync::SpinLockBhBackend>::new(
            $inner,
            kernel::c_str!($name),
            kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_spinlock_bh;

/// The `spin_lock_bh` backend.
pub(crate) struct SpinLockBhBackend;

// SAFETY: `spin_lock_bh` and `spin_unlock_bh` give mutual exclusion on a
// spinlock initialised by `__spin_lock_init`; `relock` uses the default,
// which calls `lock` again, i.e. the same method.
unsafe impl Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: the caller guarantees `ptr` is valid for writes and that
        // `name` and `key` stay valid forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees an initialised lock. Both types are
        // bindgen's layout of the same `spinlock_t`.
        unsafe { sys::wgrs_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
        // SAFETY: as in `lock`.
        (unsafe { sys::wgrs_spin_trylock_bh(ptr.cast()) } != 0).then_some(())
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock, taken by `lock`/`try_lock` with
        // bottom halves disabled.
        unsafe { sys::wgrs_spin_unlock_bh(ptr.cast()) }
    }

    unsafe fn assert_is_held(ptr: *mut Self::State) {
        // SAFETY: the caller guarantees an initialised lock.
        unsafe { bindings::spin_assert_is_held(ptr) }
    }
}

/// Bottom halves are disabled on this CPU while this lives
/// (`local_bh_disable`); softirqs raised meanwhile run when it is dropped.
///
/// # Invariants
///
/// Bottom halves were disabled once by `new` on the current CPU and stay
/// so until `drop`; the guard is not `Send`, so it is dropped on that CPU
/// and in that context.
pub(crate) struct BhDisabled(core::marker::PhantomData<*mut ()>);

impl BhDisabled {
    pub(crate) fn new() -> Self {
        // SAFETY: always allowed outside hardirq context; paired with the
        // enable in `drop`, on the same CPU since the guard is `!Send` and
        // disabling bottom halves disables preemption.
        unsafe { sys::wgrs_local_bh_disable() };
        Self(core::marker::PhantomData)
    }
}

impl Drop for BhDisabled {
    fn drop(&mut self) {
        // SAFETY: undoes the disable of `new` (type invariant above).
        unsafe { sys::wgrs_local_bh_enable() };
    }
}
