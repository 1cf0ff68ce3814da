//! Client of the wgrs gate generic netlink family `wgrs_gate`
//! (`Documentation/netlink/specs/wgrs_gate.yaml`).
//!
//! - [`message`]: the family's messages as typed attributes ([`GateMessage`]
//!   implements `netlink-packet-generic`'s `GenlFamily`).
//! - [`codec`]: requests, replies and notifications to and from plain data
//!   ([`model`]); no I/O, round-trip tested.
//! - [`socket`]: the real client ([`GateClient`]).
//! - [`fake`]: an in-memory kernel for tests of the agent and the CLI.
//!
//! Both implement [`GateKernel`].

pub mod codec;
pub mod consts;
pub mod fake;
pub mod message;
pub mod model;
pub mod socket;

pub use message::{DeviceAttr, GateMessage, PeerAttr};
pub use model::{
    GateEvent, GateStatus, Key, LockReason, PeerState, PeerStatus, Policy, PolicyUpdate,
};
pub use socket::{ifindex, resolve_family, FamilyIds, GateClient};

/// Rounds up to the netlink alignment (4 bytes).
pub(crate) const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Errors of the gate client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket call failed.
    #[error("{context}: {error}")]
    Io {
        context: String,
        // Not called `source`: in the message only, so chains print it once.
        error: std::io::Error,
    },
    /// The kernel refused a request.
    #[error("{op}: {}{}", describe_errno(*errno), message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel {
        op: &'static str,
        /// Positive errno.
        errno: i32,
        /// The kernel's extended-ACK text, if it sent one.
        message: Option<String>,
    },
    /// The family is not registered.
    #[error("the {0} generic netlink family is not registered (is wgrs.ko with the gate loaded?)")]
    FamilyMissing(String),
    /// No such network interface.
    #[error("no such network interface: {0}")]
    NoSuchDevice(String),
    /// The kernel did not answer in time.
    #[error("{0}: no answer from the kernel")]
    Timeout(&'static str),
    /// A message we could not make sense of.
    #[error("malformed wgrs_gate message: {0}")]
    Decode(String),
    /// A lock was poisoned by a panic elsewhere.
    #[error("internal lock poisoned")]
    Poisoned,
}

impl Error {
    /// The errno the kernel answered, if this is a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { error, .. } => error.raw_os_error(),
            _ => None,
        }
    }
}

/// What an errno means for this family, with the system's text and name.
pub fn describe_errno(errno: i32) -> String {
    let what = match errno {
        libc::ENOENT => "no such peer on this device",
        libc::ENODEV => "no such wgrs device (wrong ifindex, or not a wgrs device)",
        libc::EPERM | libc::EACCES => "permission denied (CAP_NET_ADMIN is needed)",
        libc::EOPNOTSUPP => "operation not supported by this kernel",
        libc::EINVAL => "invalid argument (missing or malformed attribute)",
        libc::ENOMEM => "out of memory in the kernel",
        libc::EBUSY => "device busy, try again",
        _ => "",
    };
    let sys = std::io::Error::from_raw_os_error(errno);
    if what.is_empty() {
        format!("{sys}")
    } else {
        format!("{what}: {sys}")
    }
}

/// A stream of gate notifications.
pub trait EventStream: Send {
    /// Blocks for the next notification. [`GateEvent::Lost`] means some
    /// were dropped (`ENOBUFS`): re-read the state with [`GateKernel::get`].
    fn next_event(&mut self) -> Result<GateEvent, Error>;
}

/// The kernel side of the gate: the five commands, the dump and the
/// notifications. Implemented by [`GateClient`] and [`fake::FakeKernel`].
pub trait GateKernel: Send + Sync {
    /// `set-policy`; absent fields are left as they are.
    fn set_policy(&self, ifindex: u32, update: &PolicyUpdate) -> Result<(), Error>;
    /// `peer-set`: the exempt flag.
    fn peer_set(&self, ifindex: u32, key: &Key, exempt: bool) -> Result<(), Error>;
    /// `get` dump.
    fn get(&self, ifindex: u32) -> Result<GateStatus, Error>;
    /// `authorize`.
    fn authorize(&self, ifindex: u32, key: &Key) -> Result<(), Error>;
    /// `revoke`.
    fn revoke(&self, ifindex: u32, key: &Key) -> Result<(), Error>;
    /// Subscribes to the `events` group.
    fn events(&self) -> Result<Box<dyn EventStream>, Error>;
}
