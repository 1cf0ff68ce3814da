// SPDX-License-Identifier: GPL-2.0

//! [`Crypto`] implemented with RustCrypto crates and `getrandom`.

use blake2::digest::consts::{U16, U32};
use blake2::digest::{Mac, Update, VariableOutput};
use blake2::{Blake2sMac, Blake2sVar};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Tag, XChaCha20Poly1305, XNonce};

use crate::proto::constants::{COOKIE_NONCE_LEN, KEY_LEN, TAG_LEN};
use crate::proto::crypto::Crypto;

/// RustCrypto-backed provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct RustCrypto;

fn nonce64(n: u64) -> chacha20poly1305::Nonce {
    let mut b = [0u8; 12];
    b[4..].copy_from_slice(&n.to_le_bytes());
    b.into()
}

fn keyed<M: Mac + blake2::digest::KeyInit>(out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else {
        return false;
    };
    for d in data {
        Mac::update(&mut m, d);
    }
    let r = m.finalize().into_bytes();
    if r.len() != out.len() {
        return false;
    }
    out.copy_from_slice(&r);
    true
}

/// Split `plaintext || room` and seal the plaintext with `enc`, writing the
/// detached tag into the room.
fn seal(
    buf: &mut [u8],
    enc: impl FnOnce(&mut [u8]) -> chacha20poly1305::aead::Result<Tag>,
) -> bool {
    let Some(body_len) = buf.len().checked_sub(TAG_LEN) else {
        return false;
    };
    let (body, room) = buf.split_at_mut(body_len);
    match enc(body) {
        Ok(t) => {
            room.copy_from_slice(&t);
            true
        }
        // Only fails for absurd lengths (> 256 GiB).
        Err(_) => false,
    }
}

/// Split `ciphertext || tag` and open the ciphertext in place with `dec`.
fn open(
    buf: &mut [u8],
    dec: impl FnOnce(&mut [u8], &Tag) -> chacha20poly1305::aead::Result<()>,
) -> bool {
    let Some(body_len) = buf.len().checked_sub(TAG_LEN) else {
        return false;
    };
    let (body, tag) = buf.split_at_mut(body_len);
    dec(body, Tag::from_slice(tag)).is_ok()
}

impl Crypto for RustCrypto {
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
        if key.is_empty() {
            let Ok(mut h) = Blake2sVar::new(out.len()) else {
                return false;
            };
            for d in data {
                h.update(d);
            }
            h.finalize_variable(out).is_ok()
        } else if key.len() > 32 {
            false
        } else {
            match out.len() {
                16 => keyed::<Blake2sMac<U16>>(out, key, data),
                32 => keyed::<Blake2sMac<U32>>(out, key, data),
                _ => false,
            }
        }
    }

    fn chacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool {
        let c = ChaCha20Poly1305::new(key.into());
        seal(buf, |body| {
            c.encrypt_in_place_detached(&nonce64(nonce), ad, body)
        })
    }

    fn chacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool {
        let c = ChaCha20Poly1305::new(key.into());
        open(buf, |body, tag| {
            c.decrypt_in_place_detached(&nonce64(nonce), ad, body, tag)
        })
    }

    fn xchacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool {
        let c = XChaCha20Poly1305::new(key.into());
        seal(buf, |body| {
            c.encrypt_in_place_detached(XNonce::from_slice(nonce), ad, body)
        })
    }

    fn xchacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool {
        let c = XChaCha20Poly1305::new(key.into());
        open(buf, |body, tag| {
            c.decrypt_in_place_detached(XNonce::from_slice(nonce), ad, body, tag)
        })
    }

    fn curve25519(
        &self,
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        basepoint: &[u8; KEY_LEN],
    ) -> bool {
        let s = x25519_dalek::StaticSecret::from(*secret);
        let p = x25519_dalek::PublicKey::from(*basepoint);
        *out = s.diffie_hellman(&p).to_bytes();
        !crate::proto::util::is_zero(out)
    }

    fn curve25519_generate_public(&self, out: &mut [u8; KEY_LEN], secret: &[u8; KEY_LEN]) -> bool {
        let s = x25519_dalek::StaticSecret::from(*secret);
        *out = x25519_dalek::PublicKey::from(&s).to_bytes();
        !crate::proto::util::is_zero(out)
    }

    fn random(&self, buf: &mut [u8]) {
        // getrandom only fails if the OS has no entropy source at all; a
        // zero key would be catastrophic, so refuse to continue.
        #[allow(clippy::expect_used)]
        getrandom::getrandom(buf).expect("getrandom failed");
    }
}
