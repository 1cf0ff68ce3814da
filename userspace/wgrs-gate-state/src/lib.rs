//! State of the wgrs gate: configuration ([`config`]), TOTP ([`totp`]),
//! the SQLite store of secrets, replay steps and rate buckets ([`store`])
//! and the JSON-lines audit log ([`audit`]). Shared by the agent
//! (`wgrs-gated`) and the CLI (`wgrs gate`), which open the same database.

use std::path::PathBuf;

pub mod audit;
pub mod config;
pub mod store;
pub mod totp;

pub use audit::Audit;
pub use config::{Config, DeviceConfig, HttpConfig, RateConfig};
pub use store::{LoginOutcome, PeerRecord, Store};
pub use totp::{Check, Secret};

/// Errors of the state layer. None of them carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{context}: {error}")]
    Io {
        context: String,
        // Not called `source`: in the message only, so chains print it once.
        error: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error(
        "{path}: permissions {mode:04o} give access to group or others; refusing to use it \
         (it holds TOTP secrets: chmod 600 it, and check who read it)"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}: not a usable wgrs-gated state database ({reason}); refusing to touch it (restore it from a backup or move it away)")]
    Corrupt { path: PathBuf, reason: String },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("random number generator: {0}")]
    Random(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no enrollment of that peer on {0}")]
    NotEnrolled(String),
    #[error("no pending enrollment of that peer on {0} (run `wgrs gate enroll` first)")]
    NothingPending(String),
    #[error("{0}")]
    Refused(String),
}
