// SPDX-License-Identifier: GPL-2.0

//! The `wireguard` generic netlink commands, as drivers/net/wireguard/netlink.c
//! implements them: `WG_CMD_GET_DEVICE` (a dump, resumable across messages)
//! and `WG_CMD_SET_DEVICE`. Configuration only: there are no sockets or
//! handshakes yet, so handshake times and transfer counters read as zero.
//!
//! Locking as in C: RTNL, then the device update lock (`Device::config`).

use crate::allowedips::Prefix;
use crate::crypto::{Secret, KEY_LEN};
use crate::device::Config;
use crate::genetlink::{
    allowedip_attr as ia, allowedip_flag, cmd, device_attr as da, device_flag, errno,
    peer_attr as pa, peer_flag, Attr, Attrs, Dump, DumpStatus, Msg, Policy, AF_INET, AF_INET6,
    IFNAMSIZ,
};
use crate::netdev::{Net, Rtnl};
use crate::peer::{Endpoint, Peer, PeerId};
use crate::rtnl::{DeviceKey, DeviceRef};
use kernel::prelude::*;

/// Where a GET dump stands between messages.
pub(crate) struct DumpState {
    dev: DeviceRef,
    cursor: Cursor,
}

/// How far a dump got.
struct Cursor {
    /// The last peer sent completely; `None` before the first.
    last_peer: Option<PeerId>,
    /// Position in the listing of the peer after `last_peer` where its
    /// allowed IPs continue, if that peer was cut short.
    next_allowed: Option<u64>,
    /// Allowed-IPs table sequence when that listing began (0 = none).
    allowed_seq: u64,
}

/// Finds the device a request names, by index or by name (exactly one).
fn lookup(attrs: &Attrs<'_>, net: &Net) -> Result<DeviceRef> {
    let key = match (attrs.get(da::WGDEVICE_A_IFINDEX), attrs.get(da::WGDEVICE_A_IFNAME)) {
        (Some(index), None) => DeviceKey::Index(index.u32()?),
        (None, Some(name)) => DeviceKey::Name(name.c_string::<IFNAMSIZ>()?),
        _ => return Err(errno::ebadr()),
    };
    DeviceRef::lookup(net, &key)
}

pub(crate) fn get_start(attrs: &Attrs<'_>, net: &Net) -> Result<DumpState> {
    let cursor = Cursor { last_peer: None, next_allowed: None, allowed_seq: 0 };
    Ok(DumpState { dev: lookup(attrs, net)?, cursor })
}

fn put_allowedip(msg: &mut Msg<'_>, prefix: &Prefix) -> Result {
    let nest = msg.nest_start(0)?;
    let family = match prefix {
        Prefix::V4 { .. } => AF_INET,
        Prefix::V6 { .. } => AF_INET6,
    };
    let r = msg
        .put_u8(ia::WGALLOWEDIP_A_CIDR_MASK, prefix.cidr())
        .and_then(|()| msg.put_u16(ia::WGALLOWEDIP_A_FAMILY, family))
        .and_then(|()| msg.put(ia::WGALLOWEDIP_A_IPADDR, prefix.addr()));
    match r {
        Ok(()) => msg.nest_end(nest),
        Err(e) => {
            msg.nest_cancel(nest);
            return Err(e);
        }
    }
    Ok(())
}

fn put_peer_header(msg: &mut Msg<'_>, peer: &Peer) -> Result {
    msg.put(pa::WGPEER_A_PRESHARED_KEY, peer.preshared_key.bytes())?;
    // struct __kernel_timespec { s64 tv_sec; long long tv_nsec; }: no handshake yet.
    msg.put(pa::WGPEER_A_LAST_HANDSHAKE_TIME, &[0u8; 16])?;
    msg.put_u16(pa::WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer.persistent_keepalive)?;
    msg.put_u64(pa::WGPEER_A_TX_BYTES, 0, pa::WGPEER_A_UNSPEC)?;
    msg.put_u64(pa::WGPEER_A_RX_BYTES, 0, pa::WGPEER_A_UNSPEC)?;
    msg.put_u32(pa::WGPEER_A_PROTOCOL_VERSION, 1)?;
    if let Some(endpoint) = peer.endpoint.bytes() {
        msg.put(pa::WGPEER_A_ENDPOINT, endpoint)?;
    }
    Ok(())
}

/// Puts one peer (or the rest of one). `EMSGSIZE` when the message is full:
/// then either nothing of the peer was added, or it was added up to the
/// allowed IP recorded in `state.next_allowed`.
fn put_peer(
    msg: &mut Msg<'_>,
    cfg: &Config,
    id: PeerId,
    peer: &Peer,
    state: &mut Cursor,
) -> Result {
    let peer_nest = msg.nest_start(0)?;
    let mut from = state.next_allowed;
    let header = msg.put(pa::WGPEER_A_PUBLIC_KEY, &peer.public_key).and_then(|()| {
        if from.is_none() {
            put_peer_header(msg, peer)?;
            from = Some(0);
        }
        Ok(())
    });
    if let Err(e) = header {
        msg.nest_cancel(peer_nest);
        return Err(e);
    }
    let from = from.unwrap_or(0);
    let mut next = cfg.allowed.next_for_peer(id, from);
    // A listing interrupted by a change of the table is not resumed: the
    // generation check tells userspace that the dump is inconsistent.
    if next.is_some() {
        if state.allowed_seq == 0 {
            state.allowed_seq = cfg.allowed.seq();
        } else if state.allowed_seq != cfg.allowed.seq() {
            next = None;
        }
    }
    if next.is_some() {
        let Ok(list) = msg.nest_start(pa::WGPEER_A_ALLOWEDIPS) else {
            msg.nest_cancel(peer_nest);
            return Err(EMSGSIZE);
        };
        while let Some((pos, prefix)) = next {
            if put_allowedip(msg, &prefix).is_err() {
                msg.nest_end(list);
                msg.nest_end(peer_nest);
                state.next_allowed = Some(pos);
                return Err(EMSGSIZE);
            }
            next = pos.checked_add(1).and_then(|p| cfg.allowed.next_for_peer(id, p));
        }
        msg.nest_end(list);
    }
    msg.nest_end(peer_nest);
    state.next_allowed = None;
    state.allowed_seq = 0;
    Ok(())
}

fn put_device(msg: &mut Msg<'_>, cfg: &Config, dev: &DeviceRef, rtnl: &Rtnl) -> Result {
    let netdev = dev.netdev();
    let name = netdev.name(rtnl);
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len() - 1);
    msg.put_u16(da::WGDEVICE_A_LISTEN_PORT, cfg.listen_port)?;
    msg.put_u32(da::WGDEVICE_A_FWMARK, cfg.fwmark)?;
    msg.put_u32(da::WGDEVICE_A_IFINDEX, netdev.ifindex())?;
    // With its NUL, as nla_put_string.
    msg.put(da::WGDEVICE_A_IFNAME, &name[..=len])?;
    if cfg.identity.has {
        msg.put(da::WGDEVICE_A_PRIVATE_KEY, cfg.identity.private.bytes())?;
        msg.put(da::WGDEVICE_A_PUBLIC_KEY, &cfg.identity.public)?;
    }
    Ok(())
}

pub(crate) fn get_dumpit(state: &mut DumpState, dump: &mut Dump<'_>) -> Result<DumpStatus> {
    let DumpState { dev, cursor: state } = state;
    let rtnl = Rtnl::lock();
    let cfg = dev.device().config.lock();
    let mut msg = dump.begin(cmd::WG_CMD_GET_DEVICE, cfg.generation)?;
    if state.last_peer.is_none() {
        put_device(&mut msg, &cfg, dev, &rtnl)?;
    }
    let peers = msg.nest_start(da::WGDEVICE_A_PEERS)?;
    // If the last peer sent has been removed since, stop here: the
    // generation check has flagged the dump as inconsistent already.
    if cfg.peers.is_empty() || state.last_peer.is_some_and(|id| !cfg.peers.contains(id)) {
        msg.nest_cancel(peers);
        msg.end();
        state.last_peer = None;
        return Ok(DumpStatus::Done);
    }
    let mut done = true;
    let mut next = state.last_peer.map_or(0, |id| id.saturating_add(1));
    while let Some((id, peer)) = cfg.peers.next_from(next) {
        if put_peer(&mut msg, &cfg, id, peer, state).is_err() {
            done = false;
            break;
        }
        state.last_peer = Some(id);
        next = id.saturating_add(1);
    }
    msg.nest_end(peers);
    msg.end();
    if done {
        state.last_peer = None;
        Ok(DumpStatus::Done)
    } else {
        Ok(DumpStatus::More)
    }
}

fn set_allowedip(cfg: &mut Config, peer: PeerId, attrs: &Attrs<'_>) -> Result {
    let (Some(family), Some(addr), Some(cidr)) = (
        attrs.get(ia::WGALLOWEDIP_A_FAMILY),
        attrs.get(ia::WGALLOWEDIP_A_IPADDR),
        attrs.get(ia::WGALLOWEDIP_A_CIDR_MASK),
    ) else {
        return Err(EINVAL);
    };
    let (family, cidr) = (family.u16()?, cidr.u8()?);
    let flags = attrs.get(ia::WGALLOWEDIP_A_FLAGS).map(|a| a.u32()).transpose()?.unwrap_or(0);
    let prefix = match family {
        AF_INET => addr.array::<4>().and_then(|a| Prefix::v4(a, cidr)),
        AF_INET6 => addr.array::<16>().and_then(|a| Prefix::v6(a, cidr)),
        _ => None,
    }
    .ok_or(EINVAL)?;
    if flags & allowedip_flag::WGALLOWEDIP_F_REMOVE_ME != 0 {
        cfg.allowed.remove(peer, prefix);
        Ok(())
    } else {
        cfg.allowed.insert(peer, prefix)
    }
}

fn endpoint(attr: &Attr<'_>) -> Endpoint {
    let mut family = [0u8; 2];
    if attr.read(&mut family).is_err() {
        return Endpoint::None;
    }
    match u16::from_ne_bytes(family) {
        AF_INET => attr.array::<16>().map_or(Endpoint::None, Endpoint::V4),
        AF_INET6 => attr.array::<28>().map_or(Endpoint::None, Endpoint::V6),
        _ => Endpoint::None,
    }
}

fn set_peer(cfg: &mut Config, attrs: &Attrs<'_>) -> Result {
    let key: [u8; KEY_LEN] =
        attrs.get(pa::WGPEER_A_PUBLIC_KEY).and_then(|a| a.array()).ok_or(EINVAL)?;
    let psk = attrs.get(pa::WGPEER_A_PRESHARED_KEY).and_then(|a| a.array()).map(Secret);
    let mut flags = attrs.get(pa::WGPEER_A_FLAGS).map(|a| a.u32()).transpose()?.unwrap_or(0);
    if let Some(version) = attrs.get(pa::WGPEER_A_PROTOCOL_VERSION) {
        if version.u32()? != 1 {
            return Err(errno::epfnosupport());
        }
    }

    let id = match cfg.peers.lookup(&key) {
        Some(id) => id,
        None => {
            if flags & (peer_flag::WGPEER_F_REMOVE_ME | peer_flag::WGPEER_F_UPDATE_ONLY) != 0 {
                return Ok(());
            }
            // A new peer has no allowed IPs to replace.
            flags &= !peer_flag::WGPEER_F_REPLACE_ALLOWEDIPS;
            // Silently ignored, as in C, so the same calls work on every peer.
            if cfg.identity.has && cfg.identity.public == key {
                return Ok(());
            }
            cfg.peers.create(key)?
        }
    };

    if flags & peer_flag::WGPEER_F_REMOVE_ME != 0 {
        cfg.remove_peer(id);
        return Ok(());
    }

    let peer = cfg.peers.get_mut(id).ok_or(EINVAL)?;
    if let Some(psk) = psk {
        peer.preshared_key = psk;
    }
    if let Some(attr) = attrs.get(pa::WGPEER_A_ENDPOINT) {
        match endpoint(&attr) {
            Endpoint::None => {}
            ep => peer.endpoint = ep,
        }
    }

    if flags & peer_flag::WGPEER_F_REPLACE_ALLOWEDIPS != 0 {
        cfg.allowed.remove_by_peer(id);
    }
    if let Some(list) = attrs.get(pa::WGPEER_A_ALLOWEDIPS) {
        for attr in list.nested() {
            let allowedip = attr.parse_nested(Policy::AllowedIp)?;
            set_allowedip(cfg, id, &allowedip)?;
        }
    }

    if let Some(attr) = attrs.get(pa::WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL) {
        let interval = attr.u16()?;
        if let Some(peer) = cfg.peers.get_mut(id) {
            peer.persistent_keepalive = interval;
        }
    }
    Ok(())
}

fn set_device_locked(cfg: &mut Config, attrs: &Attrs<'_>) -> Result {
    let flags = attrs.get(da::WGDEVICE_A_FLAGS).map(|a| a.u32()).transpose()?.unwrap_or(0);

    // TODO(sockets): the C driver also requires CAP_NET_ADMIN in the
    // device's creating namespace for listen-port and fwmark, and rebinds
    // (EADDRINUSE) when the device is up.
    cfg.generation = cfg.generation.wrapping_add(1);

    if let Some(attr) = attrs.get(da::WGDEVICE_A_FWMARK) {
        cfg.fwmark = attr.u32()?;
    }
    if let Some(attr) = attrs.get(da::WGDEVICE_A_LISTEN_PORT) {
        cfg.listen_port = attr.u16()?;
    }
    if flags & device_flag::WGDEVICE_F_REPLACE_PEERS != 0 {
        cfg.remove_all_peers();
    }
    if let Some(key) = attrs.get(da::WGDEVICE_A_PRIVATE_KEY).and_then(|a| a.array()) {
        cfg.set_private_key(&Secret(key));
    }
    if let Some(peers) = attrs.get(da::WGDEVICE_A_PEERS) {
        for attr in peers.nested() {
            let peer = attr.parse_nested(Policy::Peer)?;
            let ret = set_peer(cfg, &peer);
            if let Some(psk) = peer.get(pa::WGPEER_A_PRESHARED_KEY) {
                psk.zeroize();
            }
            ret?;
        }
    }
    Ok(())
}

pub(crate) fn set_device(attrs: &Attrs<'_>, net: &Net) -> Result {
    let ret = lookup(attrs, net).and_then(|dev| {
        let _rtnl = Rtnl::lock();
        let mut cfg = dev.device().config.lock();
        set_device_locked(&mut cfg, attrs)
    });
    if let Some(key) = attrs.get(da::WGDEVICE_A_PRIVATE_KEY) {
        key.zeroize();
    }
    ret
}
