// SPDX-License-Identifier: GPL-2.0

//! Allowed IPs of one device: which peer owns which address prefix.
//!
//! Semantics are the kernel's (drivers/net/wireguard/allowedips.c):
//! - a prefix is stored with its host bits cleared (10.1.2.3/8 is 10.0.0.0/8);
//! - a prefix belongs to at most one peer; inserting it for another peer
//!   moves it, and (re)inserting moves it to the end of the peer's listing;
//! - removing a prefix only removes it from the peer that owns it;
//! - each peer lists its prefixes in insertion order, and every change bumps
//!   a sequence number that interrupted dumps compare against.
//!
//! Two structures hold this. The data path reads two longest-prefix-match
//! tries (IPv4, IPv6; `abstractions::trie`) under RCU: destination lookups
//! on send, source checks on receive. Writers also keep a [`Listing`]: two
//! red-black trees for O(log n) ownership checks and each peer's ordered
//! listing (dumps, per-peer removal).

use crate::abstractions::rcu::Guard;
use crate::abstractions::skb::IpAddr;
use crate::abstractions::trie::RcuTrie;
use crate::peer::Peer;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};
use kernel::sync::Arc;

/// Identifies a peer within its device (its creation id).
pub(crate) type PeerId = u64;

/// The data path's view: one trie per family.
#[pin_data]
pub(crate) struct AllowedIps {
    #[pin]
    v4: RcuTrie<Arc<Peer>>,
    #[pin]
    v6: RcuTrie<Arc<Peer>>,
}

fn key(prefix: &Prefix) -> ([u8; 16], u8, bool) {
    let mut k = [0u8; 16];
    match prefix {
        Prefix::V4 { addr, cidr } => {
            k[..4].copy_from_slice(addr);
            (k, *cidr, false)
        }
        Prefix::V6 { addr, cidr } => (*addr, *cidr, true),
    }
}

impl AllowedIps {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self { v4 <- RcuTrie::new(32), v6 <- RcuTrie::new(128) })
    }

    fn trie(&self, v6: bool) -> &RcuTrie<Arc<Peer>> {
        if v6 { &self.v6 } else { &self.v4 }
    }

    /// The peer owning the longest prefix that contains `addr`.
    pub(crate) fn lookup<'g>(&'g self, addr: &IpAddr, g: &'g Guard) -> Option<&'g Arc<Peer>> {
        match addr {
            IpAddr::V4(a) => {
                let mut k = [0u8; 16];
                k[..4].copy_from_slice(a);
                self.v4.lookup(&k, g)
            }
            IpAddr::V6(a) => self.v6.lookup(a, g),
        }
    }

    /// Gives `prefix` to `peer` (taking it from any other peer). `ENOMEM`
    /// leaves both structures as they were, except that on the rare
    /// failure of the second step the prefix is dropped from both.
    pub(crate) fn insert(&self, listing: &mut Listing, peer: &Arc<Peer>, prefix: Prefix) -> Result {
        listing.insert(peer.id, prefix)?;
        let (k, cidr, v6) = key(&prefix);
        if let Err(e) = self.trie(v6).insert(&k, cidr, peer.clone()) {
            listing.remove(peer.id, prefix);
            let _ = self.trie(v6).remove(&k, cidr, |_| true);
            return Err(e);
        }
        Ok(())
    }

    /// Removes `prefix` if `peer` owns it.
    pub(crate) fn remove(&self, listing: &mut Listing, peer: &Arc<Peer>, prefix: Prefix) {
        listing.bump();
        if listing.owner(&prefix) != Some(peer.id) {
            return;
        }
        listing.remove(peer.id, prefix);
        let (k, cidr, v6) = key(&prefix);
        self.trie(v6).remove(&k, cidr, |p| Arc::ptr_eq(p, peer));
    }

    /// Removes every prefix of `peer`.
    pub(crate) fn remove_by_peer(&self, listing: &mut Listing, peer: &Arc<Peer>) {
        let mut from = 0;
        while let Some((pos, prefix)) = listing.next_for_peer(peer.id, from) {
            let (k, cidr, v6) = key(&prefix);
            self.trie(v6).remove(&k, cidr, |p| Arc::ptr_eq(p, peer));
            from = pos.saturating_add(1);
        }
        listing.remove_by_peer(peer.id);
    }

    /// Removes everything (process context; waits for readers).
    pub(crate) fn clear(&self, listing: &mut Listing) {
        self.v4.clear_sync();
        self.v6.clear_sync();
        listing.clear();
    }
}



/// An address prefix with its host bits cleared.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Prefix {
    V4 { addr: [u8; 4], cidr: u8 },
    V6 { addr: [u8; 16], cidr: u8 },
}

fn mask(addr: &mut [u8], cidr: u8) {
    for (i, b) in addr.iter_mut().enumerate() {
        let bits = usize::from(cidr).saturating_sub(i * 8).min(8);
        *b &= (0xff00u16 >> bits) as u8;
    }
}

impl Prefix {
    /// `None` if `cidr` is longer than 32.
    pub(crate) fn v4(mut addr: [u8; 4], cidr: u8) -> Option<Self> {
        if cidr > 32 {
            return None;
        }
        mask(&mut addr, cidr);
        Some(Prefix::V4 { addr, cidr })
    }

    /// `None` if `cidr` is longer than 128.
    pub(crate) fn v6(mut addr: [u8; 16], cidr: u8) -> Option<Self> {
        if cidr > 128 {
            return None;
        }
        mask(&mut addr, cidr);
        Some(Prefix::V6 { addr, cidr })
    }

    pub(crate) fn addr(&self) -> &[u8] {
        match self {
            Prefix::V4 { addr, .. } => addr,
            Prefix::V6 { addr, .. } => addr,
        }
    }

    pub(crate) fn cidr(&self) -> u8 {
        match self {
            Prefix::V4 { cidr, .. } | Prefix::V6 { cidr, .. } => *cidr,
        }
    }
}

struct Owner {
    peer: PeerId,
    order: u64,
}

/// Each peer's prefixes in insertion order, and each prefix's owner: the
/// writer side, under the device update lock.
///
/// # Invariants
///
/// `by_prefix` has an entry `p → (peer, order)` exactly when `by_peer` has
/// `(peer, order) → p`; orders are unique and below `next_order`.
pub(crate) struct Listing {
    by_prefix: RBTree<Prefix, Owner>,
    by_peer: RBTree<(PeerId, u64), Prefix>,
    next_order: u64,
    seq: u64,
}

impl Listing {
    pub(crate) fn new() -> Self {
        Self { by_prefix: RBTree::new(), by_peer: RBTree::new(), next_order: 0, seq: 1 }
    }

    /// Changes whenever the table does; never 0.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn bump(&mut self) {
        self.seq = self.seq.wrapping_add(1).max(1);
    }

    /// Gives `prefix` to `peer`, taking it from any other peer; `ENOMEM` (and
    /// no change) if memory runs out.
    pub(crate) fn insert(&mut self, peer: PeerId, prefix: Prefix) -> Result {
        self.bump();
        let order = self.next_order;
        // Positions are never reused (2^64 insertions will not happen).
        let next_order = order.checked_add(1).ok_or(ENOMEM)?;
        if let Some(owner) = self.by_prefix.get_mut(&prefix) {
            let old = (owner.peer, owner.order);
            // Reuse the listing node's memory: moving never allocates.
            let node = match self.by_peer.remove_node(&old) {
                Some(node) => node.into_reservation().into_node((peer, order), prefix),
                // Unreachable (type invariant), but stay consistent anyway.
                None => RBTreeNode::new((peer, order), prefix, GFP_KERNEL)?,
            };
            owner.peer = peer;
            owner.order = order;
            self.by_peer.insert(node);
        } else {
            let a = RBTreeNode::new(prefix, Owner { peer, order }, GFP_KERNEL)?;
            let b = RBTreeNode::new((peer, order), prefix, GFP_KERNEL)?;
            self.by_prefix.insert(a);
            self.by_peer.insert(b);
        }
        self.next_order = next_order;
        Ok(())
    }

    /// Removes `prefix` if `peer` owns it; otherwise does nothing.
    pub(crate) fn remove(&mut self, peer: PeerId, prefix: Prefix) {
        self.bump();
        let key = match self.by_prefix.get(&prefix) {
            Some(owner) if owner.peer == peer => (owner.peer, owner.order),
            _ => return,
        };
        self.by_prefix.remove(&prefix);
        self.by_peer.remove(&key);
    }

    /// Removes every prefix of `peer`.
    pub(crate) fn remove_by_peer(&mut self, peer: PeerId) {
        self.bump();
        while let Some((key, prefix)) = self.next_for_peer(peer, 0) {
            self.by_peer.remove(&(peer, key));
            self.by_prefix.remove(&prefix);
        }
    }

    /// Removes every prefix of every peer.
    pub(crate) fn clear(&mut self) {
        self.bump();
        self.by_prefix = RBTree::new();
        self.by_peer = RBTree::new();
    }

    /// The first prefix in `peer`'s listing at position `from` or later,
    /// with its position (pass `position + 1` to continue).
    pub(crate) fn next_for_peer(&self, peer: PeerId, from: u64) -> Option<(u64, Prefix)> {
        let cursor = self.by_peer.cursor_lower_bound(&(peer, from))?;
        let (&(p, order), &prefix) = cursor.current();
        (p == peer).then_some((order, prefix))
    }

    /// The owner of exactly this prefix (host bits already cleared).
    pub(crate) fn owner(&self, prefix: &Prefix) -> Option<PeerId> {
        self.by_prefix.get(prefix).map(|o| o.peer)
    }
}

#[kunit_tests(wgrs_allowedips)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8, cidr: u8) -> Prefix {
        Prefix::v4([a, b, c, d], cidr).unwrap_or(Prefix::V4 { addr: [255; 4], cidr: 0 })
    }

    fn listing(t: &Listing, peer: PeerId) -> KVec<Prefix> {
        let mut out = KVec::new();
        let mut from = 0;
        while let Some((pos, p)) = t.next_for_peer(peer, from) {
            if out.push(p, GFP_KERNEL).is_err() {
                break;
            }
            from = pos + 1;
        }
        out
    }

    #[test]
    fn host_bits_are_masked() {
        assert_eq!(Prefix::v4([10, 1, 2, 3], 8), Some(Prefix::V4 { addr: [10, 0, 0, 0], cidr: 8 }));
        assert_eq!(Prefix::v4([10, 1, 255, 3], 20), Some(Prefix::V4 { addr: [10, 1, 240, 0], cidr: 20 }));
        assert_eq!(Prefix::v4([1, 2, 3, 4], 0), Some(Prefix::V4 { addr: [0; 4], cidr: 0 }));
        assert_eq!(Prefix::v4([1, 2, 3, 4], 32), Some(Prefix::V4 { addr: [1, 2, 3, 4], cidr: 32 }));
        assert_eq!(Prefix::v4([1, 2, 3, 4], 33), None);
        let mut a = [0xffu8; 16];
        a[0] = 0xfd;
        let p = Prefix::v6(a, 12);
        let mut want = [0u8; 16];
        want[0] = 0xfd;
        want[1] = 0xf0;
        assert_eq!(p, Some(Prefix::V6 { addr: want, cidr: 12 }));
        assert_eq!(Prefix::v6(a, 129), None);
        assert_eq!(Prefix::v6(a, 128).map(|p| p.cidr()), Some(128));
    }

    #[test]
    fn one_owner_and_moves() {
        let mut t = Listing::new();
        assert!(t.insert(1, v4(10, 0, 0, 0, 8)).is_ok());
        assert!(t.insert(1, v4(192, 168, 1, 0, 24)).is_ok());
        // Same prefix, other host bits: the same entry, moved to peer 2.
        assert!(t.insert(2, v4(10, 9, 9, 9, 8)).is_ok());
        assert_eq!(t.owner(&v4(10, 0, 0, 0, 8)), Some(2));
        assert_eq!(&listing(&t, 1)[..], &[v4(192, 168, 1, 0, 24)]);
        assert_eq!(&listing(&t, 2)[..], &[v4(10, 0, 0, 0, 8)]);
        // Different lengths are different prefixes.
        assert!(t.insert(1, v4(10, 0, 0, 0, 9)).is_ok());
        assert_eq!(t.owner(&v4(10, 0, 0, 0, 8)), Some(2));
        assert_eq!(t.owner(&v4(10, 0, 0, 0, 9)), Some(1));
    }

    #[test]
    fn listing_order_is_insertion_order() {
        let mut t = Listing::new();
        let ps = [v4(10, 3, 0, 0, 16), v4(10, 1, 0, 0, 16), v4(10, 2, 0, 0, 16)];
        for p in ps {
            assert!(t.insert(7, p).is_ok());
        }
        assert_eq!(&listing(&t, 7)[..], &ps[..]);
        // Re-inserting moves a prefix to the end, as list_move_tail does.
        assert!(t.insert(7, ps[0]).is_ok());
        assert_eq!(&listing(&t, 7)[..], &[ps[1], ps[2], ps[0]]);
    }

    #[test]
    fn remove_only_from_owner() {
        let mut t = Listing::new();
        assert!(t.insert(1, v4(10, 0, 0, 0, 8)).is_ok());
        let seq = t.seq();
        t.remove(2, v4(10, 0, 0, 0, 8));
        assert_eq!(t.owner(&v4(10, 0, 0, 0, 8)), Some(1));
        assert_ne!(t.seq(), seq);
        t.remove(1, v4(10, 1, 2, 3, 8));
        assert_eq!(t.owner(&v4(10, 0, 0, 0, 8)), None);
        assert_eq!(listing(&t, 1).len(), 0);
    }

    #[test]
    fn remove_by_peer_leaves_others() {
        let mut t = Listing::new();
        for i in 0..100u8 {
            assert!(t.insert(u64::from(i % 3), v4(10, i, 0, 0, 16)).is_ok());
        }
        t.remove_by_peer(1);
        assert_eq!(listing(&t, 1).len(), 0);
        assert_eq!(listing(&t, 0).len(), 34);
        assert_eq!(listing(&t, 2).len(), 33);
        assert_eq!(t.owner(&v4(10, 1, 0, 0, 16)), None);
        assert_eq!(t.owner(&v4(10, 2, 0, 0, 16)), Some(2));
    }

    #[test]
    fn many_prefixes_one_peer() {
        // As upstream netns.sh: /16s and /48s on one peer; listing intact.
        let mut t = Listing::new();
        let mut n = 0u64;
        for a in 1..=40u8 {
            for b in 0..=255u8 {
                assert!(t.insert(9, v4(a, b, 0, 0, 16)).is_ok());
                let mut addr = [0u8; 16];
                addr[0] = 0xfd;
                addr[2] = a;
                addr[3] = b;
                assert!(t.insert(9, Prefix::v6(addr, 48).unwrap_or(v4(0, 0, 0, 0, 0))).is_ok());
                n += 2;
            }
        }
        let l = listing(&t, 9);
        assert_eq!(l.len() as u64, n);
        assert_eq!(l.first().copied(), Some(v4(1, 0, 0, 0, 16)));
        t.remove_by_peer(9);
        assert_eq!(listing(&t, 9).len(), 0);
    }
}
