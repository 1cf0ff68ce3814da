// SPDX-License-Identifier: GPL-2.0
//! The cargo-fuzz harness bodies, run under proptest (and on the unmodified
//! valid message, which must take the deep path).

use proptest::prelude::*;
use wgrs_proto::fuzzing;

#[test]
fn valid_messages_take_the_deep_path() {
    // Empty input = the valid message, unmodified: the harness asserts
    // inside (e.g. the cookie validates mac2, the data packet opens).
    assert!(fuzzing::initiation(&[]));
    assert!(fuzzing::response(&[]));
    assert!(fuzzing::cookie_reply(&[]));
    assert!(fuzzing::transport(&[]));
    fuzzing::messages(&[]);
    fuzzing::inner_packet(&[]);
    // Mode 0 with an all-zero mask is also the valid message.
    assert!(fuzzing::initiation(&[0; 10]));
    assert!(fuzzing::transport(&[0; 10]));
    // Flipping a byte of the encrypted part is caught.
    let mut d = [0u8; 60];
    d[50] = 1;
    assert!(!fuzzing::initiation(&d));
    assert!(!fuzzing::transport(&d));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn harnesses_hold(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzzing::messages(&data);
        let _ = fuzzing::initiation(&data);
        let _ = fuzzing::response(&data);
        let _ = fuzzing::cookie_reply(&data);
        let _ = fuzzing::transport(&data);
        fuzzing::inner_packet(&data);
    }

    /// Sparse masks: mostly valid messages with a few flipped bytes.
    #[test]
    fn sparse_mutations(pos in 0usize..148, val in 1u8..=255, mode in 0u8..3) {
        let mut d = vec![0u8; 150];
        d[0] = mode;
        d[1 + pos] = val;
        let _ = fuzzing::initiation(&d);
        let _ = fuzzing::response(&d);
        let _ = fuzzing::cookie_reply(&d);
        let _ = fuzzing::transport(&d);
    }
}
