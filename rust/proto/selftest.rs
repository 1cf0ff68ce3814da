// SPDX-License-Identifier: GPL-2.0

//! Deterministic transcript self-test, shared by userspace and the kernel.
//!
//! [`transcript`] runs a complete WireGuard exchange between two in-process
//! peers with a given [`Crypto`] provider, randomness replaced by a fixed
//! counter-based generator, fixed keys and fixed clocks, and returns a
//! BLAKE2s-256 digest of every wire message. Every byte on the wire depends
//! on every primitive (X25519, BLAKE2s, ChaCha20-Poly1305, XChaCha20-Poly1305),
//! so the digest equals [`TRANSCRIPT_DIGEST`] (obtained with the RustCrypto
//! provider in userspace) exactly when the provider computes the same bytes:
//! run in the kernel on top of lib/crypto, it proves that the module's crypto
//! path agrees with userspace.
//!
//! The exchange:
//! 1. A initiates, B (not under load) responds, both derive keys;
//! 2. A sends a keepalive, which confirms the keys to B (B cannot send before);
//! 3. data both ways for each size of [`DATA_SIZES`] (0-byte keepalive up to
//!    1400 bytes, padded like the C driver for an MTU of 1420), each
//!    decrypted payload checked against what was sent;
//! 4. B comes under load and answers A's second initiation with a cookie
//!    reply, which A consumes;
//! 5. A retries with a fresh initiation carrying mac2; B, still under load,
//!    accepts it (mac2 valid, rate limiter passes), the handshake completes,
//!    A confirms the new keys and data flows both ways on them.
//!
//! The digest is a chain, as the [`Crypto`] BLAKE2s is one-shot:
//! `d0 = BLAKE2s-256("wgrs selftest transcript v1")`,
//! `d(i+1) = BLAKE2s-256(d(i) || le32(len(msg)) || msg)` for every message
//! put on the wire, in order.
//!
//! Stack: all peer state (handshakes, keypair slots with their replay
//! bitmaps, cookie state) and the packet buffer live in the caller's
//! [`Scratch`] (4720 bytes on x86_64); each step is its own non-inlined
//! function so frames do not add up (largest ~1.2 KiB). Peak stack of
//! [`transcript_with`] measured by stack painting (x86_64, release): 3.6 KiB
//! for this code with a near-zero-stack stand-in provider, 6.8 KiB with
//! RustCrypto. [`transcript`] is a convenience wrapper that also puts the
//! [`Scratch`] on its stack (11.5 KiB with RustCrypto); in the kernel use
//! [`transcript_with`] with a heap allocated [`Scratch`].

use core::cell::Cell;

use super::constants::{
    COOKIE_LEN, COOKIE_NONCE_LEN, HASH_LEN, KEY_LEN, NSEC_PER_MSEC, NSEC_PER_SEC, TAG_LEN,
};
use super::cookie::{
    handshake_action, CookieResponder, HandshakeAction, LoadTracker, MacState, PeerCookie,
};
use super::crypto::Crypto;
use super::keypair::{Keypair, Keypairs, Slot};
use super::messages::{
    padded_len, CookieReply, Initiation, Response, COOKIE_REPLY_LEN, DATA_HEADER_LEN,
    INITIATION_LEN, RESPONSE_LEN,
};
use super::noise::{consume_initiation_begin, tai64n, Handshake, StaticIdentity};
use super::ratelimit::RateEntry;
use super::replay::ReplayCounter;
use super::util::{is_zero, zeroize};

/// Expected result of [`transcript`], computed with the RustCrypto provider
/// (hex `95b9196485eb75791da582801d72717988d3f11ac6aa0c05d81a6a94178b8e34`).
pub const TRANSCRIPT_DIGEST: [u8; 32] = [
    0x95, 0xb9, 0x19, 0x64, 0x85, 0xeb, 0x75, 0x79, 0x1d, 0xa5, 0x82, 0x80, 0x1d, 0x72, 0x71, 0x79,
    0x88, 0xd3, 0xf1, 0x1a, 0xc6, 0xaa, 0x0c, 0x05, 0xd8, 0x1a, 0x6a, 0x94, 0x17, 0x8b, 0x8e, 0x34,
];

/// Payload sizes sent in each direction (before padding).
pub const DATA_SIZES: [usize; 6] = [0, 1, 15, 16, 100, 1400];

/// MTU used for padding.
const MTU: usize = 1420;
/// Largest data message: header, 1400 bytes padded to 1408, tag.
pub const PACKET_MAX: usize = DATA_HEADER_LEN + 1408 + TAG_LEN;

const STATIC_A: [u8; KEY_LEN] = [0x11; KEY_LEN];
const STATIC_B: [u8; KEY_LEN] = [0x22; KEY_LEN];
const PSK: [u8; KEY_LEN] = [0x33; KEY_LEN];
/// A's address as B sees it (for the cookie).
const SRC_A_IP: [u8; 4] = [192, 0, 2, 1];
const SRC_A_PORT: u16 = 51820;
/// Unix time of the first initiation's timestamp.
const UNIX_T0: u64 = 1_700_000_000;
/// Monotonic clock at the first handshake, the cookie exchange, the retry.
const NOW1: u64 = 10 * NSEC_PER_SEC;
const NOW2: u64 = NOW1 + 5 * NSEC_PER_SEC;
const NOW3: u64 = NOW2 + 200 * NSEC_PER_MSEC;
/// Handshake queue length at which B counts as under load.
const LOAD_THRESHOLD: usize = 4096;

const IDX_A1: u32 = 0x0a00_0001;
const IDX_A2: u32 = 0x0a00_0002;
const IDX_A3: u32 = 0x0a00_0003;
const IDX_B1: u32 = 0x0b00_0001;
const IDX_B2: u32 = 0x0b00_0002;

const DIGEST_LABEL: &[u8] = b"wgrs selftest transcript v1";

/// Part of the exchange a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Identities and peer state.
    Setup,
    /// First handshake (initiation, response, key derivation).
    Handshake,
    /// A's first data packet confirming the keys to B.
    Confirmation,
    /// Data both ways.
    Data,
    /// B under load answers an initiation with a cookie reply, A consumes it.
    CookieReply,
    /// A's retry with mac2 and the handshake, confirmation and data after it.
    Retry,
}

/// Step within a [`Phase`] that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Deriving a static identity or peer state.
    Identity,
    /// Hashing a message into the transcript.
    Digest,
    /// Creating the initiation or adding its MACs.
    CreateInitiation,
    /// The responder's MAC check / under-load decision was not as expected.
    InitiationMacs,
    /// Consuming the initiation.
    ConsumeInitiation,
    /// Creating the response or adding its MACs.
    CreateResponse,
    /// The initiator's mac1 check of the response.
    ResponseMacs,
    /// Consuming the response.
    ConsumeResponse,
    /// Deriving the transport keys.
    BeginSession,
    /// The responder could send before key confirmation, or the
    /// confirmation did not promote its `next` keypair.
    KeyConfirmation,
    /// Sealing a data message.
    Seal,
    /// Opening a data message.
    Open,
    /// The decrypted payload differs from what was sent.
    Payload,
    /// Creating the cookie reply.
    CreateCookieReply,
    /// Consuming the cookie reply.
    ConsumeCookieReply,
    /// The retried initiation carried no mac2 or it was not accepted.
    Mac2,
}

/// Failure of [`transcript`]: where and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelftestError {
    /// Part of the exchange.
    pub phase: Phase,
    /// Failing step.
    pub step: Step,
}

impl core::fmt::Display for SelftestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}: {:?}", self.phase, self.step)
    }
}

/// A [`Crypto`] provider with `random()` replaced by a fixed counter-based
/// generator (SplitMix64 over a call/word counter); every other primitive is
/// the wrapped provider's.
pub struct Deterministic<'a, C: Crypto + ?Sized> {
    inner: &'a C,
    counter: Cell<u64>,
}

impl<'a, C: Crypto + ?Sized> Deterministic<'a, C> {
    /// Wrap `inner`, generator at its start.
    pub fn new(inner: &'a C) -> Self {
        Self {
            inner,
            counter: Cell::new(0),
        }
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ z.wrapping_shr(30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ z.wrapping_shr(27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ z.wrapping_shr(31)
}

impl<C: Crypto + ?Sized> Crypto for Deterministic<'_, C> {
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
        self.inner.blake2s(out, key, data)
    }
    fn chacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool {
        self.inner.chacha20poly1305_seal(buf, ad, nonce, key)
    }
    fn chacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> bool {
        self.inner.chacha20poly1305_open(buf, ad, nonce, key)
    }
    fn xchacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool {
        self.inner.xchacha20poly1305_seal(buf, ad, nonce, key)
    }
    fn xchacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        nonce: &[u8; COOKIE_NONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> bool {
        self.inner.xchacha20poly1305_open(buf, ad, nonce, key)
    }
    fn curve25519(
        &self,
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        basepoint: &[u8; KEY_LEN],
    ) -> bool {
        self.inner.curve25519(out, secret, basepoint)
    }
    fn curve25519_generate_public(&self, out: &mut [u8; KEY_LEN], secret: &[u8; KEY_LEN]) -> bool {
        self.inner.curve25519_generate_public(out, secret)
    }
    fn random(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.counter.get().wrapping_add(1);
            self.counter.set(n);
            let word = splitmix64(n).to_le_bytes();
            for (b, w) in chunk.iter_mut().zip(word.iter()) {
                *b = *w;
            }
        }
    }
}

/// One peer's state inside [`Scratch`].
struct PeerState {
    id: Option<StaticIdentity>,
    hs: Option<Handshake>,
    kps: Keypairs<Keypair>,
    /// Replay windows of the keypairs we receive with.
    windows: Windows,
    /// Our MACs on messages to the other peer, and its cookie.
    cookie: Option<PeerCookie>,
    /// Checks the MACs of messages to us; makes our cookie replies.
    checker: Option<CookieResponder>,
}

impl PeerState {
    const fn new() -> Self {
        Self {
            id: None,
            hs: None,
            kps: Keypairs::new(),
            windows: Windows::new(),
            cookie: None,
            checker: None,
        }
    }

    /// (Re)initialise for identity `id` talking to `peer_public`.
    #[inline(never)]
    fn init<C: Crypto + ?Sized>(
        &mut self,
        c: &C,
        id: StaticIdentity,
        peer_public: &[u8; KEY_LEN],
    ) -> Peer<'_> {
        let hs = self.hs.insert(Handshake::new(c, &id, peer_public, &PSK));
        let cookie = self.cookie.insert(PeerCookie::new(c, peer_public));
        let checker = self
            .checker
            .insert(CookieResponder::new(c, Some(&id.public)));
        let id = self.id.insert(id);
        let _ = self.kps.clear();
        self.windows = Windows::new();
        Peer {
            id,
            hs,
            kps: &mut self.kps,
            windows: &mut self.windows,
            cookie,
            checker,
        }
    }
}

/// Caller-provided state for [`transcript_with`]: both peers and the packet
/// buffer and replay windows (about 9.5 KiB; allocate it on the heap). Reusable:
/// every run starts from the same state.
pub struct Scratch {
    packet: [u8; PACKET_MAX],
    a: PeerState,
    b: PeerState,
}

impl Scratch {
    /// Empty scratch space.
    pub const fn new() -> Self {
        Self {
            packet: [0; PACKET_MAX],
            a: PeerState::new(),
            b: PeerState::new(),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// Replay windows by receiving index: the module keeps one next to each
/// keypair object; here three suffice (a peer holds at most three keypairs
/// and the transcript's indices are distinct), kept in the heap-allocated
/// [`Scratch`] because each is 1 KiB.
struct Windows {
    slots: [(u32, ReplayCounter); 3],
    next: usize,
}

impl Windows {
    const fn new() -> Self {
        Self {
            slots: [
                (0, ReplayCounter::new()),
                (0, ReplayCounter::new()),
                (0, ReplayCounter::new()),
            ],
            next: 0,
        }
    }

    /// Replay check of `counter` received with local index `idx`; the first
    /// packet of an index takes over the oldest window.
    fn validate(&mut self, idx: u32, counter: u64) -> bool {
        if let Some((_, w)) = self.slots.iter_mut().find(|(i, _)| *i == idx) {
            return w.validate(counter);
        }
        let n = self.next % 3;
        self.next = n.wrapping_add(1);
        match self.slots.get_mut(n) {
            Some(slot) => {
                *slot = (idx, ReplayCounter::new());
                slot.1.validate(counter)
            }
            None => false,
        }
    }
}

struct Peer<'s> {
    id: &'s StaticIdentity,
    hs: &'s mut Handshake,
    kps: &'s mut Keypairs<Keypair>,
    windows: &'s mut Windows,
    cookie: &'s mut PeerCookie,
    checker: &'s mut CookieResponder,
}

type StepResult<T> = Result<T, Step>;

/// Transcript digest chain.
struct Digest {
    d: [u8; HASH_LEN],
}

impl Digest {
    fn new<C: Crypto + ?Sized>(c: &C) -> StepResult<Self> {
        let mut d = [0u8; HASH_LEN];
        if !c.blake2s(&mut d, &[], &[DIGEST_LABEL]) {
            return Err(Step::Digest);
        }
        Ok(Self { d })
    }

    fn absorb<C: Crypto + ?Sized>(&mut self, c: &C, msg: &[u8]) -> StepResult<()> {
        let prev = self.d;
        let len = u32::try_from(msg.len()).map_err(|_| Step::Digest)?;
        if !c.blake2s(&mut self.d, &[], &[&prev, &len.to_le_bytes(), msg]) {
            return Err(Step::Digest);
        }
        Ok(())
    }
}

/// Runs a complete, deterministic WireGuard exchange between two in-process
/// peers using `crypto` for every primitive except randomness (which comes
/// from a fixed counter-based generator wrapped around it), with fixed static
/// keys, PSK and timestamps: initiation -> response -> first data packet from
/// initiator (key confirmation) -> data both ways (a few sizes incl. 0-byte
/// keepalive and a 1400-byte packet, checking the decrypted bytes equal the
/// sent ones) -> a responder under load answering a second initiation with a
/// cookie reply -> the initiator consuming it and retrying with mac2 -> success.
/// Returns the BLAKE2s-256 digest (computed with `crypto`) of every wire
/// message in order, or an error naming the step that failed.
///
/// Puts a [`Scratch`] (about 9.5 KiB) on the stack: in the kernel prefer
/// [`transcript_with`].
pub fn transcript<C: Crypto + ?Sized>(crypto: &C) -> Result<[u8; 32], SelftestError> {
    let mut scratch = Scratch::new();
    transcript_with(crypto, &mut scratch)
}

/// [`transcript`] with caller-provided state (no large locals).
pub fn transcript_with<C: Crypto + ?Sized>(
    crypto: &C,
    scratch: &mut Scratch,
) -> Result<[u8; 32], SelftestError> {
    let c = Deterministic::new(crypto);
    let at = |phase: Phase| move |step: Step| SelftestError { phase, step };
    let mut t = Digest::new(&c).map_err(at(Phase::Setup))?;
    let Scratch { packet, a, b } = scratch;
    let id_a = StaticIdentity::from_private(&c, &STATIC_A);
    let id_b = StaticIdentity::from_private(&c, &STATIC_B);
    let (Some(id_a), Some(id_b)) = (id_a, id_b) else {
        return Err(at(Phase::Setup)(Step::Identity));
    };
    let (pub_a, pub_b) = (id_a.public, id_b.public);
    let mut a = a.init(&c, id_a, &pub_b);
    let mut b = b.init(&c, id_b, &pub_a);
    let mut load_b = LoadTracker::new();
    let mut rate_b = RateEntry::new(NOW1);

    // 1. First handshake, B not under load.
    let under_load = load_b.update(0, LOAD_THRESHOLD, NOW1);
    handshake(
        &c,
        &mut t,
        &mut a,
        &mut b,
        Round {
            idx_a: IDX_A1,
            idx_b: IDX_B1,
            unix_secs: UNIX_T0,
            now: NOW1,
            under_load,
            expect_mac2: false,
        },
        &mut rate_b,
    )
    .map_err(at(Phase::Handshake))?;

    // 2. Key confirmation.
    confirm(&c, &mut t, packet, &mut a, &mut b, IDX_B1, NOW1).map_err(at(Phase::Confirmation))?;

    // 3. Data both ways.
    exchange(&c, &mut t, packet, &mut a, &mut b, NOW1).map_err(at(Phase::Data))?;

    // 4. B under load: cookie reply to a second initiation.
    let under_load = load_b.update(LOAD_THRESHOLD, LOAD_THRESHOLD, NOW2);
    if !under_load {
        return Err(at(Phase::CookieReply)(Step::InitiationMacs));
    }
    cookie_round(&c, &mut t, &mut a, &mut b, NOW2).map_err(at(Phase::CookieReply))?;

    // 5. Retry with mac2 while B is still under load (one second after).
    let under_load = load_b.update(0, LOAD_THRESHOLD, NOW3);
    if !under_load {
        return Err(at(Phase::Retry)(Step::InitiationMacs));
    }
    let retry = Round {
        idx_a: IDX_A3,
        idx_b: IDX_B2,
        unix_secs: UNIX_T0.wrapping_add(10),
        now: NOW3,
        under_load,
        expect_mac2: true,
    };
    handshake(&c, &mut t, &mut a, &mut b, retry, &mut rate_b).map_err(at(Phase::Retry))?;
    confirm(&c, &mut t, packet, &mut a, &mut b, IDX_B2, NOW3).map_err(at(Phase::Retry))?;
    let back = Transfer {
        len: 100,
        seq: 0xfe,
        now: NOW3,
    };
    data(&c, &mut t, packet, b.kps, (a.kps, a.windows), back).map_err(at(Phase::Retry))?;
    data(
        &c,
        &mut t,
        packet,
        a.kps,
        (b.kps, b.windows),
        Transfer { seq: 0xff, ..back },
    )
    .map_err(at(Phase::Retry))?;
    if a.kps.current.as_ref().map(|k| k.local_index) != Some(IDX_A3)
        || a.kps.previous.as_ref().map(|k| k.local_index) != Some(IDX_A1)
    {
        return Err(at(Phase::Retry)(Step::BeginSession));
    }
    zeroize(packet);
    Ok(t.d)
}

#[derive(Clone, Copy)]
struct Round {
    idx_a: u32,
    idx_b: u32,
    unix_secs: u64,
    now: u64,
    under_load: bool,
    expect_mac2: bool,
}

/// A creates an initiation (with MACs) and puts it on the wire.
#[inline(never)]
fn send_initiation<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    a: &mut Peer<'_>,
    idx: u32,
    unix_secs: u64,
    now: u64,
) -> StepResult<[u8; INITIATION_LEN]> {
    let m =
        a.hs.create_initiation(c, a.id, idx, &tai64n(unix_secs, 0))
            .map_err(|_| Step::CreateInitiation)?;
    let mut bytes = m.to_bytes();
    a.cookie
        .add_macs(c, &mut bytes, now)
        .map_err(|_| Step::CreateInitiation)?;
    t.absorb(c, &bytes)?;
    Ok(bytes)
}

/// Full handshake A -> B -> A, both sides deriving keys.
#[inline(never)]
fn handshake<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    a: &mut Peer<'_>,
    b: &mut Peer<'_>,
    r: Round,
    rate_b: &mut RateEntry,
) -> StepResult<()> {
    let init = send_initiation(c, t, a, r.idx_a, r.unix_secs, r.now)?;
    let mac2 = init
        .get(INITIATION_LEN.saturating_sub(COOKIE_LEN)..)
        .unwrap_or(&[]);
    if r.expect_mac2 == is_zero(mac2) {
        return Err(Step::Mac2);
    }
    // B: MAC check and the under-load decision.
    let mac = b
        .checker
        .validate(c, &init, &SRC_A_IP, SRC_A_PORT, r.under_load, r.now);
    let want = if r.expect_mac2 {
        MacState::ValidMacWithCookie
    } else {
        MacState::ValidMacButNoCookie
    };
    if mac != want {
        return Err(if r.expect_mac2 {
            Step::Mac2
        } else {
            Step::InitiationMacs
        });
    }
    let rate_ok = !r.under_load || rate_b.allow(r.now);
    if handshake_action(r.under_load, mac, rate_ok) != HandshakeAction::Process {
        return Err(Step::InitiationMacs);
    }
    consume_initiation(c, a.id, b, &init, r.now)?;
    let resp = send_response(c, t, b, r.idx_b, r.now)?;
    consume_response(c, a, &resp, r.now)?;
    let kp =
        b.hs.begin_session(c, r.now)
            .map_err(|_| Step::BeginSession)?;
    let _ = b.kps.add(kp);
    Ok(())
}

#[inline(never)]
fn consume_initiation<C: Crypto + ?Sized>(
    c: &C,
    initiator: &StaticIdentity,
    b: &mut Peer<'_>,
    bytes: &[u8],
    now: u64,
) -> StepResult<()> {
    let msg = Initiation::parse(bytes).map_err(|_| Step::ConsumeInitiation)?;
    let partial = consume_initiation_begin(c, b.id, &msg).map_err(|_| Step::ConsumeInitiation)?;
    if partial.remote_static != initiator.public {
        return Err(Step::ConsumeInitiation);
    }
    b.hs.consume_initiation_finish(c, &partial, now)
        .map_err(|_| Step::ConsumeInitiation)
}

#[inline(never)]
fn send_response<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    b: &mut Peer<'_>,
    idx: u32,
    now: u64,
) -> StepResult<[u8; RESPONSE_LEN]> {
    let r =
        b.hs.create_response(c, idx)
            .map_err(|_| Step::CreateResponse)?;
    let mut bytes = r.to_bytes();
    b.cookie
        .add_macs(c, &mut bytes, now)
        .map_err(|_| Step::CreateResponse)?;
    t.absorb(c, &bytes)?;
    Ok(bytes)
}

#[inline(never)]
fn consume_response<C: Crypto + ?Sized>(
    c: &C,
    a: &mut Peer<'_>,
    bytes: &[u8],
    now: u64,
) -> StepResult<()> {
    let mac = a
        .checker
        .validate(c, bytes, &SRC_A_IP, SRC_A_PORT, false, now);
    if handshake_action(false, mac, true) != HandshakeAction::Process {
        return Err(Step::ResponseMacs);
    }
    let msg = Response::parse(bytes).map_err(|_| Step::ConsumeResponse)?;
    if msg.receiver != a.hs.local_index {
        return Err(Step::ConsumeResponse);
    }
    a.hs.consume_response(c, a.id, &msg)
        .map_err(|_| Step::ConsumeResponse)?;
    let kp = a.hs.begin_session(c, now).map_err(|_| Step::BeginSession)?;
    let _ = a.kps.add(kp);
    Ok(())
}

/// A's keepalive confirms B's `next` keypair (local index `idx_b`).
#[inline(never)]
fn confirm<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    packet: &mut [u8; PACKET_MAX],
    a: &mut Peer<'_>,
    b: &mut Peer<'_>,
    idx_b: u32,
    now: u64,
) -> StepResult<()> {
    // B must not send with an unconfirmed keypair.
    if b.kps.sending(now).map(|k| k.local_index) == Some(idx_b) {
        return Err(Step::KeyConfirmation);
    }
    let keepalive = Transfer {
        len: 0,
        seq: 0,
        now,
    };
    let slot = data(c, t, packet, a.kps, (b.kps, b.windows), keepalive)?;
    if slot != Slot::Next || b.kps.sending(now).map(|k| k.local_index) != Some(idx_b) {
        return Err(Step::KeyConfirmation);
    }
    Ok(())
}

/// Every size of [`DATA_SIZES`] A -> B, then B -> A.
#[inline(never)]
fn exchange<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    packet: &mut [u8; PACKET_MAX],
    a: &mut Peer<'_>,
    b: &mut Peer<'_>,
    now: u64,
) -> StepResult<()> {
    let mut seq: u8 = 1;
    for len in DATA_SIZES {
        let tr = Transfer { len, seq, now };
        data(c, t, packet, a.kps, (b.kps, b.windows), tr)?;
        let back = Transfer {
            seq: seq.wrapping_add(1),
            ..tr
        };
        data(c, t, packet, b.kps, (a.kps, a.windows), back)?;
        seq = seq.wrapping_add(2);
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Transfer {
    len: usize,
    seq: u8,
    now: u64,
}

fn payload_byte(seq: u8, i: usize) -> u8 {
    // Truncation intended: a byte pattern depending on position and packet.
    (i as u8).wrapping_mul(31) ^ seq.wrapping_mul(101) ^ (i.wrapping_shr(8) as u8)
}

/// Seal a data message of `tr.len` payload bytes (padded like the C driver)
/// with `tx`'s sending keypair, put it on the wire, open it with `rx` and
/// check the payload. Returns the slot that opened it.
#[inline(never)]
fn data<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    packet: &mut [u8; PACKET_MAX],
    tx: &mut Keypairs<Keypair>,
    rx: (&mut Keypairs<Keypair>, &mut Windows),
    tr: Transfer,
) -> StepResult<Slot> {
    let padded = padded_len(tr.len, MTU);
    let total = DATA_HEADER_LEN
        .checked_add(padded)
        .and_then(|n| n.checked_add(TAG_LEN))
        .ok_or(Step::Seal)?;
    let pkt = packet.get_mut(..total).ok_or(Step::Seal)?;
    {
        let body = pkt.get_mut(DATA_HEADER_LEN..).ok_or(Step::Seal)?;
        for (i, byte) in body.iter_mut().enumerate() {
            *byte = if i < tr.len {
                payload_byte(tr.seq, i)
            } else {
                0
            };
        }
    }
    let kp = tx.sending(tr.now).ok_or(Step::Seal)?;
    kp.seal(c, tr.now, pkt).map_err(|_| Step::Seal)?;
    t.absorb(c, pkt)?;
    let (rx, windows) = rx;
    let receiver = pkt
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(Step::Open)?;
    let slot = rx.lookup(receiver).ok_or(Step::Open)?;
    let kp = rx.get(slot).ok_or(Step::Open)?;
    let (n, counter) = kp.decrypt(c, tr.now, pkt).map_err(|_| Step::Open)?;
    if !windows.validate(receiver, counter) {
        return Err(Step::Open);
    }
    let _ = rx.received_with(slot);
    if n != padded {
        return Err(Step::Payload);
    }
    let body = pkt
        .get(DATA_HEADER_LEN..DATA_HEADER_LEN.saturating_add(n))
        .ok_or(Step::Payload)?;
    let mut diff = 0u8;
    for (i, byte) in body.iter().enumerate() {
        let want = if i < tr.len {
            payload_byte(tr.seq, i)
        } else {
            0
        };
        diff |= byte ^ want;
    }
    if diff != 0 {
        return Err(Step::Payload);
    }
    Ok(slot)
}

/// A's second initiation meets B under load: B answers with a cookie reply,
/// A consumes it.
#[inline(never)]
fn cookie_round<C: Crypto + ?Sized>(
    c: &C,
    t: &mut Digest,
    a: &mut Peer<'_>,
    b: &mut Peer<'_>,
    now: u64,
) -> StepResult<()> {
    let init = send_initiation(c, t, a, IDX_A2, UNIX_T0.wrapping_add(5), now)?;
    let mac = b
        .checker
        .validate(c, &init, &SRC_A_IP, SRC_A_PORT, true, now);
    if handshake_action(true, mac, true) != HandshakeAction::SendCookieReply {
        return Err(Step::InitiationMacs);
    }
    let msg = Initiation::parse(&init).map_err(|_| Step::CreateCookieReply)?;
    let reply = b
        .checker
        .create_reply(c, &init, msg.sender, &SRC_A_IP, SRC_A_PORT, now)
        .map_err(|_| Step::CreateCookieReply)?;
    let bytes: [u8; COOKIE_REPLY_LEN] = reply.to_bytes();
    t.absorb(c, &bytes)?;
    // A: find the handshake by the receiver index, take the cookie.
    let reply = CookieReply::parse(&bytes).map_err(|_| Step::ConsumeCookieReply)?;
    if reply.receiver != a.hs.local_index {
        return Err(Step::ConsumeCookieReply);
    }
    a.cookie
        .consume_reply(c, &reply, now)
        .map_err(|_| Step::ConsumeCookieReply)?;
    if !a.cookie.has_valid_cookie(now) {
        return Err(Step::ConsumeCookieReply);
    }
    Ok(())
}

/// Which primitive a [`Faulty`] provider gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Flip a bit of every BLAKE2s output.
    Blake2s,
    /// Flip a bit of every X25519 DH output.
    X25519,
    /// Flip a bit of every derived public key.
    X25519Public,
    /// Flip a bit of every ChaCha20-Poly1305 ciphertext/tag.
    ChachaSeal,
    /// Flip a bit of every XChaCha20-Poly1305 ciphertext/tag.
    XChachaSeal,
    /// Flip a bit of the plaintext after a successful open.
    ChachaOpen,
    /// Flip a bit of the cookie after a successful XChaCha20 open.
    XChachaOpen,
}

impl Fault {
    /// Every fault, for tests that try them all.
    pub const ALL: [Fault; 7] = [
        Fault::Blake2s,
        Fault::X25519,
        Fault::X25519Public,
        Fault::ChachaSeal,
        Fault::XChachaSeal,
        Fault::ChachaOpen,
        Fault::XChachaOpen,
    ];
}

/// A provider that is `inner` with one primitive's output corrupted by a
/// flipped bit: what a broken crypto backend looks like. Running
/// [`transcript`] on it must not give [`TRANSCRIPT_DIGEST`], which shows
/// that comparing digests can fail.
pub struct Faulty<'a, C: Crypto + ?Sized> {
    inner: &'a C,
    fault: Fault,
}

impl<'a, C: Crypto + ?Sized> Faulty<'a, C> {
    /// `inner`, corrupted as `fault` says.
    pub fn new(inner: &'a C, fault: Fault) -> Self {
        Self { inner, fault }
    }
}

fn flip(b: &mut [u8]) {
    if let Some(x) = b.first_mut() {
        *x ^= 1;
    }
}

impl<C: Crypto + ?Sized> Crypto for Faulty<'_, C> {
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
        let ok = self.inner.blake2s(out, key, data);
        if matches!(self.fault, Fault::Blake2s) {
            flip(out);
        }
        ok
    }
    fn chacha20poly1305_seal(&self, buf: &mut [u8], ad: &[u8], n: u64, k: &[u8; KEY_LEN]) -> bool {
        let ok = self.inner.chacha20poly1305_seal(buf, ad, n, k);
        if matches!(self.fault, Fault::ChachaSeal) {
            flip(buf);
        }
        ok
    }
    fn chacha20poly1305_open(&self, buf: &mut [u8], ad: &[u8], n: u64, k: &[u8; KEY_LEN]) -> bool {
        let ok = self.inner.chacha20poly1305_open(buf, ad, n, k);
        if ok && matches!(self.fault, Fault::ChachaOpen) && buf.len() > TAG_LEN {
            flip(buf);
        }
        ok
    }
    fn xchacha20poly1305_seal(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        n: &[u8; COOKIE_NONCE_LEN],
        k: &[u8; KEY_LEN],
    ) -> bool {
        let ok = self.inner.xchacha20poly1305_seal(buf, ad, n, k);
        if matches!(self.fault, Fault::XChachaSeal) {
            flip(buf);
        }
        ok
    }
    fn xchacha20poly1305_open(
        &self,
        buf: &mut [u8],
        ad: &[u8],
        n: &[u8; COOKIE_NONCE_LEN],
        k: &[u8; KEY_LEN],
    ) -> bool {
        let ok = self.inner.xchacha20poly1305_open(buf, ad, n, k);
        if ok && matches!(self.fault, Fault::XChachaOpen) {
            flip(buf);
        }
        ok
    }
    fn curve25519(&self, out: &mut [u8; KEY_LEN], s: &[u8; KEY_LEN], p: &[u8; KEY_LEN]) -> bool {
        let ok = self.inner.curve25519(out, s, p);
        if matches!(self.fault, Fault::X25519) {
            flip(out);
        }
        ok
    }
    fn curve25519_generate_public(&self, out: &mut [u8; KEY_LEN], s: &[u8; KEY_LEN]) -> bool {
        let ok = self.inner.curve25519_generate_public(out, s);
        if matches!(self.fault, Fault::X25519Public) {
            flip(out);
        }
        ok
    }
    fn random(&self, buf: &mut [u8]) {
        self.inner.random(buf)
    }
}
