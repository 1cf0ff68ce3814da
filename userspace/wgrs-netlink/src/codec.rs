//! Pure encoding and decoding of `wireguard` family payloads (the attribute
//! part after the generic netlink header). No I/O here, so that the dump
//! merging and the set splitting can be tested with synthetic messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::attr::{self, attrs, AttrWriter};
use crate::consts::*;
use crate::model::{AllowedIp, Device, Key, Peer, Timespec};
use crate::Error;

/// Encodes an endpoint as the kernel's `struct sockaddr_in`/`sockaddr_in6`.
pub fn sockaddr_bytes(addr: &SocketAddr) -> Vec<u8> {
    match addr {
        SocketAddr::V4(a) => {
            let mut v = Vec::with_capacity(16);
            v.extend_from_slice(&AF_INET.to_ne_bytes());
            v.extend_from_slice(&a.port().to_be_bytes());
            v.extend_from_slice(&a.ip().octets());
            v.extend_from_slice(&[0; 8]);
            v
        }
        SocketAddr::V6(a) => {
            let mut v = Vec::with_capacity(28);
            v.extend_from_slice(&AF_INET6.to_ne_bytes());
            v.extend_from_slice(&a.port().to_be_bytes());
            v.extend_from_slice(&a.flowinfo().to_be_bytes());
            v.extend_from_slice(&a.ip().octets());
            v.extend_from_slice(&a.scope_id().to_ne_bytes());
            v
        }
    }
}

/// Decodes `struct sockaddr_in`/`sockaddr_in6`; `None` for anything else
/// (wg ignores such endpoints too).
pub fn parse_sockaddr(v: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(v.get(0..2)?.try_into().ok()?);
    let port = u16::from_be_bytes(v.get(2..4)?.try_into().ok()?);
    if family == AF_INET && v.len() == 16 {
        let ip: [u8; 4] = v.get(4..8)?.try_into().ok()?;
        Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
    } else if family == AF_INET6 && v.len() == 28 {
        let flow = u32::from_be_bytes(v.get(4..8)?.try_into().ok()?);
        let ip: [u8; 16] = v.get(8..24)?.try_into().ok()?;
        let scope = u32::from_ne_bytes(v.get(24..28)?.try_into().ok()?);
        Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            flow,
            scope,
        )))
    } else {
        None
    }
}

fn parse_allowedip(buf: &[u8]) -> Result<AllowedIp, Error> {
    let mut family = 0u16;
    let mut addr: Option<&[u8]> = None;
    let mut cidr: Option<u8> = None;
    let mut remove_me = false;
    for a in attrs(buf) {
        let (kind, v) = a?;
        match kind {
            WGALLOWEDIP_A_FAMILY => family = attr::get_u16("WGALLOWEDIP_A_FAMILY", v)?,
            WGALLOWEDIP_A_IPADDR => addr = Some(v),
            WGALLOWEDIP_A_CIDR_MASK => cidr = Some(attr::get_u8("WGALLOWEDIP_A_CIDR_MASK", v)?),
            WGALLOWEDIP_A_FLAGS => {
                remove_me = attr::get_u32("WGALLOWEDIP_A_FLAGS", v)? & WGALLOWEDIP_F_REMOVE_ME != 0
            }
            _ => {}
        }
    }
    let cidr = cidr.unwrap_or(0);
    let addr = match (family, addr) {
        (AF_INET, Some(v)) if v.len() == 4 && cidr <= 32 => IpAddr::V4(Ipv4Addr::from(
            attr::get_array::<4>("WGALLOWEDIP_A_IPADDR", v)?,
        )),
        (AF_INET6, Some(v)) if v.len() == 16 && cidr <= 128 => IpAddr::V6(Ipv6Addr::from(
            attr::get_array::<16>("WGALLOWEDIP_A_IPADDR", v)?,
        )),
        _ => {
            return Err(Error::Decode(format!(
                "allowed IP with family {family}, address {:?}, cidr {cidr}",
                addr.map(<[u8]>::len)
            )))
        }
    };
    Ok(AllowedIp {
        addr,
        cidr,
        remove_me,
    })
}

fn parse_peer(buf: &[u8]) -> Result<Peer, Error> {
    let mut peer = Peer::default();
    for a in attrs(buf) {
        let (kind, v) = a?;
        match kind {
            WGPEER_A_PUBLIC_KEY => {
                peer.public_key = attr::get_array("WGPEER_A_PUBLIC_KEY", v)?;
                peer.flags.has_public_key = true;
            }
            WGPEER_A_PRESHARED_KEY => {
                peer.preshared_key = attr::get_array("WGPEER_A_PRESHARED_KEY", v)?;
                peer.flags.has_preshared_key = peer.preshared_key != [0; WG_KEY_LEN];
            }
            WGPEER_A_FLAGS => {
                let f = attr::get_u32("WGPEER_A_FLAGS", v)?;
                peer.flags.remove_me = f & WGPEER_F_REMOVE_ME != 0;
                peer.flags.replace_allowed_ips = f & WGPEER_F_REPLACE_ALLOWEDIPS != 0;
                peer.flags.update_only = f & WGPEER_F_UPDATE_ONLY != 0;
            }
            WGPEER_A_ENDPOINT => peer.endpoint = parse_sockaddr(v),
            WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL => {
                peer.persistent_keepalive_interval =
                    attr::get_u16("WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL", v)?;
                peer.flags.has_persistent_keepalive_interval = true;
            }
            WGPEER_A_LAST_HANDSHAKE_TIME if v.len() == 16 => {
                peer.last_handshake_time = Timespec {
                    sec: attr::get_i64("last handshake", &v[..8])?,
                    nsec: attr::get_i64("last handshake", &v[8..])?,
                };
            }
            WGPEER_A_RX_BYTES => peer.rx_bytes = attr::get_u64("WGPEER_A_RX_BYTES", v)?,
            WGPEER_A_TX_BYTES => peer.tx_bytes = attr::get_u64("WGPEER_A_TX_BYTES", v)?,
            WGPEER_A_ALLOWEDIPS => {
                for ip in attrs(v) {
                    let (_, ipbuf) = ip?;
                    peer.allowed_ips.push(parse_allowedip(ipbuf)?);
                }
            }
            _ => {}
        }
    }
    if !peer.flags.has_public_key {
        return Err(Error::Decode("peer without a public key".into()));
    }
    Ok(peer)
}

/// Parses one message of a `WG_CMD_GET_DEVICE` dump (or of a set request,
/// which has the same layout) into `dev`: device attributes overwrite, peers
/// are appended. Call [`coalesce_peers`] once the dump is complete.
pub fn parse_device_payload(buf: &[u8], dev: &mut Device) -> Result<(), Error> {
    for a in attrs(buf) {
        let (kind, v) = a?;
        match kind {
            WGDEVICE_A_IFINDEX => dev.ifindex = attr::get_u32("WGDEVICE_A_IFINDEX", v)?,
            WGDEVICE_A_IFNAME => dev.name = attr::get_str(v),
            WGDEVICE_A_PRIVATE_KEY => {
                dev.private_key = attr::get_array("WGDEVICE_A_PRIVATE_KEY", v)?;
                dev.flags.has_private_key = true;
            }
            WGDEVICE_A_PUBLIC_KEY => {
                dev.public_key = attr::get_array("WGDEVICE_A_PUBLIC_KEY", v)?;
                dev.flags.has_public_key = true;
            }
            WGDEVICE_A_FLAGS => {
                dev.flags.replace_peers =
                    attr::get_u32("WGDEVICE_A_FLAGS", v)? & WGDEVICE_F_REPLACE_PEERS != 0
            }
            WGDEVICE_A_LISTEN_PORT => {
                dev.listen_port = attr::get_u16("WGDEVICE_A_LISTEN_PORT", v)?;
                dev.flags.has_listen_port = true;
            }
            WGDEVICE_A_FWMARK => {
                dev.fwmark = attr::get_u32("WGDEVICE_A_FWMARK", v)?;
                dev.flags.has_fwmark = true;
            }
            WGDEVICE_A_PEERS => {
                for p in attrs(v) {
                    let (_, pbuf) = p?;
                    dev.peers.push(parse_peer(pbuf)?);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The kernel may split one peer's allowed IPs across dump messages, repeating
/// the peer (public key only) at the start of the next message. Merges such
/// consecutive entries, like wg's `coalesce_peers()`.
pub fn coalesce_peers(peers: &mut Vec<Peer>) {
    let mut out: Vec<Peer> = Vec::with_capacity(peers.len());
    for p in peers.drain(..) {
        match out.last_mut() {
            Some(last) if last.public_key == p.public_key => {
                last.allowed_ips.extend(p.allowed_ips);
            }
            _ => out.push(p),
        }
    }
    *peers = out;
}

fn put_allowedip(w: &mut AttrWriter, ip: &AllowedIp) -> bool {
    let Some(nest) = w.nest_start(0) else {
        return false;
    };
    let ok = match ip.addr {
        IpAddr::V4(a) => {
            w.put_u16(WGALLOWEDIP_A_FAMILY, AF_INET) && w.put(WGALLOWEDIP_A_IPADDR, &a.octets())
        }
        IpAddr::V6(a) => {
            w.put_u16(WGALLOWEDIP_A_FAMILY, AF_INET6) && w.put(WGALLOWEDIP_A_IPADDR, &a.octets())
        }
    } && w.put_u8(WGALLOWEDIP_A_CIDR_MASK, ip.cidr)
        && (!ip.remove_me || w.put_u32(WGALLOWEDIP_A_FLAGS, WGALLOWEDIP_F_REMOVE_ME));
    if ok {
        w.nest_end(nest);
    } else {
        w.nest_cancel(nest);
    }
    ok
}

/// Puts a peer's header (everything but the allowed IPs). `continuing` is set
/// when this message continues the allowed IPs of a peer started in the
/// previous message: then only the key and REMOVE_ME are repeated, exactly
/// like wg's `kernel_set_device()`.
fn put_peer_header(w: &mut AttrWriter, peer: &Peer, continuing: bool) -> bool {
    if !w.put(WGPEER_A_PUBLIC_KEY, &peer.public_key) {
        return false;
    }
    let mut flags = 0;
    if peer.flags.remove_me {
        flags |= WGPEER_F_REMOVE_ME;
    }
    if peer.flags.update_only {
        flags |= WGPEER_F_UPDATE_ONLY;
    }
    if !continuing {
        if peer.flags.replace_allowed_ips {
            flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
        }
        if peer.flags.has_preshared_key && !w.put(WGPEER_A_PRESHARED_KEY, &peer.preshared_key) {
            return false;
        }
        if let Some(ep) = &peer.endpoint {
            if !w.put(WGPEER_A_ENDPOINT, &sockaddr_bytes(ep)) {
                return false;
            }
        }
        if peer.flags.has_persistent_keepalive_interval
            && !w.put_u16(
                WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                peer.persistent_keepalive_interval,
            )
        {
            return false;
        }
    }
    flags == 0 || w.put_u32(WGPEER_A_FLAGS, flags)
}

/// Splits a `WG_CMD_SET_DEVICE` request into payloads of at most
/// `max_payload` bytes each (attributes only; add the netlink and generic
/// netlink headers for the message size). Mirrors wg's algorithm: device
/// attributes go in the first message only; a peer that does not fit is moved
/// whole to the next message; a peer whose allowed IPs do not fit is
/// continued in the next message without its REPLACE_ALLOWEDIPS flag, so the
/// kernel appends the rest.
pub fn build_set_payloads(dev: &Device, max_payload: usize) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    let mut peer_i = 0usize;
    // Index of the next allowed IP of `peers[peer_i]` when that peer is being
    // continued from a previous message.
    let mut aip_i: Option<usize> = None;
    let n = dev.peers.len();
    loop {
        let first = out.is_empty();
        let mut w = AttrWriter::new(max_payload);
        if !w.put_strz(WGDEVICE_A_IFNAME, &dev.name) {
            return Err(Error::TooBig("interface name".into()));
        }
        if first {
            let mut ok = true;
            if dev.flags.has_private_key {
                ok &= w.put(WGDEVICE_A_PRIVATE_KEY, &dev.private_key);
            }
            if dev.flags.has_listen_port {
                ok &= w.put_u16(WGDEVICE_A_LISTEN_PORT, dev.listen_port);
            }
            if dev.flags.has_fwmark {
                ok &= w.put_u32(WGDEVICE_A_FWMARK, dev.fwmark);
            }
            if dev.flags.replace_peers {
                ok &= w.put_u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
            }
            if !ok {
                return Err(Error::TooBig("device attributes".into()));
            }
        }
        let progress_from = (peer_i, aip_i);
        if peer_i < n {
            let Some(peers_nest) = w.nest_start(WGDEVICE_A_PEERS) else {
                return Err(Error::TooBig("peer list".into()));
            };
            'peers: while peer_i < n {
                let peer = &dev.peers[peer_i];
                let Some(peer_nest) = w.nest_start(0) else {
                    break 'peers;
                };
                if !put_peer_header(&mut w, peer, aip_i.is_some()) {
                    w.nest_cancel(peer_nest);
                    break 'peers;
                }
                if !peer.allowed_ips.is_empty() {
                    let start = aip_i.unwrap_or(0);
                    let Some(aips_nest) = w.nest_start(WGPEER_A_ALLOWEDIPS) else {
                        w.nest_end(peer_nest);
                        aip_i = Some(start);
                        break 'peers;
                    };
                    for (j, ip) in peer.allowed_ips.iter().enumerate().skip(start) {
                        if !put_allowedip(&mut w, ip) {
                            w.nest_end(aips_nest);
                            w.nest_end(peer_nest);
                            aip_i = Some(j);
                            break 'peers;
                        }
                    }
                    w.nest_end(aips_nest);
                }
                w.nest_end(peer_nest);
                aip_i = None;
                peer_i += 1;
            }
            w.nest_end(peers_nest);
        }
        if !first && progress_from == (peer_i, aip_i) {
            return Err(Error::TooBig("a single peer".into()));
        }
        out.push(w.into_vec());
        if peer_i >= n {
            return Ok(out);
        }
    }
}

/// Builds the messages of a `WG_CMD_GET_DEVICE` dump the way the kernel does
/// (device attributes first, peers split across messages, a peer's allowed
/// IPs continued in the next message under a repeated public key). Used by
/// tests and by anything that wants to fake a kernel.
pub fn build_dump_payloads(dev: &Device, max_payload: usize) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    let mut peer_i = 0usize;
    let mut aip_i: Option<usize> = None;
    let n = dev.peers.len();
    loop {
        let first = out.is_empty();
        let mut w = AttrWriter::new(max_payload);
        if first {
            let ok = w.put_u16(WGDEVICE_A_LISTEN_PORT, dev.listen_port)
                && w.put_u32(WGDEVICE_A_FWMARK, dev.fwmark)
                && w.put_u32(WGDEVICE_A_IFINDEX, dev.ifindex)
                && w.put_strz(WGDEVICE_A_IFNAME, &dev.name)
                && (!dev.flags.has_private_key || w.put(WGDEVICE_A_PRIVATE_KEY, &dev.private_key))
                && (!dev.flags.has_public_key || w.put(WGDEVICE_A_PUBLIC_KEY, &dev.public_key));
            if !ok {
                return Err(Error::TooBig("device attributes".into()));
            }
        }
        let progress_from = (peer_i, aip_i);
        if peer_i < n {
            let Some(peers_nest) = w.nest_start(WGDEVICE_A_PEERS) else {
                return Err(Error::TooBig("peer list".into()));
            };
            'peers: while peer_i < n {
                let p = &dev.peers[peer_i];
                let Some(peer_nest) = w.nest_start(0) else {
                    break 'peers;
                };
                let mut ok = w.put(WGPEER_A_PUBLIC_KEY, &p.public_key);
                if aip_i.is_none() {
                    let psk: Key = if p.flags.has_preshared_key {
                        p.preshared_key
                    } else {
                        [0; 32]
                    };
                    let mut ts = Vec::with_capacity(16);
                    ts.extend_from_slice(&p.last_handshake_time.sec.to_ne_bytes());
                    ts.extend_from_slice(&p.last_handshake_time.nsec.to_ne_bytes());
                    ok = ok
                        && w.put(WGPEER_A_PRESHARED_KEY, &psk)
                        && w.put(WGPEER_A_LAST_HANDSHAKE_TIME, &ts)
                        && w.put_u16(
                            WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                            p.persistent_keepalive_interval,
                        )
                        && w.put_u64(WGPEER_A_TX_BYTES, p.tx_bytes)
                        && w.put_u64(WGPEER_A_RX_BYTES, p.rx_bytes)
                        && w.put_u32(WGPEER_A_PROTOCOL_VERSION, 1)
                        && p.endpoint
                            .as_ref()
                            .is_none_or(|ep| w.put(WGPEER_A_ENDPOINT, &sockaddr_bytes(ep)));
                }
                if !ok {
                    w.nest_cancel(peer_nest);
                    break 'peers;
                }
                if !p.allowed_ips.is_empty() {
                    let start = aip_i.unwrap_or(0);
                    let Some(aips_nest) = w.nest_start(WGPEER_A_ALLOWEDIPS) else {
                        w.nest_cancel(peer_nest);
                        break 'peers;
                    };
                    for (j, ip) in p.allowed_ips.iter().enumerate().skip(start) {
                        if !put_allowedip(&mut w, ip) {
                            w.nest_end(aips_nest);
                            w.nest_end(peer_nest);
                            aip_i = Some(j);
                            break 'peers;
                        }
                    }
                    w.nest_end(aips_nest);
                }
                w.nest_end(peer_nest);
                aip_i = None;
                peer_i += 1;
            }
            w.nest_end(peers_nest);
        }
        if !first && progress_from == (peer_i, aip_i) {
            return Err(Error::TooBig("a single peer".into()));
        }
        out.push(w.into_vec());
        if peer_i >= n {
            return Ok(out);
        }
    }
}
