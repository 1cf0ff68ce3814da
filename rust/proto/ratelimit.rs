// SPDX-License-Identifier: GPL-2.0

//! Handshake rate limiter entry logic (ratelimiter.c): a token bucket per
//! source address, 20 packets per second with a burst of 5. The table of
//! entries (hashing, garbage collection of entries idle for a second, size
//! limit) belongs to the module; this is the per-entry arithmetic and the key
//! derivation (IPv4 per /32, IPv6 per /64).

use super::constants::NSEC_PER_SEC;

/// Packets per second allowed per source.
pub const PACKETS_PER_SECOND: u64 = 20;
/// Burst size.
pub const PACKETS_BURSTABLE: u64 = 5;
/// Token cost of one packet, in nanoseconds.
pub const PACKET_COST: u64 = NSEC_PER_SEC / PACKETS_PER_SECOND;
/// Bucket capacity.
pub const TOKEN_MAX: u64 = PACKET_COST * PACKETS_BURSTABLE;
/// Entries idle longer than this (ns) may be garbage collected.
pub const ENTRY_IDLE_GC_NS: u64 = NSEC_PER_SEC;

/// Key of a rate limiter entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A whole IPv4 address (/32), as the big-endian u32.
    V4(u32),
    /// The first 64 bits of an IPv6 address (/64).
    V6(u64),
}

impl RateKey {
    /// Key for an IPv4 source address.
    pub fn v4(addr: [u8; 4]) -> Self {
        RateKey::V4(u32::from_be_bytes(addr))
    }

    /// Key for an IPv6 source address (its /64).
    pub fn v6(addr: &[u8; 16]) -> Self {
        let mut hi = [0u8; 8];
        for (d, s) in hi.iter_mut().zip(addr.iter()) {
            *d = *s;
        }
        RateKey::V6(u64::from_be_bytes(hi))
    }

    /// Key for a 4- or 16-byte address, `None` for other lengths.
    pub fn from_bytes(addr: &[u8]) -> Option<Self> {
        match addr.len() {
            4 => Some(Self::v4(addr.try_into().ok()?)),
            16 => Some(Self::v6(&addr.try_into().ok()?)),
            _ => None,
        }
    }
}

/// One source's token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateEntry {
    last_time_ns: u64,
    tokens: u64,
}

impl RateEntry {
    /// Entry created for the first packet of a source, which is allowed.
    pub fn new(now: u64) -> Self {
        Self {
            last_time_ns: now,
            tokens: TOKEN_MAX.saturating_sub(PACKET_COST),
        }
    }

    /// Account a packet at `now`; `true` if allowed.
    pub fn allow(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.last_time_ns);
        let tokens = self.tokens.saturating_add(elapsed).min(TOKEN_MAX);
        self.last_time_ns = now.max(self.last_time_ns);
        let ok = tokens >= PACKET_COST;
        self.tokens = if ok {
            tokens.saturating_sub(PACKET_COST)
        } else {
            tokens
        };
        ok
    }

    /// Whether the entry may be garbage collected at `now`.
    pub fn is_stale(&self, now: u64) -> bool {
        now.saturating_sub(self.last_time_ns) > ENTRY_IDLE_GC_NS
    }
}
