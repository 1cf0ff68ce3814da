//! Who is asking: the inner source address of a connection, mapped to a
//! peer by the device's allowed IPs (longest prefix wins), as the kernel's
//! cryptokey routing does. A source can only arrive from the peer whose
//! allowed IPs contain it, so the mapping identifies the peer.

use std::net::IpAddr;

use wgrs_gate_netlink::Key;

/// Allowed IPs of every peer of a device.
pub type AllowedIpsMap = Vec<(Key, Vec<(IpAddr, u8)>)>;

/// Source of the allowed IPs of a device.
pub trait PeerMap: Send + Sync {
    /// The allowed IPs of every peer of `ifname`.
    fn allowed_ips(&self, ifname: &str) -> anyhow::Result<AllowedIpsMap>;
}

/// Reads them with the `wireguard` family (`wgrs-netlink`).
pub struct NetlinkPeers;

impl PeerMap for NetlinkPeers {
    fn allowed_ips(&self, ifname: &str) -> anyhow::Result<AllowedIpsMap> {
        let dev = wgrs_netlink::get_device(ifname)
            .map_err(|e| anyhow::anyhow!("read the peers of {ifname}: {e}"))?;
        Ok(dev
            .peers
            .into_iter()
            .map(|p| {
                (
                    p.public_key,
                    p.allowed_ips.iter().map(|a| (a.addr, a.cidr)).collect(),
                )
            })
            .collect())
    }
}

fn prefix_contains(net: &IpAddr, cidr: u8, ip: &IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            if cidr > 32 {
                return false;
            }
            let mask = if cidr == 0 {
                0
            } else {
                u32::MAX << (32 - cidr)
            };
            u32::from(*n) & mask == u32::from(*a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            if cidr > 128 {
                return false;
            }
            let mask = if cidr == 0 {
                0
            } else {
                u128::MAX << (128 - cidr)
            };
            u128::from(*n) & mask == u128::from(*a) & mask
        }
        _ => false,
    }
}

/// The peer whose allowed IPs hold `ip` with the longest prefix.
pub fn longest_prefix_match(map: &AllowedIpsMap, ip: IpAddr) -> Option<Key> {
    let ip = ip.to_canonical();
    let mut best: Option<(u8, Key)> = None;
    for (key, nets) in map {
        for (net, cidr) in nets {
            if prefix_contains(net, *cidr, &ip) && best.is_none_or(|(c, _)| *cidr > c) {
                best = Some((*cidr, *key));
            }
        }
    }
    best.map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let map: AllowedIpsMap = vec![
            (
                a,
                vec![
                    ("10.0.0.0".parse().expect("ip"), 8),
                    ("fd00::".parse().expect("ip"), 64),
                ],
            ),
            (
                b,
                vec![
                    ("10.1.2.3".parse().expect("ip"), 32),
                    ("fd00::5".parse().expect("ip"), 128),
                ],
            ),
        ];
        let m = |s: &str| longest_prefix_match(&map, s.parse().expect("ip"));
        assert_eq!(m("10.9.9.9"), Some(a));
        assert_eq!(m("10.1.2.3"), Some(b));
        assert_eq!(m("10.1.2.4"), Some(a));
        assert_eq!(m("fd00::5"), Some(b));
        assert_eq!(m("fd00::6"), Some(a));
        assert_eq!(m("192.0.2.1"), None);
        assert_eq!(m("::ffff:10.1.2.3"), Some(b));
        assert_eq!(m("2001:db8::1"), None);
    }
}
