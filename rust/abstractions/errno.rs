// SPDX-License-Identifier: GPL-2.0

//! Error codes the C driver uses that `kernel::error::code` does not name.

use crate::sys;
use kernel::error::Error;

fn from(code: u32) -> Error {
    Error::from_errno(-(code as i32))
}
/// Neither or both of ifindex and ifname given.
pub(crate) fn ebadr() -> Error {
    from(sys::EBADR)
}
/// Not a device of ours.
pub(crate) fn eopnotsupp() -> Error {
    from(sys::EOPNOTSUPP)
}
/// Unknown protocol version.
pub(crate) fn epfnosupport() -> Error {
    from(sys::EPFNOSUPPORT)
}
/// Port in use.
pub(crate) fn eaddrinuse() -> Error {
    from(sys::EADDRINUSE)
}
/// Address family not available (no IPv6).
pub(crate) fn eafnosupport() -> Error {
    from(sys::EAFNOSUPPORT)
}
/// No network (the creating namespace is gone, no socket).
pub(crate) fn enonet() -> Error {
    from(sys::ENONET)
}
/// No peer has allowed IPs matching the destination.
pub(crate) fn enokey() -> Error {
    from(sys::ENOKEY)
}
/// The peer has no endpoint to send to.
pub(crate) fn edestaddrreq() -> Error {
    from(sys::EDESTADDRREQ)
}
/// Not an IPv4 or IPv6 packet.
pub(crate) fn eprotonosupport() -> Error {
    from(sys::EPROTONOSUPPORT)
}
