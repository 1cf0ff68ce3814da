// SPDX-License-Identifier: GPL-2.0
//! Test harness: a minimal WireGuard peer built from the proto pieces, the
//! way the kernel module glues them together (index allocation, lookup,
//! keypair rotation, cookies), but single-peer and in memory.

#![allow(dead_code)]

use wgrs_proto::proto::constants::KEY_LEN;
use wgrs_proto::proto::cookie::{handshake_action, CookieResponder, HandshakeAction, PeerCookie};
use wgrs_proto::proto::keypair::{Keypairs, Session};
use wgrs_proto::proto::messages::{
    classify, CookieReply, Initiation, MessageKind, Response, DATA_HEADER_LEN,
};
use wgrs_proto::proto::noise::{consume_initiation_begin, tai64n, Handshake, StaticIdentity};
use wgrs_proto::proto::timers::PeerTimers;
use wgrs_proto::rustcrypto::RustCrypto;

pub const C: RustCrypto = RustCrypto;

#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Send this to the network.
    Network(Vec<u8>),
    /// Decrypted inner packet (empty = keepalive).
    Tunnel(Vec<u8>),
    /// Consumed, nothing to send (e.g. cookie reply).
    Nothing,
    Dropped(String),
}

pub struct Ours {
    pub id: StaticIdentity,
    pub hs: Handshake,
    pub kps: Keypairs<Session>,
    pub cookie: PeerCookie,
    pub checker: CookieResponder,
    pub next_index: u32,
    pub under_load: bool,
    /// Synthetic wall clock: seconds added to the real time for timestamps.
    pub ts_bump: u64,
    pub handshakes_completed: u32,
    /// Local index of the keypair that opened the last data packet.
    pub last_rx_index: Option<u32>,
    pub timers: PeerTimers,
}

pub fn keypair_from(seed: u8) -> ([u8; 32], [u8; 32]) {
    let mut sk = [0u8; 32];
    wgrs_proto::proto::crypto::Crypto::random(&C, &mut sk);
    sk[0] ^= seed;
    let mut pk = [0u8; 32];
    assert!(wgrs_proto::proto::crypto::Crypto::curve25519_generate_public(&C, &mut pk, &sk));
    (sk, pk)
}

pub fn timestamp(bump: u64) -> [u8; 12] {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tai64n(d.as_secs() + bump, d.subsec_nanos())
}

impl Ours {
    pub fn new(private: [u8; KEY_LEN], peer_public: [u8; KEY_LEN], psk: [u8; KEY_LEN]) -> Self {
        let id = StaticIdentity::from_private(&C, &private).unwrap();
        let hs = Handshake::new(&C, &id, &peer_public, &psk);
        let checker = CookieResponder::new(&C, Some(&id.public));
        Self {
            cookie: PeerCookie::new(&C, &peer_public),
            checker,
            hs,
            id,
            kps: Keypairs::new(),
            next_index: 0x1000,
            under_load: false,
            ts_bump: 0,
            handshakes_completed: 0,
            last_rx_index: None,
            timers: PeerTimers::new(0),
        }
    }

    fn alloc_index(&mut self) -> u32 {
        self.next_index += 1;
        self.next_index
    }

    pub fn initiation(&mut self, now: u64) -> Vec<u8> {
        self.ts_bump += 1;
        let idx = self.alloc_index();
        let msg = self
            .hs
            .create_initiation(&C, &self.id, idx, &timestamp(self.ts_bump))
            .unwrap();
        let mut b = msg.to_bytes();
        self.cookie.add_macs(&C, &mut b, now).unwrap();
        b.to_vec()
    }

    pub fn send(&mut self, plain: &[u8], now: u64) -> Option<Vec<u8>> {
        let kp = self.kps.sending(now)?;
        let padded = plain.len().div_ceil(16) * 16;
        let mut pkt = vec![0u8; DATA_HEADER_LEN + padded + wgrs_proto::proto::constants::TAG_LEN];
        pkt[DATA_HEADER_LEN..DATA_HEADER_LEN + plain.len()].copy_from_slice(plain);
        kp.seal(&C, now, &mut pkt).ok()?;
        Some(pkt)
    }

    pub fn receive(&mut self, pkt: &[u8], now: u64, src: [u8; 4], port: u16) -> Out {
        match classify(pkt) {
            Err(e) => Out::Dropped(format!("classify {e:?}")),
            Ok(MessageKind::Initiation) | Ok(MessageKind::Response) => {
                let mac = self
                    .checker
                    .validate(&C, pkt, &src, port, self.under_load, now);
                match handshake_action(self.under_load, mac, true) {
                    HandshakeAction::Drop => return Out::Dropped(format!("mac {mac:?}")),
                    HandshakeAction::SendCookieReply => {
                        // sender index is at offset 4 in both messages
                        let sender = u32::from_le_bytes(pkt[4..8].try_into().unwrap());
                        let r = self
                            .checker
                            .create_reply(&C, pkt, sender, &src, port, now)
                            .unwrap();
                        return Out::Network(r.to_bytes().to_vec());
                    }
                    HandshakeAction::Process => {}
                }
                if classify(pkt) == Ok(MessageKind::Initiation) {
                    let msg = Initiation::parse(pkt).unwrap();
                    let partial = match consume_initiation_begin(&C, &self.id, &msg) {
                        Ok(p) => p,
                        Err(e) => return Out::Dropped(format!("init begin {e:?}")),
                    };
                    if partial.remote_static != self.hs.remote_static {
                        return Out::Dropped("unknown peer".into());
                    }
                    if let Err(e) = self.hs.consume_initiation_finish(&C, &partial, now) {
                        return Out::Dropped(format!("init finish {e:?}"));
                    }
                    let idx = self.alloc_index();
                    let resp = self.hs.create_response(&C, idx).unwrap();
                    let mut b = resp.to_bytes();
                    self.cookie.add_macs(&C, &mut b, now).unwrap();
                    let kp = self.hs.begin_session(&C, now).unwrap();
                    let _ = self.kps.add(kp);
                    self.handshakes_completed += 1;
                    Out::Network(b.to_vec())
                } else {
                    let msg = Response::parse(pkt).unwrap();
                    if let Err(e) = self.hs.consume_response(&C, &self.id, &msg) {
                        return Out::Dropped(format!("response {e:?}"));
                    }
                    let kp = self.hs.begin_session(&C, now).unwrap();
                    let _ = self.kps.add(kp);
                    self.handshakes_completed += 1;
                    // Confirm the session with a keepalive, like the C driver.
                    Out::Network(self.send(&[], now).unwrap())
                }
            }
            Ok(MessageKind::CookieReply) => {
                let r = CookieReply::parse(pkt).unwrap();
                if r.receiver != self.hs.local_index {
                    return Out::Dropped("cookie for unknown index".into());
                }
                match self.cookie.consume_reply(&C, &r, now) {
                    Ok(()) => Out::Nothing,
                    Err(e) => Out::Dropped(format!("cookie {e:?}")),
                }
            }
            Ok(MessageKind::Data) => {
                let mut buf = pkt.to_vec();
                match self.kps.open(&C, now, &mut buf) {
                    Ok((n, _, _)) => {
                        self.last_rx_index =
                            Some(u32::from_le_bytes(pkt[4..8].try_into().unwrap()));
                        Out::Tunnel(buf[DATA_HEADER_LEN..DATA_HEADER_LEN + n].to_vec())
                    }
                    Err(e) => Out::Dropped(format!("data {e:?}")),
                }
            }
        }
    }
}

/// A well-formed IPv4/UDP packet 10.0.0.1:1234 -> 10.0.0.2:5678 with `payload`.
pub fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    // header checksum
    let mut sum: u32 = 0;
    for i in (0..20).step_by(2) {
        sum += u32::from(u16::from_be_bytes([p[i], p[i + 1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    p[20..22].copy_from_slice(&1234u16.to_be_bytes());
    p[22..24].copy_from_slice(&5678u16.to_be_bytes());
    p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}
