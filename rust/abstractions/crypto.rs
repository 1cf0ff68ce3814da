// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the kernel's lib/crypto primitives WireGuard uses.
//!
//! lib/crypto picks the fastest implementation the CPU supports at boot
//! (AVX2/AVX-512 ChaCha20 and Poly1305, ADX/BMI2 Curve25519, SSSE3/AVX-512
//! BLAKE2s), so these wrappers are the module's SIMD path.

use crate::sys;
use kernel::prelude::*;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const XNONCE_LEN: usize = 24;
pub(crate) const BLAKE2S_OUT_MAX: usize = 32;
pub(crate) const BLAKE2S_KEY_MAX: usize = 32;

/// `EBADMSG`, what the kernel's AEAD code reports for a tag that does not verify.
fn bad_message() -> Error {
    Error::from_errno(-(sys::EBADMSG as i32))
}

/// BLAKE2s of the concatenation of `parts`, keyed with `key` (may be empty),
/// with `out.len()` bytes of output (1 to 32).
pub(crate) fn blake2s(out: &mut [u8], key: &[u8], parts: &[&[u8]]) -> Result {
    if out.is_empty() || out.len() > BLAKE2S_OUT_MAX || key.len() > BLAKE2S_KEY_MAX {
        return Err(EINVAL);
    }
    let mut ctx = sys::blake2s_ctx::default();
    // SAFETY: `ctx` is a local context; `key` is valid for `key.len()` bytes
    // and at most BLAKE2S_KEY_SIZE; `out.len()` is within 1..=32 as checked.
    unsafe {
        if key.is_empty() {
            sys::blake2s_init(&mut ctx, out.len());
        } else {
            sys::blake2s_init_key(&mut ctx, out.len(), key.as_ptr().cast(), key.len());
        }
    }
    for part in parts {
        // SAFETY: `part` is valid for `part.len()` bytes; `ctx` is initialised.
        unsafe { sys::blake2s_update(&mut ctx, part.as_ptr(), part.len()) };
    }
    // SAFETY: `out` has exactly the output length `ctx` was initialised with.
    unsafe { sys::blake2s_final(&mut ctx, out.as_mut_ptr()) };
    Ok(())
}

/// Splits an AEAD buffer (payload followed by a tag's worth of bytes) into
/// the payload length; `None` if it cannot even hold a tag.
fn payload_len(buf: &[u8]) -> Option<usize> {
    buf.len().checked_sub(TAG_LEN)
}

/// ChaCha20-Poly1305 with WireGuard's 64-bit counter nonce, in place: `buf`
/// is the plaintext followed by `TAG_LEN` bytes of room for the tag.
pub(crate) fn aead_seal(buf: &mut [u8], ad: &[u8], nonce: u64, key: &[u8; KEY_LEN]) -> Result {
    let len = payload_len(buf).ok_or(EINVAL)?;
    let p = buf.as_mut_ptr();
    // SAFETY: `buf` holds `len + 16` bytes, what encryption writes; lib/crypto
    // allows `dst == src` (the ChaCha20 stream is applied in place and the
    // MAC reads the ciphertext after it is written); `key` is 32 bytes.
    unsafe { sys::chacha20poly1305_encrypt(p, p, len, ad.as_ptr(), ad.len(), nonce, key.as_ptr()) };
    Ok(())
}

/// Opens what `aead_seal` sealed, in place: on success the plaintext is in
/// `buf[..buf.len() - TAG_LEN]`. `EBADMSG` if the tag does not verify.
pub(crate) fn aead_open(buf: &mut [u8], ad: &[u8], nonce: u64, key: &[u8; KEY_LEN]) -> Result {
    payload_len(buf).ok_or(EINVAL)?;
    let p = buf.as_mut_ptr();
    // SAFETY: `buf` holds ciphertext and tag (`buf.len()` bytes, at least a
    // tag); decryption writes `buf.len() - 16` bytes at `p` after the MAC has
    // read the ciphertext, so `dst == src` is allowed; `key` is 32 bytes.
    let ok = unsafe {
        sys::chacha20poly1305_decrypt(p, p, buf.len(), ad.as_ptr(), ad.len(), nonce, key.as_ptr())
    };
    if ok {
        Ok(())
    } else {
        Err(bad_message())
    }
}

/// XChaCha20-Poly1305 (cookie replies), in place like `aead_seal`.
pub(crate) fn xaead_seal(
    buf: &mut [u8],
    ad: &[u8],
    nonce: &[u8; XNONCE_LEN],
    key: &[u8; KEY_LEN],
) -> Result {
    let len = payload_len(buf).ok_or(EINVAL)?;
    let p = buf.as_mut_ptr();
    // SAFETY: as in `aead_seal`; `nonce` is 24 bytes.
    unsafe {
        sys::xchacha20poly1305_encrypt(
            p,
            p,
            len,
            ad.as_ptr(),
            ad.len(),
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    Ok(())
}

/// Opens what `xaead_seal` sealed, in place.
pub(crate) fn xaead_open(
    buf: &mut [u8],
    ad: &[u8],
    nonce: &[u8; XNONCE_LEN],
    key: &[u8; KEY_LEN],
) -> Result {
    payload_len(buf).ok_or(EINVAL)?;
    let p = buf.as_mut_ptr();
    // SAFETY: as in `aead_open`; `nonce` is 24 bytes.
    let ok = unsafe {
        sys::xchacha20poly1305_decrypt(
            p,
            p,
            buf.len(),
            ad.as_ptr(),
            ad.len(),
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    if ok {
        Ok(())
    } else {
        Err(bad_message())
    }
}

/// X25519. Returns `None` when the shared point is all zero (a low-order
/// public key), which WireGuard must reject.
pub(crate) fn x25519(secret: &[u8; KEY_LEN], public: &[u8; KEY_LEN]) -> Option<[u8; KEY_LEN]> {
    let mut out = [0u8; KEY_LEN];
    // SAFETY: all three buffers are 32 bytes, as curve25519() requires.
    let ok = unsafe { sys::curve25519(out.as_mut_ptr(), secret.as_ptr(), public.as_ptr()) };
    ok.then_some(out)
}

/// The public key of `secret`; `None` for secrets that give the zero point.
pub(crate) fn x25519_public(secret: &[u8; KEY_LEN]) -> Option<[u8; KEY_LEN]> {
    let mut out = [0u8; KEY_LEN];
    // SAFETY: both buffers are 32 bytes.
    let ok = unsafe { sys::curve25519_generate_public(out.as_mut_ptr(), secret.as_ptr()) };
    ok.then_some(out)
}

/// Overwrites `buf` with zeros in a way the compiler may not elide.
pub(crate) fn zeroize(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    unsafe { sys::memzero_explicit(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Compares two equally long byte strings in constant time.
pub(crate) fn equal_ct(a: &[u8; KEY_LEN], b: &[u8; KEY_LEN]) -> bool {
    // SAFETY: both are valid for reads of `KEY_LEN` bytes.
    unsafe { sys::crypto_memneq(a.as_ptr().cast(), b.as_ptr().cast(), KEY_LEN) == 0 }
}

/// A 32-byte secret (private or preshared key), zeroed when dropped.
#[derive(Default)]
pub(crate) struct Secret(pub(crate) [u8; KEY_LEN]);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize(&mut self.0);
    }
}

/// Clamps a Curve25519 secret (RFC 7748), as `curve25519_clamp_secret`.
pub(crate) fn clamp_secret(secret: &mut [u8; KEY_LEN]) {
    secret[0] &= 248;
    secret[31] = (secret[31] & 127) | 64;
}

/// Fills `buf` from the kernel's CRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    unsafe { sys::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) }
}

#[kunit_tests(wgrs_crypto)]
mod tests {
    use super::*;

    /// Decodes a test vector; a malformed one decodes to a value that cannot
    /// match, so the test using it fails rather than panics.
    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let nib = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        };
        let mut out = [0u8; N];
        for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
            if let [h, l] = pair {
                *o = (nib(*h) << 4) | nib(*l);
            }
        }
        out
    }

    // RFC 7693, appendix B: BLAKE2s-256("abc").
    #[test]
    fn blake2s_rfc7693_abc() {
        let mut out = [0u8; 32];
        assert!(blake2s(&mut out, &[], &[b"abc"]).is_ok());
        let want: [u8; 32] =
            hex("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
        assert_eq!(out, want);
        // The same input split in parts gives the same hash.
        let mut split = [0u8; 32];
        assert!(blake2s(&mut split, &[], &[b"a", b"", b"bc"]).is_ok());
        assert_eq!(split, want);
    }

    #[test]
    fn blake2s_rejects_bad_lengths() {
        let mut empty: [u8; 0] = [];
        assert!(blake2s(&mut empty, &[], &[b"x"]).is_err());
        let mut big = [0u8; 33];
        assert!(blake2s(&mut big, &[], &[b"x"]).is_err());
        let mut out = [0u8; 16];
        assert!(blake2s(&mut out, &[1u8; 33], &[b"x"]).is_err());
        // A keyed 16-byte MAC (as MAC1 uses) differs from the unkeyed hash.
        assert!(blake2s(&mut out, &[7u8; 32], &[b"x"]).is_ok());
        let mut plain = [0u8; 16];
        assert!(blake2s(&mut plain, &[], &[b"x"]).is_ok());
        assert!(out != plain);
    }

    // RFC 7748, section 6.1: the Alice/Bob Diffie-Hellman example.
    #[test]
    fn x25519_rfc7748() {
        let a: [u8; 32] = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let a_pub: [u8; 32] =
            hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let b: [u8; 32] = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let b_pub: [u8; 32] =
            hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared: [u8; 32] =
            hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519_public(&a), Some(a_pub));
        assert_eq!(x25519_public(&b), Some(b_pub));
        assert_eq!(x25519(&a, &b_pub), Some(shared));
        assert_eq!(x25519(&b, &a_pub), Some(shared));
    }

    #[test]
    fn x25519_rejects_low_order_point() {
        let secret = [0x42u8; 32];
        // The all-zero point has order 1: every product is zero.
        assert_eq!(x25519(&secret, &[0u8; 32]), None);
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = [0x11u8; 32];
        let msg = *b"wgrs lib/crypto round trip, 44 bytes long...";
        let mut buf = [0u8; 44 + TAG_LEN];
        buf[..44].copy_from_slice(&msg);
        assert!(aead_seal(&mut buf, b"ad", 7, &key).is_ok());
        assert!(buf[..44] != msg[..]);
        let sealed = buf;
        assert!(aead_open(&mut buf, b"ad", 7, &key).is_ok());
        assert_eq!(buf[..44], msg[..]);
        // Wrong nonce, wrong AD, a flipped bit: all refused.
        buf = sealed;
        assert!(aead_open(&mut buf, b"ad", 8, &key).is_err());
        buf = sealed;
        assert!(aead_open(&mut buf, b"AD", 7, &key).is_err());
        buf = sealed;
        buf[3] ^= 1;
        assert!(aead_open(&mut buf, b"ad", 7, &key).is_err());
        // Too short to hold a tag: an error, not an overrun.
        let mut short = [0u8; TAG_LEN - 1];
        assert!(aead_seal(&mut short, b"", 0, &key).is_err());
        assert!(aead_open(&mut short, b"", 0, &key).is_err());
        // An empty payload (a keepalive) is just a tag.
        let mut tag_only = [0u8; TAG_LEN];
        assert!(aead_seal(&mut tag_only, b"", 1, &key).is_ok());
        assert!(aead_open(&mut tag_only, b"", 1, &key).is_ok());
    }

    #[test]
    fn xaead_round_trip_and_tamper() {
        let key = [0x22u8; 32];
        let nonce = [0x33u8; 24];
        let cookie = [0x44u8; 16];
        let mut buf = [0u8; 32];
        buf[..16].copy_from_slice(&cookie);
        assert!(xaead_seal(&mut buf, &[9u8; 16], &nonce, &key).is_ok());
        let sealed = buf;
        assert!(xaead_open(&mut buf, &[9u8; 16], &nonce, &key).is_ok());
        assert_eq!(buf[..16], cookie[..]);
        let mut other = nonce;
        other[23] ^= 0x80;
        buf = sealed;
        assert!(xaead_open(&mut buf, &[9u8; 16], &other, &key).is_err());
    }

    #[test]
    fn random_bytes_are_not_constant() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        random_bytes(&mut a);
        random_bytes(&mut b);
        assert!(a != b);
        assert!(a != [0u8; 32]);
    }
}

/// lib/crypto as the protocol core's crypto provider.
pub(crate) struct KernelCrypto;

impl crate::proto::crypto::Crypto for KernelCrypto {
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
        blake2s(out, key, data).is_ok()
    }

    fn chacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool {
        aead_seal(buf, ad, nonce, key).is_ok()
    }

    fn chacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool {
        aead_open(buf, ad, nonce, key).is_ok()
    }

    fn xchacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool {
        xaead_seal(buf, ad, nonce, key).is_ok()
    }

    fn xchacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool {
        xaead_open(buf, ad, nonce, key).is_ok()
    }

    fn curve25519(
        &self,
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        basepoint: &[u8; KEY_LEN],
    ) -> bool {
        match x25519(secret, basepoint) {
            Some(shared) => {
                *out = shared;
                true
            }
            None => false,
        }
    }

    fn curve25519_generate_public(&self, out: &mut [u8; KEY_LEN], secret: &[u8; KEY_LEN]) -> bool {
        match x25519_public(secret) {
            Some(public) => {
                *out = public;
                true
            }
            None => false,
        }
    }

    fn random(&self, buf: &mut [u8]) {
        random_bytes(buf)
    }
}

/// The protocol core's deterministic exchange (handshake, key confirmation,
/// data both ways, cookie reply under load, retry with mac2) between two
/// in-kernel instances, with lib/crypto for every primitive. userspace's
/// `cargo test` runs the same code with RustCrypto and pins the digest of
/// every wire message to `TRANSCRIPT_DIGEST`: equal digests mean the kernel's
/// crypto path produces the very same bytes.
#[kunit_tests(wgrs_handshake)]
mod handshake_tests {
    use super::*;
    use crate::proto::crypto::Crypto;
    use crate::proto::selftest::{transcript_with, Fault, Faulty, Scratch, TRANSCRIPT_DIGEST};

    fn run<C: Crypto + ?Sized>(crypto: &C) -> Option<core::result::Result<[u8; 32], ()>> {
        let mut scratch = KBox::new(Scratch::new(), GFP_KERNEL).ok()?;
        Some(transcript_with(crypto, &mut scratch).map_err(|e| {
            pr_info!("wgrs_handshake: transcript stopped at {:?}\n", e);
        }))
    }

    #[test]
    fn kernel_crypto_transcript_matches_userspace() {
        assert_eq!(run(&KernelCrypto), Some(Ok(TRANSCRIPT_DIGEST)));
    }

    /// The comparison above can fail: lib/crypto with any one primitive's
    /// output off by a bit does not reproduce the digest.
    #[test]
    fn a_corrupted_primitive_changes_the_transcript() {
        for fault in Fault::ALL {
            let got = run(&Faulty::new(&KernelCrypto, fault));
            assert!(got.is_some());
            assert!(got != Some(Ok(TRANSCRIPT_DIGEST)));
        }
    }
}
