//! wgrs-gated, the gate agent: it listens to the kernel's gate
//! notifications, keeps a view of who is locked, serves the auth page on
//! each gated device and authorizes a peer when its user's TOTP code is
//! right. See Documentation/gate.rst.

pub mod agent;
pub mod html;
pub mod http;
pub mod keys;
pub mod peers;
pub mod server;

pub use agent::{Agent, Clock, DeviceCtx};
pub use peers::{AllowedIpsMap, NetlinkPeers, PeerMap};
