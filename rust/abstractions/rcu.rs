// SPDX-License-Identifier: GPL-2.0

//! RCU-published data: what the data path reads without locks.
//!
//! The kernel crate only has the read-side guard. Here are the write sides:
//!
//! - [`RcuCell`]: one published, heap-allocated value that writers replace;
//!   the old value is freed after a grace period (`call_rcu`).
//! - [`RcuRc`]: a reference-counted object whose last reference frees it
//!   after a grace period, so that readers who found it under RCU may take a
//!   reference of their own if it is still alive (`kref_get_unless_zero`
//!   style); [`RcuRcSlot`] publishes one.
//! - [`RcuHashTable`]: a fixed-size hash table of singly linked buckets,
//!   readable under RCU, written under its own bottom-half spinlock.
//!
//! Values dropped after a grace period are dropped in softirq context (the
//! RCU callback): their `Drop` must not sleep. Values whose drop sleeps are
//! taken out with the `_sync` variants, which wait for the grace period and
//! hand the value back to the (process context) caller.

use crate::abstractions::sync::{new_spinlock_bh, SpinLockBh};
use crate::sys;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use kernel::prelude::*;
use kernel::types::Opaque;

pub(crate) use kernel::sync::rcu::{read_lock, Guard};

/// Waits for a full RCU grace period (`synchronize_rcu`). Process context.
pub(crate) fn synchronize() {
    // SAFETY: may sleep; callers are in process context (documented).
    unsafe { sys::synchronize_rcu() }
}

/// `synchronize_net`: a grace period, expedited under RTNL.
pub(crate) fn synchronize_net() {
    // SAFETY: may sleep; callers are in process context (documented).
    unsafe { sys::synchronize_net() }
}

/// Waits until every callback queued by `call_rcu` so far has run
/// (`rcu_barrier`). Process context; used before the module goes away.
pub(crate) fn barrier() {
    // SAFETY: may sleep; callers are in process context (documented).
    unsafe { sys::rcu_barrier() }
}

/// A value with the `rcu_head` that frees it after a grace period.
///
/// # Invariants
///
/// `head` is the first field (`repr(C)`), so a pointer to it is a pointer
/// to the box.
#[repr(C)]
struct RcuBox<T> {
    head: Opaque<sys::callback_head>,
    value: T,
}

impl<T: Send> RcuBox<T> {
    fn alloc(value: T, flags: kernel::alloc::Flags) -> Result<NonNull<Self>> {
        let b = KBox::new(Self { head: Opaque::uninit(), value }, flags)?;
        // SAFETY: `KBox::into_raw` never returns null.
        Ok(unsafe { NonNull::new_unchecked(KBox::into_raw(b)) })
    }

    /// Frees the box after a grace period.
    ///
    /// # Safety
    ///
    /// `ptr` came from [`Self::alloc`] (possibly through [`RcuNew`]), is no
    /// longer reachable for new readers, and is released exactly once.
    unsafe fn retire(ptr: NonNull<Self>) {
        // SAFETY: `head` is valid memory of the live box; the callback frees
        // it after every reader that could see the box has finished.
        unsafe { sys::call_rcu(Opaque::cast_into(ptr::addr_of!((*ptr.as_ptr()).head)), Some(Self::free)) }
    }

    /// Frees the box at once.
    ///
    /// # Safety
    ///
    /// As for [`Self::retire`], and no reader can hold a reference any more
    /// (a grace period has passed, or it was never published).
    unsafe fn free_now(ptr: NonNull<Self>) {
        // SAFETY: the box came from `KBox::into_raw` (caller guarantee).
        drop(unsafe { KBox::from_raw(ptr.as_ptr()) });
    }

    unsafe extern "C" fn free(head: *mut sys::callback_head) {
        // SAFETY: `head` is the first field of an `RcuBox<T>` queued by
        // `retire`, whose grace period has now ended (type invariant).
        unsafe { Self::free_now(NonNull::new_unchecked(head.cast::<Self>())) }
    }
}

/// A value allocated for publication but not published yet: the writer may
/// still change it.
pub(crate) struct RcuNew<T: Send>(NonNull<RcuBox<T>>);

impl<T: Send> RcuNew<T> {
    /// Allocates `value`.
    pub(crate) fn new(value: T, flags: kernel::alloc::Flags) -> Result<Self> {
        Ok(Self(RcuBox::alloc(value, flags)?))
    }

    fn into_raw(self) -> NonNull<RcuBox<T>> {
        let p = self.0;
        core::mem::forget(self);
        p
    }
}

impl<T: Send> core::ops::Deref for RcuNew<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we own the unpublished box.
        unsafe { &(*self.0.as_ptr()).value }
    }
}

impl<T: Send> core::ops::DerefMut for RcuNew<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we own the unpublished box; nobody else can see it.
        unsafe { &mut (*self.0.as_ptr()).value }
    }
}

impl<T: Send> Drop for RcuNew<T> {
    fn drop(&mut self) {
        // SAFETY: never published, so no reader exists.
        unsafe { RcuBox::free_now(self.0) }
    }
}

// SAFETY: `RcuNew` owns its value like a `KBox`.
unsafe impl<T: Send> Send for RcuNew<T> {}

/// A value taken out of an [`RcuCell`] after a grace period: the caller
/// owns it again and drops it in process context.
pub(crate) struct RcuTaken<T: Send>(NonNull<RcuBox<T>>);

impl<T: Send> core::ops::Deref for RcuTaken<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we own the box again (no reader left).
        unsafe { &(*self.0.as_ptr()).value }
    }
}

impl<T: Send> Drop for RcuTaken<T> {
    fn drop(&mut self) {
        // SAFETY: a grace period passed since it was unpublished.
        unsafe { RcuBox::free_now(self.0) }
    }
}

/// One RCU-published value, or none.
///
/// # Invariants
///
/// `ptr` is null or owns an [`RcuBox`] allocated by [`RcuBox::alloc`] whose
/// value readers may be reading; a replaced box is retired exactly once.
pub(crate) struct RcuCell<T: Send + Sync> {
    ptr: AtomicPtr<RcuBox<T>>,
}

// SAFETY: readers on any CPU get `&T` (so `T: Sync`), and the value may be
// dropped on another CPU (so `T: Send`).
unsafe impl<T: Send + Sync> Sync for RcuCell<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for RcuCell<T> {}

impl<T: Send + Sync> RcuCell<T> {
    /// An empty cell.
    pub(crate) const fn empty() -> Self {
        Self { ptr: AtomicPtr::new(ptr::null_mut()) }
    }

    /// The published value, valid while `guard` is held.
    pub(crate) fn get<'g>(&'g self, _guard: &'g Guard) -> Option<&'g T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer owns a live box (type invariant); it is
        // retired only through `call_rcu`, so it stays valid for as long as
        // the RCU read lock that `_guard` proves is held.
        (!p.is_null()).then(|| unsafe { &(*p).value })
    }

    /// Whether a value is published (a hint: it may change at once).
    pub(crate) fn is_set(&self) -> bool {
        !self.ptr.load(Ordering::Relaxed).is_null()
    }

    /// Publishes `new` (or nothing); the previous value is freed after a
    /// grace period, in softirq context, so its drop must not sleep.
    pub(crate) fn replace(&self, new: Option<RcuNew<T>>) {
        let new = new.map_or(ptr::null_mut(), |n| n.into_raw().as_ptr());
        let old = self.ptr.swap(new, Ordering::AcqRel);
        if let Some(old) = NonNull::new(old) {
            // SAFETY: `old` was owned by the cell and is unreachable for new
            // readers now; the swap hands it to us exactly once.
            unsafe { RcuBox::retire(old) }
        }
    }

    /// Publishes `new` and waits for a grace period, then hands the previous
    /// value back for the caller to drop (in process context, so it may
    /// sleep: sockets, for instance).
    pub(crate) fn replace_sync(&self, new: Option<RcuNew<T>>) -> Option<RcuTaken<T>> {
        let new = new.map_or(ptr::null_mut(), |n| n.into_raw().as_ptr());
        let old = NonNull::new(self.ptr.swap(new, Ordering::AcqRel))?;
        synchronize_net();
        // INVARIANT: the grace period has passed; we own `old` alone.
        Some(RcuTaken(old))
    }
}

impl<T: Send + Sync> Drop for RcuCell<T> {
    fn drop(&mut self) {
        self.replace(None);
    }
}

/// The shared part of an [`RcuRc`].
///
/// # Invariants
///
/// `head` is the first field; `refs` counts the [`RcuRc`] handles; at zero
/// the object is retired through `head` exactly once.
#[repr(C)]
#[pin_data]
struct RcInner<T> {
    head: Opaque<sys::callback_head>,
    refs: AtomicUsize,
    #[pin]
    value: T,
}

/// A reference-counted object freed one grace period after its last handle
/// is dropped (the C driver's `kref` + `call_rcu` pattern).
///
/// # Invariants
///
/// `ptr` points to a live [`RcInner`] in which this handle is counted.
pub(crate) struct RcuRc<T: Send + Sync> {
    ptr: NonNull<RcInner<T>>,
    _p: PhantomData<RcInner<T>>,
}

// SAFETY: like `Arc<T>`: shared access from any CPU, drop on any CPU.
unsafe impl<T: Send + Sync> Send for RcuRc<T> {}
// A handle is a pointer: moving it never moves the pinned object.
impl<T: Send + Sync> Unpin for RcuRc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RcuRc<T> {}

impl<T: Send + Sync> RcuRc<T> {
    /// Allocates and initialises a new object with one reference.
    pub(crate) fn pin_init<E>(init: impl PinInit<T, E>, flags: kernel::alloc::Flags) -> Result<Self>
    where
        Error: From<E>,
    {
        let inner = KBox::pin_init(
            try_pin_init!(RcInner {
                head: Opaque::uninit(),
                refs: AtomicUsize::new(1),
                value <- init,
            }? E),
            flags,
        )?;
        // SAFETY: the object stays pinned: it is only freed, never moved.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(inner) });
        // SAFETY: `into_raw` is never null.
        let ptr = unsafe { NonNull::new_unchecked(raw) };
        // INVARIANT: one handle, counted.
        Ok(Self { ptr, _p: PhantomData })
    }

    /// Whether two handles refer to the same object.
    pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// A handle from a pointer found under RCU, if the object still lives.
    ///
    /// # Safety
    ///
    /// `ptr` points to an [`RcInner`] that is not freed before the end of
    /// the current RCU read-side critical section.
    unsafe fn get_unless_zero(ptr: NonNull<RcInner<T>>) -> Option<Self> {
        // SAFETY: valid for this critical section (caller guarantee).
        let refs = unsafe { &(*ptr.as_ptr()).refs };
        let mut n = refs.load(Ordering::Relaxed);
        loop {
            if n == 0 {
                return None;
            }
            match refs.compare_exchange_weak(n, n.saturating_add(1), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(Self { ptr, _p: PhantomData }),
                Err(cur) => n = cur,
            }
        }
    }

    fn into_raw(self) -> NonNull<RcInner<T>> {
        let p = self.ptr;
        core::mem::forget(self);
        p
    }

    unsafe extern "C" fn free(head: *mut sys::callback_head) {
        // SAFETY: `head` is the first field of an `RcInner<T>` whose count
        // reached zero and whose grace period has ended; it came from
        // `KBox::into_raw` in `pin_init`.
        drop(unsafe { KBox::from_raw(head.cast::<RcInner<T>>()) });
    }
}

impl<T: Send + Sync> Clone for RcuRc<T> {
    fn clone(&self) -> Self {
        // SAFETY: the object is live while we are counted in it.
        unsafe { (*self.ptr.as_ptr()).refs.fetch_add(1, Ordering::Relaxed) };
        // INVARIANT: counted above.
        Self { ptr: self.ptr, _p: PhantomData }
    }
}

impl<T: Send + Sync> core::ops::Deref for RcuRc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: live while we are counted in it (type invariant).
        unsafe { &(*self.ptr.as_ptr()).value }
    }
}

impl<T: Send + Sync> Drop for RcuRc<T> {
    fn drop(&mut self) {
        let inner = self.ptr.as_ptr();
        // SAFETY: live while we are counted in it (type invariant).
        if unsafe { (*inner).refs.fetch_sub(1, Ordering::Release) } != 1 {
            return;
        }
        core::sync::atomic::fence(Ordering::Acquire);
        // SAFETY: we dropped the last handle; readers that found the object
        // under RCU may still look at it (and fail to take a reference), so
        // it is freed after a grace period, through `head`, once.
        unsafe { sys::call_rcu(Opaque::cast_into(ptr::addr_of!((*inner).head)), Some(Self::free)) }
    }
}

/// One published [`RcuRc`], or none.
///
/// # Invariants
///
/// A non-null `ptr` came from [`RcuRc::into_raw`] and is counted as one
/// handle owned by the slot.
pub(crate) struct RcuRcSlot<T: Send + Sync> {
    ptr: AtomicPtr<RcInner<T>>,
}

// SAFETY: as for `RcuRc`.
unsafe impl<T: Send + Sync> Send for RcuRcSlot<T> {}
// SAFETY: as for `RcuRc`.
unsafe impl<T: Send + Sync> Sync for RcuRcSlot<T> {}

impl<T: Send + Sync> RcuRcSlot<T> {
    /// An empty slot.
    pub(crate) const fn empty() -> Self {
        Self { ptr: AtomicPtr::new(ptr::null_mut()) }
    }

    /// A reference to the published object, valid under `guard`.
    pub(crate) fn load<'g>(&'g self, _guard: &'g Guard) -> Option<&'g T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: the slot's handle kept the object alive when we loaded it;
        // if that handle is dropped meanwhile, freeing waits for the end of
        // the read-side section `_guard` proves.
        (!p.is_null()).then(|| unsafe { &(*p).value })
    }

    /// A handle of our own to the published object, if any and alive.
    pub(crate) fn get(&self, _guard: &Guard) -> Option<RcuRc<T>> {
        let p = NonNull::new(self.ptr.load(Ordering::Acquire))?;
        // SAFETY: as in `load`: not freed before `_guard` is released.
        unsafe { RcuRc::get_unless_zero(p) }
    }

    /// Publishes `new`, returning the previous handle.
    pub(crate) fn swap(&self, new: Option<RcuRc<T>>) -> Option<RcuRc<T>> {
        let new = new.map_or(ptr::null_mut(), |n| n.into_raw().as_ptr());
        let old = NonNull::new(self.ptr.swap(new, Ordering::AcqRel))?;
        // INVARIANT: the slot's counted handle passes to the caller.
        Some(RcuRc { ptr: old, _p: PhantomData })
    }
}

impl<T: Send + Sync> Drop for RcuRcSlot<T> {
    fn drop(&mut self) {
        drop(self.swap(None));
    }
}

/// An entry of an [`RcuHashTable`].
///
/// # Invariants
///
/// `head` is the first field.
#[repr(C)]
struct Entry<T> {
    head: Opaque<sys::callback_head>,
    next: AtomicPtr<Entry<T>>,
    hash: u64,
    value: T,
}

/// An entry allocated ahead of time, so that insertion needs no allocation
/// (and can happen under a spinlock).
pub(crate) struct NewEntry<T: Send>(KBox<Entry<T>>);

impl<T: Send> NewEntry<T> {
    /// Allocates an entry for `value`.
    pub(crate) fn new(value: T, flags: kernel::alloc::Flags) -> Result<Self> {
        Ok(Self(KBox::new(
            Entry { head: Opaque::uninit(), next: AtomicPtr::new(ptr::null_mut()), hash: 0, value },
            flags,
        )?))
    }

    /// The value, still private to the writer.
    pub(crate) fn value_mut(&mut self) -> &mut T {
        &mut self.0.value
    }
}

/// A fixed-size hash table readable under RCU.
///
/// # Invariants
///
/// Every bucket is a null-terminated list of entries from `NewEntry`
/// (`KBox::into_raw`), each in exactly one bucket, the one selected by its
/// `hash`; lists are changed only with `lock` held; an unlinked entry is
/// retired through `call_rcu` exactly once.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuHashTable<T: Send + Sync> {
    buckets: KVVec<AtomicPtr<Entry<T>>>,
    mask: u64,
    #[pin]
    lock: SpinLockBh<()>,
}

// SAFETY: readers share `&T` across CPUs; entries may be freed on any CPU.
unsafe impl<T: Send + Sync> Send for RcuHashTable<T> {}
// SAFETY: as above; writers serialise on `lock`.
unsafe impl<T: Send + Sync> Sync for RcuHashTable<T> {}

impl<T: Send + Sync> RcuHashTable<T> {
    /// A table of `1 << bits` buckets.
    pub(crate) fn new(bits: u32) -> impl PinInit<Self, Error> {
        let n = 1usize << bits.min(20);
        let mut buckets = KVVec::with_capacity(n, GFP_KERNEL);
        if let Ok(b) = buckets.as_mut() {
            for _ in 0..n {
                // Cannot fail: the capacity is reserved.
                let _ = b.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL);
            }
        }
        try_pin_init!(Self {
            buckets: buckets?,
            mask: (n as u64).wrapping_sub(1),
            lock <- new_spinlock_bh!((), "wgrs_hashtable"),
        }? Error)
    }

    fn bucket(&self, hash: u64) -> Option<&AtomicPtr<Entry<T>>> {
        self.buckets.get(usize::try_from(hash & self.mask).ok()?)
    }

    /// The first value with this hash for which `pred` holds.
    pub(crate) fn find<'g>(
        &'g self,
        hash: u64,
        _guard: &'g Guard,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Option<&'g T> {
        let mut p = self.bucket(hash)?.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: reachable entries are live until a grace period after
            // they are unlinked, and `_guard` holds off that grace period.
            let e = unsafe { &*p };
            if e.hash == hash && pred(&e.value) {
                return Some(&e.value);
            }
            p = e.next.load(Ordering::Acquire);
        }
        None
    }

    /// Inserts `entry` at the head of its bucket.
    pub(crate) fn insert(&self, hash: u64, entry: NewEntry<T>) {
        let _g = self.lock.lock();
        self.insert_locked(hash, entry);
    }

    fn insert_locked(&self, hash: u64, mut entry: NewEntry<T>) {
        let Some(bucket) = self.bucket(hash) else {
            return;
        };
        entry.0.hash = hash;
        entry.0.next.store(bucket.load(Ordering::Relaxed), Ordering::Relaxed);
        // INVARIANT: linked into its bucket, under the lock; Release orders
        // the initialisation before publication.
        bucket.store(KBox::into_raw(entry.0), Ordering::Release);
    }

    /// Inserts `entry` unless an entry with this hash satisfies `conflict`;
    /// then the entry is handed back.
    pub(crate) fn insert_unique(
        &self,
        hash: u64,
        entry: NewEntry<T>,
        mut conflict: impl FnMut(&T) -> bool,
    ) -> core::result::Result<(), NewEntry<T>> {
        let _g = self.lock.lock();
        let guard = read_lock();
        if self.find(hash, &guard, &mut conflict).is_some() {
            return Err(entry);
        }
        drop(guard);
        self.insert_locked(hash, entry);
        Ok(())
    }

    /// Unlinks the first entry with this hash for which `pred` holds and
    /// frees it after a grace period. Returns whether one was found.
    pub(crate) fn remove(&self, hash: u64, pred: impl FnMut(&T) -> bool) -> bool {
        let _g = self.lock.lock();
        self.remove_locked(hash, pred)
    }

    fn remove_locked(&self, hash: u64, mut pred: impl FnMut(&T) -> bool) -> bool {
        let Some(mut link) = self.bucket(hash) else {
            return false;
        };
        loop {
            let p = link.load(Ordering::Relaxed);
            if p.is_null() {
                return false;
            }
            // SAFETY: linked entries are live; we hold the lock, so nobody
            // else unlinks them.
            let e = unsafe { &*p };
            if e.hash == hash && pred(&e.value) {
                link.store(e.next.load(Ordering::Relaxed), Ordering::Release);
                // SAFETY: unlinked (new readers cannot find it), retired
                // once; `Entry` starts with its `rcu_head` like `RcuBox`.
                unsafe {
                    sys::call_rcu(Opaque::cast_into(ptr::addr_of!((*p).head)), Some(Self::free))
                };
                return true;
            }
            link = &e.next;
        }
    }

    /// Inserts `new` and removes the first old entry (same hash) for which
    /// `old` holds, as one step for writers (readers see both for a moment,
    /// the new one first).
    pub(crate) fn replace(&self, hash: u64, new: NewEntry<T>, old: impl FnMut(&T) -> bool) -> bool {
        let _g = self.lock.lock();
        // Remove first: `new` might satisfy `old` too.
        let found = self.remove_locked(hash, old);
        self.insert_locked(hash, new);
        found
    }

    unsafe extern "C" fn free(head: *mut sys::callback_head) {
        // SAFETY: `head` starts an `Entry<T>` from `KBox::into_raw`, unlinked
        // one grace period ago (type invariant).
        drop(unsafe { KBox::from_raw(head.cast::<Entry<T>>()) });
    }
}

#[pinned_drop]
impl<T: Send + Sync> PinnedDrop for RcuHashTable<T> {
    fn drop(self: Pin<&mut Self>) {
        for bucket in self.buckets.iter() {
            let mut p = bucket.swap(ptr::null_mut(), Ordering::Relaxed);
            while !p.is_null() {
                // SAFETY: the table is going away, so no reader holds a
                // reference into it (they borrow the table); each linked
                // entry is owned by its bucket and freed once here.
                let e = unsafe { KBox::from_raw(p) };
                p = e.next.load(Ordering::Relaxed);
            }
        }
    }
}
