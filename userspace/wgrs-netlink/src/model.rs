//! Plain data model of a WireGuard device, mirroring `struct wgdevice` of
//! wireguard-tools (containers.h), so the CLI logic can follow wg(8) closely.

use std::net::{IpAddr, SocketAddr};

/// A Curve25519 key or a preshared key.
pub type Key = [u8; crate::consts::WG_KEY_LEN];

/// `struct timespec64` as sent in `WGPEER_A_LAST_HANDSHAKE_TIME`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

/// One allowed IP (`struct wgallowedip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedIp {
    pub addr: IpAddr,
    pub cidr: u8,
    /// `WGALLOWEDIP_F_REMOVE_ME`: remove this range instead of adding it.
    pub remove_me: bool,
}

/// Which fields of a [`Peer`] are meaningful / to be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerFlags {
    pub has_public_key: bool,
    pub has_preshared_key: bool,
    pub has_persistent_keepalive_interval: bool,
    pub remove_me: bool,
    pub replace_allowed_ips: bool,
    pub update_only: bool,
}

/// One peer (`struct wgpeer`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    pub flags: PeerFlags,
    pub public_key: Key,
    pub preshared_key: Key,
    pub endpoint: Option<SocketAddr>,
    pub last_handshake_time: Timespec,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub persistent_keepalive_interval: u16,
    pub allowed_ips: Vec<AllowedIp>,
}

/// Which fields of a [`Device`] are meaningful / to be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceFlags {
    pub replace_peers: bool,
    pub has_private_key: bool,
    pub has_public_key: bool,
    pub has_listen_port: bool,
    pub has_fwmark: bool,
}

/// A device (`struct wgdevice`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub ifindex: u32,
    pub flags: DeviceFlags,
    pub public_key: Key,
    pub private_key: Key,
    pub fwmark: u32,
    pub listen_port: u16,
    pub peers: Vec<Peer>,
}
