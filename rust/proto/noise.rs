// SPDX-License-Identifier: GPL-2.0

//! Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as used by WireGuard.
//!
//! Follows the whitepaper section 5.4 and drivers/net/wireguard/noise.c.
//! Index allocation and peer lookup belong to the caller: consuming an
//! initiation is split into [`consume_initiation_begin`] (device static key
//! only, yields the initiator's static public key for the lookup) and
//! [`Handshake::consume_initiation_finish`] (per-peer checks and state).

use super::constants::{
    CONSTRUCTION, HASH_LEN, IDENTIFIER, INITIATIONS_PER_SECOND, KEY_LEN, NSEC_PER_SEC, TAG_LEN,
    TIMESTAMP_LEN,
};
use super::crypto::Crypto;
use super::keypair::Keypair;
use super::messages::{Initiation, Response};
use super::util::{ct_eq, is_zero, put, zeroize};

/// Errors from handshake processing. Deliberately coarse: the caller only
/// drops the packet, and finer detail would be an oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseError {
    /// A DH result was all zero, or the static-static precomputation was.
    ZeroDh,
    /// An AEAD did not authenticate.
    Decrypt,
    /// The message does not fit the handshake's current state / index.
    WrongState,
    /// The timestamp was not strictly greater than the last one (replay).
    Replay,
    /// Initiations arrive faster than [`INITIATIONS_PER_SECOND`].
    Flood,
    /// A crypto primitive refused its input (wrong length).
    Crypto,
    /// Our static identity is not set.
    NoIdentity,
}

/// Handshake state, as in `enum noise_handshake_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeState {
    /// Nothing in progress.
    Zeroed,
    /// We sent an initiation and await a response.
    CreatedInitiation,
    /// We consumed an initiation and may create a response.
    ConsumedInitiation,
    /// We sent a response; keys can be derived (responder).
    CreatedResponse,
    /// We consumed a response; keys can be derived (initiator).
    ConsumedResponse,
}

/// Device static identity.
#[derive(Clone)]
pub struct StaticIdentity {
    /// Private key (clamping is the crypto provider's business).
    pub private: [u8; KEY_LEN],
    /// Public key.
    pub public: [u8; KEY_LEN],
    /// `false` when no private key is configured (all handshakes fail).
    pub has_identity: bool,
}

impl StaticIdentity {
    /// No identity configured.
    pub const fn empty() -> Self {
        Self {
            private: [0; KEY_LEN],
            public: [0; KEY_LEN],
            has_identity: false,
        }
    }

    /// Identity from a private key; `None` if its public key is all zero.
    pub fn from_private<C: Crypto + ?Sized>(c: &C, private: &[u8; KEY_LEN]) -> Option<Self> {
        let mut public = [0u8; KEY_LEN];
        if !c.curve25519_generate_public(&mut public, private) {
            return None;
        }
        Some(Self {
            private: *private,
            public,
            has_identity: true,
        })
    }
}

impl Drop for StaticIdentity {
    fn drop(&mut self) {
        zeroize(&mut self.private);
    }
}

/// HMAC-BLAKE2s-256 (RFC 2104 with a 64-byte block) over multi-part input
/// (at most 3 parts; more returns `false`).
pub fn hmac<C: Crypto + ?Sized>(
    c: &C,
    out: &mut [u8; HASH_LEN],
    key: &[u8],
    data: &[&[u8]],
) -> bool {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        if !c.blake2s(&mut k[..HASH_LEN], &[], &[key]) {
            return false;
        }
    } else if !put(&mut k, 0, key) {
        return false;
    }
    let mut pad = [0u8; BLOCK];
    for (p, kb) in pad.iter_mut().zip(k.iter()) {
        *p = kb ^ 0x36;
    }
    let mut inner = [0u8; HASH_LEN];
    // Inner hash: H(K ^ ipad || data...). At most 3 data parts are used.
    let ok = match data {
        [] => c.blake2s(&mut inner, &[], &[&pad]),
        [a] => c.blake2s(&mut inner, &[], &[&pad, a]),
        [a, b] => c.blake2s(&mut inner, &[], &[&pad, a, b]),
        [a, b, d] => c.blake2s(&mut inner, &[], &[&pad, a, b, d]),
        _ => false,
    };
    if !ok {
        zeroize(&mut k);
        zeroize(&mut pad);
        return false;
    }
    for (p, kb) in pad.iter_mut().zip(k.iter()) {
        *p = kb ^ 0x5c;
    }
    let ok = c.blake2s(out, &[], &[&pad, &inner]);
    zeroize(&mut k);
    zeroize(&mut pad);
    zeroize(&mut inner);
    ok
}

/// WireGuard's HKDF: derive up to three 32-byte outputs from `ck` and `input`.
pub fn kdf<C: Crypto + ?Sized>(
    c: &C,
    ck: &[u8; HASH_LEN],
    input: &[u8],
    out1: &mut [u8; HASH_LEN],
    out2: Option<&mut [u8; HASH_LEN]>,
    out3: Option<&mut [u8; HASH_LEN]>,
) -> bool {
    let mut secret = [0u8; HASH_LEN];
    let mut t1 = [0u8; HASH_LEN];
    let mut ok = hmac(c, &mut secret, ck, &[input]) && hmac(c, &mut t1, &secret, &[&[1u8]]);
    let mut t2 = [0u8; HASH_LEN];
    if ok && (out2.is_some() || out3.is_some()) {
        ok = hmac(c, &mut t2, &secret, &[&t1, &[2u8]]);
    }
    if ok {
        if let Some(o3) = out3 {
            ok = hmac(c, o3, &secret, &[&t2, &[3u8]]);
        }
    }
    if ok {
        if let Some(o2) = out2 {
            *o2 = t2;
        }
        *out1 = t1;
    }
    zeroize(&mut secret);
    zeroize(&mut t1);
    zeroize(&mut t2);
    ok
}

/// `hash = HASH(hash || data)`.
fn mix_hash<C: Crypto + ?Sized>(
    c: &C,
    hash: &mut [u8; HASH_LEN],
    data: &[u8],
) -> Result<(), NoiseError> {
    let prev = *hash;
    if c.blake2s(hash, &[], &[&prev, data]) {
        Ok(())
    } else {
        Err(NoiseError::Crypto)
    }
}

/// `ck, key = KDF2(ck, DH(private, public))`; fails on an all-zero DH.
fn mix_dh<C: Crypto + ?Sized>(
    c: &C,
    ck: &mut [u8; HASH_LEN],
    key: Option<&mut [u8; KEY_LEN]>,
    private: &[u8; KEY_LEN],
    public: &[u8; KEY_LEN],
) -> Result<(), NoiseError> {
    let mut dh = [0u8; KEY_LEN];
    if !c.curve25519(&mut dh, private, public) {
        zeroize(&mut dh);
        return Err(NoiseError::ZeroDh);
    }
    let r = mix_key(c, ck, key, &dh);
    zeroize(&mut dh);
    r
}

fn mix_key<C: Crypto + ?Sized>(
    c: &C,
    ck: &mut [u8; HASH_LEN],
    key: Option<&mut [u8; KEY_LEN]>,
    input: &[u8],
) -> Result<(), NoiseError> {
    let prev = *ck;
    if kdf(c, &prev, input, ck, key, None) {
        Ok(())
    } else {
        Err(NoiseError::Crypto)
    }
}

/// `ck, temp, key = KDF3(ck, psk); hash = HASH(hash || temp)`.
fn mix_psk<C: Crypto + ?Sized>(
    c: &C,
    ck: &mut [u8; HASH_LEN],
    hash: &mut [u8; HASH_LEN],
    key: &mut [u8; KEY_LEN],
    psk: &[u8; KEY_LEN],
) -> Result<(), NoiseError> {
    let prev = *ck;
    let mut temp = [0u8; HASH_LEN];
    if !kdf(c, &prev, psk, ck, Some(&mut temp), Some(key)) {
        return Err(NoiseError::Crypto);
    }
    let r = mix_hash(c, hash, &temp);
    zeroize(&mut temp);
    r
}

/// Write `plain` into `out` (which must be exactly `plain.len() + TAG_LEN`
/// bytes: the message field), AEAD-seal it in place with nonce 0 and `hash`
/// as AD, then mix the resulting `ciphertext || tag` into `hash`.
fn encrypt_and_hash<C: Crypto + ?Sized>(
    c: &C,
    out: &mut [u8],
    plain: &[u8],
    key: &[u8; KEY_LEN],
    hash: &mut [u8; HASH_LEN],
) -> Result<(), NoiseError> {
    let body_len = out.len().checked_sub(TAG_LEN).ok_or(NoiseError::Crypto)?;
    if body_len != plain.len() || !put(out, 0, plain) {
        return Err(NoiseError::Crypto);
    }
    if !c.chacha20poly1305_seal(out, hash, 0, key) {
        zeroize(out);
        return Err(NoiseError::Crypto);
    }
    mix_hash(c, hash, out)
}

/// Reverse of [`encrypt_and_hash`], in place: `buf` is `ciphertext || tag`;
/// on success the plaintext is in `buf[..buf.len() - TAG_LEN]` and `hash` has
/// the ciphertext mixed in. On failure `buf` is zeroed and `hash` unchanged.
fn decrypt_and_hash<C: Crypto + ?Sized>(
    c: &C,
    buf: &mut [u8],
    key: &[u8; KEY_LEN],
    hash: &mut [u8; HASH_LEN],
) -> Result<(), NoiseError> {
    // The ciphertext is overwritten by the plaintext, so hash it first.
    let mut next = [0u8; HASH_LEN];
    if !c.blake2s(&mut next, &[], &[hash, buf]) {
        return Err(NoiseError::Crypto);
    }
    if !c.chacha20poly1305_open(buf, hash, 0, key) {
        zeroize(buf);
        return Err(NoiseError::Decrypt);
    }
    *hash = next;
    Ok(())
}

/// Initial chaining key and hash for a handshake with responder `responder_static`.
fn handshake_init<C: Crypto + ?Sized>(
    c: &C,
    ck: &mut [u8; HASH_LEN],
    hash: &mut [u8; HASH_LEN],
    responder_static: &[u8; KEY_LEN],
) -> Result<(), NoiseError> {
    if !c.blake2s(ck, &[], &[CONSTRUCTION]) {
        return Err(NoiseError::Crypto);
    }
    if !c.blake2s(hash, &[], &[ck, IDENTIFIER]) {
        return Err(NoiseError::Crypto);
    }
    mix_hash(c, hash, responder_static)
}

/// Mix an ephemeral public key into hash and chaining key.
fn message_ephemeral<C: Crypto + ?Sized>(
    c: &C,
    ck: &mut [u8; HASH_LEN],
    hash: &mut [u8; HASH_LEN],
    e: &[u8; KEY_LEN],
) -> Result<(), NoiseError> {
    mix_hash(c, hash, e)?;
    mix_key(c, ck, None, e)
}

/// TAI64N label for a wall-clock time in seconds and nanoseconds since the
/// Unix epoch. Nanoseconds are rounded down to a power of two below
/// 1 s / [`INITIATIONS_PER_SECOND`] like the C driver, against timing leaks.
pub fn tai64n(unix_secs: u64, nanos: u32) -> [u8; TIMESTAMP_LEN] {
    // rounddown_pow_of_two(1e9 / 50) = 2^24.
    const ALIGN: u32 = 1 << 24;
    let _ = INITIATIONS_PER_SECOND;
    let n = nanos & !(ALIGN.wrapping_sub(1));
    let mut out = [0u8; TIMESTAMP_LEN];
    let secs = 0x4000_0000_0000_000a_u64.wrapping_add(unix_secs);
    let _ = put(&mut out, 0, &secs.to_be_bytes());
    let _ = put(&mut out, 8, &n.to_be_bytes());
    out
}

/// Per-peer handshake state (`struct noise_handshake`).
#[derive(Clone)]
pub struct Handshake {
    state: HandshakeState,
    /// The peer's static public key.
    pub remote_static: [u8; KEY_LEN],
    precomputed_static_static: [u8; KEY_LEN],
    preshared_key: [u8; KEY_LEN],
    ephemeral_private: [u8; KEY_LEN],
    remote_ephemeral: [u8; KEY_LEN],
    hash: [u8; HASH_LEN],
    chaining_key: [u8; HASH_LEN],
    latest_timestamp: [u8; TIMESTAMP_LEN],
    last_initiation_consumption: Option<u64>,
    /// Our index for the handshake in progress (as allocated by the caller).
    pub local_index: u32,
    /// The peer's index for the handshake in progress.
    pub remote_index: u32,
}

impl Drop for Handshake {
    fn drop(&mut self) {
        self.clear();
        zeroize(&mut self.precomputed_static_static);
        zeroize(&mut self.preshared_key);
    }
}

/// Result of the peer-independent part of consuming an initiation.
#[derive(Clone)]
pub struct InitiationPartial {
    /// The initiator's static public key: look the peer up by it.
    pub remote_static: [u8; KEY_LEN],
    remote_ephemeral: [u8; KEY_LEN],
    sender: u32,
    hash: [u8; HASH_LEN],
    chaining_key: [u8; HASH_LEN],
    key: [u8; KEY_LEN],
    encrypted_timestamp: [u8; TIMESTAMP_LEN + TAG_LEN],
}

impl Drop for InitiationPartial {
    fn drop(&mut self) {
        zeroize(&mut self.hash);
        zeroize(&mut self.chaining_key);
        zeroize(&mut self.key);
        zeroize(&mut self.encrypted_timestamp);
    }
}

/// First half of consuming an initiation: needs only our identity.
pub fn consume_initiation_begin<C: Crypto + ?Sized>(
    c: &C,
    identity: &StaticIdentity,
    msg: &Initiation,
) -> Result<InitiationPartial, NoiseError> {
    if !identity.has_identity {
        return Err(NoiseError::NoIdentity);
    }
    let mut ck = [0u8; HASH_LEN];
    let mut hash = [0u8; HASH_LEN];
    let mut key = [0u8; KEY_LEN];
    handshake_init(c, &mut ck, &mut hash, &identity.public)?;
    // e
    message_ephemeral(c, &mut ck, &mut hash, &msg.ephemeral)?;
    // es
    mix_dh(
        c,
        &mut ck,
        Some(&mut key),
        &identity.private,
        &msg.ephemeral,
    )?;
    // s
    let mut s_buf = msg.encrypted_static;
    decrypt_and_hash(c, &mut s_buf, &key, &mut hash)?;
    let s = *s_buf.first_chunk::<KEY_LEN>().ok_or(NoiseError::Crypto)?;
    Ok(InitiationPartial {
        remote_static: s,
        remote_ephemeral: msg.ephemeral,
        sender: msg.sender,
        hash,
        chaining_key: ck,
        key,
        encrypted_timestamp: msg.encrypted_timestamp,
    })
}

impl Handshake {
    /// New handshake state for a peer; precomputes the static-static DH
    /// (left all zero when it is a low-order result, which makes every
    /// handshake with this peer fail, like the C driver).
    pub fn new<C: Crypto + ?Sized>(
        c: &C,
        identity: &StaticIdentity,
        remote_static: &[u8; KEY_LEN],
        preshared_key: &[u8; KEY_LEN],
    ) -> Self {
        let mut hs = Self {
            state: HandshakeState::Zeroed,
            remote_static: *remote_static,
            precomputed_static_static: [0; KEY_LEN],
            preshared_key: *preshared_key,
            ephemeral_private: [0; KEY_LEN],
            remote_ephemeral: [0; KEY_LEN],
            hash: [0; HASH_LEN],
            chaining_key: [0; HASH_LEN],
            latest_timestamp: [0; TIMESTAMP_LEN],
            last_initiation_consumption: None,
            local_index: 0,
            remote_index: 0,
        };
        hs.precompute_static_static(c, identity);
        hs
    }

    /// Recompute the static-static DH after our identity changed.
    pub fn precompute_static_static<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        identity: &StaticIdentity,
    ) {
        if !identity.has_identity
            || !c.curve25519(
                &mut self.precomputed_static_static,
                &identity.private,
                &self.remote_static,
            )
        {
            zeroize(&mut self.precomputed_static_static);
        }
    }

    /// Set the preshared key.
    pub fn set_preshared_key(&mut self, psk: &[u8; KEY_LEN]) {
        self.preshared_key = *psk;
    }

    /// The preshared key (all zero when none is set).
    pub fn preshared_key(&self) -> &[u8; KEY_LEN] {
        &self.preshared_key
    }

    /// Current state.
    pub fn state(&self) -> HandshakeState {
        self.state
    }

    /// Forget any handshake in progress (keeps timestamps, like the C driver).
    pub fn clear(&mut self) {
        zeroize(&mut self.ephemeral_private);
        zeroize(&mut self.remote_ephemeral);
        zeroize(&mut self.hash);
        zeroize(&mut self.chaining_key);
        self.remote_index = 0;
        self.state = HandshakeState::Zeroed;
    }

    fn mix_precomputed_dh<C: Crypto + ?Sized>(
        &self,
        c: &C,
        ck: &mut [u8; HASH_LEN],
        key: &mut [u8; KEY_LEN],
    ) -> Result<(), NoiseError> {
        if is_zero(&self.precomputed_static_static) {
            return Err(NoiseError::ZeroDh);
        }
        mix_key(c, ck, Some(key), &self.precomputed_static_static)
    }

    /// Create an initiation (macs left zero: see [`super::cookie`]).
    /// `local_index` is the index the caller allocated; `timestamp` is the
    /// current TAI64N time ([`tai64n`]).
    pub fn create_initiation<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        identity: &StaticIdentity,
        local_index: u32,
        timestamp: &[u8; TIMESTAMP_LEN],
    ) -> Result<Initiation, NoiseError> {
        let r = self.create_initiation_inner(c, identity, local_index, timestamp);
        if r.is_err() {
            self.clear();
        }
        r
    }

    fn create_initiation_inner<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        identity: &StaticIdentity,
        local_index: u32,
        timestamp: &[u8; TIMESTAMP_LEN],
    ) -> Result<Initiation, NoiseError> {
        if !identity.has_identity {
            return Err(NoiseError::NoIdentity);
        }
        let mut key = [0u8; KEY_LEN];
        let mut msg = Initiation {
            sender: local_index,
            ephemeral: [0; KEY_LEN],
            encrypted_static: [0; KEY_LEN + TAG_LEN],
            encrypted_timestamp: [0; TIMESTAMP_LEN + TAG_LEN],
            mac1: [0; 16],
            mac2: [0; 16],
        };
        handshake_init(
            c,
            &mut self.chaining_key,
            &mut self.hash,
            &self.remote_static,
        )?;
        // e
        c.random(&mut self.ephemeral_private);
        if !c.curve25519_generate_public(&mut msg.ephemeral, &self.ephemeral_private) {
            return Err(NoiseError::ZeroDh);
        }
        message_ephemeral(c, &mut self.chaining_key, &mut self.hash, &msg.ephemeral)?;
        // es
        mix_dh(
            c,
            &mut self.chaining_key,
            Some(&mut key),
            &self.ephemeral_private,
            &self.remote_static,
        )?;
        // s
        encrypt_and_hash(
            c,
            &mut msg.encrypted_static,
            &identity.public,
            &key,
            &mut self.hash,
        )?;
        // ss
        let mut ck = self.chaining_key;
        self.mix_precomputed_dh(c, &mut ck, &mut key)?;
        self.chaining_key = ck;
        // {t}
        encrypt_and_hash(
            c,
            &mut msg.encrypted_timestamp,
            timestamp,
            &key,
            &mut self.hash,
        )?;
        zeroize(&mut key);
        self.local_index = local_index;
        self.state = HandshakeState::CreatedInitiation;
        Ok(msg)
    }

    /// Second half of consuming an initiation, on the peer found by
    /// `partial.remote_static`. `now` is monotonic nanoseconds.
    pub fn consume_initiation_finish<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        partial: &InitiationPartial,
        now: u64,
    ) -> Result<(), NoiseError> {
        if !ct_eq(&partial.remote_static, &self.remote_static) {
            return Err(NoiseError::WrongState);
        }
        let mut ck = partial.chaining_key;
        let mut hash = partial.hash;
        let mut key = partial.key;
        // ss
        self.mix_precomputed_dh(c, &mut ck, &mut key)?;
        // {t}
        let mut t_buf = partial.encrypted_timestamp;
        decrypt_and_hash(c, &mut t_buf, &key, &mut hash)?;
        zeroize(&mut key);
        let t = *t_buf
            .first_chunk::<TIMESTAMP_LEN>()
            .ok_or(NoiseError::Crypto)?;
        // Big-endian TAI64N compares correctly as bytes.
        if t <= self.latest_timestamp {
            return Err(NoiseError::Replay);
        }
        if let Some(last) = self.last_initiation_consumption {
            if last.saturating_add(NSEC_PER_SEC / INITIATIONS_PER_SECOND) > now {
                return Err(NoiseError::Flood);
            }
        }
        self.remote_ephemeral = partial.remote_ephemeral;
        self.latest_timestamp = t;
        self.hash = hash;
        self.chaining_key = ck;
        self.remote_index = partial.sender;
        // Only ever moves forward, like the C driver.
        self.last_initiation_consumption =
            Some(self.last_initiation_consumption.map_or(now, |l| l.max(now)));
        self.state = HandshakeState::ConsumedInitiation;
        Ok(())
    }

    /// Create the response to a consumed initiation (macs left zero).
    pub fn create_response<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        local_index: u32,
    ) -> Result<Response, NoiseError> {
        if self.state != HandshakeState::ConsumedInitiation {
            return Err(NoiseError::WrongState);
        }
        let r = self.create_response_inner(c, local_index);
        if r.is_err() {
            self.clear();
        }
        r
    }

    fn create_response_inner<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        local_index: u32,
    ) -> Result<Response, NoiseError> {
        let mut key = [0u8; KEY_LEN];
        let mut msg = Response {
            sender: local_index,
            receiver: self.remote_index,
            ephemeral: [0; KEY_LEN],
            encrypted_nothing: [0; TAG_LEN],
            mac1: [0; 16],
            mac2: [0; 16],
        };
        // e
        c.random(&mut self.ephemeral_private);
        if !c.curve25519_generate_public(&mut msg.ephemeral, &self.ephemeral_private) {
            return Err(NoiseError::ZeroDh);
        }
        message_ephemeral(c, &mut self.chaining_key, &mut self.hash, &msg.ephemeral)?;
        // ee
        mix_dh(
            c,
            &mut self.chaining_key,
            None,
            &self.ephemeral_private,
            &self.remote_ephemeral,
        )?;
        // se
        mix_dh(
            c,
            &mut self.chaining_key,
            None,
            &self.ephemeral_private,
            &self.remote_static,
        )?;
        // psk
        mix_psk(
            c,
            &mut self.chaining_key,
            &mut self.hash,
            &mut key,
            &self.preshared_key,
        )?;
        // {}
        encrypt_and_hash(c, &mut msg.encrypted_nothing, &[], &key, &mut self.hash)?;
        zeroize(&mut key);
        self.local_index = local_index;
        self.state = HandshakeState::CreatedResponse;
        Ok(msg)
    }

    /// Consume a response to our initiation. The caller found this handshake
    /// by `msg.receiver`; it is checked again here.
    pub fn consume_response<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        identity: &StaticIdentity,
        msg: &Response,
    ) -> Result<(), NoiseError> {
        if !identity.has_identity {
            return Err(NoiseError::NoIdentity);
        }
        if self.state != HandshakeState::CreatedInitiation || msg.receiver != self.local_index {
            return Err(NoiseError::WrongState);
        }
        let mut ck = self.chaining_key;
        let mut hash = self.hash;
        let mut key = [0u8; KEY_LEN];
        // e
        message_ephemeral(c, &mut ck, &mut hash, &msg.ephemeral)?;
        // ee
        mix_dh(c, &mut ck, None, &self.ephemeral_private, &msg.ephemeral)?;
        // se
        mix_dh(c, &mut ck, None, &identity.private, &msg.ephemeral)?;
        // psk
        mix_psk(c, &mut ck, &mut hash, &mut key, &self.preshared_key)?;
        // {}
        let mut nothing = msg.encrypted_nothing;
        decrypt_and_hash(c, &mut nothing, &key, &mut hash)?;
        zeroize(&mut key);
        self.remote_ephemeral = msg.ephemeral;
        self.chaining_key = ck;
        self.hash = hash;
        self.remote_index = msg.sender;
        self.state = HandshakeState::ConsumedResponse;
        Ok(())
    }

    /// Derive the transport keypair after a completed handshake
    /// (`wg_noise_handshake_begin_session`), then clear the handshake.
    /// `now` is monotonic nanoseconds (the keypair's birthdate).
    pub fn begin_session<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        now: u64,
    ) -> Result<Keypair, NoiseError> {
        let initiator = match self.state {
            HandshakeState::ConsumedResponse => true,
            HandshakeState::CreatedResponse => false,
            _ => return Err(NoiseError::WrongState),
        };
        let mut first = [0u8; KEY_LEN];
        let mut second = [0u8; KEY_LEN];
        if !kdf(
            c,
            &self.chaining_key,
            &[],
            &mut first,
            Some(&mut second),
            None,
        ) {
            self.clear();
            return Err(NoiseError::Crypto);
        }
        let (send, recv) = if initiator {
            (first, second)
        } else {
            (second, first)
        };
        let kp = Keypair::new(
            send,
            recv,
            initiator,
            self.local_index,
            self.remote_index,
            now,
        );
        zeroize(&mut first);
        zeroize(&mut second);
        self.clear();
        Ok(kp)
    }
}
