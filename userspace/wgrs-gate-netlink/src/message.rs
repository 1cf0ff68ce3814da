//! The family's messages as typed attributes on `netlink-packet-core`'s
//! [`Nla`] machinery, and the [`GenlFamily`] payload type carrying them.
//! Unknown attributes are kept (as [`DefaultNla`]) and ignored by the
//! decoders in [`crate::codec`], so a newer kernel can add attributes.

use netlink_packet_core::{
    emit_u16, emit_u32, emit_u64, parse_u16, parse_u32, parse_u64, parse_u8, DecodeError,
    DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, NlasIterator, Parseable,
    ParseableParametrized, NLA_F_NESTED,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use crate::consts::*;

/// Attributes of the `peer` set (nested in `device`'s `peer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAttr {
    PublicKey([u8; WGRS_GATE_KEY_LEN]),
    Exempt(u8),
    State(u8),
    LockReason(u8),
    IdleMs(u64),
    AuthorizedAgeMs(u64),
    SessionRemainingMs(u64),
    RxDropped(u64),
    TxDropped(u64),
    /// `struct sockaddr_in` / `sockaddr_in6`, as the kernel sent it.
    Endpoint(Vec<u8>),
    /// `struct in_addr` / `in6_addr`.
    InnerSource(Vec<u8>),
    Other(DefaultNla),
}

/// Attributes of the `device` set (top level of every message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAttr {
    Ifindex(u32),
    IdleTimeout(u32),
    MaxSession(u32),
    AuthPort(u16),
    Enforcing(u8),
    EventsLost(u64),
    Peer(Vec<PeerAttr>),
    Other(DefaultNla),
}

impl Nla for PeerAttr {
    fn value_len(&self) -> usize {
        use PeerAttr::*;
        match self {
            PublicKey(_) => WGRS_GATE_KEY_LEN,
            Exempt(_) | State(_) | LockReason(_) => 1,
            IdleMs(_)
            | AuthorizedAgeMs(_)
            | SessionRemainingMs(_)
            | RxDropped(_)
            | TxDropped(_) => 8,
            Endpoint(v) | InnerSource(v) => v.len(),
            Other(n) => n.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use PeerAttr::*;
        match self {
            PublicKey(_) => WGRS_GATE_A_PEER_PUBLIC_KEY,
            Exempt(_) => WGRS_GATE_A_PEER_EXEMPT,
            State(_) => WGRS_GATE_A_PEER_STATE,
            LockReason(_) => WGRS_GATE_A_PEER_LOCK_REASON,
            IdleMs(_) => WGRS_GATE_A_PEER_IDLE_MS,
            AuthorizedAgeMs(_) => WGRS_GATE_A_PEER_AUTHORIZED_AGE_MS,
            SessionRemainingMs(_) => WGRS_GATE_A_PEER_SESSION_REMAINING_MS,
            RxDropped(_) => WGRS_GATE_A_PEER_RX_DROPPED,
            TxDropped(_) => WGRS_GATE_A_PEER_TX_DROPPED,
            Endpoint(_) => WGRS_GATE_A_PEER_ENDPOINT,
            InnerSource(_) => WGRS_GATE_A_PEER_INNER_SOURCE,
            Other(n) => n.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use PeerAttr::*;
        match self {
            PublicKey(k) => buffer[..WGRS_GATE_KEY_LEN].copy_from_slice(k),
            Exempt(v) | State(v) | LockReason(v) => buffer[0] = *v,
            IdleMs(v)
            | AuthorizedAgeMs(v)
            | SessionRemainingMs(v)
            | RxDropped(v)
            | TxDropped(v) => emit_u64(buffer, *v).unwrap_or_default(),
            Endpoint(v) | InnerSource(v) => buffer[..v.len()].copy_from_slice(v),
            Other(n) => n.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for PeerAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        let what = |name: &str| format!("peer attribute {name}");
        Ok(match buf.kind() {
            WGRS_GATE_A_PEER_PUBLIC_KEY => PeerAttr::PublicKey(v.try_into().map_err(|_| {
                DecodeError::from(format!(
                    "peer attribute public-key: {} bytes, expected {WGRS_GATE_KEY_LEN}",
                    v.len()
                ))
            })?),
            WGRS_GATE_A_PEER_EXEMPT => PeerAttr::Exempt(parse_u8(v).context(what("exempt"))?),
            WGRS_GATE_A_PEER_STATE => PeerAttr::State(parse_u8(v).context(what("state"))?),
            WGRS_GATE_A_PEER_LOCK_REASON => {
                PeerAttr::LockReason(parse_u8(v).context(what("lock-reason"))?)
            }
            WGRS_GATE_A_PEER_IDLE_MS => PeerAttr::IdleMs(parse_u64(v).context(what("idle-ms"))?),
            WGRS_GATE_A_PEER_AUTHORIZED_AGE_MS => {
                PeerAttr::AuthorizedAgeMs(parse_u64(v).context(what("authorized-age-ms"))?)
            }
            WGRS_GATE_A_PEER_SESSION_REMAINING_MS => {
                PeerAttr::SessionRemainingMs(parse_u64(v).context(what("session-remaining-ms"))?)
            }
            WGRS_GATE_A_PEER_RX_DROPPED => {
                PeerAttr::RxDropped(parse_u64(v).context(what("rx-dropped"))?)
            }
            WGRS_GATE_A_PEER_TX_DROPPED => {
                PeerAttr::TxDropped(parse_u64(v).context(what("tx-dropped"))?)
            }
            WGRS_GATE_A_PEER_ENDPOINT => PeerAttr::Endpoint(v.to_vec()),
            WGRS_GATE_A_PEER_INNER_SOURCE => PeerAttr::InnerSource(v.to_vec()),
            _ => PeerAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for DeviceAttr {
    fn value_len(&self) -> usize {
        use DeviceAttr::*;
        match self {
            Ifindex(_) | IdleTimeout(_) | MaxSession(_) => 4,
            AuthPort(_) => 2,
            Enforcing(_) => 1,
            EventsLost(_) => 8,
            Peer(attrs) => attrs.as_slice().buffer_len(),
            Other(n) => n.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DeviceAttr::*;
        match self {
            Ifindex(_) => WGRS_GATE_A_DEVICE_IFINDEX,
            IdleTimeout(_) => WGRS_GATE_A_DEVICE_IDLE_TIMEOUT,
            MaxSession(_) => WGRS_GATE_A_DEVICE_MAX_SESSION,
            AuthPort(_) => WGRS_GATE_A_DEVICE_AUTH_PORT,
            Enforcing(_) => WGRS_GATE_A_DEVICE_ENFORCING,
            EventsLost(_) => WGRS_GATE_A_DEVICE_EVENTS_LOST,
            Peer(_) => WGRS_GATE_A_DEVICE_PEER | NLA_F_NESTED,
            Other(n) => n.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        use DeviceAttr::*;
        match self {
            Ifindex(v) | IdleTimeout(v) | MaxSession(v) => emit_u32(buffer, *v).unwrap_or_default(),
            AuthPort(v) => emit_u16(buffer, *v).unwrap_or_default(),
            Enforcing(v) => buffer[0] = *v,
            EventsLost(v) => emit_u64(buffer, *v).unwrap_or_default(),
            Peer(attrs) => attrs.as_slice().emit(buffer),
            Other(n) => n.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DeviceAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        let what = |name: &str| format!("device attribute {name}");
        Ok(match buf.kind() {
            WGRS_GATE_A_DEVICE_IFINDEX => {
                DeviceAttr::Ifindex(parse_u32(v).context(what("ifindex"))?)
            }
            WGRS_GATE_A_DEVICE_IDLE_TIMEOUT => {
                DeviceAttr::IdleTimeout(parse_u32(v).context(what("idle-timeout"))?)
            }
            WGRS_GATE_A_DEVICE_MAX_SESSION => {
                DeviceAttr::MaxSession(parse_u32(v).context(what("max-session"))?)
            }
            WGRS_GATE_A_DEVICE_AUTH_PORT => {
                DeviceAttr::AuthPort(parse_u16(v).context(what("auth-port"))?)
            }
            WGRS_GATE_A_DEVICE_ENFORCING => {
                DeviceAttr::Enforcing(parse_u8(v).context(what("enforcing"))?)
            }
            WGRS_GATE_A_DEVICE_EVENTS_LOST => {
                DeviceAttr::EventsLost(parse_u64(v).context(what("events-lost"))?)
            }
            WGRS_GATE_A_DEVICE_PEER => DeviceAttr::Peer(parse_attrs(v).context(what("peer"))?),
            _ => DeviceAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Parses a run of attributes of one set.
pub fn parse_attrs<A>(buf: &[u8]) -> Result<Vec<A>, DecodeError>
where
    A: for<'a> Parseable<NlaBuffer<&'a [u8]>>,
{
    NlasIterator::new(buf)
        .map(|nla| nla.and_then(|nla| A::parse(&nla)))
        .collect()
}

/// One `wgrs_gate` generic netlink payload: command and top-level
/// attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateMessage {
    pub cmd: u8,
    pub attrs: Vec<DeviceAttr>,
}

impl GenlFamily for GateMessage {
    fn family_name() -> &'static str {
        WGRS_GATE_FAMILY_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        WGRS_GATE_FAMILY_VERSION
    }
}

impl Emitable for GateMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for GateMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        Ok(Self {
            cmd: header.cmd,
            attrs: parse_attrs(buf).context("wgrs_gate message")?,
        })
    }
}
