// SPDX-License-Identifier: GPL-2.0

//! Receive nonce counter with a sliding replay window (RFC 6479 style, as the
//! C driver's `counter_validate()`), 8192 bits of bitmap like the 7.2 driver.
//!
//! The bitmap is a ring of 64-bit words. One word is "redundant" so that a
//! word can be cleared as a whole when the window advances, hence the usable
//! window is `COUNTER_BITS_TOTAL - 64` = 8128 counters behind the highest one.
//! At 1 KiB the window lives with the keypair object on the heap, never on
//! the stack.

use super::constants::REJECT_AFTER_MESSAGES;

/// Total bits of the bitmap.
pub const COUNTER_BITS_TOTAL: u64 = 8192;
const BITS_PER_WORD: u64 = 64;
const WORDS: usize = (COUNTER_BITS_TOTAL / BITS_PER_WORD) as usize;
const WORD_MASK: u64 = (WORDS as u64) - 1;
/// Counters older than this far behind the highest seen are rejected.
pub const COUNTER_WINDOW_SIZE: u64 = COUNTER_BITS_TOTAL - BITS_PER_WORD;

// The ring index uses a mask.
const _: () = assert!(WORDS.is_power_of_two());

/// Replay protection state of one receiving key.
#[derive(Clone)]
pub struct ReplayCounter {
    /// One more than the highest counter accepted so far (0 = none yet).
    counter: u64,
    backtrack: [u64; WORDS],
}

impl Default for ReplayCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayCounter {
    /// Fresh window: nothing received.
    pub const fn new() -> Self {
        Self {
            counter: 0,
            backtrack: [0; WORDS],
        }
    }

    /// One more than the highest accepted counter (0 before the first).
    pub fn highest_plus_one(&self) -> u64 {
        self.counter
    }

    /// Check `their_counter` and mark it as seen. Returns `true` if the
    /// packet is new and within the window; call only after the packet
    /// authenticated.
    pub fn validate(&mut self, their_counter: u64) -> bool {
        if self.counter >= REJECT_AFTER_MESSAGES.wrapping_add(1)
            || their_counter >= REJECT_AFTER_MESSAGES
        {
            return false;
        }
        // Cannot overflow: their_counter < REJECT_AFTER_MESSAGES < u64::MAX.
        let their = their_counter.wrapping_add(1);
        if COUNTER_WINDOW_SIZE.saturating_add(their) < self.counter {
            return false;
        }
        let index = their >> BITS_PER_WORD.trailing_zeros();
        if their > self.counter {
            let index_current = self.counter >> BITS_PER_WORD.trailing_zeros();
            let top = index.wrapping_sub(index_current).min(WORDS as u64);
            let mut i: u64 = 1;
            while i <= top {
                let slot = (i.wrapping_add(index_current) & WORD_MASK) as usize;
                if let Some(w) = self.backtrack.get_mut(slot) {
                    *w = 0;
                }
                i = i.wrapping_add(1);
            }
            self.counter = their;
        }
        let slot = (index & WORD_MASK) as usize;
        let bit = 1u64 << (their & (BITS_PER_WORD.wrapping_sub(1)));
        match self.backtrack.get_mut(slot) {
            Some(w) => {
                let was_set = *w & bit != 0;
                *w |= bit;
                !was_set
            }
            None => false,
        }
    }
}
