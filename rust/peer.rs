// SPDX-License-Identifier: GPL-2.0

//! Peers of one device: their configuration, indexed by public key.

pub(crate) use crate::allowedips::PeerId;
use crate::crypto::{Secret, KEY_LEN};
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNode};

/// As the C driver's MAX_PEERS_PER_DEVICE.
const MAX_PEERS: usize = 1 << 20;

/// Where a peer was last seen or was told to be: a `sockaddr_in` or
/// `sockaddr_in6`, kept as the bytes userspace gave (and gets back).
#[derive(Clone, Copy)]
pub(crate) enum Endpoint {
    None,
    V4([u8; 16]),
    V6([u8; 28]),
}

impl Endpoint {
    pub(crate) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Endpoint::None => None,
            Endpoint::V4(b) => Some(b),
            Endpoint::V6(b) => Some(b),
        }
    }
}

/// One peer's configuration (the data path adds handshake state later).
pub(crate) struct Peer {
    pub(crate) public_key: [u8; KEY_LEN],
    pub(crate) preshared_key: Secret,
    pub(crate) endpoint: Endpoint,
    /// Seconds, 0 = off.
    pub(crate) persistent_keepalive: u16,
}

/// The peers of a device, in creation order (the order dumps list them).
///
/// # Invariants
///
/// `by_key` maps exactly the public keys of the peers in `by_id` to their
/// ids; ids are unique and below `next_id`; `count` is the number of peers.
pub(crate) struct Peers {
    by_id: RBTree<PeerId, Peer>,
    by_key: RBTree<[u8; KEY_LEN], PeerId>,
    next_id: PeerId,
    count: usize,
}

impl Peers {
    pub(crate) fn new() -> Self {
        Self { by_id: RBTree::new(), by_key: RBTree::new(), next_id: 1, count: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn lookup(&self, key: &[u8; KEY_LEN]) -> Option<PeerId> {
        self.by_key.get(key).copied()
    }

    pub(crate) fn contains(&self, id: PeerId) -> bool {
        self.by_id.get(&id).is_some()
    }

    pub(crate) fn get_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.by_id.get_mut(&id)
    }

    /// Adds a peer with `key`, which must not be present yet; `E2BIG` past
    /// the C driver's limit, `ENOMEM` without memory (and no change).
    pub(crate) fn create(&mut self, key: [u8; KEY_LEN]) -> Result<PeerId> {
        if self.count >= MAX_PEERS {
            return Err(E2BIG);
        }
        if self.by_key.get(&key).is_some() {
            return Err(EEXIST);
        }
        let id = self.next_id;
        let next_id = id.checked_add(1).ok_or(E2BIG)?;
        let peer = Peer {
            public_key: key,
            preshared_key: Secret::default(),
            endpoint: Endpoint::None,
            persistent_keepalive: 0,
        };
        let a = RBTreeNode::new(id, peer, GFP_KERNEL)?;
        let b = RBTreeNode::new(key, id, GFP_KERNEL)?;
        self.by_id.insert(a);
        self.by_key.insert(b);
        self.next_id = next_id;
        self.count += 1;
        Ok(id)
    }

    /// Removes a peer (its allowed IPs are the caller's business).
    pub(crate) fn remove(&mut self, id: PeerId) {
        if let Some(peer) = self.by_id.remove(&id) {
            self.by_key.remove(&peer.public_key);
            self.count -= 1;
        }
    }

    /// Removes every peer.
    pub(crate) fn clear(&mut self) {
        self.by_id = RBTree::new();
        self.by_key = RBTree::new();
        self.count = 0;
    }

    /// The first peer with id `from` or later, in creation order.
    pub(crate) fn next_from(&self, from: PeerId) -> Option<(PeerId, &Peer)> {
        let cursor = self.by_id.cursor_lower_bound(&from)?;
        let (id, _) = cursor.current();
        let id = *id;
        self.by_id.get(&id).map(|p| (id, p))
    }
}
