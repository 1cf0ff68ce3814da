// SPDX-License-Identifier: GPL-2.0

//! The two lookup tables of a device, read on the data path under RCU:
//! peers by public key (initiations name their sender that way) and
//! sessions by our receiver index (every other message carries one).

use crate::abstractions::rcu::{Guard, NewEntry, RcuHashTable, RcuRc};
use crate::abstractions::time;
use crate::noise::Keypair;
use crate::peer::Peer;
use crate::proto::constants::KEY_LEN;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Buckets of the public-key table (as the C driver).
pub(crate) const PUBKEY_BITS: u32 = 11;
/// Buckets of the index table (as the C driver).
pub(crate) const INDEX_BITS: u32 = 13;

/// Curve25519 public keys are uniformly distributed and only configured
/// keys are stored, so their first bytes make a fine hash.
fn key_hash(key: &[u8; KEY_LEN]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[..8]);
    u64::from_le_bytes(b)
}

/// Peers by public key. Writers hold the device's configuration lock.
pub(crate) type PubkeyTable = RcuHashTable<Arc<Peer>>;

/// The peer with this public key.
pub(crate) fn pubkey_lookup<'g>(t: &'g PubkeyTable, key: &[u8; KEY_LEN], g: &'g Guard) -> Option<&'g Arc<Peer>> {
    t.find(key_hash(key), g, |p| p.public_key == *key)
}

/// Adds a peer (its key must not be in the table yet).
pub(crate) fn pubkey_insert(t: &PubkeyTable, peer: &Arc<Peer>) -> Result {
    let e = NewEntry::new(peer.clone(), GFP_KERNEL)?;
    t.insert(key_hash(&peer.public_key), e);
    Ok(())
}

/// Removes a peer.
pub(crate) fn pubkey_remove(t: &PubkeyTable, peer: &Arc<Peer>) {
    t.remove(key_hash(&peer.public_key), |p| Arc::ptr_eq(p, peer));
}

/// What a receiver index stands for.
pub(crate) enum IndexEntry {
    /// A handshake in progress (our initiation's or response's sender).
    Handshake { index: u32, peer: Arc<Peer> },
    /// A session.
    Keypair { index: u32, keypair: RcuRc<Keypair> },
}

impl IndexEntry {
    fn index(&self) -> u32 {
        match self {
            IndexEntry::Handshake { index, .. } | IndexEntry::Keypair { index, .. } => *index,
        }
    }

    fn peer(&self) -> &Arc<Peer> {
        match self {
            IndexEntry::Handshake { peer, .. } => peer,
            IndexEntry::Keypair { keypair, .. } => &keypair.peer,
        }
    }
}

/// Sessions and handshakes by our index.
pub(crate) type IndexTable = RcuHashTable<IndexEntry>;

/// The session with receiver index `idx`, with a reference of our own.
pub(crate) fn index_keypair(t: &IndexTable, idx: u32, g: &Guard) -> Option<RcuRc<Keypair>> {
    match t.find(u64::from(idx), g, |e| e.index() == idx && matches!(e, IndexEntry::Keypair { .. }))? {
        IndexEntry::Keypair { keypair, .. } => Some(keypair.clone()),
        IndexEntry::Handshake { .. } => None,
    }
}

/// The peer whose handshake (only, or also a session when `or_keypair`)
/// has index `idx`.
pub(crate) fn index_peer(t: &IndexTable, idx: u32, or_keypair: bool, g: &Guard) -> Option<Arc<Peer>> {
    let e = t.find(u64::from(idx), g, |e| {
        e.index() == idx && (or_keypair || matches!(e, IndexEntry::Handshake { .. }))
    })?;
    Some(e.peer().clone())
}

/// Gives `peer`'s handshake a fresh random index, replacing `old`. Process
/// context.
pub(crate) fn index_register_handshake(t: &IndexTable, peer: &Arc<Peer>, old: Option<u32>) -> Result<u32> {
    let mut entry = NewEntry::new(IndexEntry::Handshake { index: 0, peer: peer.clone() }, GFP_KERNEL)?;
    // A collision among 2^32 values is rare; give up after a few.
    for _ in 0..32 {
        let idx = time::random_u32();
        if let Some(e) = entry_index_mut(&mut entry) {
            *e = idx;
        }
        match t.insert_unique(u64::from(idx), entry, |e| e.index() == idx) {
            Ok(()) => {
                if let Some(old) = old {
                    index_remove_handshake(t, old, peer);
                }
                return Ok(idx);
            }
            Err(back) => entry = back,
        }
    }
    Err(EBUSY)
}

fn entry_index_mut(e: &mut NewEntry<IndexEntry>) -> Option<&mut u32> {
    match e.value_mut() {
        IndexEntry::Handshake { index, .. } | IndexEntry::Keypair { index, .. } => Some(index),
    }
}

/// The handshake with index `idx` became a session: the keypair takes the
/// index over.
pub(crate) fn index_replace_with_keypair(t: &IndexTable, idx: u32, keypair: RcuRc<Keypair>) -> Result {
    let e = NewEntry::new(IndexEntry::Keypair { index: idx, keypair }, GFP_KERNEL)?;
    t.replace(u64::from(idx), e, |e| e.index() == idx && matches!(e, IndexEntry::Handshake { .. }));
    Ok(())
}

/// Removes `peer`'s handshake entry `idx`.
pub(crate) fn index_remove_handshake(t: &IndexTable, idx: u32, peer: &Arc<Peer>) {
    t.remove(u64::from(idx), |e| match e {
        IndexEntry::Handshake { index, peer: p } => *index == idx && Arc::ptr_eq(p, peer),
        IndexEntry::Keypair { .. } => false,
    });
}

/// Removes the session `kp`.
pub(crate) fn index_remove_keypair(t: &IndexTable, kp: &RcuRc<Keypair>) {
    let idx = kp.kp.local_index;
    t.remove(u64::from(idx), |e| match e {
        IndexEntry::Keypair { index, keypair } => *index == idx && RcuRc::ptr_eq(keypair, kp),
        IndexEntry::Handshake { .. } => false,
    });
}

/// The lookup structures under concurrent readers: while readers on other
/// CPUs look entries up without locks, the test inserts and removes them;
/// a reader may find an entry or not, but what it finds must be whole and
/// have the key it asked for, and nothing may be used after it was freed
/// (KASAN watches). This is what peer removal relies on.
#[kunit_tests(wgrs_lookup_concurrency)]
mod tests {
    use crate::abstractions::rcu::{self, NewEntry, RcuHashTable};
    use crate::abstractions::trie::RcuTrie;
    use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
    use kernel::prelude::*;
    use kernel::sync::Arc;
    use kernel::time::{delay::fsleep, Delta};

    #[pin_data]
    struct Shared {
        #[pin]
        table: RcuHashTable<KBox<[u64; 4]>>,
        #[pin]
        trie: RcuTrie<KBox<u32>>,
        stop: AtomicBool,
        done: AtomicU32,
        reads: AtomicU64,
        bad: AtomicU64,
    }

    fn reader(s: Arc<Shared>, seed: u64) {
        let mut x = seed;
        while !s.stop.load(Ordering::Acquire) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key = (x >> 33) % 64;
            {
                let g = rcu::read_lock();
                if let Some(v) = s.table.find(key, &g, |v| v[0] == key) {
                    // The entry is whole: every word was written with it.
                    if v[1] != key * 3 || v[2] != key * 5 || v[3] != !key {
                        s.bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let mut addr = [0u8; 16];
                addr[0] = 10;
                addr[1] = (key % 8) as u8;
                addr[2] = (key / 8) as u8;
                if let Some(v) = s.trie.lookup(&addr, &g) {
                    // Either the /24 or the /16 of this address.
                    if **v != 1000 + (key as u32) && **v != (key % 8) as u32 {
                        s.bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            s.reads.fetch_add(1, Ordering::Relaxed);
        }
        s.done.fetch_add(1, Ordering::Release);
    }

    #[test]
    fn removal_under_concurrent_lookups() {
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                table <- RcuHashTable::new(4),
                trie <- RcuTrie::new(32),
                stop: AtomicBool::new(false),
                done: AtomicU32::new(0),
                reads: AtomicU64::new(0),
                bad: AtomicU64::new(0),
            }? Error),
            GFP_KERNEL,
        );
        let Ok(s) = shared else {
            assert!(false);
            return;
        };
        let mut spawned = 0u32;
        for seed in 1..=2u64 {
            let s2 = s.clone();
            if kernel::workqueue::system_unbound().try_spawn(GFP_KERNEL, move || reader(s2, seed)).is_ok() {
                spawned += 1;
            }
        }
        assert_eq!(spawned, 2);
        let mut x = 7u64;
        for _ in 0..4000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let key = (x >> 33) % 64;
            if x & (1 << 20) != 0 {
                let Ok(v) = KBox::new([key, key * 3, key * 5, !key], GFP_KERNEL) else {
                    continue;
                };
                if let Ok(e) = NewEntry::new(v, GFP_KERNEL) {
                    s.table.insert(key, e);
                }
            } else {
                s.table.remove(key, |v| v[0] == key);
            }
            let mut k = [0u8; 16];
            k[0] = 10;
            k[1] = (key % 8) as u8;
            k[2] = (key / 8) as u8;
            if x & (1 << 21) != 0 {
                if let Ok(v) = KBox::new(1000 + key as u32, GFP_KERNEL) {
                    let _ = s.trie.insert(&k, 24, v);
                }
                if let Ok(v) = KBox::new((key % 8) as u32, GFP_KERNEL) {
                    let _ = s.trie.insert(&k, 16, v);
                }
            } else {
                s.trie.remove(&k, 24, |_| true);
                if x & (1 << 22) != 0 {
                    s.trie.remove(&k, 16, |_| true);
                }
            }
        }
        s.stop.store(true, Ordering::Release);
        for _ in 0..500 {
            if s.done.load(Ordering::Acquire) == 2 {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        assert_eq!(s.done.load(Ordering::Acquire), 2);
        assert!(s.reads.load(Ordering::Relaxed) > 0);
        assert_eq!(s.bad.load(Ordering::Relaxed), 0);
        s.trie.clear_sync();
    }
}
