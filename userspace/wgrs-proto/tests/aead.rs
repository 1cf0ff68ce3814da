// SPDX-License-Identifier: GPL-2.0
//! The combined in-place AEAD API of the `Crypto` trait: `seal` turns
//! `plaintext || room` into `ciphertext || tag`, `open` reverses it, both
//! refuse buffers shorter than a tag instead of panicking.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305, XNonce};
use wgrs_proto::proto::constants::TAG_LEN;
use wgrs_proto::proto::crypto::Crypto;
use wgrs_proto::rustcrypto::RustCrypto;

const C: RustCrypto = RustCrypto;
const KEY: [u8; 32] = [0x42; 32];
const XNONCE: [u8; 24] = [7; 24];
const SIZES: [usize; 8] = [0, 1, 15, 16, 17, 63, 64, 1400];

fn plain(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn chacha_seal_open_round_trip_and_layout() {
    for n in SIZES {
        let p = plain(n);
        let mut buf = p.clone();
        buf.resize(n + TAG_LEN, 0xee);
        assert!(C.chacha20poly1305_seal(&mut buf, b"ad", 0x0102_0304_0506_0708, &KEY));
        // Same bytes as the detached RustCrypto call: ciphertext, then tag.
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        let mut ct = p.clone();
        let tag = ChaCha20Poly1305::new((&KEY).into())
            .encrypt_in_place_detached(&nonce.into(), b"ad", &mut ct)
            .unwrap();
        assert_eq!(&buf[..n], &ct[..]);
        assert_eq!(&buf[n..], &tag[..]);

        let mut opened = buf.clone();
        assert!(C.chacha20poly1305_open(&mut opened, b"ad", 0x0102_0304_0506_0708, &KEY));
        assert_eq!(&opened[..n], &p[..]);

        // Any flipped bit, other AD, other nonce or key: refused.
        for i in [0, n / 2, n + TAG_LEN - 1] {
            let mut bad = buf.clone();
            bad[i] ^= 1;
            assert!(!C.chacha20poly1305_open(&mut bad, b"ad", 0x0102_0304_0506_0708, &KEY));
        }
        let mut bad = buf.clone();
        assert!(!C.chacha20poly1305_open(&mut bad, b"AD", 0x0102_0304_0506_0708, &KEY));
        let mut bad = buf.clone();
        assert!(!C.chacha20poly1305_open(&mut bad, b"ad", 0x0102_0304_0506_0709, &KEY));
        let mut bad = buf.clone();
        assert!(!C.chacha20poly1305_open(&mut bad, b"ad", 0x0102_0304_0506_0708, &[0x43; 32]));
    }
}

#[test]
fn xchacha_seal_open_round_trip_and_layout() {
    for n in SIZES {
        let p = plain(n);
        let mut buf = p.clone();
        buf.resize(n + TAG_LEN, 0);
        assert!(C.xchacha20poly1305_seal(&mut buf, b"mac1", &XNONCE, &KEY));
        let mut ct = p.clone();
        let tag = XChaCha20Poly1305::new((&KEY).into())
            .encrypt_in_place_detached(XNonce::from_slice(&XNONCE), b"mac1", &mut ct)
            .unwrap();
        assert_eq!(&buf[..n], &ct[..]);
        assert_eq!(&buf[n..], &tag[..]);

        let mut opened = buf.clone();
        assert!(C.xchacha20poly1305_open(&mut opened, b"mac1", &XNONCE, &KEY));
        assert_eq!(&opened[..n], &p[..]);

        let mut bad = buf.clone();
        bad[n] ^= 0x80;
        assert!(!C.xchacha20poly1305_open(&mut bad, b"mac1", &XNONCE, &KEY));
        let mut other = XNONCE;
        other[23] ^= 1;
        let mut bad = buf.clone();
        assert!(!C.xchacha20poly1305_open(&mut bad, b"mac1", &other, &KEY));
    }
}

#[test]
fn buffers_shorter_than_a_tag_are_refused() {
    for n in 0..TAG_LEN {
        let mut b = vec![0u8; n];
        assert!(!C.chacha20poly1305_seal(&mut b, &[], 0, &KEY));
        assert!(!C.chacha20poly1305_open(&mut b, &[], 0, &KEY));
        assert!(!C.xchacha20poly1305_seal(&mut b, &[], &XNONCE, &KEY));
        assert!(!C.xchacha20poly1305_open(&mut b, &[], &XNONCE, &KEY));
    }
}
