// SPDX-License-Identifier: GPL-2.0

//! The crypto primitives WireGuard needs, as a trait.
//!
//! The shape follows the kernel's lib/crypto so the module's implementation is
//! a thin wrapper: `blake2s()` one-shot (with multi-part input so callers need
//! no temporary concatenation buffers), `chacha20poly1305_{en,de}crypt()` with
//! a 64-bit nonce, `xchacha20poly1305_{en,de}crypt()` with a 24-byte nonce,
//! `curve25519()` that reports an all-zero result, and `get_random_bytes()`.
//!
//! In-place AEAD: the kernel functions accept `dst == src`; in-place is what
//! the data path wants (skb linear data), so the trait is in-place with the
//! tag kept separately. Implementations must not panic on any input length;
//! they return `false` when lengths are unsupported.

use super::constants::{COOKIE_NONCE_LEN, KEY_LEN, TAG_LEN};

/// Crypto provider used by the protocol core.
pub trait Crypto {
    /// BLAKE2s of the concatenation of `data` parts, written to `out`.
    ///
    /// `out.len()` is the digest length (1..=32; WireGuard uses 16 and 32).
    /// `key` is empty for the unkeyed hash, else 1..=32 bytes (keyed BLAKE2s,
    /// not HMAC). Returns `false` on an unsupported key or output length.
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool;

    /// ChaCha20-Poly1305 (RFC 7539 with the 64-bit counter as the nonce's
    /// last 8 bytes, little endian) encryption of `buf` in place; the tag is
    /// written to `tag`.
    fn chacha20poly1305_encrypt(
        &self,
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    );

    /// In-place ChaCha20-Poly1305 decryption. Returns `false` if the tag does
    /// not authenticate; `buf` content is then unspecified.
    fn chacha20poly1305_decrypt(
        &self,
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool;

    /// XChaCha20-Poly1305 encryption in place (cookie replies).
    fn xchacha20poly1305_encrypt(
        &self,
        buf: &mut [u8],
        tag: &mut [u8; TAG_LEN],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    );

    /// XChaCha20-Poly1305 decryption in place. `false` if not authentic.
    fn xchacha20poly1305_decrypt(
        &self,
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool;

    /// X25519: `out = secret * basepoint`. Returns `false` if the result is
    /// all zero (low-order point), like the kernel's `curve25519()`.
    fn curve25519(
        &self,
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        basepoint: &[u8; KEY_LEN],
    ) -> bool;

    /// X25519 public key of `secret` (clamping is done by the implementation).
    /// Returns `false` if the result is all zero.
    fn curve25519_generate_public(&self, out: &mut [u8; KEY_LEN], secret: &[u8; KEY_LEN]) -> bool;

    /// Fill `buf` with cryptographically secure random bytes.
    fn random(&self, buf: &mut [u8]);
}
