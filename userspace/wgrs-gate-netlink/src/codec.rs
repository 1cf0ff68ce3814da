//! Building requests and decoding replies and notifications, with no I/O:
//! every function maps between [`GateMessage`] and the plain data of
//! [`crate::model`]. The `encode_*` functions for replies and
//! notifications serve the in-memory fake kernel and the tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{Emitable, ParseableParametrized};
use netlink_packet_generic::GenlHeader;

use crate::consts::*;
use crate::message::{DeviceAttr, GateMessage, PeerAttr};
use crate::model::*;
use crate::Error;

fn msg(cmd: u8, attrs: Vec<DeviceAttr>) -> GateMessage {
    GateMessage { cmd, attrs }
}

/// `set-policy`.
pub fn set_policy(ifindex: u32, u: &PolicyUpdate) -> GateMessage {
    let mut a = vec![DeviceAttr::Ifindex(ifindex)];
    if let Some(v) = u.idle_timeout {
        a.push(DeviceAttr::IdleTimeout(v));
    }
    if let Some(v) = u.max_session {
        a.push(DeviceAttr::MaxSession(v));
    }
    if let Some(v) = u.auth_port {
        a.push(DeviceAttr::AuthPort(v));
    }
    msg(WGRS_GATE_CMD_SET_POLICY, a)
}

/// `peer-set`.
pub fn peer_set(ifindex: u32, key: &Key, exempt: bool) -> GateMessage {
    msg(
        WGRS_GATE_CMD_PEER_SET,
        vec![
            DeviceAttr::Ifindex(ifindex),
            DeviceAttr::Peer(vec![
                PeerAttr::PublicKey(*key),
                PeerAttr::Exempt(u8::from(exempt)),
            ]),
        ],
    )
}

/// `get` dump request.
pub fn get(ifindex: u32) -> GateMessage {
    msg(WGRS_GATE_CMD_GET, vec![DeviceAttr::Ifindex(ifindex)])
}

fn peer_cmd(cmd: u8, ifindex: u32, key: &Key) -> GateMessage {
    msg(
        cmd,
        vec![
            DeviceAttr::Ifindex(ifindex),
            DeviceAttr::Peer(vec![PeerAttr::PublicKey(*key)]),
        ],
    )
}

/// `authorize`.
pub fn authorize(ifindex: u32, key: &Key) -> GateMessage {
    peer_cmd(WGRS_GATE_CMD_AUTHORIZE, ifindex, key)
}

/// `revoke`.
pub fn revoke(ifindex: u32, key: &Key) -> GateMessage {
    peer_cmd(WGRS_GATE_CMD_REVOKE, ifindex, key)
}

/// The reply messages of a `get` dump, as the kernel sends them: the device
/// first, then one message per peer.
pub fn get_replies(s: &GateStatus) -> Vec<GateMessage> {
    let mut out = vec![msg(
        WGRS_GATE_CMD_GET,
        vec![
            DeviceAttr::Ifindex(s.ifindex),
            DeviceAttr::IdleTimeout(s.policy.idle_timeout),
            DeviceAttr::MaxSession(s.policy.max_session),
            DeviceAttr::AuthPort(s.policy.auth_port),
            DeviceAttr::Enforcing(u8::from(s.enforcing)),
            DeviceAttr::EventsLost(s.events_lost),
        ],
    )];
    for p in &s.peers {
        let mut a = vec![
            PeerAttr::PublicKey(p.public_key),
            PeerAttr::Exempt(u8::from(p.exempt)),
            PeerAttr::State(p.state.to_u8()),
        ];
        if let Some(r) = p.lock_reason {
            a.push(PeerAttr::LockReason(r.to_u8()));
        }
        if let Some(v) = p.idle_ms {
            a.push(PeerAttr::IdleMs(v));
        }
        if let Some(v) = p.authorized_age_ms {
            a.push(PeerAttr::AuthorizedAgeMs(v));
        }
        if let Some(v) = p.session_remaining_ms {
            a.push(PeerAttr::SessionRemainingMs(v));
        }
        a.push(PeerAttr::RxDropped(p.rx_dropped));
        a.push(PeerAttr::TxDropped(p.tx_dropped));
        out.push(msg(
            WGRS_GATE_CMD_GET,
            vec![DeviceAttr::Ifindex(s.ifindex), DeviceAttr::Peer(a)],
        ));
    }
    out
}

fn decode_peer(attrs: &[PeerAttr]) -> Result<PeerStatus, Error> {
    let mut key = None;
    let mut p = PeerStatus::new_locked([0; WGRS_GATE_KEY_LEN]);
    p.lock_reason = None;
    let mut state = None;
    for a in attrs {
        match a {
            PeerAttr::PublicKey(k) => key = Some(*k),
            PeerAttr::Exempt(v) => p.exempt = *v != 0,
            PeerAttr::State(v) => {
                state = Some(
                    PeerState::from_u8(*v)
                        .ok_or_else(|| Error::Decode(format!("unknown peer state {v}")))?,
                )
            }
            PeerAttr::LockReason(v) => p.lock_reason = Some(LockReason::from_u8(*v)),
            PeerAttr::IdleMs(v) => p.idle_ms = Some(*v),
            PeerAttr::AuthorizedAgeMs(v) => p.authorized_age_ms = Some(*v),
            PeerAttr::SessionRemainingMs(v) => p.session_remaining_ms = Some(*v),
            PeerAttr::RxDropped(v) => p.rx_dropped = *v,
            PeerAttr::TxDropped(v) => p.tx_dropped = *v,
            _ => {}
        }
    }
    p.public_key = key.ok_or_else(|| Error::Decode("peer without public-key".into()))?;
    // Fail closed: a peer whose state is missing is taken as locked.
    p.state = state.unwrap_or(PeerState::Locked);
    Ok(p)
}

/// Folds one `get` reply message into `s`.
pub fn decode_get_reply(m: &GateMessage, s: &mut GateStatus) -> Result<(), Error> {
    if m.cmd != WGRS_GATE_CMD_GET {
        return Err(Error::Decode(format!("get reply with command {}", m.cmd)));
    }
    for a in &m.attrs {
        match a {
            DeviceAttr::Ifindex(v) => s.ifindex = *v,
            DeviceAttr::IdleTimeout(v) => s.policy.idle_timeout = *v,
            DeviceAttr::MaxSession(v) => s.policy.max_session = *v,
            DeviceAttr::AuthPort(v) => s.policy.auth_port = *v,
            DeviceAttr::Enforcing(v) => s.enforcing = *v != 0,
            DeviceAttr::EventsLost(v) => s.events_lost = *v,
            DeviceAttr::Peer(p) => s.peers.push(decode_peer(p)?),
            DeviceAttr::Other(_) => {}
        }
    }
    Ok(())
}

/// Decodes a whole dump.
pub fn decode_get(msgs: &[GateMessage]) -> Result<GateStatus, Error> {
    let mut s = GateStatus::default();
    for m in msgs {
        decode_get_reply(m, &mut s)?;
    }
    Ok(s)
}

fn inner_source_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn parse_inner_source(v: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(v) {
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    } else if let Ok(a) = <[u8; 16]>::try_from(v) {
        Some(IpAddr::V6(Ipv6Addr::from(a)))
    } else {
        None
    }
}

/// A notification as the kernel multicasts it; `None` for
/// [`GateEvent::Lost`], which is no message.
pub fn encode_event(e: &GateEvent) -> Option<GateMessage> {
    let (cmd, ifindex, peer) = match e {
        GateEvent::Locked {
            ifindex,
            public_key,
            reason,
        } => (
            WGRS_GATE_CMD_PEER_LOCKED,
            *ifindex,
            vec![
                PeerAttr::PublicKey(*public_key),
                PeerAttr::LockReason(reason.to_u8()),
            ],
        ),
        GateEvent::Knock {
            ifindex,
            public_key,
            endpoint,
            inner_source,
        } => {
            let mut p = vec![PeerAttr::PublicKey(*public_key)];
            if let Some(ep) = endpoint {
                p.push(PeerAttr::Endpoint(wgrs_netlink::codec::sockaddr_bytes(ep)));
            }
            if let Some(ip) = inner_source {
                p.push(PeerAttr::InnerSource(inner_source_bytes(ip)));
            }
            (WGRS_GATE_CMD_PEER_KNOCK, *ifindex, p)
        }
        GateEvent::Authorized {
            ifindex,
            public_key,
        } => (
            WGRS_GATE_CMD_PEER_AUTHORIZED,
            *ifindex,
            vec![PeerAttr::PublicKey(*public_key)],
        ),
        GateEvent::Lost => return None,
    };
    Some(msg(
        cmd,
        vec![DeviceAttr::Ifindex(ifindex), DeviceAttr::Peer(peer)],
    ))
}

/// Decodes a notification. `Ok(None)` for commands that are not
/// notifications of this family (ignored by listeners).
pub fn decode_event(m: &GateMessage) -> Result<Option<GateEvent>, Error> {
    if !matches!(
        m.cmd,
        WGRS_GATE_CMD_PEER_LOCKED | WGRS_GATE_CMD_PEER_KNOCK | WGRS_GATE_CMD_PEER_AUTHORIZED
    ) {
        return Ok(None);
    }
    let mut ifindex = None;
    let mut peer: &[PeerAttr] = &[];
    for a in &m.attrs {
        match a {
            DeviceAttr::Ifindex(v) => ifindex = Some(*v),
            DeviceAttr::Peer(p) => peer = p,
            _ => {}
        }
    }
    let ifindex = ifindex.ok_or_else(|| Error::Decode("notification without ifindex".into()))?;
    let mut key = None;
    let mut reason = None;
    let mut endpoint = None;
    let mut inner_source = None;
    for a in peer {
        match a {
            PeerAttr::PublicKey(k) => key = Some(*k),
            PeerAttr::LockReason(v) => reason = Some(LockReason::from_u8(*v)),
            PeerAttr::Endpoint(v) => endpoint = wgrs_netlink::codec::parse_sockaddr(v),
            PeerAttr::InnerSource(v) => inner_source = parse_inner_source(v),
            _ => {}
        }
    }
    let public_key =
        key.ok_or_else(|| Error::Decode("notification without peer public-key".into()))?;
    Ok(Some(match m.cmd {
        WGRS_GATE_CMD_PEER_LOCKED => GateEvent::Locked {
            ifindex,
            public_key,
            reason: reason
                .ok_or_else(|| Error::Decode("peer-locked without lock-reason".into()))?,
        },
        WGRS_GATE_CMD_PEER_KNOCK => GateEvent::Knock {
            ifindex,
            public_key,
            endpoint,
            inner_source,
        },
        _ => GateEvent::Authorized {
            ifindex,
            public_key,
        },
    }))
}

/// The attribute bytes of a message (what follows the genl header).
pub fn to_bytes(m: &GateMessage) -> Vec<u8> {
    let mut buf = vec![0u8; m.buffer_len()];
    m.emit(&mut buf);
    buf
}

/// Parses attribute bytes with the given command.
pub fn from_bytes(cmd: u8, buf: &[u8]) -> Result<GateMessage, Error> {
    GateMessage::parse_with_param(
        buf,
        GenlHeader {
            cmd,
            version: WGRS_GATE_FAMILY_VERSION,
        },
    )
    .map_err(|e| Error::Decode(e.to_string()))
}
