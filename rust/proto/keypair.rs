// SPDX-License-Identifier: GPL-2.0

//! Transport keypairs, data message sealing/opening, and the
//! previous/current/next rotation with key confirmation.

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

/// One session's keys (`struct noise_keypair`).
#[derive(Clone)]
pub struct Keypair {
    sending_key: [u8; KEY_LEN],
    receiving_key: [u8; KEY_LEN],
    sending_counter: u64,
    /// Receive replay window.
    pub receiving_counter: ReplayCounter,
    /// Monotonic ns when the keys were derived.
    pub birthdate: u64,
    /// Whether we initiated the handshake that produced this keypair.
    pub i_am_the_initiator: bool,
    /// Our index: data messages to us carry it as receiver.
    pub local_index: u32,
    /// The peer's index: we put it into data messages we send.
    pub remote_index: u32,
    sending_valid: bool,
    receiving_valid: bool,
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
            sending_counter: 0,
            receiving_counter: ReplayCounter::new(),
            birthdate: now,
            i_am_the_initiator,
            local_index,
            remote_index,
            sending_valid: true,
            receiving_valid: true,
        }
    }

    /// Number of nonces used for sending so far.
    pub fn sending_counter(&self) -> u64 {
        self.sending_counter
    }

    /// Override the send counter (tests; restoring state). Nonces below
    /// `n` are then considered used.
    pub fn set_sending_counter(&mut self, n: u64) {
        self.sending_counter = n;
    }

    /// Invalidate and wipe both keys.
    pub fn invalidate(&mut self) {
        self.sending_valid = false;
        self.receiving_valid = false;
        zeroize(&mut self.sending_key);
        zeroize(&mut self.receiving_key);
    }

    /// Whether the sending key may still be used at `now`.
    pub fn can_send(&self, now: u64) -> bool {
        self.sending_valid
            && !has_expired(self.birthdate, REJECT_AFTER_TIME, now)
            && self.sending_counter < REJECT_AFTER_MESSAGES
    }

    /// Take the next sending nonce.
    pub fn next_nonce(&mut self, now: u64) -> Result<u64, TransportError> {
        if !self.sending_valid || has_expired(self.birthdate, REJECT_AFTER_TIME, now) {
            return Err(TransportError::KeyInvalid);
        }
        let n = self.sending_counter;
        if n >= REJECT_AFTER_MESSAGES {
            self.sending_valid = false;
            return Err(TransportError::NonceExhausted);
        }
        self.sending_counter = n.wrapping_add(1);
        Ok(n)
    }

    /// Seal a data message in place. `packet` is the whole message:
    /// 16 header bytes (overwritten), then the (already padded) plaintext,
    /// then 16 bytes for the tag. Returns the counter used.
    pub fn seal<C: Crypto + ?Sized>(
        &mut self,
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

    /// Seal with a nonce obtained earlier from [`Self::next_nonce`] (lets a
    /// caller allocate nonces under a lock and encrypt outside it).
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
    /// the replay window (`decrypt_packet()` in receive.c): lets a caller
    /// decrypt in parallel and run [`Self::validate_counter`] serially.
    /// `packet` is the whole message, whose receiver index the caller used to
    /// find this keypair. Returns the plaintext length `n` (the plaintext is
    /// `packet[DATA_HEADER_LEN..DATA_HEADER_LEN + n]`, 0 = keepalive) and the
    /// counter.
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
        if !self.receiving_valid || has_expired(self.birthdate, REJECT_AFTER_TIME, now) {
            return Err(TransportError::KeyInvalid);
        }
        if hdr.counter >= REJECT_AFTER_MESSAGES {
            return Err(TransportError::NonceExhausted);
        }
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

    /// Replay check of an authenticated packet's counter (`counter_validate`).
    pub fn validate_counter(&mut self, counter: u64) -> Result<(), TransportError> {
        if self.receiving_counter.validate(counter) {
            Ok(())
        } else {
            Err(TransportError::Replay)
        }
    }

    /// [`Self::decrypt`] then [`Self::validate_counter`].
    pub fn open<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        now: u64,
        packet: &mut [u8],
    ) -> Result<(usize, u64), TransportError> {
        let (n, ctr) = self.decrypt(c, now, packet)?;
        self.validate_counter(ctr)?;
        Ok((n, ctr))
    }
}

impl Drop for Keypair {
    fn drop(&mut self) {
        zeroize(&mut self.sending_key);
        zeroize(&mut self.receiving_key);
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

/// The three keypair slots of a peer (`struct noise_keypairs`).
#[derive(Clone, Default)]
pub struct Keypairs {
    /// Previous keypair, still accepted for receiving.
    pub previous: Option<Keypair>,
    /// Current keypair, used for sending.
    pub current: Option<Keypair>,
    /// Responder's new keypair awaiting confirmation by a received packet.
    pub next: Option<Keypair>,
}

impl Keypairs {
    /// Empty slots.
    pub const fn new() -> Self {
        Self {
            previous: None,
            current: None,
            next: None,
        }
    }

    /// Insert a freshly derived keypair (`add_new_keypair`). The initiator's
    /// keypair becomes current at once (the response it consumed confirms
    /// the keys); the responder's goes to `next` until the initiator sends
    /// the first data packet with it.
    pub fn add(&mut self, kp: Keypair) {
        if kp.i_am_the_initiator {
            if let Some(next) = self.next.take() {
                // A responder-side keypair that never got confirmed: keep it
                // as previous so in-flight packets still decrypt.
                self.previous = Some(next);
            } else {
                self.previous = self.current.take();
            }
            self.current = Some(kp);
        } else {
            self.next = Some(kp);
            self.previous = None;
        }
    }

    /// Find the slot holding `local_index`.
    pub fn lookup(&self, local_index: u32) -> Option<Slot> {
        let m = |k: &Option<Keypair>| k.as_ref().map(|k| k.local_index) == Some(local_index);
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

    /// Mutable access to a slot.
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Keypair> {
        match slot {
            Slot::Previous => self.previous.as_mut(),
            Slot::Current => self.current.as_mut(),
            Slot::Next => self.next.as_mut(),
        }
    }

    /// Call after a packet authenticated with the keypair in `slot`
    /// (`wg_noise_received_with_keypair`). If it was `next`, rotate:
    /// next becomes current, current becomes previous. Returns `true` if a
    /// rotation happened (the caller should then send queued packets).
    pub fn received_with(&mut self, slot: Slot) -> bool {
        if slot != Slot::Next {
            return false;
        }
        let Some(next) = self.next.take() else {
            return false;
        };
        self.previous = self.current.take();
        self.current = Some(next);
        true
    }

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
        let kp = self.get_mut(slot).ok_or(TransportError::KeyInvalid)?;
        let (n, ctr) = kp.open(c, now, packet)?;
        self.received_with(slot);
        Ok((n, ctr, slot))
    }

    /// The keypair to send with, if usable at `now` (never `next`).
    pub fn sending(&mut self, now: u64) -> Option<&mut Keypair> {
        match self.current.as_mut() {
            Some(k) if k.can_send(now) => Some(k),
            _ => None,
        }
    }

    /// Invalidate and drop all keypairs (`wg_noise_keypairs_clear`).
    pub fn clear(&mut self) {
        for k in [&mut self.previous, &mut self.current, &mut self.next] {
            if let Some(kp) = k.as_mut() {
                kp.invalidate();
            }
            *k = None;
        }
    }

    /// Expire keypairs older than REJECT_AFTER_TIME (drop them).
    pub fn expire(&mut self, now: u64) {
        for k in [&mut self.previous, &mut self.current, &mut self.next] {
            let old = k
                .as_ref()
                .is_some_and(|kp| has_expired(kp.birthdate, REJECT_AFTER_TIME, now));
            if old {
                if let Some(kp) = k.as_mut() {
                    kp.invalidate();
                }
                *k = None;
            }
        }
    }
}
