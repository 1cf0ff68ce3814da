// SPDX-License-Identifier: GPL-2.0

//! The handshake rate limiter's table: one token bucket per source (IPv4
//! /32, IPv6 /64), consulted only under load for messages that carry a
//! valid cookie. The bucket arithmetic is the protocol core's
//! (`proto::ratelimit`); here is a fixed-size open-addressing table, so it
//! never allocates after creation and a flood of sources cannot grow it:
//! idle entries are reused, and a source that finds no slot is refused.

use crate::proto::ratelimit::{RateEntry, RateKey};
use kernel::prelude::*;

const SLOTS: usize = 8192;
const PROBES: usize = 16;

/// Buckets by source.
pub(crate) struct RateLimiter {
    slots: KVVec<Option<(RateKey, RateEntry)>>,
    seed: u64,
}

fn mix(mut x: u64) -> u64 {
    // A bijective 64-bit mixer (splitmix64's finaliser).
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl RateLimiter {
    pub(crate) const fn new() -> Self {
        Self { slots: KVVec::new(), seed: 0 }
    }

    /// Allocates the table. Process context.
    pub(crate) fn init(&mut self) -> Result {
        let mut v = KVVec::with_capacity(SLOTS, GFP_KERNEL)?;
        for _ in 0..SLOTS {
            v.push(None, GFP_KERNEL)?;
        }
        self.slots = v;
        self.seed = u64::from(crate::abstractions::time::random_u32()) << 32
            | u64::from(crate::abstractions::time::random_u32());
        Ok(())
    }

    fn hash(&self, key: &RateKey) -> usize {
        let k = match key {
            RateKey::V4(a) => u64::from(*a),
            RateKey::V6(a) => a.rotate_left(17) ^ 0x6,
        };
        (mix(k ^ self.seed) as usize) % SLOTS
    }

    /// Whether one more handshake from `key` is allowed at `now`.
    pub(crate) fn allow(&mut self, key: RateKey, now: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let start = self.hash(&key);
        let mut free = None;
        for i in 0..PROBES {
            let idx = (start + i) % SLOTS;
            match self.slots.get_mut(idx) {
                Some(Some((k, e))) if *k == key => return e.allow(now),
                Some(Some((_, e))) if e.is_stale(now) => {
                    free.get_or_insert(idx);
                }
                Some(None) => {
                    free.get_or_insert(idx);
                }
                _ => {}
            }
        }
        match free.and_then(|i| self.slots.get_mut(i)) {
            Some(slot) => {
                *slot = Some((key, RateEntry::new(now)));
                true
            }
            None => false,
        }
    }
}

#[kunit_tests(wgrs_ratelimiter)]
mod tests {
    use super::*;
    use crate::proto::constants::NSEC_PER_SEC;
    use crate::proto::ratelimit::{PACKETS_BURSTABLE, PACKETS_PER_SECOND};

    fn table() -> Option<KBox<RateLimiter>> {
        let mut t = KBox::new(RateLimiter::new(), GFP_KERNEL).ok()?;
        t.init().ok()?;
        Some(t)
    }

    /// As the C driver's self-test: a burst passes, the next is refused,
    /// a packet's worth of time later one more passes.
    #[test]
    fn burst_then_rate() {
        let Some(mut t) = table() else {
            assert!(false);
            return;
        };
        let k = RateKey::v4([192, 0, 2, 1]);
        let t0 = 1000 * NSEC_PER_SEC;
        for _ in 0..PACKETS_BURSTABLE {
            assert!(t.allow(k, t0));
        }
        assert!(!t.allow(k, t0));
        let step = NSEC_PER_SEC / PACKETS_PER_SECOND;
        assert!(t.allow(k, t0 + step));
        assert!(!t.allow(k, t0 + step));
        // Another source has its own bucket.
        assert!(t.allow(RateKey::v4([192, 0, 2, 2]), t0));
        // IPv6 sources share a bucket per /64.
        let mut a = [0u8; 16];
        a[0] = 0x20;
        let mut b = a;
        b[15] = 9;
        for _ in 0..PACKETS_BURSTABLE {
            assert!(t.allow(RateKey::v6(&a), t0));
        }
        assert!(!t.allow(RateKey::v6(&b), t0));
    }

    /// A flood of distinct sources cannot take every slot for good: idle
    /// entries are reused once stale.
    #[test]
    fn many_sources_reuse_stale_slots() {
        let Some(mut t) = table() else {
            assert!(false);
            return;
        };
        let t0 = 5 * NSEC_PER_SEC;
        let mut admitted = 0u32;
        for i in 0..20_000u32 {
            if t.allow(RateKey::V4(i), t0) {
                admitted += 1;
            }
        }
        assert!(admitted as usize <= SLOTS);
        assert!(admitted as usize > SLOTS / 2);
        // Two seconds later all are stale: a new source gets in.
        assert!(t.allow(RateKey::V4(0xdead_beef), t0 + 2 * NSEC_PER_SEC));
    }
}
