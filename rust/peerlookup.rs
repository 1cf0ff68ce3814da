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
