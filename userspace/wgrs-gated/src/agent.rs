//! The agent's core, without I/O of its own: it talks to the kernel through
//! [`GateKernel`], finds peers through [`PeerMap`], keeps state in the
//! [`Store`] and writes the [`Audit`] log. The HTTP layer and the event
//! thread call into it.
//!
//! Invariants:
//! - Nothing here unlocks a peer except a login whose step has been
//!   committed (and the administrator's `wgrs gate authorize`, which goes to
//!   the kernel directly). Start-up and re-syncs only read the kernel's state
//!   (and re-apply exemptions recorded by `wgrs gate exempt`).
//! - After start and after every lost notification the view is rebuilt from
//!   the kernel's `get`, so a lock is never forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use serde_json::{json, Value};
use wgrs_gate_netlink::{
    GateEvent, GateKernel, Key, LockReason, PeerState, PeerStatus, PolicyUpdate,
};
use wgrs_gate_state::{Audit, DeviceConfig, HttpConfig, LoginOutcome, RateConfig, Store};

use crate::keys::to_base64;
use crate::peers::{longest_prefix_match, PeerMap};

/// Unix seconds now (injectable for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

/// What the agent last knew of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerView {
    pub state: PeerState,
    pub reason: Option<LockReason>,
    pub exempt: bool,
}

/// One gated device.
pub struct DeviceCtx {
    pub cfg: DeviceConfig,
    ifindex: AtomicU32,
    pub store: Arc<Store>,
    view: Mutex<HashMap<Key, PeerView>>,
}

impl DeviceCtx {
    pub fn new(cfg: DeviceConfig, ifindex: u32, store: Arc<Store>) -> Self {
        Self {
            cfg,
            ifindex: AtomicU32::new(ifindex),
            store,
            view: Mutex::new(HashMap::new()),
        }
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex.load(Ordering::SeqCst)
    }

    fn view(&self) -> MutexGuard<'_, HashMap<Key, PeerView>> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The agent's view of a peer.
    pub fn peer_view(&self, key: &Key) -> Option<PeerView> {
        self.view().get(key).copied()
    }
}

/// Resolves an interface name to its index.
pub type Resolver = fn(&str) -> Result<u32, wgrs_gate_netlink::Error>;

/// The agent.
pub struct Agent {
    pub kernel: Arc<dyn GateKernel>,
    pub peers: Arc<dyn PeerMap>,
    pub devices: Vec<DeviceCtx>,
    pub rate: RateConfig,
    pub http: HttpConfig,
    pub audit: Audit,
    pub clock: Clock,
    /// Re-resolves ifindexes on re-sync (a re-created device); `None` in
    /// tests.
    pub resolver: Option<Resolver>,
}

fn reason_str(r: Option<LockReason>) -> Value {
    r.map_or(Value::Null, |r| Value::from(r.as_str()))
}

impl Agent {
    /// The device with this ifindex.
    pub fn device_by_ifindex(&self, ifindex: u32) -> Option<&DeviceCtx> {
        self.devices.iter().find(|d| d.ifindex() == ifindex)
    }

    fn log(&self, event: &str, dev: &DeviceCtx, key: Option<&Key>, extra: &[(&str, Value)]) {
        let mut f: Vec<(&str, Value)> = vec![("device", Value::from(dev.cfg.name.as_str()))];
        if let Some(k) = key {
            f.push(("peer", Value::from(to_base64(k))));
        }
        f.extend(extra.iter().cloned());
        self.audit.log(event, &f);
    }

    /// Start-up: push the configured policy, re-apply recorded exemptions,
    /// read the state. Never unlocks anyone.
    pub fn startup(&self) -> anyhow::Result<()> {
        for dev in &self.devices {
            let update = PolicyUpdate {
                idle_timeout: dev.cfg.idle_timeout,
                max_session: dev.cfg.max_session,
                auth_port: Some(dev.cfg.auth_port),
            };
            self.kernel
                .set_policy(dev.ifindex(), &update)
                .with_context(|| format!("{}: set the gate policy", dev.cfg.name))?;
            self.log(
                "policy",
                dev,
                None,
                &[
                    ("auth_port", json!(dev.cfg.auth_port)),
                    ("idle_timeout", json!(dev.cfg.idle_timeout)),
                    ("max_session", json!(dev.cfg.max_session)),
                ],
            );
            self.resync(dev, "start")?;
            self.restore_exemptions(dev)?;
        }
        Ok(())
    }

    fn restore_exemptions(&self, dev: &DeviceCtx) -> anyhow::Result<()> {
        let records = dev.store.list(Some(&dev.cfg.name))?;
        for r in records.iter().filter(|r| r.exempt) {
            let Some(v) = dev.peer_view(&r.public_key) else {
                continue;
            };
            if !v.exempt {
                match self.kernel.peer_set(dev.ifindex(), &r.public_key, true) {
                    Ok(()) => {
                        self.log(
                            "exempt",
                            dev,
                            Some(&r.public_key),
                            &[("by", json!("restore"))],
                        );
                        if let Some(p) = dev.view().get_mut(&r.public_key) {
                            p.exempt = true;
                        }
                    }
                    Err(e) => self.log(
                        "error",
                        dev,
                        Some(&r.public_key),
                        &[
                            ("what", json!("restore exemption")),
                            ("error", json!(e.to_string())),
                        ],
                    ),
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the view of `dev` from the kernel's `get`, logging every
    /// change the notifications did not tell.
    pub fn resync(&self, dev: &DeviceCtx, why: &str) -> anyhow::Result<()> {
        if let Some(resolve) = self.resolver {
            if let Ok(i) = resolve(&dev.cfg.name) {
                dev.ifindex.store(i, Ordering::SeqCst);
            }
        }
        let status = self
            .kernel
            .get(dev.ifindex())
            .with_context(|| format!("{}: read the gate state", dev.cfg.name))?;
        let mut changes = Vec::new();
        {
            let mut view = dev.view();
            let old = std::mem::take(&mut *view);
            for p in &status.peers {
                let now = PeerView {
                    state: p.state,
                    reason: p.lock_reason,
                    exempt: p.exempt,
                };
                let before = old.get(&p.public_key).copied();
                if before.map(|b| b.state) != Some(now.state) {
                    changes.push((p.public_key, before.is_some(), now));
                }
                view.insert(p.public_key, now);
            }
        }
        let locked = status
            .peers
            .iter()
            .filter(|p| p.state == PeerState::Locked)
            .count();
        self.log(
            "sync",
            dev,
            None,
            &[
                ("why", json!(why)),
                ("enforcing", json!(status.enforcing)),
                ("peers", json!(status.peers.len())),
                ("locked", json!(locked)),
                ("events_lost", json!(status.events_lost)),
            ],
        );
        for (key, known, v) in changes {
            // At start every peer is new to the view: report the locks, so
            // the log says who is locked after a restart.
            match v.state {
                PeerState::Locked => self.log(
                    "locked",
                    dev,
                    Some(&key),
                    &[("reason", reason_str(v.reason)), ("seen", json!(why))],
                ),
                PeerState::Authorized if known || why != "start" => {
                    self.log("authorized", dev, Some(&key), &[("seen", json!(why))])
                }
                PeerState::Authorized => {}
            }
        }
        Ok(())
    }

    /// Handles one notification.
    pub fn handle_event(&self, ev: &GateEvent) {
        match ev {
            GateEvent::Lost => {
                self.audit.log("events_lost", &[]);
                for dev in &self.devices {
                    if let Err(e) = self.resync(dev, "events lost") {
                        self.log("error", dev, None, &[("error", json!(format!("{e:#}")))]);
                    }
                }
            }
            GateEvent::Locked {
                ifindex,
                public_key,
                reason,
            } => {
                let Some(dev) = self.device_by_ifindex(*ifindex) else {
                    return;
                };
                {
                    let mut view = dev.view();
                    let e = view.entry(*public_key).or_insert(PeerView {
                        state: PeerState::Locked,
                        reason: None,
                        exempt: false,
                    });
                    e.state = PeerState::Locked;
                    e.reason = Some(*reason);
                }
                self.log(
                    "locked",
                    dev,
                    Some(public_key),
                    &[("reason", json!(reason.as_str()))],
                );
            }
            GateEvent::Authorized {
                ifindex,
                public_key,
            } => {
                let Some(dev) = self.device_by_ifindex(*ifindex) else {
                    return;
                };
                {
                    let mut view = dev.view();
                    let e = view.entry(*public_key).or_insert(PeerView {
                        state: PeerState::Authorized,
                        reason: None,
                        exempt: false,
                    });
                    e.state = PeerState::Authorized;
                    e.reason = None;
                }
                self.log("authorized", dev, Some(public_key), &[]);
            }
            GateEvent::Knock {
                ifindex,
                public_key,
                endpoint,
                inner_source,
            } => {
                let Some(dev) = self.device_by_ifindex(*ifindex) else {
                    return;
                };
                self.log(
                    "knock",
                    dev,
                    Some(public_key),
                    &[
                        ("endpoint", json!(endpoint.map(|e| e.to_string()))),
                        ("inner_source", json!(inner_source.map(|e| e.to_string()))),
                    ],
                );
            }
        }
    }

    /// The peer that `source` belongs to on `dev`.
    pub fn peer_of(&self, dev: &DeviceCtx, source: IpAddr) -> anyhow::Result<Option<Key>> {
        let map = self.peers.allowed_ips(&dev.cfg.name)?;
        Ok(longest_prefix_match(&map, source))
    }

    /// Logs an attempt from a source that maps to no peer.
    pub fn unknown_source(&self, dev: &DeviceCtx, source: IpAddr, what: &str) {
        self.log(
            "login_failed",
            dev,
            None,
            &[
                ("reason", json!("unknown_peer")),
                ("source", json!(source.to_string())),
                ("request", json!(what)),
            ],
        );
    }

    /// One login attempt (blocking: SQLite and netlink).
    pub fn login(
        &self,
        dev: &DeviceCtx,
        key: &Key,
        code: &str,
        source: IpAddr,
    ) -> anyhow::Result<LoginOutcome> {
        let ifindex = dev.ifindex();
        let out = dev.store.login(
            &dev.cfg.name,
            key,
            code.trim(),
            (self.clock)(),
            &self.rate,
            || self.kernel.authorize(ifindex, key),
        )?;
        let src = ("source", json!(source.to_string()));
        match &out {
            LoginOutcome::Authorized { .. } => self.log("login_ok", dev, Some(key), &[src]),
            LoginOutcome::KernelRefused { reason, .. } => {
                self.log("login_ok", dev, Some(key), std::slice::from_ref(&src));
                self.log(
                    "authorize_failed",
                    dev,
                    Some(key),
                    &[src, ("error", json!(reason))],
                );
            }
            LoginOutcome::WrongCode => self.log(
                "login_failed",
                dev,
                Some(key),
                &[("reason", json!("wrong_code")), src],
            ),
            LoginOutcome::Replay => self.log(
                "login_failed",
                dev,
                Some(key),
                &[("reason", json!("replay")), src],
            ),
            LoginOutcome::RateLimited { retry_after } => self.log(
                "login_failed",
                dev,
                Some(key),
                &[
                    ("reason", json!("rate_limited")),
                    ("retry_after", json!(retry_after)),
                    src,
                ],
            ),
            LoginOutcome::NotEnrolled => self.log(
                "login_failed",
                dev,
                Some(key),
                &[("reason", json!("not_enrolled")), src],
            ),
        }
        Ok(out)
    }

    /// The user locks their own peer (`POST /logout`).
    pub fn logout(&self, dev: &DeviceCtx, key: &Key, source: IpAddr) -> anyhow::Result<()> {
        self.kernel
            .revoke(dev.ifindex(), key)
            .with_context(|| format!("{}: revoke", dev.cfg.name))?;
        self.log(
            "revoked",
            dev,
            Some(key),
            &[("by", json!("user")), ("source", json!(source.to_string()))],
        );
        Ok(())
    }

    /// The kernel's state of one peer, and whether it has a confirmed
    /// secret.
    pub fn status(&self, dev: &DeviceCtx, key: &Key) -> anyhow::Result<(Option<PeerStatus>, bool)> {
        let st = self
            .kernel
            .get(dev.ifindex())
            .with_context(|| format!("{}: read the gate state", dev.cfg.name))?;
        let enrolled = dev
            .store
            .list(Some(&dev.cfg.name))?
            .iter()
            .any(|r| &r.public_key == key && r.confirmed);
        Ok((st.peer(key).cloned(), enrolled))
    }

    /// Prints the audit records the CLI queued in the state databases.
    pub fn drain_audit(&self) {
        let mut seen: Vec<&std::path::Path> = Vec::new();
        for dev in &self.devices {
            let p = dev.store.path();
            if seen.contains(&p) {
                continue;
            }
            seen.push(p);
            match dev.store.drain_audit() {
                Ok(lines) => lines.into_iter().for_each(|l| self.audit.write_line(l)),
                Err(e) => self.log("error", dev, None, &[("error", json!(e.to_string()))]),
            }
        }
    }
}

/// Reads notifications on a thread of its own and hands them to `tx`.
/// When the stream fails it re-subscribes and reports [`GateEvent::Lost`]
/// so the agent re-reads the state.
pub fn spawn_event_thread(
    kernel: Arc<dyn GateKernel>,
    mut stream: Box<dyn wgrs_gate_netlink::EventStream>,
    tx: tokio::sync::mpsc::Sender<GateEvent>,
    audit: Audit,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || loop {
        match stream.next_event() {
            Ok(ev) => {
                if tx.blocking_send(ev).is_err() {
                    return;
                }
            }
            Err(e) => {
                audit.log(
                    "error",
                    &[("what", json!("events")), ("error", json!(e.to_string()))],
                );
                std::thread::sleep(std::time::Duration::from_secs(1));
                match kernel.events() {
                    Ok(s) => {
                        stream = s;
                        if tx.blocking_send(GateEvent::Lost).is_err() {
                            return;
                        }
                    }
                    Err(e) => audit.log(
                        "error",
                        &[
                            ("what", json!("resubscribe")),
                            ("error", json!(e.to_string())),
                        ],
                    ),
                }
            }
        }
    })
}
