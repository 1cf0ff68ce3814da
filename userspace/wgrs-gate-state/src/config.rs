//! `/etc/wgrs/gated.toml`: the agent's configuration, shared with the CLI
//! (which needs the state database of a device and its issuer).

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StateError;

/// Where the configuration lives by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/wgrs/gated.toml";
/// Where the state lives by default.
pub const DEFAULT_STATE_DB: &str = "/var/lib/wgrs-gated/state.db";
/// Default auth port (TCP): WireGuard's 51820 plus one.
pub const DEFAULT_AUTH_PORT: u16 = 51821;
/// Default TOTP issuer shown in authenticator apps.
pub const DEFAULT_ISSUER: &str = "wgrs";

fn default_state_db() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_DB)
}
fn default_auth_port() -> u16 {
    DEFAULT_AUTH_PORT
}
fn default_issuer() -> String {
    DEFAULT_ISSUER.to_owned()
}
fn default_burst() -> u32 {
    5
}
fn default_refill() -> u32 {
    60
}
fn default_header_timeout() -> u64 {
    5
}
fn default_request_timeout() -> u64 {
    15
}
fn default_max_body() -> usize {
    4096
}
fn default_max_connections() -> usize {
    64
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Login attempt limits (per peer).
    #[serde(default)]
    pub rate: RateConfig,
    /// HTTP limits of the auth page.
    #[serde(default)]
    pub http: HttpConfig,
    /// Gated devices, `[[device]]` tables.
    #[serde(default, rename = "device")]
    pub devices: Vec<DeviceConfig>,
}

/// Token bucket per peer: `burst` attempts at once, then one more every
/// `refill_seconds`. Every attempt is charged, right or wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    #[serde(default = "default_burst")]
    pub burst: u32,
    #[serde(default = "default_refill")]
    pub refill_seconds: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            burst: default_burst(),
            refill_seconds: default_refill(),
        }
    }
}

/// Limits of the HTTP service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Seconds a client has to send the request headers.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// Seconds a whole connection may last (slow bodies included).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// Largest request body accepted (larger: 413).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Connections served at once per device; more wait in the backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout_seconds: default_header_timeout(),
            request_timeout_seconds: default_request_timeout(),
            max_body_bytes: default_max_body(),
            max_connections: default_max_connections(),
        }
    }
}

/// One gated device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Interface name (`wg0`).
    pub name: String,
    /// TOTP issuer shown in authenticator apps.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// SQLite state database; devices may share one.
    #[serde(default = "default_state_db")]
    pub state_db: PathBuf,
    /// Addresses the auth page listens on. Empty (the default): every
    /// address of the device — the wildcard addresses, with the sockets
    /// bound to the device, so only connections arriving through it are
    /// accepted, whatever addresses it gets later.
    #[serde(default)]
    pub listen: Vec<IpAddr>,
    /// TCP port of the auth page; also pushed to the kernel's policy.
    #[serde(default = "default_auth_port")]
    pub auth_port: u16,
    /// If set, pushed to the kernel policy on start (seconds, 0 = gate off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u32>,
    /// If set, pushed to the kernel policy on start (seconds, 0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session: Option<u32>,
}

impl Config {
    /// Parses and validates.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, StateError> {
        let c: Config = toml::from_str(text).map_err(|e| StateError::Config {
            path: origin.to_owned(),
            reason: e.to_string(),
        })?;
        c.validate().map_err(|reason| StateError::Config {
            path: origin.to_owned(),
            reason,
        })?;
        Ok(c)
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let text = std::fs::read_to_string(path).map_err(|e| StateError::Io {
            context: format!("read {}", path.display()),
            error: e,
        })?;
        Self::parse(&text, path)
    }

    fn validate(&self) -> Result<(), String> {
        if self.rate.burst == 0 {
            return Err("rate.burst must be at least 1".into());
        }
        if self.rate.refill_seconds == 0 {
            return Err("rate.refill_seconds must be at least 1".into());
        }
        if self.http.max_body_bytes < 64 {
            return Err("http.max_body_bytes must be at least 64".into());
        }
        if self.http.header_timeout_seconds == 0 || self.http.request_timeout_seconds == 0 {
            return Err("http timeouts must be at least 1 second".into());
        }
        if self.http.max_connections == 0 {
            return Err("http.max_connections must be at least 1".into());
        }
        let mut names = HashSet::new();
        for d in &self.devices {
            if d.name.is_empty() || d.name.len() > 15 || d.name.contains(['/', ' ', '\0']) {
                return Err(format!("device name {:?} is not an interface name", d.name));
            }
            if !names.insert(d.name.as_str()) {
                return Err(format!("device {} is configured twice", d.name));
            }
            if d.auth_port == 0 {
                return Err(format!("device {}: auth_port must not be 0", d.name));
            }
            if d.issuer.is_empty() || d.issuer.contains(':') {
                return Err(format!(
                    "device {}: issuer must be non-empty and without ':'",
                    d.name
                ));
            }
            if d.state_db.as_os_str().is_empty() || !d.state_db.is_absolute() {
                return Err(format!(
                    "device {}: state_db must be an absolute path",
                    d.name
                ));
            }
            let mut seen = HashSet::new();
            for a in &d.listen {
                if !seen.insert(a) {
                    return Err(format!("device {}: listen address {a} twice", d.name));
                }
            }
        }
        Ok(())
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceConfig> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The effective configuration (defaults filled in), as TOML.
    pub fn to_toml(&self) -> Result<String, StateError> {
        toml::to_string_pretty(self).map_err(|e| StateError::Invalid(e.to_string()))
    }
}
