// SPDX-License-Identifier: GPL-2.0

//! The `wgrs_gate` generic netlink commands (the family is described by
//! Documentation/netlink/specs/wgrs_gate.yaml, from which its policies and
//! ops table are generated): `set-policy`, `peer-set`, `authorize`,
//! `revoke` and the `get` dump. The genetlink core has checked
//! CAP_NET_ADMIN in the user namespace of the caller's network namespace
//! (`uns-admin-perm`) and the attribute types and lengths (the policies).
//!
//! Locking as for the `wireguard` family: RTNL, then the device update
//! lock. Every check comes before the first change, so a refused request
//! changes nothing.

use crate::abstractions::genetlink::{gate as g, errno, Attrs, Dump, DumpStatus, GateFamily, Msg, Policy};
use crate::abstractions::netdev::{Net, Rtnl};
use crate::abstractions::rcu;
use crate::abstractions::rtnl::{DeviceKey, DeviceRef};
use crate::abstractions::time;
use crate::device::{Config, Device};
use crate::gate::{self, MAX_SECONDS};
use crate::peer::Peer;
use crate::peerlookup;
use crate::proto::constants::KEY_LEN;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The driver's side of the `wgrs_gate` family.
pub(crate) struct Family;

impl GateFamily for Family {
    fn doit(cmd: u32, attrs: &Attrs<'_>, net: &Net) -> Result {
        let dev = lookup(attrs, net)?;
        let rtnl = Rtnl::lock();
        let device = dev.driver();
        let cfg = device.config.lock();
        match cmd {
            g::CMD_SET_POLICY => set_policy(device, &rtnl, &cfg, attrs),
            g::CMD_PEER_SET => {
                let (peer, nest) = peer_of(device, attrs)?;
                let exempt = nest.get(g::A_PEER_EXEMPT).ok_or(EINVAL)?.u8()? != 0;
                gate::set_exempt(device, &rtnl, &peer, exempt);
                Ok(())
            }
            g::CMD_AUTHORIZE => {
                let (peer, _) = peer_of(device, attrs)?;
                gate::authorize(device, &rtnl, &peer);
                Ok(())
            }
            g::CMD_REVOKE => {
                let (peer, _) = peer_of(device, attrs)?;
                gate::revoke(device, &rtnl, &peer);
                Ok(())
            }
            _ => Err(errno::eopnotsupp()),
        }
    }

    fn dumpit(attrs: &Attrs<'_>, net: &Net, dump: &mut Dump<'_>) -> Result<DumpStatus> {
        let dev = lookup(attrs, net)?;
        let rtnl = Rtnl::lock();
        let device = dev.driver();
        let cfg = device.config.lock();
        get_dumpit(device, &rtnl, &cfg, dump)
    }
}

/// The device a request names by `ifindex` (required): `ENODEV` if there
/// is none in the caller's namespace, `EOPNOTSUPP` if it is not ours.
fn lookup(attrs: &Attrs<'_>, net: &Net) -> Result<DeviceRef<Device>> {
    let index = attrs.get(g::A_DEVICE_IFINDEX).ok_or(EINVAL)?.u32()?;
    DeviceRef::lookup(net, &DeviceKey::Index(index))
}

/// The peer a request's `peer` nest names by `public-key` (both required;
/// the policy checked the key's length): `ENOENT` if the device has no
/// such peer.
fn peer_of<'a>(device: &Device, attrs: &Attrs<'a>) -> Result<(Arc<Peer>, Attrs<'a>)> {
    let nest = attrs.get(g::A_DEVICE_PEER).ok_or(EINVAL)?.parse_nested(Policy::GatePeer)?;
    let key: [u8; KEY_LEN] = nest.get(g::A_PEER_PUBLIC_KEY).and_then(|a| a.array()).ok_or(EINVAL)?;
    let peer = {
        let guard = rcu::read_lock();
        peerlookup::pubkey_lookup(&device.peers, &key, &guard).cloned()
    };
    Ok((peer.ok_or(ENOENT)?, nest))
}

/// A number of seconds for the policy: `ERANGE` beyond a year.
fn seconds(attrs: &Attrs<'_>, ty: u32) -> Result<Option<u32>> {
    match attrs.get(ty) {
        None => Ok(None),
        Some(a) => {
            let v = a.u32()?;
            if v > MAX_SECONDS {
                return Err(ERANGE);
            }
            Ok(Some(v))
        }
    }
}

fn set_policy(device: &Arc<Device>, rtnl: &Rtnl, cfg: &Config, attrs: &Attrs<'_>) -> Result {
    let idle = seconds(attrs, g::A_DEVICE_IDLE_TIMEOUT)?;
    let max = seconds(attrs, g::A_DEVICE_MAX_SESSION)?;
    let port = attrs.get(g::A_DEVICE_AUTH_PORT).map(|a| a.u16()).transpose()?;
    if idle.is_none() && max.is_none() && port.is_none() {
        return Err(EINVAL);
    }
    // A gate that is on needs somewhere for a locked user to log in.
    let now = device.gate.policy();
    if idle.unwrap_or(now.idle_timeout) != 0 && port.unwrap_or(now.auth_port) == 0 {
        return Err(EINVAL);
    }
    gate::set_policy(device, rtnl, cfg, idle, max, port);
    Ok(())
}

/// Where a `get` dump stands between its calls (`Dump::cursor`): whether
/// the device message went out, and the id of the next peer to send.
const CURSOR_PEERS: u64 = 1;

fn get_dumpit(device: &Arc<Device>, rtnl: &Rtnl, cfg: &Config, dump: &mut Dump<'_>) -> Result<DumpStatus> {
    let [phase, mut next] = dump.cursor();
    let ifindex = device.with_netdev(|d| d.ifindex(rtnl)).ok_or(ENODEV)?;
    if phase != CURSOR_PEERS {
        // No stale authorization in the reply: what ran out is locked (and
        // announced) first.
        gate::expire_locked(device, rtnl, cfg);
    }
    let generation = cfg.generation.wrapping_add(device.gate.generation());
    if phase != CURSOR_PEERS {
        let policy = device.gate.policy();
        let mut msg = dump.begin(g::CMD_GET, generation)?;
        msg.put_u32(g::A_DEVICE_IFINDEX, ifindex)?;
        msg.put_u32(g::A_DEVICE_IDLE_TIMEOUT, policy.idle_timeout)?;
        msg.put_u32(g::A_DEVICE_MAX_SESSION, policy.max_session)?;
        msg.put_u16(g::A_DEVICE_AUTH_PORT, policy.auth_port)?;
        msg.put_u8(g::A_DEVICE_ENFORCING, u8::from(policy.enabled()))?;
        msg.put_u64(g::A_DEVICE_EVENTS_LOST, device.gate.events_lost(), 0)?;
        msg.end();
        next = 0;
        dump.set_cursor([CURSOR_PEERS, next]);
    }
    let policy = device.gate.policy();
    let now = time::now_ns();
    while let Some(cursor) = cfg.peers.cursor_lower_bound(&next) {
        let (&id, peer) = cursor.current();
        let Ok(mut msg) = dump.begin(g::CMD_GET, generation) else {
            return Ok(DumpStatus::More);
        };
        if put_peer(&mut msg, ifindex, peer, &policy, now).is_err() {
            // Full: this peer goes into the next message (`msg` is
            // cancelled when dropped).
            return Ok(DumpStatus::More);
        }
        msg.end();
        next = id.saturating_add(1);
        dump.set_cursor([CURSOR_PEERS, next]);
    }
    Ok(DumpStatus::Done)
}

fn put_peer(msg: &mut Msg<'_>, ifindex: u32, peer: &Peer, policy: &crate::proto::gate::GatePolicy, now: u64) -> Result {
    let v = peer.gate.view(policy, now);
    msg.put_u32(g::A_DEVICE_IFINDEX, ifindex)?;
    let nest = msg.nest_start(g::A_DEVICE_PEER)?;
    msg.put(g::A_PEER_PUBLIC_KEY, &peer.public_key)?;
    msg.put_u8(g::A_PEER_EXEMPT, u8::from(v.exempt))?;
    let state = if v.authorized { g::PEER_STATE_AUTHORIZED } else { g::PEER_STATE_LOCKED };
    msg.put_u8(g::A_PEER_STATE, state)?;
    if !v.authorized {
        msg.put_u8(g::A_PEER_LOCK_REASON, v.reason)?;
    }
    if let Some(ms) = v.idle_ms {
        msg.put_u64(g::A_PEER_IDLE_MS, ms, 0)?;
    }
    if let Some(ms) = v.authorized_age_ms {
        msg.put_u64(g::A_PEER_AUTHORIZED_AGE_MS, ms, 0)?;
    }
    if let Some(ms) = v.session_remaining_ms {
        msg.put_u64(g::A_PEER_SESSION_REMAINING_MS, ms, 0)?;
    }
    msg.put_u64(g::A_PEER_RX_DROPPED, v.rx_dropped, 0)?;
    msg.put_u64(g::A_PEER_TX_DROPPED, v.tx_dropped, 0)?;
    msg.nest_end(nest);
    Ok(())
}
