// SPDX-License-Identifier: GPL-2.0

//! A longest-prefix-match binary trie readable under RCU.
//!
//! Keys are bit strings of up to 128 bits (an IPv4 or IPv6 address) with a
//! prefix length. The trie is path-compressed: every node stores its whole
//! prefix, children extend it by at least one bit, and a node without a
//! value exists only while it has two children (it is where two prefixes
//! diverge). Lookups walk down from the root under an RCU read lock and
//! remember the last node whose value was set; writers serialise on the
//! trie's own mutex, link fully initialised nodes with release stores, and
//! free unlinked nodes and replaced values after a grace period. This is the
//! data structure; what the prefixes mean (allowed IPs, owners, listings)
//! is the driver's business (`allowedips.rs`).

use crate::abstractions::rcu::{self, Guard};
use crate::sys;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::Opaque;

/// Longest key, in bits.
pub(crate) const MAX_BITS: u8 = 128;
const KEY_BYTES: usize = 16;

/// A key as two big-endian words: bit 0 is the most significant bit of
/// word 0, as it is of byte 0 in the byte form. Nodes keep their keys so,
/// and lookups convert the address once, so that comparing a prefix is two
/// word operations rather than a loop over bytes.
type Words = [u64; 2];

/// The words of a key in byte form.
fn words(key: &[u8; KEY_BYTES]) -> Words {
    let hi = key.first_chunk::<8>().map_or(0, |c| u64::from_be_bytes(*c));
    let lo = key.last_chunk::<8>().map_or(0, |c| u64::from_be_bytes(*c));
    [hi, lo]
}

/// The byte form of a key in words.
fn key_bytes(w: &Words) -> [u8; KEY_BYTES] {
    let h = w[0].to_be_bytes();
    let l = w[1].to_be_bytes();
    [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]]
}

/// Bit `i` of `key`, counting from the most significant bit (0 past the
/// end).
fn bit(key: &Words, i: u8) -> usize {
    let i = u32::from(i);
    let w = match i {
        0..=63 => key[0],
        64..=127 => key[1],
        _ => return 0,
    };
    ((w >> (63 - i % 64)) & 1) as usize
}

/// Number of leading bits `a` and `b` share, at most `limit`.
fn common_bits(a: &Words, b: &Words, limit: u8) -> u8 {
    let hi = a[0] ^ b[0];
    let n = if hi != 0 {
        hi.leading_zeros()
    } else {
        64 + (a[1] ^ b[1]).leading_zeros()
    };
    // At most 128.
    (n as u8).min(limit)
}

/// `key` with every bit from `cidr` on cleared.
fn mask_words(key: Words, cidr: u8) -> Words {
    let keep = |bits: u32| match bits {
        0 => 0,
        1..=63 => !(u64::MAX >> bits),
        _ => u64::MAX,
    };
    let c = u32::from(cidr);
    [key[0] & keep(c), key[1] & keep(c.saturating_sub(64))]
}

/// `key` with every bit from `cidr` on cleared.
pub(crate) fn mask(mut key: [u8; KEY_BYTES], cidr: u8) -> [u8; KEY_BYTES] {
    for (i, b) in key.iter_mut().enumerate() {
        let keep = usize::from(cidr).saturating_sub(i * 8).min(8);
        *b &= (0xff00u16 >> keep) as u8;
    }
    key
}

/// A value slot's box, freed after a grace period when replaced.
///
/// # Invariants
///
/// `head` is the first field.
#[repr(C)]
struct ValueBox<V> {
    head: Opaque<sys::callback_head>,
    value: V,
}

/// A trie node.
///
/// # Invariants
///
/// `head` is the first field; `key` has no bits set from `cidr` on; each
/// child, if set, has a longer prefix that starts with this node's and whose
/// bit at position `cidr` is the child's index; `value` is null or a
/// `ValueBox` owned by this node.
#[repr(C)]
struct Node<V> {
    head: Opaque<sys::callback_head>,
    child: [AtomicPtr<Node<V>>; 2],
    value: AtomicPtr<ValueBox<V>>,
    key: Words,
    cidr: u8,
}

/// Memory for one insertion, allocated before the trie is locked.
struct Prealloc<V> {
    nodes: [Option<KBox<Node<V>>>; 2],
    value: Option<KBox<ValueBox<V>>>,
}

impl<V> Prealloc<V> {
    fn node(&mut self, key: Words, cidr: u8) -> Option<KBox<Node<V>>> {
        let mut n = self.nodes.iter_mut().find_map(Option::take)?;
        n.key = mask_words(key, cidr);
        n.cidr = cidr;
        Some(n)
    }
}

/// The trie's writer state: the root, behind the writers' mutex.
struct Root<V> {
    ptr: AtomicPtr<Node<V>>,
}

/// An RCU-readable longest-prefix-match trie over keys of `bits` bits.
///
/// # Invariants
///
/// `root.ptr` (also readable without the mutex) is null or a `Node` tree as
/// documented on [`Node`]; every node and value box came from `KBox` and is
/// reachable from exactly one link; links change only under `writers`;
/// unlinked nodes and boxes are retired with `call_rcu` exactly once.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuTrie<V: Send + Sync> {
    root: Root<V>,
    bits: u8,
    #[pin]
    writers: Mutex<()>,
}

// SAFETY: readers share `&V` across CPUs; values may be dropped on any CPU.
unsafe impl<V: Send + Sync> Send for RcuTrie<V> {}
// SAFETY: as above; writers serialise on `writers`.
unsafe impl<V: Send + Sync> Sync for RcuTrie<V> {}

impl<V: Send + Sync> RcuTrie<V> {
    /// An empty trie over keys of `bits` bits (32 or 128).
    pub(crate) fn new(bits: u8) -> impl PinInit<Self> {
        pin_init!(Self {
            root: Root { ptr: AtomicPtr::new(ptr::null_mut()) },
            bits: bits.min(MAX_BITS),
            writers <- kernel::new_mutex!((), "wgrs_trie"),
        })
    }

    /// The value of the longest prefix containing `addr`.
    pub(crate) fn lookup<'g>(&'g self, addr: &[u8; KEY_BYTES], _guard: &'g Guard) -> Option<&'g V> {
        let addr = &words(addr);
        let mut best: Option<&'g V> = None;
        let mut p = self.root.ptr.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: reachable nodes stay allocated until a grace period
            // after they are unlinked; `_guard` holds that off.
            let n = unsafe { &*p };
            if common_bits(&n.key, addr, n.cidr) < n.cidr {
                break;
            }
            let v = n.value.load(Ordering::Acquire);
            if !v.is_null() {
                // SAFETY: as for nodes: value boxes are retired via RCU.
                best = Some(unsafe { &(*v).value });
            }
            if n.cidr >= self.bits {
                break;
            }
            p = n.child.get(bit(addr, n.cidr)).map_or(ptr::null_mut(), |c| c.load(Ordering::Acquire));
        }
        best
    }

    /// The value stored for exactly this prefix.
    pub(crate) fn get_exact<'g>(&'g self, key: &[u8; KEY_BYTES], cidr: u8, _guard: &'g Guard) -> Option<&'g V> {
        let key = mask_words(words(key), cidr);
        let mut p = self.root.ptr.load(Ordering::Acquire);
        while !p.is_null() {
            // SAFETY: as in `lookup`.
            let n = unsafe { &*p };
            if n.cidr > cidr || common_bits(&n.key, &key, n.cidr) < n.cidr {
                return None;
            }
            if n.cidr == cidr {
                let v = n.value.load(Ordering::Acquire);
                // SAFETY: as in `lookup`.
                return (!v.is_null()).then(|| unsafe { &(*v).value });
            }
            p = n.child.get(bit(&key, n.cidr)).map_or(ptr::null_mut(), |c| c.load(Ordering::Acquire));
        }
        None
    }

    fn prealloc(value: V) -> Result<Prealloc<V>> {
        let node = || {
            KBox::new(
                Node {
                    head: Opaque::uninit(),
                    child: [AtomicPtr::new(ptr::null_mut()), AtomicPtr::new(ptr::null_mut())],
                    value: AtomicPtr::new(ptr::null_mut()),
                    key: [0; 2],
                    cidr: 0,
                },
                GFP_KERNEL,
            )
        };
        Ok(Prealloc {
            nodes: [Some(node()?), Some(node()?)],
            value: Some(KBox::new(ValueBox { head: Opaque::uninit(), value }, GFP_KERNEL)?),
        })
    }

    /// Stores `value` for the prefix `key/cidr` (host bits are ignored),
    /// replacing any value it had. Process context; `ENOMEM` changes nothing.
    pub(crate) fn insert(&self, key: &[u8; KEY_BYTES], cidr: u8, value: V) -> Result {
        if cidr > self.bits {
            return Err(EINVAL);
        }
        let key = mask_words(words(key), cidr);
        let mut pre = Self::prealloc(value)?;
        let _w = self.writers.lock();
        let _guard = rcu::read_lock();
        let mut link = &self.root.ptr;
        loop {
            let p = link.load(Ordering::Relaxed);
            let Some(vbox) = pre.value.take() else {
                return Err(EINVAL);
            };
            if p.is_null() {
                let leaf = pre.node(key, cidr).ok_or(ENOMEM)?;
                leaf.value.store(KBox::into_raw(vbox), Ordering::Relaxed);
                link.store(KBox::into_raw(leaf), Ordering::Release);
                return Ok(());
            }
            // SAFETY: linked nodes are live; only we (holding `writers`)
            // unlink them.
            let n = unsafe { &*p };
            let c = common_bits(&n.key, &key, n.cidr.min(cidr));
            if c == n.cidr && c == cidr {
                let old = n.value.swap(KBox::into_raw(vbox), Ordering::AcqRel);
                // SAFETY: the old box was owned by this node; it is
                // unreachable for new readers now.
                unsafe { Self::retire_value(old) };
                return Ok(());
            }
            if c == n.cidr {
                // `n` is a shorter prefix of ours: descend.
                match n.child.get(bit(&key, n.cidr)) {
                    Some(next) => {
                        pre.value = Some(vbox);
                        link = next;
                        continue;
                    }
                    None => return Err(EINVAL),
                }
            }
            if c == cidr {
                // Ours is a shorter prefix of `n`'s: goes above it.
                let m = pre.node(key, cidr).ok_or(ENOMEM)?;
                m.value.store(KBox::into_raw(vbox), Ordering::Relaxed);
                if let Some(slot) = m.child.get(bit(&n.key, cidr)) {
                    slot.store(p, Ordering::Relaxed);
                }
                link.store(KBox::into_raw(m), Ordering::Release);
                return Ok(());
            }
            // The prefixes diverge at bit `c`: a branch node holds both.
            let branch = pre.node(key, c).ok_or(ENOMEM)?;
            let leaf = pre.node(key, cidr).ok_or(ENOMEM)?;
            leaf.value.store(KBox::into_raw(vbox), Ordering::Relaxed);
            let leaf = KBox::into_raw(leaf);
            if let (Some(a), Some(b)) = (branch.child.get(bit(&key, c)), branch.child.get(bit(&n.key, c))) {
                a.store(leaf, Ordering::Relaxed);
                b.store(p, Ordering::Relaxed);
            }
            link.store(KBox::into_raw(branch), Ordering::Release);
            return Ok(());
        }
    }

    /// Removes the value of exactly `key/cidr` if `pred` holds for it.
    /// Returns whether it did.
    pub(crate) fn remove(&self, key: &[u8; KEY_BYTES], cidr: u8, pred: impl FnOnce(&V) -> bool) -> bool {
        if cidr > self.bits {
            return false;
        }
        let key = mask_words(words(key), cidr);
        let _w = self.writers.lock();
        let _guard = rcu::read_lock();
        // Links from the root down to the node, at most one per bit.
        let mut path: [*const AtomicPtr<Node<V>>; MAX_BITS as usize + 2] =
            [ptr::null(); MAX_BITS as usize + 2];
        let mut depth = 0usize;
        let mut link = &self.root.ptr;
        let node = loop {
            let p = link.load(Ordering::Relaxed);
            if p.is_null() {
                return false;
            }
            // SAFETY: linked nodes are live while we hold `writers`.
            let n = unsafe { &*p };
            if n.cidr > cidr || common_bits(&n.key, &key, n.cidr) < n.cidr {
                return false;
            }
            if let Some(slot) = path.get_mut(depth) {
                *slot = link;
            }
            depth = depth.saturating_add(1);
            if n.cidr == cidr {
                break n;
            }
            match n.child.get(bit(&key, n.cidr)) {
                Some(next) => link = next,
                None => return false,
            }
        };
        let v = node.value.load(Ordering::Relaxed);
        // SAFETY: the box is owned by the node and live.
        if v.is_null() || !pred(unsafe { &(*v).value }) {
            return false;
        }
        node.value.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: unlinked from the node just now.
        unsafe { Self::retire_value(v) };
        // Prune nodes that no longer separate anything, bottom up.
        while depth > 0 {
            depth -= 1;
            let Some(&lp) = path.get(depth) else { break };
            // SAFETY: `lp` is one of the links we walked, inside a live node
            // or the root, all unchanged since (we hold `writers`).
            let link = unsafe { &*lp };
            let p = link.load(Ordering::Relaxed);
            if p.is_null() {
                break;
            }
            // SAFETY: linked, live.
            let n = unsafe { &*p };
            if !n.value.load(Ordering::Relaxed).is_null() {
                break;
            }
            let c0 = n.child[0].load(Ordering::Relaxed);
            let c1 = n.child[1].load(Ordering::Relaxed);
            if !c0.is_null() && !c1.is_null() {
                break;
            }
            // No value and at most one child: the child (or nothing) takes
            // its place. Readers still inside `n` see its old child links.
            link.store(if c0.is_null() { c1 } else { c0 }, Ordering::Release);
            // SAFETY: `n` is unlinked now and retired once; its children
            // are not freed with it.
            unsafe { Self::retire_node(p) };
        }
        true
    }

    /// Calls `f` on every value (for tests and counting). Writers are
    /// excluded while it runs.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[u8; KEY_BYTES], u8, &V)) {
        let _w = self.writers.lock();
        let _guard = rcu::read_lock();
        let mut stack: [*mut Node<V>; MAX_BITS as usize + 2] = [ptr::null_mut(); MAX_BITS as usize + 2];
        let mut sp = 0usize;
        let root = self.root.ptr.load(Ordering::Relaxed);
        if !root.is_null() {
            stack[0] = root;
            sp = 1;
        }
        while sp > 0 {
            sp -= 1;
            let Some(&p) = stack.get(sp) else { break };
            // SAFETY: linked nodes are live while we hold `writers`.
            let n = unsafe { &*p };
            let v = n.value.load(Ordering::Relaxed);
            if !v.is_null() {
                // SAFETY: owned by the node, live.
                f(&key_bytes(&n.key), n.cidr, unsafe { &(*v).value });
            }
            for c in n.child.iter().rev() {
                let c = c.load(Ordering::Relaxed);
                if !c.is_null() {
                    if let Some(slot) = stack.get_mut(sp) {
                        *slot = c;
                        sp += 1;
                    }
                }
            }
        }
    }

    /// Removes everything, waiting for readers, and frees it here (process
    /// context), so that a large trie is not freed from one RCU callback.
    pub(crate) fn clear_sync(&self) {
        let root = {
            let _w = self.writers.lock();
            self.root.ptr.swap(ptr::null_mut(), Ordering::AcqRel)
        };
        if root.is_null() {
            return;
        }
        rcu::synchronize();
        // SAFETY: the tree is unreachable and a grace period has passed.
        unsafe { Self::free_tree(root) };
    }

    /// Frees a whole detached tree.
    ///
    /// # Safety
    ///
    /// No reader can reach any node of the tree any more.
    unsafe fn free_tree(root: *mut Node<V>) {
        let mut stack: [*mut Node<V>; MAX_BITS as usize + 2] = [ptr::null_mut(); MAX_BITS as usize + 2];
        stack[0] = root;
        let mut sp = 1usize;
        while sp > 0 {
            sp -= 1;
            let Some(&p) = stack.get(sp) else { break };
            // SAFETY: each node is reachable from one link only and freed
            // once, after its children were pushed.
            let n = unsafe { KBox::from_raw(p) };
            for c in n.child.iter() {
                let c = c.load(Ordering::Relaxed);
                if !c.is_null() {
                    if let Some(slot) = stack.get_mut(sp) {
                        *slot = c;
                        sp += 1;
                    }
                }
            }
            let v = n.value.load(Ordering::Relaxed);
            if !v.is_null() {
                // SAFETY: owned by the node being freed.
                drop(unsafe { KBox::from_raw(v) });
            }
        }
    }

    /// # Safety
    ///
    /// `v` is null or an unlinked value box, retired once.
    unsafe fn retire_value(v: *mut ValueBox<V>) {
        if let Some(v) = NonNull::new(v) {
            // SAFETY: `head` is the first field of the live box.
            unsafe { sys::call_rcu(Opaque::cast_into(ptr::addr_of!((*v.as_ptr()).head)), Some(Self::free_value)) }
        }
    }

    /// # Safety
    ///
    /// `p` is an unlinked node, retired once; its value is null.
    unsafe fn retire_node(p: *mut Node<V>) {
        // SAFETY: `head` is the first field of the live node.
        unsafe { sys::call_rcu(Opaque::cast_into(ptr::addr_of!((*p).head)), Some(Self::free_node)) }
    }

    unsafe extern "C" fn free_value(head: *mut sys::callback_head) {
        // SAFETY: the head of a `ValueBox<V>` from `KBox::into_raw`, whose
        // grace period has ended.
        drop(unsafe { KBox::from_raw(head.cast::<ValueBox<V>>()) });
    }

    unsafe extern "C" fn free_node(head: *mut sys::callback_head) {
        // SAFETY: the head of a `Node<V>` from `KBox::into_raw`, whose grace
        // period has ended; `Node` has no drop glue for its links.
        drop(unsafe { KBox::from_raw(head.cast::<Node<V>>()) });
    }
}

#[pinned_drop]
impl<V: Send + Sync> PinnedDrop for RcuTrie<V> {
    fn drop(self: Pin<&mut Self>) {
        let root = self.root.ptr.swap(ptr::null_mut(), Ordering::Relaxed);
        if !root.is_null() {
            // SAFETY: the trie is being dropped, so nobody borrows it and no
            // reader can reach its nodes.
            unsafe { Self::free_tree(root) };
        }
    }
}

/// The trie against a naive model: random prefixes of every length, random
/// insertions, moves and removals, then random lookups, compared with the
/// longest matching prefix found by scanning a plain list (the C driver's
/// self-test does the same). Lengths are biased towards few distinct
/// prefixes so that prefixes nest and share branches.
#[kunit_tests(wgrs_trie)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn key(&mut self, bits: u8) -> [u8; KEY_BYTES] {
            let mut k = [0u8; KEY_BYTES];
            // Few distinct high bytes: prefixes nest.
            for (i, b) in k.iter_mut().enumerate().take(usize::from(bits / 8)) {
                *b = if i < 2 { (self.next() % 3) as u8 } else { self.next() as u8 };
            }
            k
        }
    }

    struct Model {
        entries: KVec<([u8; KEY_BYTES], u8, u32)>,
    }

    impl Model {
        fn set(&mut self, key: [u8; KEY_BYTES], cidr: u8, v: u32) -> bool {
            let key = mask(key, cidr);
            for e in self.entries.iter_mut() {
                if e.0 == key && e.1 == cidr {
                    e.2 = v;
                    return true;
                }
            }
            self.entries.push((key, cidr, v), GFP_KERNEL).is_ok()
        }
        fn remove(&mut self, key: [u8; KEY_BYTES], cidr: u8) -> bool {
            let key = mask(key, cidr);
            let before = self.entries.len();
            let mut i = 0;
            while i < self.entries.len() {
                if self.entries[i].0 == key && self.entries[i].1 == cidr {
                    let _ = self.entries.remove(i);
                } else {
                    i += 1;
                }
            }
            before != self.entries.len()
        }
        fn lookup(&self, addr: &[u8; KEY_BYTES]) -> Option<u32> {
            let mut best: Option<(u8, u32)> = None;
            for &(k, cidr, v) in self.entries.iter() {
                if mask(*addr, cidr) == k && best.is_none_or(|(c, _)| cidr >= c) {
                    best = Some((cidr, v));
                }
            }
            best.map(|(_, v)| v)
        }
    }

    fn run(bits: u8, seed: u64, ops: u32) -> (u32, u32) {
        let trie = match KBox::pin_init(RcuTrie::<u32>::new(bits), GFP_KERNEL) {
            Ok(t) => t,
            Err(_) => return (1, 0),
        };
        let mut model = Model { entries: KVec::new() };
        let mut rng = Rng(seed);
        let mut mismatches = 0u32;
        let mut checked = 0u32;
        for i in 0..ops {
            let cidr = (rng.next() % (u64::from(bits) + 1)) as u8;
            let key = rng.key(bits);
            if rng.next() % 4 == 0 {
                let a = trie.remove(&key, cidr, |_| true);
                let b = model.remove(key, cidr);
                if a != b {
                    mismatches += 1;
                }
            } else {
                let v = (rng.next() % 16) as u32;
                if trie.insert(&key, cidr, v).is_err() || !model.set(key, cidr, v) {
                    return (mismatches + 1, checked);
                }
            }
            if i % 8 == 0 {
                for _ in 0..8 {
                    let addr = rng.key(bits);
                    let g = crate::abstractions::rcu::read_lock();
                    if trie.lookup(&addr, &g).copied() != model.lookup(&addr) {
                        mismatches += 1;
                    }
                    checked += 1;
                }
            }
        }
        // Everything the model holds is found exactly, and nothing else is.
        let mut count = 0u32;
        trie.for_each(|_, _, _| count += 1);
        if count as usize != model.entries.len() {
            mismatches += 1;
        }
        for &(k, cidr, v) in model.entries.iter() {
            let g = crate::abstractions::rcu::read_lock();
            if trie.get_exact(&k, cidr, &g).copied() != Some(v) {
                mismatches += 1;
            }
        }
        (mismatches, checked)
    }

    #[test]
    fn random_v4_against_model() {
        for seed in 1..=4u64 {
            let (bad, checked) = run(32, seed * 0x9e37_79b9, 1500);
            assert_eq!(bad, 0);
            assert!(checked > 1000);
        }
    }

    #[test]
    fn random_v6_against_model() {
        for seed in 1..=3u64 {
            let (bad, checked) = run(128, seed * 0x5851_f42d, 1500);
            assert_eq!(bad, 0);
            assert!(checked > 1000);
        }
    }

    #[test]
    fn default_routes_and_host_bits() {
        let Ok(t) = KBox::pin_init(RcuTrie::<u32>::new(32), GFP_KERNEL) else {
            return;
        };
        let k = |a: u8, b: u8, c: u8, d: u8| {
            let mut x = [0u8; KEY_BYTES];
            x[..4].copy_from_slice(&[a, b, c, d]);
            x
        };
        assert!(t.insert(&k(0, 0, 0, 0), 0, 1).is_ok());
        assert!(t.insert(&k(10, 1, 2, 3), 8, 2).is_ok());
        assert!(t.insert(&k(10, 1, 2, 3), 32, 3).is_ok());
        let g = crate::abstractions::rcu::read_lock();
        assert_eq!(t.lookup(&k(10, 1, 2, 3), &g).copied(), Some(3));
        assert_eq!(t.lookup(&k(10, 9, 9, 9), &g).copied(), Some(2));
        assert_eq!(t.lookup(&k(192, 0, 2, 1), &g).copied(), Some(1));
        // Host bits are ignored.
        assert_eq!(t.get_exact(&k(10, 200, 0, 0), 8, &g).copied(), Some(2));
        drop(g);
        // Only if the predicate holds.
        assert!(!t.remove(&k(10, 0, 0, 0), 8, |v| *v == 7));
        assert!(t.remove(&k(10, 0, 0, 0), 8, |v| *v == 2));
        let g = crate::abstractions::rcu::read_lock();
        assert_eq!(t.lookup(&k(10, 9, 9, 9), &g).copied(), Some(1));
        assert_eq!(t.lookup(&k(10, 1, 2, 3), &g).copied(), Some(3));
        drop(g);
        t.clear_sync();
        let g = crate::abstractions::rcu::read_lock();
        assert_eq!(t.lookup(&k(10, 1, 2, 3), &g).copied(), None);
    }
}
