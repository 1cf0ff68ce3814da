//! Plain data of the gate, decoded from (and encodable into) messages.

use std::net::{IpAddr, SocketAddr};

use crate::consts::*;

/// A WireGuard public key.
pub type Key = [u8; WGRS_GATE_KEY_LEN];

/// A device's gate policy (all three values, as dumped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Seconds; 0 = gate off.
    pub idle_timeout: u32,
    /// Seconds; 0 = no limit.
    pub max_session: u32,
    pub auth_port: u16,
}

/// A `set-policy` request: absent fields keep their kernel value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyUpdate {
    pub idle_timeout: Option<u32>,
    pub max_session: Option<u32>,
    pub auth_port: Option<u16>,
}

impl PolicyUpdate {
    /// Whether nothing would be changed.
    pub fn is_empty(&self) -> bool {
        self.idle_timeout.is_none() && self.max_session.is_none() && self.auth_port.is_none()
    }
}

/// `peer-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Locked,
    Authorized,
}

impl PeerState {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            WGRS_GATE_PEER_STATE_LOCKED => Some(Self::Locked),
            WGRS_GATE_PEER_STATE_AUTHORIZED => Some(Self::Authorized),
            _ => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Locked => WGRS_GATE_PEER_STATE_LOCKED,
            Self::Authorized => WGRS_GATE_PEER_STATE_AUTHORIZED,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Authorized => "authorized",
        }
    }
}

/// `lock-reason`. Values this client does not know are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReason {
    Idle,
    MaxSession,
    Revoked,
    New,
    Unknown(u8),
}

impl LockReason {
    pub fn from_u8(v: u8) -> Self {
        match v {
            WGRS_GATE_LOCK_REASON_IDLE => Self::Idle,
            WGRS_GATE_LOCK_REASON_MAX_SESSION => Self::MaxSession,
            WGRS_GATE_LOCK_REASON_REVOKED => Self::Revoked,
            WGRS_GATE_LOCK_REASON_NEW => Self::New,
            other => Self::Unknown(other),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Idle => WGRS_GATE_LOCK_REASON_IDLE,
            Self::MaxSession => WGRS_GATE_LOCK_REASON_MAX_SESSION,
            Self::Revoked => WGRS_GATE_LOCK_REASON_REVOKED,
            Self::New => WGRS_GATE_LOCK_REASON_NEW,
            Self::Unknown(v) => v,
        }
    }

    /// The spec's name (`max-session`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::MaxSession => "max-session",
            Self::Revoked => "revoked",
            Self::New => "new",
            Self::Unknown(_) => "unknown",
        }
    }
}

/// One peer of a `get` dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub public_key: Key,
    pub exempt: bool,
    pub state: PeerState,
    pub lock_reason: Option<LockReason>,
    pub idle_ms: Option<u64>,
    pub authorized_age_ms: Option<u64>,
    pub session_remaining_ms: Option<u64>,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

impl PeerStatus {
    /// A new, never active, locked peer.
    pub fn new_locked(public_key: Key) -> Self {
        Self {
            public_key,
            exempt: false,
            state: PeerState::Locked,
            lock_reason: Some(LockReason::New),
            idle_ms: None,
            authorized_age_ms: None,
            session_remaining_ms: None,
            rx_dropped: 0,
            tx_dropped: 0,
        }
    }
}

/// A whole `get` dump.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateStatus {
    pub ifindex: u32,
    pub policy: Policy,
    pub enforcing: bool,
    pub events_lost: u64,
    pub peers: Vec<PeerStatus>,
}

impl GateStatus {
    /// The peer with this key.
    pub fn peer(&self, key: &Key) -> Option<&PeerStatus> {
        self.peers.iter().find(|p| &p.public_key == key)
    }
}

/// What the `events` group tells, or that some of it was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateEvent {
    /// `peer-locked`.
    Locked {
        ifindex: u32,
        public_key: Key,
        reason: LockReason,
    },
    /// `peer-knock`.
    Knock {
        ifindex: u32,
        public_key: Key,
        endpoint: Option<SocketAddr>,
        inner_source: Option<IpAddr>,
    },
    /// `peer-authorized`.
    Authorized { ifindex: u32, public_key: Key },
    /// The socket overflowed (`ENOBUFS`): notifications were dropped, the
    /// listener must re-read the state with `get`.
    Lost,
}
