//! An in-memory gate kernel, for tests. It keeps per device a policy and
//! per peer the dumped state, follows the spec's semantics for the five
//! commands, and delivers notifications to every subscriber after a round
//! trip through the real message encoding (so the codec is exercised).

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::codec;
use crate::model::*;
use crate::{Error, EventStream, GateKernel};

#[derive(Debug, Default)]
struct Device {
    policy: Policy,
    events_lost: u64,
    peers: Vec<PeerStatus>,
}

#[derive(Default)]
struct State {
    devices: HashMap<u32, Device>,
    subscribers: Vec<Sender<GateEvent>>,
    /// errno the next `authorize` calls fail with.
    fail_authorize: Option<i32>,
    calls: Vec<String>,
}

/// The fake kernel. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct FakeKernel {
    state: Arc<Mutex<State>>,
}

fn enoent(op: &'static str) -> Error {
    Error::Kernel {
        op,
        errno: libc::ENOENT,
        message: None,
    }
}

fn enodev(op: &'static str) -> Error {
    Error::Kernel {
        op,
        errno: libc::ENODEV,
        message: None,
    }
}

impl FakeKernel {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock already failed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a device with a policy.
    pub fn add_device(&self, ifindex: u32, policy: Policy) {
        self.lock().devices.insert(
            ifindex,
            Device {
                policy,
                ..Device::default()
            },
        );
    }

    /// Adds a peer, locked with reason `new`.
    pub fn add_peer(&self, ifindex: u32, key: Key) {
        if let Some(d) = self.lock().devices.get_mut(&ifindex) {
            d.peers.push(PeerStatus::new_locked(key));
        }
    }

    /// The peer's current state.
    pub fn peer(&self, ifindex: u32, key: &Key) -> Option<PeerStatus> {
        self.lock()
            .devices
            .get(&ifindex)?
            .peers
            .iter()
            .find(|p| &p.public_key == key)
            .cloned()
    }

    /// Every command received, in order (`"authorize 3"` …).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Makes `authorize` fail with `errno` (or succeed again with `None`).
    pub fn fail_authorize(&self, errno: Option<i32>) {
        self.lock().fail_authorize = errno;
    }

    fn emit(st: &mut State, e: GateEvent) {
        // Through the wire format, as a listener would get it.
        let delivered = match codec::encode_event(&e) {
            Some(m) => {
                let bytes = codec::to_bytes(&m);
                match codec::from_bytes(m.cmd, &bytes).and_then(|m| codec::decode_event(&m)) {
                    Ok(Some(ev)) => ev,
                    _ => GateEvent::Lost,
                }
            }
            None => GateEvent::Lost,
        };
        st.subscribers.retain(|s| s.send(delivered.clone()).is_ok());
    }

    /// Locks a peer as the data path would (idle or max-session), with a
    /// `peer-locked` notification unless `silently` (a notification the
    /// listener will never see, as after an overflow).
    pub fn expire(&self, ifindex: u32, key: &Key, reason: LockReason, silently: bool) {
        let mut st = self.lock();
        let Some(d) = st.devices.get_mut(&ifindex) else {
            return;
        };
        let Some(p) = d.peers.iter_mut().find(|p| &p.public_key == key) else {
            return;
        };
        let changed = p.state == PeerState::Authorized;
        p.state = PeerState::Locked;
        p.lock_reason = Some(reason);
        p.authorized_age_ms = None;
        p.session_remaining_ms = None;
        if silently {
            d.events_lost = d.events_lost.saturating_add(1);
            return;
        }
        if changed {
            Self::emit(
                &mut st,
                GateEvent::Locked {
                    ifindex,
                    public_key: *key,
                    reason,
                },
            );
        }
    }

    /// Delivers `Lost` to every subscriber (their socket overflowed).
    pub fn overflow(&self) {
        let mut st = self.lock();
        st.subscribers.retain(|s| s.send(GateEvent::Lost).is_ok());
    }

    /// A knock from a locked peer.
    pub fn knock(&self, ifindex: u32, key: &Key, inner_source: Option<std::net::IpAddr>) {
        let mut st = self.lock();
        Self::emit(
            &mut st,
            GateEvent::Knock {
                ifindex,
                public_key: *key,
                endpoint: None,
                inner_source,
            },
        );
    }
}

impl GateKernel for FakeKernel {
    fn set_policy(&self, ifindex: u32, u: &PolicyUpdate) -> Result<(), Error> {
        let mut st = self.lock();
        st.calls.push(format!("set-policy {ifindex}"));
        let d = st
            .devices
            .get_mut(&ifindex)
            .ok_or_else(|| enodev("set-policy"))?;
        if let Some(v) = u.idle_timeout {
            d.policy.idle_timeout = v;
        }
        if let Some(v) = u.max_session {
            d.policy.max_session = v;
        }
        if let Some(v) = u.auth_port {
            d.policy.auth_port = v;
        }
        Ok(())
    }

    fn peer_set(&self, ifindex: u32, key: &Key, exempt: bool) -> Result<(), Error> {
        let mut st = self.lock();
        st.calls.push(format!("peer-set {ifindex}"));
        let d = st
            .devices
            .get_mut(&ifindex)
            .ok_or_else(|| enodev("peer-set"))?;
        let p = d
            .peers
            .iter_mut()
            .find(|p| &p.public_key == key)
            .ok_or_else(|| enoent("peer-set"))?;
        p.exempt = exempt;
        Ok(())
    }

    fn get(&self, ifindex: u32) -> Result<GateStatus, Error> {
        let mut st = self.lock();
        st.calls.push(format!("get {ifindex}"));
        let d = st.devices.get(&ifindex).ok_or_else(|| enodev("get"))?;
        let s = GateStatus {
            ifindex,
            policy: d.policy,
            enforcing: d.policy.idle_timeout != 0,
            events_lost: d.events_lost,
            peers: d.peers.clone(),
        };
        // Through the wire format too.
        let mut msgs = Vec::new();
        for m in codec::get_replies(&s) {
            msgs.push(codec::from_bytes(m.cmd, &codec::to_bytes(&m))?);
        }
        codec::decode_get(&msgs)
    }

    fn authorize(&self, ifindex: u32, key: &Key) -> Result<(), Error> {
        let mut st = self.lock();
        st.calls.push(format!("authorize {ifindex}"));
        if let Some(errno) = st.fail_authorize {
            return Err(Error::Kernel {
                op: "authorize",
                errno,
                message: None,
            });
        }
        let d = st
            .devices
            .get_mut(&ifindex)
            .ok_or_else(|| enodev("authorize"))?;
        let max_session = d.policy.max_session;
        let p = d
            .peers
            .iter_mut()
            .find(|p| &p.public_key == key)
            .ok_or_else(|| enoent("authorize"))?;
        let changed = p.state != PeerState::Authorized;
        p.state = PeerState::Authorized;
        p.lock_reason = None;
        p.idle_ms = Some(0);
        p.authorized_age_ms = Some(0);
        p.session_remaining_ms = (max_session != 0).then(|| u64::from(max_session) * 1000);
        if changed {
            Self::emit(
                &mut st,
                GateEvent::Authorized {
                    ifindex,
                    public_key: *key,
                },
            );
        }
        Ok(())
    }

    fn revoke(&self, ifindex: u32, key: &Key) -> Result<(), Error> {
        {
            let mut st = self.lock();
            st.calls.push(format!("revoke {ifindex}"));
            let d = st
                .devices
                .get_mut(&ifindex)
                .ok_or_else(|| enodev("revoke"))?;
            if !d.peers.iter().any(|p| &p.public_key == key) {
                return Err(enoent("revoke"));
            }
        }
        self.expire(ifindex, key, LockReason::Revoked, false);
        Ok(())
    }

    fn events(&self) -> Result<Box<dyn EventStream>, Error> {
        let (tx, rx) = channel();
        self.lock().subscribers.push(tx);
        Ok(Box::new(FakeEvents { rx }))
    }
}

struct FakeEvents {
    rx: Receiver<GateEvent>,
}

impl EventStream for FakeEvents {
    fn next_event(&mut self) -> Result<GateEvent, Error> {
        self.rx.recv().map_err(|_| Error::Io {
            context: "fake kernel".into(),
            error: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        })
    }
}
