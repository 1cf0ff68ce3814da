// SPDX-License-Identifier: GPL-2.0

//! Fuzz harness bodies, one per function that consumes network bytes.
//!
//! They live in the library (no_std, no allocation) so that the cargo-fuzz
//! targets in `fuzz/` are one-liners and `cargo test` can run the very same
//! bodies under proptest. Each harness builds a *valid* message with fixed
//! keys and deterministic "randomness", then lets the input either mutate it
//! (XOR mask, truncation) or replace it, so the fuzzer reaches the deep
//! paths (authenticated decryption, state transitions) and not only the
//! length checks. Harnesses assert invariants that must hold for any input.

use core::cell::Cell;

use crate::proto::constants::{COOKIE_NONCE_LEN, KEY_LEN, NSEC_PER_SEC, TAG_LEN};
use crate::proto::cookie::{CookieResponder, PeerCookie};
use crate::proto::crypto::Crypto;
use crate::proto::gate::{GatePeer, GatePolicy};
use crate::proto::inner;
use crate::proto::keypair::{Keypair, Keypairs, Session};
use crate::proto::messages::{
    classify, CookieReply, DataHeader, Initiation, MessageKind, Response, COOKIE_REPLY_LEN,
    INITIATION_LEN, RESPONSE_LEN,
};
use crate::proto::noise::{consume_initiation_begin, tai64n, Handshake, StaticIdentity};
use crate::rustcrypto::RustCrypto;

/// RustCrypto with a deterministic `random()` (fuzzing must be reproducible).
#[derive(Default)]
pub struct DetCrypto {
    ctr: Cell<u8>,
}

impl Crypto for DetCrypto {
    fn blake2s(&self, out: &mut [u8], key: &[u8], data: &[&[u8]]) -> bool {
        RustCrypto.blake2s(out, key, data)
    }
    fn chacha20poly1305_seal(&self, b: &mut [u8], ad: &[u8], n: u64, k: &[u8; KEY_LEN]) -> bool {
        RustCrypto.chacha20poly1305_seal(b, ad, n, k)
    }
    fn chacha20poly1305_open(&self, b: &mut [u8], ad: &[u8], n: u64, k: &[u8; KEY_LEN]) -> bool {
        RustCrypto.chacha20poly1305_open(b, ad, n, k)
    }
    fn xchacha20poly1305_seal(
        &self,
        b: &mut [u8],
        ad: &[u8],
        n: &[u8; COOKIE_NONCE_LEN],
        k: &[u8; KEY_LEN],
    ) -> bool {
        RustCrypto.xchacha20poly1305_seal(b, ad, n, k)
    }
    fn xchacha20poly1305_open(
        &self,
        b: &mut [u8],
        ad: &[u8],
        n: &[u8; COOKIE_NONCE_LEN],
        k: &[u8; KEY_LEN],
    ) -> bool {
        RustCrypto.xchacha20poly1305_open(b, ad, n, k)
    }
    fn curve25519(&self, o: &mut [u8; KEY_LEN], s: &[u8; KEY_LEN], p: &[u8; KEY_LEN]) -> bool {
        RustCrypto.curve25519(o, s, p)
    }
    fn curve25519_generate_public(&self, o: &mut [u8; KEY_LEN], s: &[u8; KEY_LEN]) -> bool {
        RustCrypto.curve25519_generate_public(o, s)
    }
    fn random(&self, buf: &mut [u8]) {
        let c = self.ctr.get().wrapping_add(1);
        self.ctr.set(c);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(c);
        }
    }
}

const NOW: u64 = 1000 * NSEC_PER_SEC;
const SRC: [u8; 4] = [192, 0, 2, 7];

fn ident(c: &DetCrypto, seed: u8) -> StaticIdentity {
    let mut sk = [seed; KEY_LEN];
    sk[0] = seed.wrapping_add(1);
    match StaticIdentity::from_private(c, &sk) {
        Some(i) => i,
        None => StaticIdentity::empty(),
    }
}

/// Apply the fuzz input to a valid message: returns the packet length.
/// Mode (first byte % 3): 0 = XOR mask, 1 = replace, 2 = truncate.
fn shape(buf: &mut [u8], data: &[u8]) -> usize {
    let Some((mode, rest)) = data.split_first() else {
        return buf.len();
    };
    match mode % 3 {
        0 => {
            for (b, m) in buf.iter_mut().zip(rest.iter()) {
                *b ^= *m;
            }
            buf.len()
        }
        1 => {
            let n = rest.len().min(buf.len());
            for (b, m) in buf.iter_mut().zip(rest.iter()) {
                *b = *m;
            }
            n
        }
        _ => rest
            .first()
            .map_or(buf.len(), |l| usize::from(*l).min(buf.len())),
    }
}

/// Message classification and typed parsers; parse/serialise must round-trip.
pub fn messages(data: &[u8]) {
    let kind = classify(data);
    if let Ok(m) = Initiation::parse(data) {
        assert_eq!(kind, Ok(MessageKind::Initiation));
        assert_eq!(&m.to_bytes()[..], data);
    }
    if let Ok(m) = Response::parse(data) {
        assert_eq!(kind, Ok(MessageKind::Response));
        assert_eq!(&m.to_bytes()[..], data);
    }
    if let Ok(m) = CookieReply::parse(data) {
        assert_eq!(kind, Ok(MessageKind::CookieReply));
        assert_eq!(&m.to_bytes()[..], data);
    }
    if let Ok((h, rest)) = DataHeader::parse(data) {
        assert_eq!(kind, Ok(MessageKind::Data));
        assert!(rest.len() >= TAG_LEN);
        let _ = h;
    }
}

/// Responder side: MAC check, cookie reply creation, both halves of
/// consuming an initiation, then creating the response.
pub fn initiation(data: &[u8]) -> bool {
    let c = DetCrypto::default();
    let a = ident(&c, 1);
    let b = ident(&c, 2);
    let mut ha = Handshake::new(&c, &a, &b.public, &[3; KEY_LEN]);
    let Ok(m) = ha.create_initiation(&c, &a, 0x11, &tai64n(1_700_000_000, 0)) else {
        return false;
    };
    let mut buf = m.to_bytes();
    let mut cookie = PeerCookie::new(&c, &b.public);
    if cookie.add_macs(&c, &mut buf, NOW).is_err() {
        return false;
    }
    let n = shape(&mut buf, data);
    let pkt = buf.get(..n).unwrap_or(&[]);
    let mut checker = CookieResponder::new(&c, Some(&b.public));
    let _ = checker.validate(&c, pkt, &SRC, 1, true, NOW);
    let _ = checker.create_reply(&c, pkt, 1, &SRC, 1, NOW);
    let Ok(msg) = Initiation::parse(pkt) else {
        return false;
    };
    let Ok(partial) = consume_initiation_begin(&c, &b, &msg) else {
        return false;
    };
    let mut hb = Handshake::new(&c, &b, &partial.remote_static, &[3; KEY_LEN]);
    if hb.consume_initiation_finish(&c, &partial, NOW).is_ok() {
        // Authenticated: the static key must be the initiator's.
        assert_eq!(partial.remote_static, a.public);
        if hb.create_response(&c, 0x22).is_ok() {
            assert!(hb.begin_session(&c, NOW).is_ok());
        }
        return true;
    }
    false
}

/// Initiator side: consuming a (mutated) response, then deriving keys.
pub fn response(data: &[u8]) -> bool {
    let c = DetCrypto::default();
    let a = ident(&c, 1);
    let b = ident(&c, 2);
    let mut ha = Handshake::new(&c, &a, &b.public, &[3; KEY_LEN]);
    let Ok(m) = ha.create_initiation(&c, &a, 0x11, &tai64n(1_700_000_000, 0)) else {
        return false;
    };
    let Ok(partial) = consume_initiation_begin(&c, &b, &m) else {
        return false;
    };
    let mut hb = Handshake::new(&c, &b, &a.public, &[3; KEY_LEN]);
    if hb.consume_initiation_finish(&c, &partial, NOW).is_err() {
        return false;
    }
    let Ok(r) = hb.create_response(&c, 0x22) else {
        return false;
    };
    let mut buf = r.to_bytes();
    let n = shape(&mut buf, data);
    let pkt = buf.get(..n).unwrap_or(&[]);
    let mut checker = CookieResponder::new(&c, Some(&a.public));
    let _ = checker.validate(&c, pkt, &SRC, 1, false, NOW);
    let Ok(msg) = Response::parse(pkt) else {
        return false;
    };
    if ha.consume_response(&c, &a, &msg).is_ok() {
        let Ok(kp_a) = ha.begin_session(&c, NOW) else {
            panic!("session after a valid response")
        };
        // Only the unauthenticated macs (and nothing else) may differ.
        let Ok(kp_b) = hb.begin_session(&c, NOW) else {
            return false;
        };
        let mut pkt = [0u8; 48];
        let a_tx = kp_a;
        let mut b_rx = Session::new(kp_b);
        if a_tx.seal(&c, NOW, &mut pkt).is_ok()
            && msg.ephemeral == r.ephemeral
            && msg.sender == r.sender
        {
            assert!(b_rx.open(&c, NOW, &mut pkt).is_ok());
        }
        return true;
    }
    false
}

/// Initiator side: consuming a (mutated) cookie reply.
pub fn cookie_reply(data: &[u8]) -> bool {
    let c = DetCrypto::default();
    let b = ident(&c, 2);
    let mut cookie = PeerCookie::new(&c, &b.public);
    let mut msg = [0u8; INITIATION_LEN];
    if let Some(f) = msg.first_mut() {
        *f = 1;
    }
    if cookie.add_macs(&c, &mut msg, NOW).is_err() {
        return false;
    }
    let mut checker = CookieResponder::new(&c, Some(&b.public));
    let Ok(r) = checker.create_reply(&c, &msg, 5, &SRC, 1, NOW) else {
        return false;
    };
    let mut buf = r.to_bytes();
    let n = shape(&mut buf, data);
    let pkt = buf.get(..n).unwrap_or(&[]);
    let Ok(reply) = CookieReply::parse(pkt) else {
        return false;
    };
    if cookie.consume_reply(&c, &reply, NOW).is_ok() {
        assert!(cookie.has_valid_cookie(NOW));
        // With the cookie, mac2 must now validate under load.
        let mut again = msg;
        if cookie.add_macs(&c, &mut again, NOW).is_ok() && reply.nonce == r.nonce {
            let st = checker.validate(&c, &again, &SRC, 1, true, NOW);
            assert_eq!(st, crate::proto::cookie::MacState::ValidMacWithCookie);
        }
        return true;
    }
    let _ = RESPONSE_LEN;
    let _ = COOKIE_REPLY_LEN;
    false
}

/// Transport path: open a (mutated) data message with a keypair set.
pub fn transport(data: &[u8]) -> bool {
    let c = DetCrypto::default();
    let tx = Keypair::new([1; KEY_LEN], [2; KEY_LEN], true, 9, 7, NOW);
    let mut kps = Keypairs::<Session>::new();
    let _ = kps.add(Keypair::new([2; KEY_LEN], [1; KEY_LEN], false, 7, 9, NOW));
    let mut buf = [0u8; 96];
    if let Some(b) = buf.get_mut(16..24) {
        b.copy_from_slice(b"payload!");
    }
    if tx.seal(&c, NOW, &mut buf).is_err() {
        return false;
    }
    let n = shape(&mut buf, data);
    let Some(pkt) = buf.get_mut(..n) else {
        return false;
    };
    if let Ok((len, ctr, _)) = kps.open(&c, NOW, pkt) {
        assert_eq!(ctr, 0);
        assert_eq!(len, 64);
        // A second delivery is always a replay.
        let mut again = [0u8; 96];
        tx.seal_with_nonce(&c, 0, &mut again).ok();
        assert!(kps.open(&c, NOW, &mut again).is_err());
        return true;
    }
    false
}

/// Inner packet parser and gate decision on it.
pub fn inner_packet(data: &[u8]) {
    if let Ok(h) = inner::parse(data) {
        assert!(h.ip_len <= data.len());
        if h.ports.is_some() {
            assert!(h.protocol == inner::IPPROTO_TCP || h.protocol == inner::IPPROTO_UDP);
        }
    }
    let policy = GatePolicy {
        idle_timeout: 60,
        max_session: 0,
        auth_port: 8443,
    };
    let mut g = GatePeer::new(false);
    let _ = g.inbound_packet(&policy, NOW, data, |_| true);
    let _ = g.outbound(&policy, NOW, inner::parse(data).ok().as_ref());
}
