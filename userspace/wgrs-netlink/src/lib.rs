//! Generic netlink client for the WireGuard `wireguard` family, as spoken by
//! both the in-tree C driver and the `wgrs` Rust module.
//!
//! [`codec`] is pure (encode/decode/split/merge) and unit-tested;
//! [`socket`] does the I/O.

pub mod attr;
pub mod codec;
pub mod consts;
pub mod model;
pub mod socket;

pub use model::{AllowedIp, Device, DeviceFlags, Key, Peer, PeerFlags, Timespec};
pub use socket::{get_device, list_devices, set_device, GenlSocket};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Socket-level failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The kernel answered with this (positive) errno.
    #[error("{}", std::io::Error::from_raw_os_error(*.0))]
    Kernel(i32),
    /// A reply we could not make sense of.
    #[error("malformed netlink message: {0}")]
    Decode(String),
    /// A request part that cannot fit in one netlink message.
    #[error("{0} does not fit in a netlink message")]
    TooBig(String),
}

impl Error {
    /// The errno this error corresponds to, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io(e) => e.raw_os_error(),
            Error::Kernel(e) => Some(*e),
            _ => None,
        }
    }
}
