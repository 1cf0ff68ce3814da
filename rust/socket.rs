// SPDX-License-Identifier: GPL-2.0

//! The device's UDP sockets (made in the namespace that created the device,
//! wherever the device moved since) and sending to a peer's endpoint.

use crate::abstractions::genetlink::errno;
use crate::abstractions::rcu::{self, RcuNew};
use crate::abstractions::skb::SkBuff;
use crate::abstractions::udp::{UdpSocket, AF_INET, AF_INET6};
use crate::device::{Device, Sockets};
use crate::peer::Peer;
use core::sync::atomic::Ordering;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// DS byte of handshake messages (AF41), as the C driver.
pub(crate) const HANDSHAKE_DSCP: u8 = 0x88;

/// How often a free port is tried for both families when any port will do.
const PORT_RETRIES: u32 = 100;

/// Binds new sockets on `port` (0: a free port, the same for IPv4 and
/// IPv6). `EADDRINUSE` when it is taken; `errno::enonet()` when the creating
/// namespace is gone. Process context.
pub(crate) fn init(dev: &Arc<Device>, port: u16) -> Result<Sockets> {
    // The sockets keep the device alive while they exist (their user data).
    let owner = dev.clone();
    let r = dev.creating_net.with(|net| {
        let mut tries = 0;
        loop {
            let v4 = UdpSocket::create(net, port, false, owner.clone())?;
            let bound = v4.port();
            match UdpSocket::create(net, bound, true, owner.clone()) {
                Ok(v6) => return Ok(Sockets { v4: Some(v4), v6: Some(v6) }),
                Err(e) if e == errno::eafnosupport() => return Ok(Sockets { v4: Some(v4), v6: None }),
                Err(e) if e == errno::eaddrinuse() && port == 0 && tries < PORT_RETRIES => {
                    tries += 1;
                    drop(v4);
                }
                Err(e) => return Err(e),
            }
        }
    });
    r.unwrap_or(Err(errno::enonet()))
}

/// Replaces the sockets (or closes them, with `None`), waiting until
/// nothing uses the old ones. Returns the new bound port. Process context.
pub(crate) fn reinit(dev: &Device, new: Option<Sockets>) -> Option<u16> {
    let port = new.as_ref().and_then(|s| s.v4.as_ref().or(s.v6.as_ref())).map(UdpSocket::port);
    let cell = match new.map(|s| RcuNew::new(s, GFP_KERNEL)) {
        Some(Ok(c)) => Some(c),
        // No memory for the cell: the new sockets are closed by the drop.
        Some(Err(_)) => None,
        None => None,
    };
    drop(dev.sockets.replace_sync(cell));
    port
}

/// Sends one message to the peer's endpoint; returns whether it went out.
/// The cached source address is saved back if sending found it stale.
pub(crate) fn send_skb(peer: &Peer, skb: SkBuff, ds: u8) -> Result {
    let dev = &peer.device;
    let len = skb.len();
    let mut ep = *peer.endpoint.lock();
    let orig = ep;
    let g = rcu::read_lock();
    let (Some(socks), Some(netdev)) = (dev.sockets.get(&g), dev.netdev.get(&g)) else {
        drop(skb);
        return Err(errno::enonet());
    };
    let sock = match ep.family() {
        AF_INET => socks.v4.as_ref(),
        AF_INET6 => socks.v6.as_ref(),
        _ => None,
    };
    let Some(sock) = sock else {
        drop(skb);
        return Err(errno::eafnosupport());
    };
    let r = sock.send(skb, netdev, &mut ep, ds, dev.fwmark.load(Ordering::Relaxed), Some(&peer.dst_cache));
    drop(g);
    if ep.src_differs(&orig) {
        let mut cur = peer.endpoint.lock();
        if cur.same_as(&orig) {
            cur.clear_src();
        }
    }
    if r.is_ok() {
        peer.tx_bytes.fetch_add(u64::from(len), Ordering::Relaxed);
    }
    r
}

/// Sends a handshake message to the peer.
pub(crate) fn send_buffer(peer: &Peer, buf: &[u8], ds: u8) -> Result {
    let skb = SkBuff::from_buffer(buf).ok_or(ENOMEM)?;
    send_skb(peer, skb, ds)
}

/// Answers the sender of `in_skb` with `buf` (a cookie reply).
pub(crate) fn send_reply(dev: ArcBorrow<'_, Device>, in_skb: &SkBuff, buf: &[u8]) -> Result {
    let mut ep = in_skb.endpoint().ok_or(EINVAL)?;
    let skb = SkBuff::from_buffer(buf).ok_or(ENOMEM)?;
    let g = rcu::read_lock();
    let (Some(socks), Some(netdev)) = (dev.sockets.get(&g), dev.netdev.get(&g)) else {
        return Err(errno::enonet());
    };
    let sock = match ep.family() {
        AF_INET => socks.v4.as_ref(),
        AF_INET6 => socks.v6.as_ref(),
        _ => None,
    }
    .ok_or(errno::eafnosupport())?;
    sock.send(skb, netdev, &mut ep, 0, dev.fwmark.load(Ordering::Relaxed), None)
}
