//! The state database (SQLite, one file, shared by the agent and the CLI).
//!
//! - One row per (device, peer): the active (confirmed) secret, a pending
//!   secret awaiting `confirm`, the last accepted TOTP step, the token
//!   bucket, the exempt flag.
//! - A login is one `BEGIN IMMEDIATE` transaction: charge the bucket, then
//!   (if a token was left) check the code, then record the accepted step;
//!   it commits before the kernel is asked to authorize, so an unlock is
//!   never requested for a step that is not durably consumed. Parallel
//!   attempts, from any process, are serialized by that transaction.
//! - The file is created mode 0600; a file readable or writable by group or
//!   others, a file that is not an SQLite database, a database of another
//!   program or a damaged one is refused, never reset.
//! - `audit_outbox` carries audit records written by the CLI to the agent,
//!   which prints them in its log.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::config::RateConfig;
use crate::totp::{self, Check, Secret};
use crate::StateError;

/// `PRAGMA application_id` of our databases ("wgGd").
pub const APPLICATION_ID: i32 = 0x7767_4764;
/// Schema version (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE peer (
    device TEXT NOT NULL,
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),
    secret BLOB,
    pending_secret BLOB,
    enrolled_at INTEGER,
    confirmed_at INTEGER,
    last_step INTEGER,
    tokens REAL,
    bucket_at INTEGER,
    exempt INTEGER NOT NULL DEFAULT 0,
    last_login_at INTEGER,
    PRIMARY KEY (device, public_key)
) STRICT;
CREATE TABLE audit_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL
) STRICT;
";

/// A peer's record, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub device: String,
    pub public_key: [u8; 32],
    /// An active secret exists (logins possible).
    pub confirmed: bool,
    /// A new secret awaits `confirm`.
    pub pending: bool,
    pub enrolled_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub exempt: bool,
}

/// How a login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Code accepted, step consumed, kernel authorized the peer.
    Authorized {
        step: u64,
    },
    /// Code accepted and step consumed, but the kernel refused to
    /// authorize (the text says why). Fail closed: the step stays used.
    KernelRefused {
        step: u64,
        reason: String,
    },
    WrongCode,
    Replay,
    /// No token left; the code was not checked.
    RateLimited {
        retry_after: u64,
    },
    /// The peer has no confirmed secret.
    NotEnrolled,
}

/// secret, last_step, tokens, bucket_at
type LoginRow = (Option<Vec<u8>>, Option<i64>, Option<f64>, Option<i64>);

/// The state database.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    code_checks: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn io(context: String, error: std::io::Error) -> StateError {
    StateError::Io { context, error }
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> StateError {
    StateError::Corrupt {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn key_blob(k: &[u8; 32]) -> &[u8] {
    &k[..]
}

impl Store {
    /// Opens (or creates, mode 0600) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let fresh = match std::fs::symlink_metadata(path) {
            Ok(m) => {
                if !m.file_type().is_file() {
                    return Err(corrupt(path, "not a regular file"));
                }
                let mode = m.permissions().mode() & 0o7777;
                if mode & 0o077 != 0 {
                    return Err(StateError::Permissions {
                        path: path.to_owned(),
                        mode,
                    });
                }
                m.size() == 0
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if !dir.exists() {
                        std::fs::DirBuilder::new()
                            .recursive(true)
                            .mode(0o700)
                            .create(dir)
                            .map_err(|e| io(format!("create {}", dir.display()), e))?;
                    }
                }
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| io(format!("create {}", path.display()), e))?;
                true
            }
            Err(e) => return Err(io(format!("stat {}", path.display()), e)),
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| corrupt(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| corrupt(path, e))?;
        if fresh {
            conn.execute_batch(&format!(
                "PRAGMA journal_mode = WAL; BEGIN; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; \
                 PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|e| corrupt(path, format!("initializing: {e}")))?;
        } else {
            if app_id != APPLICATION_ID {
                return Err(corrupt(
                    path,
                    format!("application id {app_id:#x}, not wgrs-gated's"),
                ));
            }
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| corrupt(path, e))?;
            if check != "ok" {
                return Err(corrupt(path, format!("integrity check: {check}")));
            }
            let version: i32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| corrupt(path, e))?;
            if version != SCHEMA_VERSION {
                return Err(corrupt(
                    path,
                    format!("schema version {version}, this build knows {SCHEMA_VERSION}"),
                ));
            }
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| corrupt(path, e))?;
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            code_checks: AtomicU64::new(0),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StateError> {
        self.conn
            .lock()
            .map_err(|_| StateError::Invalid("state database lock poisoned".into()))
    }

    /// How many codes were compared with a secret since opening (tests:
    /// rate-limited attempts never get that far).
    pub fn code_checks(&self) -> u64 {
        self.code_checks.load(Ordering::SeqCst)
    }

    /// Makes a new secret pending for the peer. An active secret stays
    /// active until the new one is confirmed.
    pub fn enroll(&self, device: &str, key: &[u8; 32], now: i64) -> Result<Secret, StateError> {
        let secret = Secret::generate()?;
        let conn = self.conn()?;
        conn.execute(
            "INSERT INTO peer (device, public_key, pending_secret, enrolled_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, public_key) DO UPDATE
             SET pending_secret = excluded.pending_secret, enrolled_at = excluded.enrolled_at",
            params![device, key_blob(key), secret.expose(), now],
        )?;
        Ok(secret)
    }

    /// Activates the pending secret if `code` is valid for it now. The
    /// step is consumed (it cannot then be used to log in).
    pub fn confirm(
        &self,
        device: &str,
        key: &[u8; 32],
        code: &str,
        now: i64,
    ) -> Result<Check, StateError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(Option<Vec<u8>>, Option<i64>)> = tx
            .query_row(
                "SELECT pending_secret, last_step FROM peer WHERE device = ?1 AND public_key = ?2",
                params![device, key_blob(key)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((Some(pending), last_step)) = row else {
            return Err(StateError::NothingPending(device.to_owned()));
        };
        let pending = Secret::from_bytes(pending)?;
        self.code_checks.fetch_add(1, Ordering::SeqCst);
        let unix = u64::try_from(now).unwrap_or(0);
        let result = totp::check(&pending, code, unix, None)?;
        if let Check::Ok(step) = result {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            tx.execute(
                "UPDATE peer SET secret = pending_secret, pending_secret = NULL,
                 confirmed_at = ?3, last_step = ?4
                 WHERE device = ?1 AND public_key = ?2",
                params![
                    device,
                    key_blob(key),
                    now,
                    last_step.map_or(step, |l| l.max(step))
                ],
            )?;
            tx.commit()?;
        }
        Ok(result)
    }

    /// Forgets the peer's secrets (and its whole record). `false` if there
    /// was nothing.
    pub fn remove(&self, device: &str, key: &[u8; 32]) -> Result<bool, StateError> {
        let n = self.conn()?.execute(
            "DELETE FROM peer WHERE device = ?1 AND public_key = ?2",
            params![device, key_blob(key)],
        )?;
        Ok(n > 0)
    }

    /// Records the exempt flag (the agent re-applies it to the kernel).
    pub fn set_exempt(&self, device: &str, key: &[u8; 32], exempt: bool) -> Result<(), StateError> {
        self.conn()?.execute(
            "INSERT INTO peer (device, public_key, exempt) VALUES (?1, ?2, ?3)
             ON CONFLICT (device, public_key) DO UPDATE SET exempt = excluded.exempt",
            params![device, key_blob(key), i64::from(exempt)],
        )?;
        Ok(())
    }

    /// Records of a device (all devices with `None`), sorted by key.
    pub fn list(&self, device: Option<&str>) -> Result<Vec<PeerRecord>, StateError> {
        let conn = self.conn()?;
        let mut st = conn.prepare(
            "SELECT device, public_key, secret IS NOT NULL, pending_secret IS NOT NULL,
                    enrolled_at, confirmed_at, last_login_at, exempt
             FROM peer WHERE ?1 IS NULL OR device = ?1 ORDER BY device, public_key",
        )?;
        let rows = st.query_map(params![device], |r| {
            let key: Vec<u8> = r.get(1)?;
            Ok((
                r.get::<_, String>(0)?,
                key,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, key, confirmed, pending, enrolled_at, confirmed_at, last_login_at, ex) =
                row?;
            let public_key: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| corrupt(&self.path, "a public key is not 32 bytes"))?;
            out.push(PeerRecord {
                device,
                public_key,
                confirmed,
                pending,
                enrolled_at,
                confirmed_at,
                last_login_at,
                exempt: ex != 0,
            });
        }
        Ok(out)
    }

    /// One login attempt for `key` on `device` with `code` at Unix time
    /// `now`. `authorize` asks the kernel; it runs only after the accepted
    /// step is committed.
    pub fn login<E: std::fmt::Display>(
        &self,
        device: &str,
        key: &[u8; 32],
        code: &str,
        now: i64,
        rate: &RateConfig,
        authorize: impl FnOnce() -> Result<(), E>,
    ) -> Result<LoginOutcome, StateError> {
        let step = {
            let mut conn = self.conn()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<LoginRow> = tx
                .query_row(
                    "SELECT secret, last_step, tokens, bucket_at FROM peer
                     WHERE device = ?1 AND public_key = ?2",
                    params![device, key_blob(key)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((Some(secret), last_step, tokens, bucket_at)) = row else {
                return Ok(LoginOutcome::NotEnrolled);
            };
            let secret = Secret::from_bytes(secret)?;
            // 1. Charge the bucket, before anything looks at the code.
            let burst = f64::from(rate.burst);
            let refill = f64::from(rate.refill_seconds);
            let elapsed = bucket_at.map_or(f64::INFINITY, |t| now.saturating_sub(t).max(0) as f64);
            let available = (tokens.unwrap_or(burst) + elapsed / refill).min(burst);
            if available < 1.0 {
                tx.execute(
                    "UPDATE peer SET tokens = ?3, bucket_at = ?4 WHERE device = ?1 AND public_key = ?2",
                    params![device, key_blob(key), available, now],
                )?;
                tx.commit()?;
                let retry_after = ((1.0 - available) * refill).ceil().max(1.0) as u64;
                return Ok(LoginOutcome::RateLimited { retry_after });
            }
            tx.execute(
                "UPDATE peer SET tokens = ?3, bucket_at = ?4 WHERE device = ?1 AND public_key = ?2",
                params![device, key_blob(key), available - 1.0, now],
            )?;
            // 2. Check the code.
            self.code_checks.fetch_add(1, Ordering::SeqCst);
            let last = last_step.and_then(|l| u64::try_from(l).ok());
            let unix = u64::try_from(now).unwrap_or(0);
            match totp::check(&secret, code, unix, last)? {
                Check::Wrong => {
                    tx.commit()?;
                    return Ok(LoginOutcome::WrongCode);
                }
                Check::Replay => {
                    tx.commit()?;
                    return Ok(LoginOutcome::Replay);
                }
                Check::Ok(step) => {
                    // 3. Consume the step, durably, before any unlock.
                    tx.execute(
                        "UPDATE peer SET last_step = ?3, last_login_at = ?4
                         WHERE device = ?1 AND public_key = ?2",
                        params![
                            device,
                            key_blob(key),
                            i64::try_from(step).unwrap_or(i64::MAX),
                            now
                        ],
                    )?;
                    tx.commit()?;
                    step
                }
            }
        };
        // 4. Unlock; a refusal leaves the step consumed (fail closed).
        Ok(match authorize() {
            Ok(()) => LoginOutcome::Authorized { step },
            Err(e) => LoginOutcome::KernelRefused {
                step,
                reason: e.to_string(),
            },
        })
    }

    /// Queues an audit line for the agent to print.
    pub fn queue_audit(&self, line: &str) -> Result<(), StateError> {
        self.conn()?
            .execute("INSERT INTO audit_outbox (line) VALUES (?1)", params![line])?;
        Ok(())
    }

    /// Takes the queued audit lines, oldest first.
    pub fn drain_audit(&self) -> Result<Vec<String>, StateError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let lines = {
            let mut st = tx.prepare("SELECT line FROM audit_outbox ORDER BY id")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.execute("DELETE FROM audit_outbox", [])?;
        tx.commit()?;
        Ok(lines)
    }
}
