// SPDX-License-Identifier: GPL-2.0

//! `timer_list` timers owned by an `Arc`: a pending timer holds a reference
//! to its owner, so the owner outlives every expiry, whatever order things
//! are torn down in; the callback gets the reference back.

use crate::abstractions::time;
use crate::sys;
use kernel::prelude::*;
use kernel::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::types::Opaque;

/// What runs when the timer expires (softirq context).
pub(crate) trait TimerCallback: Send + Sync + Sized {
    /// The timer expired; `this` is the reference the pending timer held.
    fn expired(this: Arc<Self>);
}

/// Access to the [`Timer`] inside its owner.
///
/// # Safety
///
/// `timer_of` must return a pointer to a `Timer<Self>` field of `*this`,
/// and `owner_of` must invert it.
pub(crate) unsafe trait HasTimer: Sized {
    /// The timer field of `this`.
    fn timer_of(this: *const Self) -> *const Timer<Self>;
    /// The owner of a timer field.
    ///
    /// # Safety
    ///
    /// `t` points to the timer field of a live `Self`.
    unsafe fn owner_of(t: *const Timer<Self>) -> *const Self;
}

/// Implements [`HasTimer`] for a struct and one of its `Timer` fields.
macro_rules! impl_has_timer {
    ($owner:ty, $field:ident) => {
        // SAFETY: `timer_of` projects the field; `owner_of` is the matching
        // `container_of`.
        unsafe impl $crate::abstractions::timer::HasTimer for $owner {
            fn timer_of(this: *const Self) -> *const $crate::abstractions::timer::Timer<Self> {
                // SAFETY: only the address is computed.
                unsafe { ::core::ptr::addr_of!((*this).$field) }
            }
            unsafe fn owner_of(t: *const $crate::abstractions::timer::Timer<Self>) -> *const Self {
                // SAFETY: the caller guarantees `t` is this field of a live
                // `Self`.
                unsafe { ::kernel::container_of!(t.cast_mut(), Self, $field) }.cast_const()
            }
        }
    };
}
pub(crate) use impl_has_timer;

/// A timer inside a `T` kept in an `Arc`.
///
/// # Invariants
///
/// `t` is the first field and was set up by `init_timer_key` with
/// `expired::<T>` as its function; while it is pending it owns one `Arc<T>`
/// reference, released by the callback or by whoever deactivates it. Once
/// `dead` is set, nobody arms the timer after the RCU grace period recorded
/// in `gp` (arming checks `dead` inside an RCU read-side section), so a
/// shutdown that waits for that grace period never has a start discarded
/// (which would leak the reference).
#[repr(C)]
#[pin_data]
pub(crate) struct Timer<T> {
    #[pin]
    t: Opaque<sys::timer_list>,
    dead: AtomicBool,
    gp: AtomicUsize,
    _p: core::marker::PhantomData<T>,
}

// SAFETY: timers may be armed and cancelled from any CPU.
unsafe impl<T: Send + Sync> Send for Timer<T> {}
// SAFETY: as above; the kernel serialises timer operations internally.
unsafe impl<T: Send + Sync> Sync for Timer<T> {}

unsafe extern "C" fn expired<T: TimerCallback + HasTimer>(t: *mut sys::timer_list) {
    // SAFETY: `t` is the `timer_list` of a `Timer<T>` (repr: its only
    // non-zero-sized field), inside a live `T`: the pending timer owned an
    // `Arc<T>` reference, which passes to us now.
    let owner = unsafe { T::owner_of(t.cast::<Timer<T>>()) };
    // SAFETY: that reference came from `Arc::into_raw` in `arm`.
    let this = unsafe { Arc::from_raw(owner) };
    T::expired(this);
}

impl<T: TimerCallback + HasTimer> Timer<T> {
    /// A timer that is not pending.
    pub(crate) fn new() -> impl PinInit<Self> {
        // SAFETY: `slot` is valid for writes; `init_timer_key` fully
        // initialises it; the name and the lock class key are static.
        let init = unsafe {
            pin_init::pin_init_from_closure(|slot: *mut Opaque<sys::timer_list>| {
                sys::timer_init_key(
                    Opaque::cast_into(slot),
                    Some(expired::<T>),
                    0,
                    kernel::c_str!("wgrs_peer_timer").as_char_ptr(),
                    kernel::static_lock_class!().as_ptr().cast(),
                );
                Ok::<(), core::convert::Infallible>(())
            })
        };
        pin_init!(Self {
            t <- init,
            dead: AtomicBool::new(false),
            gp: AtomicUsize::new(0),
            _p: core::marker::PhantomData,
        })
    }

    fn of(this: &Arc<T>) -> &Timer<T> {
        // SAFETY: the field of the live `T` behind `this`.
        unsafe { &*T::timer_of(&**this) }
    }

    fn raw(this: &Arc<T>) -> *mut sys::timer_list {
        // SAFETY: the field of a live `T`.
        unsafe { Opaque::cast_into(core::ptr::addr_of!((*T::timer_of(&**this)).t)) }
    }

    /// Arms (or moves) the timer to expire `delay_ns` from now.
    pub(crate) fn arm_in(this: &Arc<T>, delay_ns: u64) {
        let _rcu = crate::abstractions::rcu::read_lock();
        if Self::of(this).dead.load(Ordering::Acquire) {
            return;
        }
        let expires = time::jiffies().wrapping_add(time::ns_to_jiffies(delay_ns).max(1));
        let r = Arc::into_raw(this.clone());
        // SAFETY: the timer is set up (type invariant). If it was pending it
        // already owns a reference and we return ours; else the reference
        // we made passes to the now pending timer.
        if unsafe { sys::mod_timer(Self::raw(this), expires as kernel::ffi::c_ulong) } != 0 {
            // SAFETY: `r` is the reference made above, not handed over.
            drop(unsafe { Arc::from_raw(r) });
        }
    }

    /// Deactivates the timer and waits for a running callback (it may be
    /// armed again later). Process context.
    pub(crate) fn cancel_sync(this: &Arc<T>) {
        // SAFETY: as in `cancel`; waits by spinning, process context.
        if unsafe { sys::timer_delete_sync(Self::raw(this)) } != 0 {
            // SAFETY: see `cancel`.
            drop(unsafe { Arc::from_raw(T::owner_of(T::timer_of(&**this))) });
        }
    }

    /// Stops all future arming; [`Self::shutdown`] completes it. Any context.
    pub(crate) fn kill(this: &Arc<T>) {
        let t = Self::of(this);
        if !t.dead.swap(true, Ordering::AcqRel) {
            // SAFETY: no requirements; returns a grace-period cookie.
            let gp = unsafe { sys::get_state_synchronize_rcu() };
            t.gp.store(gp as usize, Ordering::Release);
        }
    }

    /// Deactivates the timer for good and waits for a running callback,
    /// after every arming attempt that may still be in flight (one RCU grace
    /// period after [`Self::kill`], waited for here unless it already
    /// passed). Process context.
    pub(crate) fn shutdown(this: &Arc<T>) {
        Self::kill(this);
        let gp = Self::of(this).gp.load(Ordering::Acquire);
        // SAFETY: the cookie came from `get_state_synchronize_rcu`; process
        // context, so it may sleep.
        unsafe { sys::cond_synchronize_rcu(gp as _) };
        // SAFETY: as in `cancel`; `timer_shutdown_sync` may spin, not sleep,
        // and is called from process context.
        if unsafe { sys::timer_shutdown_sync(Self::raw(this)) } != 0 {
            // SAFETY: see `cancel`.
            drop(unsafe { Arc::from_raw(T::owner_of(T::timer_of(&**this))) });
        }
    }
}
