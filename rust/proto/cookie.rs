// SPDX-License-Identifier: GPL-2.0

//! MAC1/MAC2 and cookies (whitepaper 5.4.4 and 5.4.7, cookie.c).
//!
//! Both handshake messages end in `mac1 || mac2` (16 bytes each).
//! `mac1 = MAC(HASH("mac1----" || receiver's static public), msg[..mac1])`,
//! `mac2 = MAC(cookie, msg[..mac2])` or zero without a cookie, where `MAC` is
//! keyed BLAKE2s with a 16-byte output. Under load, a responder only
//! processes messages with a valid mac2 and answers others with a cookie
//! reply: `XAEAD(HASH("cookie--" || responder static public), nonce,
//! cookie, mac1 of the message)`, `cookie = MAC(secret, src ip || src port)`,
//! the secret being rotated every two minutes.

use super::constants::{
    COOKIE_LEN, COOKIE_NONCE_LEN, COOKIE_SECRET_LATENCY, COOKIE_SECRET_MAX_AGE, HASH_LEN, KEY_LEN,
    LABEL_COOKIE, LABEL_MAC1, NSEC_PER_SEC, TAG_LEN,
};
use super::crypto::Crypto;
use super::keypair::has_expired;
use super::messages::CookieReply;
use super::util::{ct_eq, put, zeroize};

/// Errors of cookie handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// Message too short to carry the MACs.
    BadLength,
    /// We have not sent a mac1 the reply could answer.
    Unexpected,
    /// The cookie reply did not authenticate.
    Decrypt,
    /// A crypto primitive failed.
    Crypto,
}

/// Outcome of checking the MACs of a handshake message (`enum cookie_mac_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacState {
    /// mac1 wrong: drop silently.
    InvalidMac,
    /// mac1 right, mac2 not checked or wrong.
    ValidMacButNoCookie,
    /// Both right (the caller still consults the rate limiter).
    ValidMacWithCookie,
}

/// What to do with a handshake message after the MAC check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeAction {
    /// Hand the message to the Noise state machine.
    Process,
    /// Answer with a cookie reply and drop the message.
    SendCookieReply,
    /// Drop silently.
    Drop,
}

/// Decision as in the C driver's `wg_receive_handshake_packet()`:
/// `rate_limited_ok` is the rate limiter's verdict for the source (only
/// consulted for a valid mac2 under load).
pub fn handshake_action(under_load: bool, mac: MacState, rate_limited_ok: bool) -> HandshakeAction {
    match (under_load, mac) {
        (_, MacState::InvalidMac) => HandshakeAction::Drop,
        (false, MacState::ValidMacButNoCookie) => HandshakeAction::Process,
        (false, MacState::ValidMacWithCookie) => HandshakeAction::Process,
        (true, MacState::ValidMacButNoCookie) => HandshakeAction::SendCookieReply,
        (true, MacState::ValidMacWithCookie) => {
            if rate_limited_ok {
                HandshakeAction::Process
            } else {
                HandshakeAction::Drop
            }
        }
    }
}

/// `HASH(label || public)`.
pub fn precompute_key<C: Crypto + ?Sized>(
    c: &C,
    label: &[u8],
    public: &[u8; KEY_LEN],
) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    if !c.blake2s(&mut k, &[], &[label, public]) {
        zeroize(&mut k);
    }
    k
}

/// Offsets of mac1/mac2 in a handshake message of length `len`.
fn mac_offsets(len: usize) -> Option<(usize, usize)> {
    let mac2 = len.checked_sub(COOKIE_LEN)?;
    let mac1 = mac2.checked_sub(COOKIE_LEN)?;
    Some((mac1, mac2))
}

fn compute_mac<C: Crypto + ?Sized>(
    c: &C,
    key: &[u8],
    msg: &[u8],
    out: &mut [u8; COOKIE_LEN],
) -> bool {
    c.blake2s(out, key, &[msg])
}

/// Device-side MAC keys (the key part of `struct cookie_checker`), derived
/// from the device's public key and fixed until it changes: every check
/// takes `&self`, so handshake workers on several CPUs share one checker.
#[derive(Clone)]
pub struct CookieChecker {
    cookie_encryption_key: [u8; KEY_LEN],
    message_mac1_key: [u8; KEY_LEN],
}

impl CookieChecker {
    /// Checker for our static public key (`None` = no identity: all keys
    /// zero and every mac1 fails to verify, practically).
    pub fn new<C: Crypto + ?Sized>(c: &C, our_public: Option<&[u8; KEY_LEN]>) -> Self {
        match our_public {
            Some(p) => Self {
                cookie_encryption_key: precompute_key(c, LABEL_COOKIE, p),
                message_mac1_key: precompute_key(c, LABEL_MAC1, p),
            },
            None => Self {
                cookie_encryption_key: [0; KEY_LEN],
                message_mac1_key: [0; KEY_LEN],
            },
        }
    }

    /// Check mac1, and mac2 against `cookie` when one is given (the cookie
    /// the sender's address earns now, from [`CookieSecret`]), of a whole
    /// handshake message (`wg_cookie_validate_packet` without the rate
    /// limiter).
    pub fn validate<C: Crypto + ?Sized>(
        &self,
        c: &C,
        msg: &[u8],
        cookie: Option<&[u8; COOKIE_LEN]>,
    ) -> MacState {
        let Some((o1, o2)) = mac_offsets(msg.len()) else {
            return MacState::InvalidMac;
        };
        let (Some(before1), Some(mac1), Some(before2), Some(mac2)) =
            (msg.get(..o1), msg.get(o1..o2), msg.get(..o2), msg.get(o2..))
        else {
            return MacState::InvalidMac;
        };
        let mut computed = [0u8; COOKIE_LEN];
        if !compute_mac(c, &self.message_mac1_key, before1, &mut computed)
            || !ct_eq(&computed, mac1)
        {
            return MacState::InvalidMac;
        }
        let Some(cookie) = cookie else {
            return MacState::ValidMacButNoCookie;
        };
        if compute_mac(c, cookie, before2, &mut computed) && ct_eq(&computed, mac2) {
            MacState::ValidMacWithCookie
        } else {
            MacState::ValidMacButNoCookie
        }
    }

    /// Build a cookie reply carrying `cookie` (what the source of `msg`
    /// earns, from [`CookieSecret`]) to handshake message `msg` whose sender
    /// index is `sender_index` (`wg_cookie_message_create`).
    pub fn create_reply<C: Crypto + ?Sized>(
        &self,
        c: &C,
        msg: &[u8],
        sender_index: u32,
        cookie: &[u8; COOKIE_LEN],
    ) -> Result<CookieReply, CookieError> {
        let (o1, o2) = mac_offsets(msg.len()).ok_or(CookieError::BadLength)?;
        let mac1 = msg.get(o1..o2).ok_or(CookieError::BadLength)?;
        let mut nonce = [0u8; COOKIE_NONCE_LEN];
        c.random(&mut nonce);
        // cookie || room for the tag, sealed in place.
        let mut encrypted_cookie = [0u8; COOKIE_LEN + TAG_LEN];
        if !put(&mut encrypted_cookie, 0, cookie)
            || !c.xchacha20poly1305_seal(
                &mut encrypted_cookie,
                mac1,
                &nonce,
                &self.cookie_encryption_key,
            )
        {
            zeroize(&mut encrypted_cookie);
            return Err(CookieError::Crypto);
        }
        Ok(CookieReply {
            receiver: sender_index,
            nonce,
            encrypted_cookie,
        })
    }
}

/// The device's rotating cookie secret (the secret part of `struct
/// cookie_checker`). Only rotation needs exclusive access: callers lock it,
/// take [`Self::current`] and compute cookies outside the lock.
pub struct CookieSecret {
    secret: [u8; HASH_LEN],
    birthdate: u64,
    valid: bool,
}

impl Default for CookieSecret {
    fn default() -> Self {
        Self::new()
    }
}

impl CookieSecret {
    /// No secret yet: the first use makes one.
    pub const fn new() -> Self {
        Self {
            secret: [0; HASH_LEN],
            birthdate: 0,
            valid: false,
        }
    }

    /// The secret to make cookies with at `now`, renewed from the random
    /// source when older than two minutes.
    pub fn current<C: Crypto + ?Sized>(&mut self, c: &C, now: u64) -> [u8; HASH_LEN] {
        if !self.valid || has_expired(self.birthdate, COOKIE_SECRET_MAX_AGE, now) {
            c.random(&mut self.secret);
            self.birthdate = now;
            self.valid = true;
        }
        self.secret
    }
}

impl Drop for CookieSecret {
    fn drop(&mut self) {
        zeroize(&mut self.secret);
    }
}

/// The cookie a source address earns with `secret` (`make_cookie`):
/// `MAC(secret, src ip || src port)`; `src_ip` is 4 or 16 bytes in network
/// order.
pub fn make_cookie<C: Crypto + ?Sized>(
    c: &C,
    secret: &[u8; HASH_LEN],
    src_ip: &[u8],
    src_port: u16,
) -> [u8; COOKIE_LEN] {
    let mut cookie = [0u8; COOKIE_LEN];
    if !c.blake2s(&mut cookie, secret, &[src_ip, &src_port.to_be_bytes()]) {
        zeroize(&mut cookie);
    }
    cookie
}

/// A checker and its secret together, for single-threaded users (tests,
/// fuzzing, interop).
pub struct CookieResponder {
    /// The MAC keys.
    pub checker: CookieChecker,
    /// The rotating secret.
    pub secret: CookieSecret,
}

impl CookieResponder {
    /// Responder for our static public key.
    pub fn new<C: Crypto + ?Sized>(c: &C, our_public: Option<&[u8; KEY_LEN]>) -> Self {
        Self {
            checker: CookieChecker::new(c, our_public),
            secret: CookieSecret::new(),
        }
    }

    fn cookie<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        src_ip: &[u8],
        src_port: u16,
        now: u64,
    ) -> [u8; COOKIE_LEN] {
        let mut secret = self.secret.current(c, now);
        let cookie = make_cookie(c, &secret, src_ip, src_port);
        zeroize(&mut secret);
        cookie
    }

    /// [`CookieChecker::validate`], checking mac2 only if `check_cookie`.
    pub fn validate<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        msg: &[u8],
        src_ip: &[u8],
        src_port: u16,
        check_cookie: bool,
        now: u64,
    ) -> MacState {
        if !check_cookie {
            return self.checker.validate(c, msg, None);
        }
        let mut cookie = self.cookie(c, src_ip, src_port, now);
        let r = self.checker.validate(c, msg, Some(&cookie));
        zeroize(&mut cookie);
        r
    }

    /// [`CookieChecker::create_reply`] with the cookie `src_ip`/`src_port`
    /// earns at `now`.
    pub fn create_reply<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        msg: &[u8],
        sender_index: u32,
        src_ip: &[u8],
        src_port: u16,
        now: u64,
    ) -> Result<CookieReply, CookieError> {
        let mut cookie = self.cookie(c, src_ip, src_port, now);
        let r = self.checker.create_reply(c, msg, sender_index, &cookie);
        zeroize(&mut cookie);
        r
    }
}

/// Per-peer cookie state on the sending side (`struct cookie`).
#[derive(Clone)]
pub struct PeerCookie {
    message_mac1_key: [u8; KEY_LEN],
    cookie_decryption_key: [u8; KEY_LEN],
    last_mac1_sent: [u8; COOKIE_LEN],
    have_sent_mac1: bool,
    cookie: [u8; COOKIE_LEN],
    birthdate: u64,
    is_valid: bool,
}

impl PeerCookie {
    /// State for sending to the peer with static public key `remote_static`.
    pub fn new<C: Crypto + ?Sized>(c: &C, remote_static: &[u8; KEY_LEN]) -> Self {
        Self {
            message_mac1_key: precompute_key(c, LABEL_MAC1, remote_static),
            cookie_decryption_key: precompute_key(c, LABEL_COOKIE, remote_static),
            last_mac1_sent: [0; COOKIE_LEN],
            have_sent_mac1: false,
            cookie: [0; COOKIE_LEN],
            birthdate: 0,
            is_valid: false,
        }
    }

    /// Whether a cookie usable for mac2 is held at `now`.
    pub fn has_valid_cookie(&self, now: u64) -> bool {
        self.is_valid
            && !has_expired(
                self.birthdate,
                COOKIE_SECRET_MAX_AGE.saturating_sub(COOKIE_SECRET_LATENCY),
                now,
            )
    }

    /// Fill mac1 and mac2 of a serialised handshake message in place
    /// (`wg_cookie_add_mac_to_packet`).
    pub fn add_macs<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        msg: &mut [u8],
        now: u64,
    ) -> Result<(), CookieError> {
        let (o1, o2) = mac_offsets(msg.len()).ok_or(CookieError::BadLength)?;
        let mut mac = [0u8; COOKIE_LEN];
        {
            let before1 = msg.get(..o1).ok_or(CookieError::BadLength)?;
            if !compute_mac(c, &self.message_mac1_key, before1, &mut mac) {
                return Err(CookieError::Crypto);
            }
        }
        msg.get_mut(o1..o2)
            .ok_or(CookieError::BadLength)?
            .copy_from_slice(&mac);
        self.last_mac1_sent = mac;
        self.have_sent_mac1 = true;
        if self.has_valid_cookie(now) {
            let before2 = msg.get(..o2).ok_or(CookieError::BadLength)?;
            if !compute_mac(c, &self.cookie, before2, &mut mac) {
                return Err(CookieError::Crypto);
            }
        } else {
            mac = [0; COOKIE_LEN];
        }
        msg.get_mut(o2..)
            .ok_or(CookieError::BadLength)?
            .copy_from_slice(&mac);
        Ok(())
    }

    /// Take the cookie out of a reply (`wg_cookie_message_consume`; the
    /// caller found this peer by `reply.receiver`).
    pub fn consume_reply<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        reply: &CookieReply,
        now: u64,
    ) -> Result<(), CookieError> {
        if !self.have_sent_mac1 {
            return Err(CookieError::Unexpected);
        }
        // Encrypted cookie || tag, opened in place.
        let mut buf = reply.encrypted_cookie;
        if !c.xchacha20poly1305_open(
            &mut buf,
            &self.last_mac1_sent,
            &reply.nonce,
            &self.cookie_decryption_key,
        ) {
            zeroize(&mut buf);
            return Err(CookieError::Decrypt);
        }
        let Some(cookie) = buf.first_chunk::<COOKIE_LEN>() else {
            zeroize(&mut buf);
            return Err(CookieError::Decrypt);
        };
        self.cookie = *cookie;
        zeroize(&mut buf);
        self.birthdate = now;
        self.is_valid = true;
        self.have_sent_mac1 = false;
        Ok(())
    }
}

impl Drop for PeerCookie {
    fn drop(&mut self) {
        zeroize(&mut self.cookie);
    }
}

/// "Under load" tracking as in the C receive path: under load while the
/// handshake queue holds at least `threshold` packets, and for one second
/// after it last did.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadTracker {
    last_under_load: Option<u64>,
}

impl LoadTracker {
    /// Fresh tracker (not under load).
    pub const fn new() -> Self {
        Self {
            last_under_load: None,
        }
    }

    /// Update with the current queue length; returns whether under load.
    pub fn update(&mut self, queue_len: usize, threshold: usize, now: u64) -> bool {
        if queue_len >= threshold {
            self.last_under_load = Some(now);
            true
        } else {
            match self.last_under_load {
                Some(t) => t.saturating_add(NSEC_PER_SEC) > now,
                None => false,
            }
        }
    }
}
