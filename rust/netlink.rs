// SPDX-License-Identifier: GPL-2.0

//! The `wireguard` generic netlink commands, as drivers/net/wireguard/netlink.c
//! implements them: `WG_CMD_GET_DEVICE` (a dump, resumable across messages)
//! and `WG_CMD_SET_DEVICE`.
//!
//! Locking as in C: RTNL, then the device update lock (`Device::config`).

use crate::abstractions::crypto::{Secret, KEY_LEN};
use crate::abstractions::genetlink::{
    allowedip_attr as ia, allowedip_flag, cmd, device_attr as da, device_flag, errno,
    peer_attr as pa, peer_flag, Attrs, Dump, DumpStatus, Msg, Policy, WireguardFamily, AF_INET,
    AF_INET6, IFNAMSIZ,
};
use crate::abstractions::netdev::{Net, Rtnl};
use crate::abstractions::rcu;
use crate::abstractions::rtnl::{DeviceKey, DeviceRef};
use crate::abstractions::udp::Endpoint;
use crate::allowedips::Prefix;
use crate::device::{Config, Device};
use crate::peer::{Peer, MAX_PEERS};
use crate::peerlookup;
use crate::{gate, send, socket};
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::rbtree::RBTreeNode;
use kernel::sync::Arc;

/// The driver's side of the `wireguard` family.
pub(crate) struct Family;

impl WireguardFamily for Family {
    type DumpState = DumpState;

    fn get_start(attrs: &Attrs<'_>, net: &Net) -> Result<DumpState> {
        let cursor = Cursor { last_peer: None, next_allowed: None, allowed_seq: 0 };
        Ok(DumpState { dev: lookup(attrs, net)?, cursor })
    }

    fn get_dumpit(state: &mut DumpState, dump: &mut Dump<'_>) -> Result<DumpStatus> {
        get_dumpit(state, dump)
    }

    fn set_device(attrs: &Attrs<'_>, net: &Net) -> Result {
        set_device(attrs, net)
    }
}

/// Where a GET dump stands between messages.
pub(crate) struct DumpState {
    dev: DeviceRef<Device>,
    cursor: Cursor,
}

/// How far a dump got.
struct Cursor {
    /// The last peer sent completely; `None` before the first.
    last_peer: Option<u64>,
    /// Position in the listing of the peer after `last_peer` where its
    /// allowed IPs continue, if that peer was cut short.
    next_allowed: Option<u64>,
    /// Allowed-IPs table sequence when that listing began (0 = none).
    allowed_seq: u64,
}

/// Finds the device a request names, by index or by name (exactly one).
fn lookup(attrs: &Attrs<'_>, net: &Net) -> Result<DeviceRef<Device>> {
    let key = match (attrs.get(da::WGDEVICE_A_IFINDEX), attrs.get(da::WGDEVICE_A_IFNAME)) {
        (Some(index), None) => DeviceKey::Index(index.u32()?),
        (None, Some(name)) => DeviceKey::Name(name.c_string::<IFNAMSIZ>()?),
        _ => return Err(errno::ebadr()),
    };
    DeviceRef::lookup(net, &key)
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
    let psk = *peer.hs.lock().hs.preshared_key();
    msg.put(pa::WGPEER_A_PRESHARED_KEY, &psk)?;
    // struct __kernel_timespec { s64 tv_sec; long long tv_nsec; }
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&peer.last_handshake_sec.load(Ordering::Relaxed).to_ne_bytes());
    ts[8..].copy_from_slice(&peer.last_handshake_nsec.load(Ordering::Relaxed).to_ne_bytes());
    msg.put(pa::WGPEER_A_LAST_HANDSHAKE_TIME, &ts)?;
    let keepalive = peer.timers.lock().t.persistent_keepalive_interval;
    msg.put_u16(pa::WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, keepalive)?;
    msg.put_u64(pa::WGPEER_A_TX_BYTES, peer.tx_bytes.load(Ordering::Relaxed), pa::WGPEER_A_UNSPEC)?;
    msg.put_u64(pa::WGPEER_A_RX_BYTES, peer.rx_bytes.load(Ordering::Relaxed), pa::WGPEER_A_UNSPEC)?;
    msg.put_u32(pa::WGPEER_A_PROTOCOL_VERSION, 1)?;
    let ep = *peer.endpoint.lock();
    if let Some(sa) = ep.sockaddr() {
        msg.put(pa::WGPEER_A_ENDPOINT, sa)?;
    }
    Ok(())
}

/// Puts one peer (or the rest of one). `EMSGSIZE` when the message is full:
/// then either nothing of the peer was added, or it was added up to the
/// allowed IP recorded in `state.next_allowed`.
fn put_peer(msg: &mut Msg<'_>, cfg: &Config, peer: &Peer, state: &mut Cursor) -> Result {
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
    let mut next = cfg.listing.next_for_peer(peer.id, from);
    // A listing interrupted by a change of the table is not resumed: the
    // generation check tells userspace that the dump is inconsistent.
    if next.is_some() {
        if state.allowed_seq == 0 {
            state.allowed_seq = cfg.listing.seq();
        } else if state.allowed_seq != cfg.listing.seq() {
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
            next = pos.checked_add(1).and_then(|p| cfg.listing.next_for_peer(peer.id, p));
        }
        msg.nest_end(list);
    }
    msg.nest_end(peer_nest);
    state.next_allowed = None;
    state.allowed_seq = 0;
    Ok(())
}

fn put_device(msg: &mut Msg<'_>, cfg: &Config, dev: &DeviceRef<Device>, rtnl: &Rtnl) -> Result {
    let netdev = dev.netdev();
    let name = netdev.name(rtnl);
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len() - 1);
    msg.put_u16(da::WGDEVICE_A_LISTEN_PORT, cfg.listen_port)?;
    msg.put_u32(da::WGDEVICE_A_FWMARK, cfg.fwmark)?;
    msg.put_u32(da::WGDEVICE_A_IFINDEX, netdev.ifindex(rtnl))?;
    // With its NUL, as nla_put_string.
    msg.put(da::WGDEVICE_A_IFNAME, &name[..=len])?;
    if cfg.has_identity {
        msg.put(da::WGDEVICE_A_PRIVATE_KEY, cfg.private_key.bytes())?;
        msg.put(da::WGDEVICE_A_PUBLIC_KEY, &cfg.public_key)?;
    }
    Ok(())
}

fn get_dumpit(state: &mut DumpState, dump: &mut Dump<'_>) -> Result<DumpStatus> {
    let DumpState { dev, cursor: state } = state;
    let rtnl = Rtnl::lock();
    let cfg = dev.driver().config.lock();
    let mut msg = dump.begin(cmd::WG_CMD_GET_DEVICE, cfg.generation)?;
    if state.last_peer.is_none() {
        put_device(&mut msg, &cfg, dev, &rtnl)?;
    }
    let peers = msg.nest_start(da::WGDEVICE_A_PEERS)?;
    // If the last peer sent has been removed since, stop here: the
    // generation check has flagged the dump as inconsistent already.
    if cfg.peers.is_empty() || state.last_peer.is_some_and(|id| cfg.peers.get(&id).is_none()) {
        msg.nest_cancel(peers);
        msg.end();
        state.last_peer = None;
        return Ok(DumpStatus::Done);
    }
    let mut done = true;
    let mut next = state.last_peer.map_or(0, |id| id.saturating_add(1));
    loop {
        let Some(cursor) = cfg.peers.cursor_lower_bound(&next) else {
            break;
        };
        let (&id, peer) = cursor.current();
        if put_peer(&mut msg, &cfg, peer, state).is_err() {
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

fn set_allowedip(dev: &Device, cfg: &mut Config, peer: &Arc<Peer>, attrs: &Attrs<'_>) -> Result {
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
        dev.allowed.remove(&mut cfg.listing, peer, prefix);
        Ok(())
    } else {
        dev.allowed.insert(&mut cfg.listing, peer, prefix)
    }
}

fn create_peer(dev: &Arc<Device>, netdev_name: [u8; 16], cfg: &mut Config, key: [u8; KEY_LEN]) -> Result<Arc<Peer>> {
    if cfg.num_peers >= MAX_PEERS {
        return Err(ENOMEM);
    }
    let running = dev.with_netdev(|d| d.is_running()).unwrap_or(false);
    let peer = Peer::new(dev, &cfg.static_identity(), key, &Secret::default(), running, netdev_name)?;
    let node = RBTreeNode::new(peer.id, peer.clone(), GFP_KERNEL)?;
    peerlookup::pubkey_insert(&dev.peers, &peer)?;
    cfg.peers.insert(node);
    cfg.num_peers += 1;
    Ok(peer)
}

fn set_peer(dev: &Arc<Device>, rtnl: &Rtnl, name: [u8; 16], cfg: &mut Config, attrs: &Attrs<'_>) -> Result {
    let key: [u8; KEY_LEN] = attrs.get(pa::WGPEER_A_PUBLIC_KEY).and_then(|a| a.array()).ok_or(EINVAL)?;
    let psk = attrs.get(pa::WGPEER_A_PRESHARED_KEY).and_then(|a| a.array()).map(Secret);
    let mut flags = attrs.get(pa::WGPEER_A_FLAGS).map(|a| a.u32()).transpose()?.unwrap_or(0);
    if let Some(version) = attrs.get(pa::WGPEER_A_PROTOCOL_VERSION) {
        if version.u32()? != 1 {
            return Err(errno::epfnosupport());
        }
    }

    let existing = {
        let g = rcu::read_lock();
        peerlookup::pubkey_lookup(&dev.peers, &key, &g).cloned()
    };
    let peer = match existing {
        Some(peer) => peer,
        None => {
            if flags & (peer_flag::WGPEER_F_REMOVE_ME | peer_flag::WGPEER_F_UPDATE_ONLY) != 0 {
                return Ok(());
            }
            // A new peer has no allowed IPs to replace.
            flags &= !peer_flag::WGPEER_F_REPLACE_ALLOWEDIPS;
            // Silently ignored, as in C, so the same calls work on every peer.
            if cfg.has_identity && cfg.public_key == key {
                return Ok(());
            }
            let peer = create_peer(dev, name, cfg, key)?;
            gate::peer_created(dev, rtnl, &peer);
            peer
        }
    };

    if flags & peer_flag::WGPEER_F_REMOVE_ME != 0 {
        dev.remove_peers(cfg, &[peer]);
        return Ok(());
    }

    if let Some(psk) = psk {
        peer.hs.lock().hs.set_preshared_key(psk.bytes());
    }
    if let Some(attr) = attrs.get(pa::WGPEER_A_ENDPOINT) {
        let mut buf = [0u8; 28];
        let n = attr.len().min(buf.len());
        if attr.len() <= buf.len() && attr.read(&mut buf[..n]).is_ok() {
            if let Some(ep) = Endpoint::from_sockaddr(&buf[..n]) {
                peer.set_endpoint(&ep);
            }
        }
    }

    if flags & peer_flag::WGPEER_F_REPLACE_ALLOWEDIPS != 0 {
        dev.allowed.remove_by_peer(&mut cfg.listing, &peer);
    }
    if let Some(list) = attrs.get(pa::WGPEER_A_ALLOWEDIPS) {
        for attr in list.nested() {
            let allowedip = attr.parse_nested(Policy::AllowedIp)?;
            set_allowedip(dev, cfg, &peer, &allowedip)?;
        }
    }

    let running = dev.with_netdev(|d| d.is_running()).unwrap_or(false);
    if let Some(attr) = attrs.get(pa::WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL) {
        let interval = attr.u16()?;
        let start = {
            let mut st = peer.timers.lock();
            let was = st.t.persistent_keepalive_interval;
            st.t.persistent_keepalive_interval = interval;
            was == 0 && interval != 0 && running
        };
        if start {
            send::send_keepalive(&peer);
        }
    }
    if running {
        send::send_staged(&peer);
    }
    Ok(())
}

fn set_device_locked(dev: &DeviceRef<Device>, rtnl: &Rtnl, cfg: &mut Config, attrs: &Attrs<'_>) -> Result {
    let device = dev.driver();
    let flags = attrs.get(da::WGDEVICE_A_FLAGS).map(|a| a.u32()).transpose()?.unwrap_or(0);
    let port = attrs.get(da::WGDEVICE_A_LISTEN_PORT).map(|a| a.u16()).transpose()?;
    let fwmark = attrs.get(da::WGDEVICE_A_FWMARK).map(|a| a.u32()).transpose()?;

    // Sockets belong to the namespace that created the device: changing
    // them needs CAP_NET_ADMIN there, as in C.
    if port.is_some() || fwmark.is_some() {
        let allowed = device.creating_net.with(|net| net.capable_net_admin()).unwrap_or(false);
        if !allowed {
            return Err(EPERM);
        }
    }
    // A new port is bound before anything changes: a busy port
    // (EADDRINUSE) leaves the device as it was.
    let running = dev.netdev().is_running();
    let new_socks = match port {
        Some(p) if p != cfg.listen_port && running => Some(socket::init(device, p)?),
        _ => None,
    };

    cfg.generation = cfg.generation.wrapping_add(1);

    if let Some(mark) = fwmark {
        cfg.fwmark = mark;
        device.fwmark.store(mark, Ordering::Relaxed);
        for (_, peer) in cfg.peers.iter() {
            peer.clear_endpoint_src();
        }
    }
    if let Some(p) = port {
        if p != cfg.listen_port {
            for (_, peer) in cfg.peers.iter() {
                peer.clear_endpoint_src();
            }
            cfg.listen_port = match new_socks {
                Some(s) => socket::reinit(device, Some(s)).unwrap_or(p),
                None => p,
            };
        }
    }
    if flags & device_flag::WGDEVICE_F_REPLACE_PEERS != 0 {
        device.remove_all_peers(cfg);
    }
    if let Some(key) = attrs.get(da::WGDEVICE_A_PRIVATE_KEY).and_then(|a| a.array()) {
        let became_ready = device.set_private_key(cfg, &Secret(key))?;
        if became_ready && running {
            for (_, peer) in cfg.peers.iter() {
                send::send_staged(peer);
            }
        }
    }
    let name = dev.netdev().name(rtnl);
    if let Some(peers) = attrs.get(da::WGDEVICE_A_PEERS) {
        for attr in peers.nested() {
            let peer = attr.parse_nested(Policy::Peer)?;
            let ret = set_peer(device, rtnl, name, cfg, &peer);
            if let Some(psk) = peer.get(pa::WGPEER_A_PRESHARED_KEY) {
                psk.zeroize();
            }
            ret?;
        }
    }
    Ok(())
}

fn set_device(attrs: &Attrs<'_>, net: &Net) -> Result {
    let ret = lookup(attrs, net).and_then(|dev| {
        let rtnl = Rtnl::lock();
        let mut cfg = dev.driver().config.lock();
        set_device_locked(&dev, &rtnl, &mut cfg, attrs)
    });
    if let Some(key) = attrs.get(da::WGDEVICE_A_PRIVATE_KEY) {
        key.zeroize();
    }
    ret
}
