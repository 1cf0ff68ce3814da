// SPDX-License-Identifier: GPL-2.0

//! The crypto primitives WireGuard needs, as a trait.
//!
//! The shape follows the kernel's lib/crypto so the module's implementation is
//! a thin wrapper: `blake2s()` one-shot (with multi-part input so callers need
//! no temporary concatenation buffers), `chacha20poly1305_{encrypt,decrypt}()`
//! with a 64-bit nonce, `xchacha20poly1305_{encrypt,decrypt}()` with a 24-byte
//! nonce, `curve25519()` that reports an all-zero result, and
//! `get_random_bytes()`.
//!
//! In-place AEAD over one contiguous buffer: `seal` takes `plaintext || room
//! for the tag` and leaves `ciphertext || tag`; `open` takes `ciphertext ||
//! tag` and leaves the plaintext at the front. That is exactly the kernel's
//! `chacha20poly1305_encrypt(dst, src, src_len, ...)` (writes `src_len + 16`
//! bytes) and `chacha20poly1305_decrypt(dst, src, src_len_incl_tag, ...)`
//! with `dst == src`, so the kernel implementation needs no copies, and it is
//! the layout the data path already has (skb linear data). Implementations
//! must not panic on any input length; they return `false` when lengths are
//! unsupported (shorter than a tag, or too long for the cipher). The tag is
//! `TAG_LEN` (16) bytes.

use super::constants::{COOKIE_NONCE_LEN, KEY_LEN};

/// Crypto provider used by the protocol core.
pub trait Crypto {
    /// BLAKE2s of the concatenation of `data` parts, written to `out`.
    ///
    /// `out.len()` is the digest length (1..=32; WireGuard uses 16 and 32).
    /// `key` is empty for the unkeyed hash, else 1..=32 bytes (keyed BLAKE2s,
    /// not HMAC). Returns `false` on an unsupported key or output length.
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool;

    /// ChaCha20-Poly1305 (RFC 7539 with the 64-bit counter as the nonce's
    /// last 8 bytes, little endian).
    ///
    /// `buf` holds the plaintext followed by TAG_LEN bytes of room. Encrypts the
    /// plaintext in place and writes the tag into the room. Returns false (and
    /// leaves `buf` unspecified) if `buf.len() < TAG_LEN`.
    fn chacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool;

    /// `buf` holds ciphertext followed by its TAG_LEN-byte tag. On success the
    /// plaintext is in `buf[..buf.len() - TAG_LEN]` and true is returned; false if
    /// `buf` is shorter than a tag or does not authenticate (content unspecified).
    fn chacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool;

    /// XChaCha20-Poly1305 (cookie replies), same buffer layout and result as
    /// [`Self::chacha20poly1305_seal`].
    fn xchacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool;

    /// XChaCha20-Poly1305 opening, same buffer layout and result as
    /// [`Self::chacha20poly1305_open`].
    fn xchacha20poly1305_open(
        &self,
        buf: &mut [u8],
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
