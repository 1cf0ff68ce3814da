// SPDX-License-Identifier: GPL-2.0

//! The per-peer transmit queue: batches of packets that got their nonces
//! together (one `send_staged` run), in nonce order, waiting for the peer's
//! serial transmit stage to encrypt and send them. Bounded like the C
//! driver's per-peer queue: past the limit new batches are refused.

use crate::abstractions::rcu::RcuRc;
use crate::abstractions::skb::{DropReason, SkbList};
use crate::noise::Keypair;
use kernel::prelude::*;

/// Packets queued per peer at most (as the C driver's MAX_QUEUED_PACKETS).
pub(crate) const MAX_QUEUED_PACKETS: u32 = 1024;
/// Packets waiting for a handshake per peer at most (MAX_STAGED_PACKETS).
pub(crate) const MAX_STAGED_PACKETS: u32 = 128;

/// Packets to send with one keypair.
pub(crate) struct TxBatch {
    pub(crate) keypair: RcuRc<Keypair>,
    pub(crate) packets: SkbList,
}

/// FIFO of batches.
pub(crate) struct TxQueue {
    batches: KVec<TxBatch>,
    /// Index of the oldest batch in `batches`.
    head: usize,
    packets: u32,
}

impl TxQueue {
    pub(crate) const fn new() -> Self {
        Self { batches: KVec::new(), head: 0, packets: 0 }
    }

    /// Appends a batch; gives it back if the queue is full or memory is
    /// short (atomic context).
    pub(crate) fn push(&mut self, batch: TxBatch) -> core::result::Result<(), TxBatch> {
        let n = batch.packets.len();
        if self.packets.saturating_add(n) > MAX_QUEUED_PACKETS {
            return Err(batch);
        }
        if self.head > 0 && self.head == self.batches.len() {
            self.batches.clear();
            self.head = 0;
        }
        if self.batches.len() == self.batches.capacity() && self.batches.reserve(1, GFP_ATOMIC).is_err() {
            return Err(batch);
        }
        match self.batches.push_within_capacity(batch) {
            Ok(()) => {
                self.packets = self.packets.saturating_add(n);
                Ok(())
            }
            Err(e) => Err(e.0),
        }
    }

    /// Takes the oldest batch.
    pub(crate) fn pop(&mut self) -> Option<TxBatch> {
        if self.head >= self.batches.len() {
            self.batches.clear();
            self.head = 0;
            return None;
        }
        // Swap the batch out for an empty one with the same keypair; the
        // slot is reclaimed when the queue drains.
        let slot = self.batches.get_mut(self.head)?;
        let batch = TxBatch { keypair: slot.keypair.clone(), packets: core::mem::replace(&mut slot.packets, SkbList::new()) };
        self.head += 1;
        self.packets = self.packets.saturating_sub(batch.packets.len());
        if self.head == self.batches.len() {
            self.batches.clear();
            self.head = 0;
        }
        Some(batch)
    }

    /// Drops everything; returns the number of packets.
    pub(crate) fn purge(&mut self) -> u32 {
        let mut n = 0u32;
        for b in self.batches.iter_mut() {
            n = n.saturating_add(b.packets.purge(DropReason::Shutdown));
        }
        self.batches.clear();
        self.head = 0;
        self.packets = 0;
        n
    }
}
