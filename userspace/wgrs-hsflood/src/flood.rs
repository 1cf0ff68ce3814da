// SPDX-License-Identifier: GPL-2.0

//! The initiators (protocol state, no I/O) and the sending loop.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wgrs_proto::proto::constants::{KEY_LEN, NSEC_PER_SEC, TIMESTAMP_LEN};
use wgrs_proto::proto::cookie::PeerCookie;
use wgrs_proto::proto::messages::{classify, CookieReply, MessageKind, Response, INITIATION_LEN};
use wgrs_proto::proto::noise::{Handshake, StaticIdentity};
use wgrs_proto::rustcrypto::RustCrypto;

use crate::args::Config;

const C: RustCrypto = RustCrypto;

/// Initiations of one initiator whose response (or cookie reply) is still
/// accepted: a response to an older one finds no state and counts as stale.
pub const SLOTS: usize = 64;
/// Low bits of a sender index: the initiation's sequence number (the slot
/// is that modulo [`SLOTS`]); the top 8 bits tell initiators apart.
const SEQ_MASK: u32 = 0x00ff_ffff;
/// After the flood, responses are still collected this long.
pub const DRAIN: Duration = Duration::from_millis(250);
/// TAI64 label of the Unix epoch.
const TAI64_EPOCH: u64 = 0x4000_0000_0000_000a;

/// TAI64N of a wall-clock time since the Unix epoch, with full nanosecond
/// resolution (no rounding, unlike [`wgrs_proto::proto::noise::tai64n`]:
/// an attacker sends timestamps as fine as it likes).
pub fn tai64n_exact(since_epoch: Duration) -> [u8; TIMESTAMP_LEN] {
    let mut out = [0u8; TIMESTAMP_LEN];
    let secs = TAI64_EPOCH.wrapping_add(since_epoch.as_secs());
    out[..8].copy_from_slice(&secs.to_be_bytes());
    out[8..].copy_from_slice(&since_epoch.subsec_nanos().to_be_bytes());
    out
}

/// One nanosecond after TAI64N timestamp `t`.
fn tai64n_next(t: &[u8; TIMESTAMP_LEN]) -> [u8; TIMESTAMP_LEN] {
    let mut secs = [0u8; 8];
    secs.copy_from_slice(&t[..8]);
    let mut nanos = [0u8; 4];
    nanos.copy_from_slice(&t[8..]);
    let mut s = u64::from_be_bytes(secs);
    let mut n = u32::from_be_bytes(nanos).saturating_add(1);
    if u64::from(n) >= NSEC_PER_SEC {
        n = 0;
        s = s.wrapping_add(1);
    }
    let mut out = [0u8; TIMESTAMP_LEN];
    out[..8].copy_from_slice(&s.to_be_bytes());
    out[8..].copy_from_slice(&n.to_be_bytes());
    out
}

/// The wall clock since the Unix epoch (zero if the clock is before it).
pub fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// An initiator key: its identity and the last timestamp sent with it (all
/// initiators using the key share it: the responder keeps one per peer).
pub struct Key {
    /// The static identity.
    pub id: StaticIdentity,
    last_timestamp: [u8; TIMESTAMP_LEN],
}

impl Key {
    /// A key that has sent nothing yet.
    pub fn new(id: StaticIdentity) -> Self {
        Self {
            id,
            last_timestamp: [0; TIMESTAMP_LEN],
        }
    }

    /// The timestamp for the next initiation at wall-clock time `wall`:
    /// that time, or 1 ns after the last one if it would not be greater.
    pub fn next_timestamp(&mut self, wall: Duration) -> [u8; TIMESTAMP_LEN] {
        let mut t = tai64n_exact(wall);
        if t <= self.last_timestamp {
            t = tai64n_next(&self.last_timestamp);
        }
        self.last_timestamp = t;
        t
    }
}

struct Slot {
    index: u32,
    hs: Handshake,
    /// The cookie state as it was when this initiation was macced (only
    /// with cookies): a cookie reply is sealed to that initiation's mac1.
    cookie: Option<PeerCookie>,
}

/// What a received packet was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A response that completed the handshake.
    Response,
    /// A response to no initiation still held (too old, or a duplicate).
    StaleResponse,
    /// A response that did not complete the handshake.
    BadResponse,
    /// A cookie reply taken: later initiations carry mac2.
    CookieConsumed,
    /// A cookie reply ignored (no `--cookies`).
    CookieIgnored,
    /// A cookie reply that could not be taken (unknown index, or it did
    /// not authenticate).
    CookieBad,
    /// A further cookie reply to an initiation whose first one was taken
    /// (each copy of an initiation gets its own).
    CookieDuplicate,
    /// Not a handshake response or cookie reply.
    Other,
}

/// One initiator: a key, a source (its socket lives elsewhere) and its
/// handshake and cookie state.
pub struct Initiator {
    /// Which [`Key`] it uses.
    pub key: usize,
    template: Handshake,
    cookie: PeerCookie,
    slots: Vec<Option<Slot>>,
    seq: u32,
    tag: u32,
    cookies: bool,
}

impl Initiator {
    /// Initiator number `n` with key number `key` (`id`) towards the
    /// responder `server_public`; `cookies`: take cookie replies.
    pub fn new(
        n: usize,
        key: usize,
        id: &StaticIdentity,
        server_public: &[u8; KEY_LEN],
        cookies: bool,
    ) -> Self {
        Self {
            key,
            // Static-static DH done once here; each initiation clones it.
            template: Handshake::new(&C, id, server_public, &[0; KEY_LEN]),
            cookie: PeerCookie::new(&C, server_public),
            slots: (0..SLOTS).map(|_| None).collect(),
            seq: 0,
            tag: ((n & 0xff) as u32) << 24,
            cookies,
        }
    }

    /// A new initiation, macced (mac2 when a cookie is held), fresh
    /// ephemeral; `timestamp` from [`Key::next_timestamp`], `now`
    /// monotonic nanoseconds.
    pub fn initiation(
        &mut self,
        id: &StaticIdentity,
        timestamp: &[u8; TIMESTAMP_LEN],
        now: u64,
    ) -> Result<[u8; INITIATION_LEN], String> {
        let seq = self.seq & SEQ_MASK;
        self.seq = self.seq.wrapping_add(1);
        let index = self.tag | seq;
        let mut hs = self.template.clone();
        let msg = hs
            .create_initiation(&C, id, index, timestamp)
            .map_err(|e| format!("cannot create an initiation: {e:?} (bad --server-public?)"))?;
        let mut bytes = msg.to_bytes();
        self.cookie
            .add_macs(&C, &mut bytes, now)
            .map_err(|e| format!("cannot mac an initiation: {e:?}"))?;
        let slot = Slot {
            index,
            hs,
            cookie: self.cookies.then(|| self.cookie.clone()),
        };
        if let Some(s) = self.slots.get_mut(seq as usize % SLOTS) {
            *s = Some(slot);
        }
        Ok(bytes)
    }

    fn slot(&mut self, index: u32) -> Option<&mut Option<Slot>> {
        let s = self.slots.get_mut((index & SEQ_MASK) as usize % SLOTS)?;
        if s.as_ref().is_some_and(|slot| slot.index == index) {
            Some(s)
        } else {
            None
        }
    }

    /// Handles a packet received on this initiator's socket.
    pub fn receive(&mut self, id: &StaticIdentity, pkt: &[u8], now: u64) -> Event {
        match classify(pkt) {
            Ok(MessageKind::Response) => {
                let Ok(msg) = Response::parse(pkt) else {
                    return Event::Other;
                };
                let Some(entry) = self.slot(msg.receiver) else {
                    return Event::StaleResponse;
                };
                let Some(slot) = entry.as_mut() else {
                    return Event::StaleResponse;
                };
                if slot.hs.consume_response(&C, id, &msg).is_ok() {
                    *entry = None;
                    Event::Response
                } else {
                    Event::BadResponse
                }
            }
            Ok(MessageKind::CookieReply) => {
                if !self.cookies {
                    return Event::CookieIgnored;
                }
                let Ok(reply) = CookieReply::parse(pkt) else {
                    return Event::Other;
                };
                let Some(Some(slot)) = self.slot(reply.receiver) else {
                    return Event::CookieBad;
                };
                // Taken only by a reply that authenticates: a forged one
                // does not spend the initiation's chance.
                let Some(mut cookie) = slot.cookie.clone() else {
                    return Event::CookieDuplicate;
                };
                if cookie.consume_reply(&C, &reply, now).is_ok() {
                    slot.cookie = None;
                    self.cookie = cookie;
                    Event::CookieConsumed
                } else {
                    Event::CookieBad
                }
            }
            _ => Event::Other,
        }
    }
}

/// What a flood did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Number of initiators.
    pub initiators: usize,
    /// Initiations handed to the kernel (new ones and copies).
    pub sent: u64,
    /// Of those, copies of a new initiation (`--replay`).
    pub replays: u64,
    /// Initiations the kernel refused to send (e.g. ICMP errors reported).
    pub send_errors: u64,
    /// Receive errors (e.g. ICMP port unreachable on the connected socket).
    pub recv_errors: u64,
    /// Cookie replies received (taken or not).
    pub cookie_replies: u64,
    /// Of those, taken (with `--cookies`).
    pub cookies_consumed: u64,
    /// Of those, not usable.
    pub cookies_bad: u64,
    /// Of those, further replies to an initiation already answered so.
    pub cookies_duplicate: u64,
    /// Responses that completed a handshake.
    pub responses: u64,
    /// Responses to initiations no longer held.
    pub stale: u64,
    /// Responses that did not complete the handshake.
    pub bad_responses: u64,
    /// Anything else received.
    pub other: u64,
    /// Flood duration (from the first initiation to the end of sending), seconds.
    pub seconds: f64,
}

impl Report {
    /// Handshakes completed per second of flood.
    pub fn hs_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.responses as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The stdout line.
    pub fn line(&self) -> String {
        format!(
            "hsflood sent {} cookie_replies {} responses {} seconds {:.3} hs_per_s {:.1}",
            self.sent,
            self.cookie_replies,
            self.responses,
            self.seconds,
            self.hs_per_s()
        )
    }

    /// The stderr line with the rest.
    pub fn details(&self) -> String {
        format!(
            "wgrs-hsflood: initiators {} sent_per_s {:.1} replays {} send_errors {} recv_errors {} \
             cookies_consumed {} cookies_bad {} cookies_duplicate {} stale_responses {} \
             bad_responses {} other {}",
            self.initiators,
            if self.seconds > 0.0 {
                self.sent as f64 / self.seconds
            } else {
                0.0
            },
            self.replays,
            self.send_errors,
            self.recv_errors,
            self.cookies_consumed,
            self.cookies_bad,
            self.cookies_duplicate,
            self.stale,
            self.bad_responses,
            self.other
        )
    }

    fn count(&mut self, e: Event) {
        match e {
            Event::Response => self.responses += 1,
            Event::StaleResponse => self.stale += 1,
            Event::BadResponse => self.bad_responses += 1,
            Event::CookieConsumed => {
                self.cookie_replies += 1;
                self.cookies_consumed += 1;
            }
            Event::CookieIgnored => self.cookie_replies += 1,
            Event::CookieBad => {
                self.cookie_replies += 1;
                self.cookies_bad += 1;
            }
            Event::CookieDuplicate => {
                self.cookie_replies += 1;
                self.cookies_duplicate += 1;
            }
            Event::Other => self.other += 1,
        }
    }
}

/// Monotonic nanoseconds for the protocol state (cookie ages), from 1 s on.
struct Clock(Instant);

impl Clock {
    fn now(&self) -> u64 {
        let ns = u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        ns.saturating_add(NSEC_PER_SEC)
    }
}

struct Flood {
    keys: Vec<Key>,
    /// Copies to send after each new initiation.
    replay: u32,
    initiators: Vec<(Initiator, UdpSocket)>,
    report: Report,
    clock: Clock,
}

impl Flood {
    /// Drains every socket.
    fn receive_all(&mut self) {
        let mut buf = [0u8; 256];
        let now = self.clock.now();
        for (ini, sock) in &mut self.initiators {
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let Some(id) = self.keys.get(ini.key).map(|k| &k.id) else {
                            break;
                        };
                        let pkt = buf.get(..n).unwrap_or(&[]);
                        self.report.count(ini.receive(id, pkt, now));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // ICMP errors and the like: reported once, next socket.
                    Err(_) => {
                        self.report.recv_errors += 1;
                        break;
                    }
                }
            }
        }
    }

    /// One initiation from initiator `i`.
    fn send(&mut self, i: usize) -> Result<(), String> {
        let now = self.clock.now();
        let Some((ini, sock)) = self.initiators.get_mut(i) else {
            return Ok(());
        };
        let Some(key) = self.keys.get_mut(ini.key) else {
            return Ok(());
        };
        let ts = key.next_timestamp(wall_clock());
        let pkt = ini.initiation(&key.id, &ts, now)?;
        for copy in 0..=self.replay {
            match sock.send(&pkt) {
                Ok(_) => {
                    self.report.sent += 1;
                    if copy > 0 {
                        self.report.replays += 1;
                    }
                }
                Err(_) => self.report.send_errors += 1,
            }
        }
        Ok(())
    }
}

/// Binds one socket per initiator and builds their state: initiator `i`
/// has key `i % keys` and source `i % sources`.
fn setup(cfg: &Config, ids: Vec<StaticIdentity>) -> Result<Flood, String> {
    if ids.is_empty() || cfg.sources.is_empty() {
        return Err("no keys or no sources".into());
    }
    let n = ids.len().max(cfg.sources.len());
    let keys: Vec<Key> = ids.into_iter().map(Key::new).collect();
    let mut initiators = Vec::with_capacity(n);
    for i in 0..n {
        let k = i % keys.len();
        let src = cfg.sources.get(i % cfg.sources.len()).copied();
        let (Some(key), Some(src)) = (keys.get(k), src) else {
            return Err("internal: initiator out of range".into());
        };
        let bind = SocketAddr::new(src, 0);
        let sock = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
        sock.connect(cfg.target)
            .map_err(|e| format!("connect {bind} to {}: {e}", cfg.target))?;
        sock.set_nonblocking(true)
            .map_err(|e| format!("non-blocking socket {bind}: {e}"))?;
        let ini = Initiator::new(i, k, &key.id, &cfg.server_public, cfg.cookies);
        initiators.push((ini, sock));
    }
    Ok(Flood {
        keys,
        replay: cfg.replay,
        report: Report {
            initiators: n,
            ..Report::default()
        },
        initiators,
        clock: Clock(Instant::now()),
    })
}

/// Floods as `cfg` says with the initiator identities `ids`; `started` is
/// called once the sockets are ready, right before the first initiation.
pub fn run(
    cfg: &Config,
    ids: Vec<StaticIdentity>,
    started: impl FnOnce(usize),
) -> Result<Report, String> {
    let mut f = setup(cfg, ids)?;
    let n = f.initiators.len();
    started(n);
    let start = Instant::now();
    let end = start + cfg.duration;
    let mut next = 0usize;
    let mut attempts: u64 = 0;
    let stop = loop {
        let now = Instant::now();
        if now >= end {
            break now;
        }
        if let Some(rate) = cfg.rate {
            let due = rate as f64 * now.duration_since(start).as_secs_f64();
            if attempts as f64 >= due {
                f.receive_all();
                let wait = Duration::from_secs_f64((attempts as f64 + 1.0 - due) / rate as f64);
                std::thread::sleep(wait.min(Duration::from_millis(1)).min(end - now));
                continue;
            }
        }
        f.send(next)?;
        attempts += 1;
        next += 1;
        if next == n {
            next = 0;
        }
        // Drain the sockets once per round of initiators, or every 16
        // initiations, or after each one when rate-limited.
        if next == 0 || attempts.is_multiple_of(16) || cfg.rate.is_some() {
            f.receive_all();
        }
    };
    f.report.seconds = stop.duration_since(start).as_secs_f64();
    let drain_end = Instant::now() + DRAIN;
    while Instant::now() < drain_end {
        f.receive_all();
        std::thread::sleep(Duration::from_millis(2));
    }
    f.receive_all();
    Ok(f.report)
}
