// SPDX-License-Identifier: GPL-2.0

//! The flood's initiators against a responder built from wgrs-proto, in
//! process and over loopback UDP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wgrs_proto::proto::constants::{KEY_LEN, NSEC_PER_SEC};
use wgrs_proto::proto::cookie::{
    handshake_action, make_cookie, CookieChecker, HandshakeAction, MacState, PeerCookie,
};
use wgrs_proto::proto::crypto::Crypto;
use wgrs_proto::proto::messages::{classify, Initiation, MessageKind};
use wgrs_proto::proto::noise::{consume_initiation_begin, Handshake, StaticIdentity};
use wgrs_proto::rustcrypto::RustCrypto;

use crate::args::Config;
use crate::flood::{run, tai64n_exact, Event, Initiator, Key, Report, SLOTS};

const C: RustCrypto = RustCrypto;
const MS: u64 = NSEC_PER_SEC / 1000;

fn identity() -> StaticIdentity {
    let mut sk = [0u8; KEY_LEN];
    C.random(&mut sk);
    StaticIdentity::from_private(&C, &sk).unwrap()
}

/// A WireGuard responder from the protocol core, glued like the kernel
/// module's receive path (one cookie secret, no rate limiter).
struct Responder {
    id: StaticIdentity,
    checker: CookieChecker,
    secret: [u8; 32],
    peers: Vec<(Handshake, PeerCookie)>,
    next_index: u32,
    under_load: bool,
    completed: u64,
}

impl Responder {
    fn new(id: StaticIdentity, peers: &[[u8; KEY_LEN]], under_load: bool) -> Self {
        let mut secret = [0u8; 32];
        C.random(&mut secret);
        Self {
            checker: CookieChecker::new(&C, Some(&id.public)),
            peers: peers
                .iter()
                .map(|p| (Handshake::new(&C, &id, p, &[0; 32]), PeerCookie::new(&C, p)))
                .collect(),
            id,
            secret,
            next_index: 0x7000,
            under_load,
            completed: 0,
        }
    }

    fn cookie(&self, src: &[u8], port: u16) -> [u8; 16] {
        make_cookie(&C, &self.secret, src, port)
    }

    fn mac(&self, pkt: &[u8], src: &[u8], port: u16) -> MacState {
        let cookie = self.under_load.then(|| self.cookie(src, port));
        self.checker.validate(&C, pkt, cookie.as_ref())
    }

    /// The answer to an initiation from `src`:`port` at monotonic `now`.
    fn handle(&mut self, pkt: &[u8], src: &[u8], port: u16, now: u64) -> Option<Vec<u8>> {
        if classify(pkt) != Ok(MessageKind::Initiation) {
            return None;
        }
        let cookie = self.under_load.then(|| self.cookie(src, port));
        let mac = self.checker.validate(&C, pkt, cookie.as_ref());
        let msg = Initiation::parse(pkt).ok()?;
        match handshake_action(self.under_load, mac, true) {
            HandshakeAction::Drop => None,
            HandshakeAction::SendCookieReply => {
                let reply = self
                    .checker
                    .create_reply(&C, pkt, msg.sender, &cookie?)
                    .ok()?;
                Some(reply.to_bytes().to_vec())
            }
            HandshakeAction::Process => {
                let partial = consume_initiation_begin(&C, &self.id, &msg).ok()?;
                let (hs, pc) = self
                    .peers
                    .iter_mut()
                    .find(|(hs, _)| hs.remote_static == partial.remote_static)?;
                hs.consume_initiation_finish(&C, &partial, now).ok()?;
                self.next_index += 1;
                let resp = hs.create_response(&C, self.next_index).ok()?;
                let mut b = resp.to_bytes();
                pc.add_macs(&C, &mut b, now).ok()?;
                hs.begin_session(&C, now).ok()?;
                self.completed += 1;
                Some(b.to_vec())
            }
        }
    }
}

const SRC: [u8; 4] = [192, 168, 77, 100];
const PORT: u16 = 40000;

struct Pair {
    key: Key,
    ini: Initiator,
    resp: Responder,
    wall: Duration,
}

impl Pair {
    fn new(cookies: bool, under_load: bool) -> Self {
        let server = identity();
        let server_public = server.public;
        let client = identity();
        let resp = Responder::new(server, &[client.public], under_load);
        let ini = Initiator::new(3, 0, &client, &server_public, cookies);
        Self {
            key: Key::new(client),
            ini,
            resp,
            wall: Duration::from_secs(1_700_000_000),
        }
    }

    fn initiation(&mut self, now: u64) -> [u8; 148] {
        self.wall += Duration::from_micros(10);
        let ts = self.key.next_timestamp(self.wall);
        self.ini.initiation(&self.key.id, &ts, now).unwrap()
    }

    fn receive(&mut self, pkt: &[u8], now: u64) -> Event {
        self.ini.receive(&self.key.id, pkt, now)
    }
}

#[test]
fn initiation_accepted_and_response_completes() {
    let mut p = Pair::new(false, false);
    let now = 10 * NSEC_PER_SEC;
    let init = p.initiation(now);
    assert_eq!(p.resp.mac(&init, &SRC, PORT), MacState::ValidMacButNoCookie);
    assert_eq!(&init[132..], &[0; 16], "no cookie: mac2 zero");
    let resp = p.resp.handle(&init, &SRC, PORT, now).expect("response");
    assert_eq!(p.resp.completed, 1);
    assert_eq!(classify(&resp), Ok(MessageKind::Response));
    assert_eq!(p.receive(&resp, now), Event::Response);
    // The same response again finds no handshake in progress.
    assert_eq!(p.receive(&resp, now), Event::StaleResponse);
    // A tampered response to a held initiation does not complete it.
    let init = p.initiation(now + 30 * MS);
    let mut resp = p.resp.handle(&init, &SRC, PORT, now + 30 * MS).unwrap();
    resp[20] ^= 1; // the responder's ephemeral key
    assert_eq!(p.receive(&resp, now), Event::BadResponse);
    assert_eq!(p.receive(&[1, 0, 0, 0], now), Event::Other);
    assert_eq!(p.receive(&init, now), Event::Other);
}

#[test]
fn response_to_an_older_initiation_still_completes() {
    let mut p = Pair::new(false, false);
    let now = 10 * NSEC_PER_SEC;
    let first = p.initiation(now);
    let _second = p.initiation(now);
    let _third = p.initiation(now);
    let resp = p.resp.handle(&first, &SRC, PORT, now).unwrap();
    assert_eq!(p.receive(&resp, now), Event::Response);
    // One that has fallen out of the window of held initiations is stale.
    let old = p.initiation(now);
    for _ in 0..SLOTS {
        p.initiation(now);
    }
    let resp = p.resp.handle(&old, &SRC, PORT, now + 30 * MS).unwrap();
    assert_eq!(p.receive(&resp, now), Event::StaleResponse);
}

#[test]
fn responder_sees_increasing_timestamps() {
    // Many initiations within one wall-clock instant: each one's timestamp
    // is still above the last the responder took (it checks after the
    // flood limit of 50/s per peer, hence the 21 ms steps).
    let mut p = Pair::new(false, false);
    let wall = Duration::from_secs(1_700_000_000);
    for i in 0..5u64 {
        let ts = p.key.next_timestamp(wall);
        let now = NSEC_PER_SEC + i * 21 * MS;
        let init = p.ini.initiation(&p.key.id, &ts, now).unwrap();
        assert!(p.resp.handle(&init, &SRC, PORT, now).is_some(), "{i}");
    }
    let mut k = Key::new(identity());
    let late = Duration::new(5, 999_999_999);
    let a = k.next_timestamp(late);
    let b = k.next_timestamp(late);
    let c = k.next_timestamp(Duration::from_secs(1));
    assert!(a < b && b < c);
    assert_eq!(b, tai64n_exact(Duration::from_secs(6)));
    assert_eq!(c, tai64n_exact(Duration::new(6, 1)));
    // Full nanoseconds, not rounded like the kernel's own timestamps.
    assert_eq!(&tai64n_exact(Duration::new(0, 7))[8..], &7u32.to_be_bytes());
}

#[test]
fn cookie_reply_consumed_then_mac2_valid() {
    let mut p = Pair::new(true, true);
    let now = 10 * NSEC_PER_SEC;
    let init = p.initiation(now);
    let reply = p.resp.handle(&init, &SRC, PORT, now).expect("cookie reply");
    assert_eq!(classify(&reply), Ok(MessageKind::CookieReply));
    assert_eq!(p.resp.completed, 0);
    assert_eq!(p.receive(&reply, now), Event::CookieConsumed);
    // Taken once only: a second reply to the same initiation (as each
    // copy of it gets) is a duplicate.
    assert_eq!(p.receive(&reply, now), Event::CookieDuplicate);
    let init = p.initiation(now + MS);
    let cookie = p.resp.cookie(&SRC, PORT);
    assert_eq!(
        p.resp.checker.validate(&C, &init, Some(&cookie)),
        MacState::ValidMacWithCookie
    );
    // Another source port earns another cookie.
    let other = p.resp.cookie(&SRC, PORT + 1);
    assert_eq!(
        p.resp.checker.validate(&C, &init, Some(&other)),
        MacState::ValidMacButNoCookie
    );
    let resp = p
        .resp
        .handle(&init, &SRC, PORT, now + MS)
        .expect("response");
    assert_eq!(p.receive(&resp, now + MS), Event::Response);
    assert_eq!(p.resp.completed, 1);
}

#[test]
fn cookie_reply_to_an_older_initiation_is_consumed() {
    // The reply is sealed to the mac1 of the initiation it answers, not of
    // the last one sent: each held initiation keeps its own.
    let mut p = Pair::new(true, true);
    let now = 10 * NSEC_PER_SEC;
    let first = p.initiation(now);
    let _second = p.initiation(now);
    let reply = p.resp.handle(&first, &SRC, PORT, now).unwrap();
    assert_eq!(p.receive(&reply, now), Event::CookieConsumed);
    let next = p.initiation(now);
    assert_eq!(p.resp.mac(&next, &SRC, PORT), MacState::ValidMacWithCookie);
}

#[test]
fn forged_cookie_reply_rejected() {
    let mut p = Pair::new(true, true);
    let now = 10 * NSEC_PER_SEC;
    let init = p.initiation(now);
    let mut reply = p.resp.handle(&init, &SRC, PORT, now).unwrap();
    reply[40] ^= 1;
    assert_eq!(p.receive(&reply, now), Event::CookieBad);
    // The genuine reply is still taken after a forged one.
    reply[40] ^= 1;
    assert_eq!(p.receive(&reply, now), Event::CookieConsumed);
    let mut p = Pair::new(true, true);
    let next = p.initiation(now);
    assert_eq!(&next[132..], &[0; 16]);
    // A reply for an index we never used.
    let mut reply = p.resp.handle(&next, &SRC, PORT, now).unwrap();
    reply[4] ^= 0x55;
    assert_eq!(p.receive(&reply, now), Event::CookieBad);
}

#[test]
fn cookie_reply_ignored_without_cookies() {
    let mut p = Pair::new(false, true);
    let now = 10 * NSEC_PER_SEC;
    let init = p.initiation(now);
    let reply = p.resp.handle(&init, &SRC, PORT, now).unwrap();
    assert_eq!(p.receive(&reply, now), Event::CookieIgnored);
    let next = p.initiation(now);
    assert_eq!(&next[132..], &[0; 16]);
    assert_eq!(p.resp.mac(&next, &SRC, PORT), MacState::ValidMacButNoCookie);
    // Under load it only ever gets cookie replies.
    let again = p.resp.handle(&next, &SRC, PORT, now).unwrap();
    assert_eq!(classify(&again), Ok(MessageKind::CookieReply));
}

#[test]
fn report_line_format() {
    let r = Report {
        sent: 1234,
        cookie_replies: 56,
        responses: 78,
        seconds: 2.0,
        ..Report::default()
    };
    assert_eq!(
        r.line(),
        "hsflood sent 1234 cookie_replies 56 responses 78 seconds 2.000 hs_per_s 39.0"
    );
    assert_eq!(Report::default().hs_per_s(), 0.0);
}

/// A loopback responder in a thread: the answers to initiations.
struct Server {
    addr: SocketAddr,
    public: [u8; KEY_LEN],
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Server {
    fn start(peers: &[[u8; KEY_LEN]], under_load: bool) -> Self {
        let id = identity();
        let public = id.public;
        let mut r = Responder::new(id, peers, under_load);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut buf = [0u8; 512];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let IpAddr::V4(ip) = from.ip() else { continue };
                let now = NSEC_PER_SEC + t0.elapsed().as_nanos() as u64;
                if let Some(out) = r.handle(&buf[..n], &ip.octets(), from.port(), now) {
                    let _ = sock.send_to(&out, from);
                }
            }
            r.completed
        });
        Self {
            addr,
            public,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

fn cfg(target: SocketAddr, server_public: [u8; KEY_LEN], cookies: bool) -> Config {
    Config {
        target,
        server_public,
        keys: "unused".into(),
        sources: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        duration: Duration::from_millis(600),
        cookies,
        rate: Some(200),
        replay: 0,
    }
}

fn flood(under_load: bool, cookies: bool) -> (Report, u64) {
    let ids = vec![identity(), identity()];
    let pubs: Vec<_> = ids.iter().map(|i| i.public).collect();
    let server = Server::start(&pubs, under_load);
    let mut n = 0;
    let r = run(&cfg(server.addr, server.public, cookies), ids, |i| n = i).unwrap();
    assert_eq!(n, 2, "max(2 keys, 1 source) initiators");
    assert_eq!(r.initiators, 2);
    let completed = server.finish();
    eprintln!("{}\n{}", r.line(), r.details());
    // At most 200/s (an unoptimised build sends fewer: its X25519 is slow).
    assert!(r.sent >= 3 && r.sent <= 130, "rate-limited to 200/s: {r:?}");
    assert!((0.59..1.0).contains(&r.seconds), "{r:?}");
    assert_eq!(
        r.send_errors + r.recv_errors + r.bad_responses + r.other,
        0,
        "{r:?}"
    );
    (r, completed)
}

#[test]
fn loopback_flood_not_under_load() {
    let (r, completed) = flood(false, false);
    assert_eq!(r.cookie_replies, 0);
    // The responder takes at most 50 initiations/s per peer.
    assert!(
        r.responses >= 1 && r.responses <= completed,
        "{r:?} {completed}"
    );
    assert!(r.responses <= 2 * 50, "{r:?}");
    assert!(r.hs_per_s() > 0.0);
}

#[test]
fn loopback_flood_under_load_without_cookies() {
    let (r, completed) = flood(true, false);
    assert_eq!((r.responses, completed), (0, 0), "{r:?}");
    assert!(r.cookie_replies >= 1 && r.cookie_replies <= r.sent, "{r:?}");
    assert_eq!(r.cookies_consumed, 0);
}

#[test]
fn loopback_flood_under_load_with_cookies() {
    let (r, completed) = flood(true, true);
    assert!(r.cookies_consumed >= 1, "{r:?}");
    assert_eq!(r.cookies_bad, 0, "{r:?}");
    assert!(
        r.responses >= 1 && r.responses <= completed,
        "{r:?} {completed}"
    );
}

#[test]
fn flood_against_nothing_ends_cleanly() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let mut c = cfg(target, identity().public, true);
    c.duration = Duration::from_millis(300);
    c.rate = None;
    let r = run(&c, vec![identity()], |_| {}).unwrap();
    eprintln!("{}\n{}", r.line(), r.details());
    assert_eq!((r.responses, r.cookie_replies), (0, 0));
    assert!(r.sent + r.send_errors > 0);
    assert!(r.line().ends_with("hs_per_s 0.0"));
}

#[test]
fn bind_failure_is_an_error() {
    let mut c = cfg("127.0.0.1:9".parse().unwrap(), identity().public, false);
    c.sources = vec!["192.0.2.1".parse().unwrap()];
    let e = run(&c, vec![identity()], |_| {}).err().unwrap();
    assert!(e.starts_with("bind 192.0.2.1:0: "), "{e}");
    // A low-order responder key makes every initiation fail.
    let mut c = cfg("127.0.0.1:9".parse().unwrap(), [0; 32], false);
    c.duration = Duration::from_millis(50);
    let e = run(&c, vec![identity()], |_| {}).err().unwrap();
    assert!(e.contains("cannot create an initiation"), "{e}");
}

#[test]
fn loopback_flood_with_copies() {
    let ids = vec![identity(), identity()];
    let pubs: Vec<_> = ids.iter().map(|i| i.public).collect();
    let server = Server::start(&pubs, false);
    let mut c = cfg(server.addr, server.public, false);
    c.replay = 3;
    let r = run(&c, ids, |_| {}).unwrap();
    let completed = server.finish();
    eprintln!("{}\n{}", r.line(), r.details());
    let fresh = r.sent - r.replays;
    assert!(
        (3..=130).contains(&fresh),
        "rate-limited to 200 new/s: {r:?}"
    );
    assert_eq!(r.replays, 3 * fresh, "three copies of each: {r:?}");
    assert_eq!(
        r.send_errors + r.recv_errors + r.bad_responses + r.other,
        0,
        "{r:?}"
    );
    // A copy carries a timestamp the responder has seen: only new
    // initiations complete a handshake.
    assert!(completed <= fresh, "{r:?} {completed}");
    assert!(
        r.responses >= 1 && r.responses <= completed,
        "{r:?} {completed}"
    );
    assert!(
        r.details().contains(&format!(" replays {} ", r.replays)),
        "{}",
        r.details()
    );
}
