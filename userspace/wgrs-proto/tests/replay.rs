// SPDX-License-Identifier: GPL-2.0
//! Replay window: the C driver's counter self-test table, adapted to our
//! window size, plus a property test against a simple reference model.

use std::collections::HashSet;

use proptest::prelude::*;
use wgrs_proto::proto::constants::REJECT_AFTER_MESSAGES;
use wgrs_proto::proto::replay::{ReplayCounter, COUNTER_BITS_TOTAL, COUNTER_WINDOW_SIZE};

#[test]
fn window_is_8192_bits_of_bitmap_like_the_7_2_driver() {
    assert_eq!(COUNTER_BITS_TOTAL, 8192);
    assert_eq!(COUNTER_WINDOW_SIZE, 8192 - 64);
    assert_eq!(REJECT_AFTER_MESSAGES, u64::MAX - (1 << 13));
}

#[test]
fn c_driver_selftest_table() {
    let lim = COUNTER_WINDOW_SIZE + 1;
    let r = REJECT_AFTER_MESSAGES;
    let table: &[(u64, bool)] = &[
        (0, true),
        (1, true),
        (1, false),
        (9, true),
        (8, true),
        (7, true),
        (7, false),
        (lim, true),
        (lim - 1, true),
        (lim - 1, false),
        (lim - 2, true),
        (2, true),
        (2, false),
        (lim + 16, true),
        (3, false),
        (lim + 16, false),
        (lim * 4, true),
        (lim * 4 - (lim - 1), true),
        (10, false),
        (lim * 4 - lim, false),
        (lim * 4 - (lim + 1), false),
        (lim * 4 - (lim - 2), true),
        (lim * 4 + 1 - lim, false),
        (0, false),
        (r, false),
        (r - 1, true),
        (r, false),
        (r - 1, false),
        (r - 2, true),
        (r + 1, false),
        (r + 2, false),
        (r - 2, false),
        (r - 3, true),
        (0, false),
        (u64::MAX, false),
    ];
    let mut c = ReplayCounter::new();
    for (i, (n, want)) in table.iter().enumerate() {
        assert_eq!(c.validate(*n), *want, "step {} counter {}", i + 1, n);
    }
}

#[test]
fn c_driver_selftest_loops() {
    let w = COUNTER_WINDOW_SIZE;
    let mut c = ReplayCounter::new();
    for i in 1..=w {
        assert!(c.validate(i));
    }
    assert!(c.validate(0));
    assert!(!c.validate(0));

    let mut c = ReplayCounter::new();
    for i in 2..=w + 1 {
        assert!(c.validate(i));
    }
    assert!(c.validate(1));
    assert!(!c.validate(0));

    let mut c = ReplayCounter::new();
    for i in (0..=w).rev() {
        assert!(c.validate(i));
    }

    let mut c = ReplayCounter::new();
    for i in (1..=w + 1).rev() {
        assert!(c.validate(i));
    }
    assert!(!c.validate(0));

    let mut c = ReplayCounter::new();
    for i in (1..=w).rev() {
        assert!(c.validate(i));
    }
    assert!(c.validate(w + 1));
    assert!(!c.validate(0));

    let mut c = ReplayCounter::new();
    for i in (1..=w).rev() {
        assert!(c.validate(i));
    }
    assert!(c.validate(0));
    assert!(c.validate(w + 1));
}

#[test]
fn big_jumps_clear_the_whole_ring() {
    let mut c = ReplayCounter::new();
    for i in 0..COUNTER_BITS_TOTAL {
        assert!(c.validate(i));
    }
    // Jump far ahead: all old bits must be forgotten, nothing stale accepted
    // or wrongly rejected.
    let base = 1_000_000;
    assert!(c.validate(base));
    for i in base - COUNTER_WINDOW_SIZE..base {
        assert!(c.validate(i), "{i} in window, never seen");
    }
    assert!(!c.validate(base - COUNTER_WINDOW_SIZE - 1), "too old");
}

/// Reference model: accept iff below the limit, not seen, and not more than
/// the window behind the highest accepted counter.
struct Model {
    seen: HashSet<u64>,
    max: Option<u64>,
}

impl Model {
    fn validate(&mut self, n: u64) -> bool {
        if n >= REJECT_AFTER_MESSAGES {
            return false;
        }
        if let Some(m) = self.max {
            if n.saturating_add(COUNTER_WINDOW_SIZE) < m {
                return false;
            }
        }
        if !self.seen.insert(n) {
            return false;
        }
        self.max = Some(self.max.map_or(n, |m| m.max(n)));
        true
    }
}

fn counter_strategy() -> impl Strategy<Value = Vec<u64>> {
    // Mostly small steps around a moving point, some big jumps and edge values.
    prop::collection::vec(
        prop_oneof![
            8 => 0u64..5000,
            2 => 0u64..100_000,
            1 => (REJECT_AFTER_MESSAGES - 5000)..=u64::MAX,
        ],
        1..600,
    )
}

proptest! {
    #[test]
    fn matches_reference_model(seq in counter_strategy()) {
        let mut c = ReplayCounter::new();
        let mut m = Model { seen: HashSet::new(), max: None };
        for n in seq {
            prop_assert_eq!(c.validate(n), m.validate(n), "counter {}", n);
        }
    }

    #[test]
    fn in_order_stream_always_accepted_once(start in 0u64..(1 << 40), len in 1usize..3000) {
        let mut c = ReplayCounter::new();
        for i in 0..len as u64 {
            prop_assert!(c.validate(start + i));
            prop_assert!(!c.validate(start + i));
        }
    }
}

proptest! {
    /// Counters relative to the highest seen, concentrated at the window edge.
    #[test]
    fn window_edge_matches_model(steps in prop::collection::vec((any::<bool>(), 0u64..8, 0u64..300), 1..300)) {
        let mut c = ReplayCounter::new();
        let mut m = Model { seen: HashSet::new(), max: None };
        for (ahead, edge, small) in steps {
            let top = m.max.unwrap_or(0);
            let n = if ahead {
                top + small
            } else {
                // top - (WINDOW - 4 + edge), i.e. straddling the edge.
                top.saturating_sub(COUNTER_WINDOW_SIZE - 4 + edge)
            };
            prop_assert_eq!(c.validate(n), m.validate(n), "counter {} top {}", n, top);
        }
    }
}
