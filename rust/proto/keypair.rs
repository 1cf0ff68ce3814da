// SPDX-License-Identifier: GPL-2.0

//! Transport keypairs, data message sealing/opening, and the
//! previous/current/next rotation with key confirmation.
//!
//! A [`Keypair`] is shared: the data path encrypts with it on several CPUs
//! at once, so everything that changes after creation is atomic (the send
//! counter, the validity flags) and every method takes `&self`. The receive
//! replay window is *not* part of it: it belongs to whoever serialises the
//! receive stage ([`ReplayCounter`], locked by the module; single-threaded
//! users combine both in a [`Session`]).
//!
//! [`Keypairs`] is the three-slot rotation of a peer (`struct
//! noise_keypairs`), generic over how a keypair is held (`K`): by value in
//! userspace tests, as a reference-counted kernel object in the module. It
//! returns the keypairs it evicts, so that the caller can retire them (remove
//! their index from its lookup table) at the right time.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::constants::{KEY_LEN, NSEC_PER_SEC, REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME, TAG_LEN};
use super::crypto::Crypto;
use super::messages::{DataHeader, DATA_HEADER_LEN, DATA_MIN_LEN};
use super::replay::ReplayCounter;
use super::util::zeroize;

/// Transport errors (all mean: drop the packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// Keypair invalidated, expired (REJECT_AFTER_TIME) or not yet confirmed.
    KeyInvalid,
    /// The nonce space is exhausted (REJECT_AFTER_MESSAGES).
    NonceExhausted,
    /// Buffer layout does not fit.
    BadLength,
    /// Authentication failed.
    Decrypt,
    /// Duplicate or too old counter.
    Replay,
}

/// True if `birthdate + secs` lies in the past at `now` (all nanoseconds),
/// like `wg_birthdate_has_expired()`.
pub fn has_expired(birthdate: u64, secs: u64, now: u64) -> bool {
    birthdate.saturating_add(secs.saturating_mul(NSEC_PER_SEC)) <= now
}

/// One session's keys (`struct noise_keypair`), shareable between CPUs.
///
/// Keys are fixed at creation and wiped when the value is dropped;
/// invalidation only clears the validity flags (readers on other CPUs may
/// still hold the keypair, exactly as with the C driver's RCU-freed ones).
pub struct Keypair {
    sending_key: [u8; KEY_LEN],
    receiving_key: [u8; KEY_LEN],
    sending_counter: AtomicU64,
    sending_valid: AtomicBool,
    receiving_valid: AtomicBool,
    /// Monotonic ns when the keys were derived.
    pub birthdate: u64,
    /// Whether we initiated the handshake that produced this keypair.
    pub i_am_the_initiator: bool,
    /// Our index: data messages to us carry it as receiver.
    pub local_index: u32,
    /// The peer's index: we put it into data messages we send.
    pub remote_index: u32,
}

impl Keypair {
    /// New keypair (normally from [`super::noise::Handshake::begin_session`]).
    pub fn new(
        sending_key: [u8; KEY_LEN],
        receiving_key: [u8; KEY_LEN],
        i_am_the_initiator: bool,
        local_index: u32,
        remote_index: u32,
        now: u64,
    ) -> Self {
        Self {
            sending_key,
            receiving_key,
            sending_counter: AtomicU64::new(0),
            sending_valid: AtomicBool::new(true),
            receiving_valid: AtomicBool::new(true),
            birthdate: now,
            i_am_the_initiator,
            local_index,
            remote_index,
        }
    }

    /// Number of nonces handed out for sending so far.
    pub fn sending_counter(&self) -> u64 {
        self.sending_counter.load(Ordering::Relaxed)
    }

    /// Override the send counter (tests; restoring state). Nonces below
    /// `n` are then considered used.
    pub fn set_sending_counter(&self, n: u64) {
        self.sending_counter.store(n, Ordering::Relaxed);
    }

    /// The sending direction may no longer be used
    /// (`wg_noise_expire_current_peer_keypairs`).
    pub fn invalidate_sending(&self) {
        self.sending_valid.store(false, Ordering::Relaxed);
    }

    /// Neither direction may be used any more.
    pub fn invalidate(&self) {
        self.sending_valid.store(false, Ordering::Relaxed);
        self.receiving_valid.store(false, Ordering::Relaxed);
    }

    /// Whether the sending direction is still marked valid (expiry aside).
    pub fn sending_valid(&self) -> bool {
        self.sending_valid.load(Ordering::Relaxed)
    }

    /// Whether the sending key may still be used at `now`.
    pub fn can_send(&self, now: u64) -> bool {
        self.sending_valid()
            && !has_expired(self.birthdate, REJECT_AFTER_TIME, now)
            && self.sending_counter() < REJECT_AFTER_MESSAGES
    }

    /// Take the next sending nonce; several CPUs may do so at once, each gets
    /// a distinct one. Past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES the
    /// keypair stops being valid for sending.
    pub fn next_nonce(&self, now: u64) -> Result<u64, TransportError> {
        if !self.sending_valid() {
            return Err(TransportError::KeyInvalid);
        }
        if has_expired(self.birthdate, REJECT_AFTER_TIME, now) {
            self.invalidate_sending();
            return Err(TransportError::KeyInvalid);
        }
        let n = self.sending_counter.fetch_add(1, Ordering::Relaxed);
        if n >= REJECT_AFTER_MESSAGES {
            // Keep the counter from wrapping however often this is called.
            self.sending_counter
                .store(REJECT_AFTER_MESSAGES, Ordering::Relaxed);
            self.invalidate_sending();
            return Err(TransportError::NonceExhausted);
        }
        Ok(n)
    }

    /// The sending key, for data paths that run the AEAD themselves (the
    /// module encrypts scatter-gather lists in place). The protocol rules
    /// (nonce, validity, expiry) stay here: get the nonce from
    /// [`Self::next_nonce`].
    pub fn sending_key(&self) -> &[u8; KEY_LEN] {
        &self.sending_key
    }

    /// The receiving key, for data paths that run the AEAD themselves; check
    /// [`Self::check_receive`] first.
    pub fn receiving_key(&self) -> &[u8; KEY_LEN] {
        &self.receiving_key
    }

    /// Whether a data message with `counter` may be decrypted with this
    /// keypair at `now` (valid, not expired, counter below the limit).
    pub fn check_receive(&self, counter: u64, now: u64) -> Result<(), TransportError> {
        if !self.receiving_valid.load(Ordering::Relaxed) {
            return Err(TransportError::KeyInvalid);
        }
        if has_expired(self.birthdate, REJECT_AFTER_TIME, now) {
            self.receiving_valid.store(false, Ordering::Relaxed);
            return Err(TransportError::KeyInvalid);
        }
        if counter >= REJECT_AFTER_MESSAGES {
            return Err(TransportError::NonceExhausted);
        }
        Ok(())
    }

    /// Seal a data message in place. `packet` is the whole message:
    /// 16 header bytes (overwritten), then the (already padded) plaintext,
    /// then 16 bytes for the tag. Returns the counter used.
    pub fn seal<C: Crypto + ?Sized>(
        &self,
        c: &C,
        now: u64,
        packet: &mut [u8],
    ) -> Result<u64, TransportError> {
        if packet.len() < DATA_MIN_LEN {
            return Err(TransportError::BadLength);
        }
        let nonce = self.next_nonce(now)?;
        self.seal_with_nonce(c, nonce, packet)?;
        Ok(nonce)
    }

    /// Seal with a nonce obtained earlier from [`Self::next_nonce`].
    pub fn seal_with_nonce<C: Crypto + ?Sized>(
        &self,
        c: &C,
        nonce: u64,
        packet: &mut [u8],
    ) -> Result<(), TransportError> {
        let len = packet.len();
        let tag_off = len.checked_sub(TAG_LEN).ok_or(TransportError::BadLength)?;
        if tag_off < DATA_HEADER_LEN {
            return Err(TransportError::BadLength);
        }
        let header = DataHeader {
            receiver: self.remote_index,
            counter: nonce,
        };
        if !header.write(packet) {
            return Err(TransportError::BadLength);
        }
        // Plaintext || room for the tag, sealed in place.
        let sealed = packet
            .get_mut(DATA_HEADER_LEN..)
            .ok_or(TransportError::BadLength)?;
        if c.chacha20poly1305_seal(sealed, &[], nonce, &self.sending_key) {
            Ok(())
        } else {
            Err(TransportError::BadLength)
        }
    }

    /// Authenticate and decrypt a data message in place without touching
    /// any replay window (`decrypt_packet()` in receive.c): decryption may
    /// run in parallel, the replay check ([`ReplayCounter::validate`])
    /// serially afterwards. `packet` is the whole message, whose receiver
    /// index the caller used to find this keypair. Returns the plaintext
    /// length `n` (the plaintext is `packet[DATA_HEADER_LEN..][..n]`, 0 = a
    /// keepalive) and the counter.
    pub fn decrypt<C: Crypto + ?Sized>(
        &self,
        c: &C,
        now: u64,
        packet: &mut [u8],
    ) -> Result<(usize, u64), TransportError> {
        let (hdr, _) = DataHeader::parse(packet).map_err(|_| TransportError::BadLength)?;
        if hdr.receiver != self.local_index {
            return Err(TransportError::KeyInvalid);
        }
        self.check_receive(hdr.counter, now)?;
        // Ciphertext || tag, opened in place.
        let sealed = packet
            .get_mut(DATA_HEADER_LEN..)
            .ok_or(TransportError::BadLength)?;
        let n = sealed
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(TransportError::BadLength)?;
        if !c.chacha20poly1305_open(sealed, &[], hdr.counter, &self.receiving_key) {
            return Err(TransportError::Decrypt);
        }
        Ok((n, hdr.counter))
    }
}

impl Drop for Keypair {
    fn drop(&mut self) {
        zeroize(&mut self.sending_key);
        zeroize(&mut self.receiving_key);
    }
}

/// Access to the [`Keypair`] inside however a caller holds it.
pub trait AsKeypair {
    /// The keypair.
    fn keypair(&self) -> &Keypair;
}

impl AsKeypair for Keypair {
    fn keypair(&self) -> &Keypair {
        self
    }
}

/// A keypair with its own replay window, for single-threaded users (tests,
/// fuzzing, interop): the module keeps the window next to its keypair
/// object, under the receive stage's lock.
pub struct Session {
    /// The keys.
    pub keypair: Keypair,
    /// The receive replay window.
    pub replay: ReplayCounter,
}

impl Session {
    /// A session around a freshly derived keypair.
    pub fn new(keypair: Keypair) -> Self {
        Self {
            keypair,
            replay: ReplayCounter::new(),
        }
    }

    /// [`Keypair::decrypt`], then the replay check.
    pub fn open<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        now: u64,
        packet: &mut [u8],
    ) -> Result<(usize, u64), TransportError> {
        let (n, ctr) = self.keypair.decrypt(c, now, packet)?;
        if self.replay.validate(ctr) {
            Ok((n, ctr))
        } else {
            Err(TransportError::Replay)
        }
    }
}

impl From<Keypair> for Session {
    fn from(keypair: Keypair) -> Self {
        Self::new(keypair)
    }
}

impl core::ops::Deref for Session {
    type Target = Keypair;

    fn deref(&self) -> &Keypair {
        &self.keypair
    }
}

impl AsKeypair for Session {
    fn keypair(&self) -> &Keypair {
        &self.keypair
    }
}

/// Which slot a keypair was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Previous keypair.
    Previous,
    /// Current keypair (used for sending).
    Current,
    /// Next keypair: responder side, not yet confirmed.
    Next,
}

/// Keypairs that left the slots: the caller retires them (removes their
/// indices from its lookup table; frees them once nothing uses them).
#[must_use = "evicted keypairs must be retired"]
pub struct Evicted<K>(pub [Option<K>; 3]);

impl<K> Evicted<K> {
    fn none() -> Self {
        Self([None, None, None])
    }

    fn push(&mut self, k: Option<K>) {
        if let Some(k) = k {
            if let Some(slot) = self.0.iter_mut().find(|s| s.is_none()) {
                *slot = Some(k);
            }
        }
    }

    /// Whether nothing was evicted.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

impl<K> IntoIterator for Evicted<K> {
    type Item = K;
    type IntoIter = core::iter::Flatten<core::array::IntoIter<Option<K>, 3>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

/// The three keypair slots of a peer (`struct noise_keypairs`).
pub struct Keypairs<K> {
    /// Previous keypair, still accepted for receiving.
    pub previous: Option<K>,
    /// Current keypair, used for sending.
    pub current: Option<K>,
    /// Responder's new keypair awaiting confirmation by a received packet.
    pub next: Option<K>,
}

impl<K> Default for Keypairs<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Keypairs<K> {
    /// Empty slots.
    pub const fn new() -> Self {
        Self {
            previous: None,
            current: None,
            next: None,
        }
    }
}

impl<K: AsKeypair> Keypairs<K> {
    /// Insert a freshly derived keypair (`add_new_keypair`). The initiator's
    /// keypair becomes current at once (the response it consumed confirms
    /// the keys); the responder's goes to `next` until the initiator sends
    /// the first data packet with it. Returns what no slot holds any more.
    pub fn add(&mut self, kp: impl Into<K>) -> Evicted<K> {
        let kp = kp.into();
        let mut out = Evicted::none();
        if kp.keypair().i_am_the_initiator {
            if let Some(next) = self.next.take() {
                // A responder-side keypair that never got confirmed: keep it
                // as previous so in-flight packets still decrypt; the
                // current one goes.
                out.push(self.current.take());
                out.push(self.previous.replace(next));
            } else {
                let cur = self.current.take();
                out.push(core::mem::replace(&mut self.previous, cur));
            }
            self.current = Some(kp);
        } else {
            out.push(self.next.replace(kp));
            out.push(self.previous.take());
        }
        out
    }

    /// Find the slot holding `local_index`.
    pub fn lookup(&self, local_index: u32) -> Option<Slot> {
        let m = |k: &Option<K>| k.as_ref().map(|k| k.keypair().local_index) == Some(local_index);
        if m(&self.current) {
            Some(Slot::Current)
        } else if m(&self.next) {
            Some(Slot::Next)
        } else if m(&self.previous) {
            Some(Slot::Previous)
        } else {
            None
        }
    }

    /// The keypair in a slot.
    pub fn get(&self, slot: Slot) -> Option<&K> {
        match slot {
            Slot::Previous => self.previous.as_ref(),
            Slot::Current => self.current.as_ref(),
            Slot::Next => self.next.as_ref(),
        }
    }

    /// Mutable access to a slot.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut K> {
        match slot {
            Slot::Previous => self.previous.as_mut(),
            Slot::Current => self.current.as_mut(),
            Slot::Next => self.next.as_mut(),
        }
    }

    /// Call after a packet authenticated with the keypair in `slot`
    /// (`wg_noise_received_with_keypair`). If it was `next`, rotate:
    /// next becomes current, current becomes previous. Returns whether a
    /// rotation happened (the caller should then send queued packets) and
    /// the keypair that dropped out.
    pub fn received_with(&mut self, slot: Slot) -> (bool, Evicted<K>) {
        let mut out = Evicted::none();
        if slot != Slot::Next {
            return (false, out);
        }
        let Some(next) = self.next.take() else {
            return (false, out);
        };
        let cur = self.current.replace(next);
        out.push(core::mem::replace(&mut self.previous, cur));
        (true, out)
    }

    /// The keypair to send with, if usable at `now` (never `next`).
    pub fn sending(&self, now: u64) -> Option<&K> {
        match self.current.as_ref() {
            Some(k) if k.keypair().can_send(now) => Some(k),
            _ => None,
        }
    }

    /// Stop sending with the current and next keypairs (the device's key
    /// changed; `wg_noise_expire_current_peer_keypairs`).
    pub fn expire_sending(&self) {
        for k in [&self.next, &self.current].into_iter().flatten() {
            k.keypair().invalidate_sending();
        }
    }

    /// Invalidate and take out all keypairs (`wg_noise_keypairs_clear`).
    pub fn clear(&mut self) -> Evicted<K> {
        let mut out = Evicted::none();
        for k in [&mut self.next, &mut self.previous, &mut self.current] {
            if let Some(kp) = k.take() {
                kp.keypair().invalidate();
                out.push(Some(kp));
            }
        }
        out
    }

    /// Take out keypairs older than REJECT_AFTER_TIME.
    pub fn expire(&mut self, now: u64) -> Evicted<K> {
        let mut out = Evicted::none();
        for k in [&mut self.previous, &mut self.current, &mut self.next] {
            let old = k
                .as_ref()
                .is_some_and(|kp| has_expired(kp.keypair().birthdate, REJECT_AFTER_TIME, now));
            if old {
                if let Some(kp) = k.take() {
                    kp.keypair().invalidate();
                    out.push(Some(kp));
                }
            }
        }
        out
    }
}

impl Keypairs<Session> {
    /// Open a data message addressed to `packet`'s receiver index with
    /// whichever slot holds it, applying the confirmation rule.
    pub fn open<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        now: u64,
        packet: &mut [u8],
    ) -> Result<(usize, u64, Slot), TransportError> {
        let (hdr, _) = DataHeader::parse(packet).map_err(|_| TransportError::BadLength)?;
        let slot = self
            .lookup(hdr.receiver)
            .ok_or(TransportError::KeyInvalid)?;
        let s = self.get_mut(slot).ok_or(TransportError::KeyInvalid)?;
        let (n, ctr) = s.open(c, now, packet)?;
        let _ = self.received_with(slot);
        Ok((n, ctr, slot))
    }
}
