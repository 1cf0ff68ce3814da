//! TOTP (RFC 6238) on `totp-rs`: SHA-1, 6 digits, 30 s steps, one step of
//! skew either way. The verifier says which step matched so the caller can
//! refuse replays, and compares every candidate in constant time.

use std::fmt;

use totp_rs::{Algorithm, TOTP};

use crate::StateError;

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted before and after the current one.
pub const SKEW_STEPS: u64 = 1;
/// Bytes of a newly generated secret (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;

/// A TOTP shared secret. Never printed: `Debug` shows `Secret(..)`; the
/// bytes are zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: b is a valid, aligned, exclusive reference.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl Secret {
    /// A fresh random secret from the OS (`getrandom`).
    pub fn generate() -> Result<Self, StateError> {
        let mut v = vec![0u8; SECRET_LEN];
        getrandom::fill(&mut v).map_err(|e| StateError::Random(e.to_string()))?;
        Ok(Self(v))
    }

    /// Wraps raw secret bytes (at least 16).
    pub fn from_bytes(v: Vec<u8>) -> Result<Self, StateError> {
        if v.len() < 16 {
            return Err(StateError::Invalid(
                "a TOTP secret needs at least 128 bits".into(),
            ));
        }
        Ok(Self(v))
    }

    /// The raw bytes (for storage).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, digits: usize) -> Result<TOTP, StateError> {
        TOTP::new(
            Algorithm::SHA1,
            digits,
            SKEW_STEPS as u8,
            STEP_SECONDS,
            self.0.clone(),
        )
        .map_err(|e| StateError::Invalid(format!("TOTP parameters: {e}")))
    }

    /// Base32 (RFC 4648, no padding), as authenticator apps want it.
    pub fn base32(&self) -> Result<String, StateError> {
        Ok(self.totp(DIGITS)?.get_secret_base32())
    }

    /// The code of `step` with `digits` digits.
    pub fn code_at_step(&self, step: u64, digits: usize) -> Result<String, StateError> {
        Ok(self
            .totp(digits)?
            .generate(step.saturating_mul(STEP_SECONDS)))
    }

    /// The 6-digit code at Unix time `unix`.
    pub fn code_at(&self, unix: u64) -> Result<String, StateError> {
        self.code_at_step(unix / STEP_SECONDS, DIGITS)
    }
}

/// The step of Unix time `unix`.
pub fn step_of(unix: u64) -> u64 {
    unix / STEP_SECONDS
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Matches this step, which is newer than the last accepted one.
    Ok(u64),
    /// Matches, but only a step at or below the last accepted one.
    Replay,
    /// Matches no step in the window (or is not a code at all).
    Wrong,
}

/// Checks `code` against the steps around `unix`. `last_step` is the last
/// accepted step; any step at or below it is a replay. All candidates are
/// computed and compared (constant time per comparison, no early exit).
pub fn check(
    secret: &Secret,
    code: &str,
    unix: u64,
    last_step: Option<u64>,
) -> Result<Check, StateError> {
    let well_formed = code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit());
    let now = step_of(unix);
    let totp = secret.totp(DIGITS)?;
    let mut fresh: Option<u64> = None;
    let mut replayed = false;
    for step in now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS) {
        let candidate = totp.generate(step.saturating_mul(STEP_SECONDS));
        let eq = constant_time_eq::constant_time_eq(candidate.as_bytes(), code.as_bytes());
        if eq && well_formed {
            if last_step.is_some_and(|l| step <= l) {
                replayed = true;
            } else {
                fresh = Some(fresh.map_or(step, |f: u64| f.max(step)));
            }
        }
    }
    Ok(match (fresh, replayed) {
        (Some(s), _) => Check::Ok(s),
        (None, true) => Check::Replay,
        (None, false) => Check::Wrong,
    })
}

fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://totp/…` URI an authenticator app scans.
pub fn otpauth_uri(secret: &Secret, issuer: &str, account: &str) -> Result<String, StateError> {
    Ok(format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        uri_escape(issuer),
        uri_escape(account),
        secret.base32()?,
        uri_escape(issuer),
    ))
}
