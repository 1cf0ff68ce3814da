// SPDX-License-Identifier: GPL-2.0

//! WireGuard protocol constants (whitepaper section 6.1, drivers/net/wireguard/messages.h).

/// One second in nanoseconds.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;
/// One millisecond in nanoseconds.
pub const NSEC_PER_MSEC: u64 = 1_000_000;

/// Initiate a new handshake after this many messages were sent with a keypair.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Refuse to use a keypair after this many messages: 2^64 - 2^13 - 1.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// Seconds after which the initiator starts a new handshake.
pub const REKEY_AFTER_TIME: u64 = 120;
/// Seconds after which a keypair is no longer used at all.
pub const REJECT_AFTER_TIME: u64 = 180;
/// Seconds during which handshake attempts are retried before giving up.
pub const REKEY_ATTEMPT_TIME: u64 = 90;
/// Seconds between handshake retransmissions (plus jitter).
pub const REKEY_TIMEOUT: u64 = 5;
/// Maximum jitter added to [`REKEY_TIMEOUT`], in nanoseconds (HZ/3 = 333 ms).
pub const REKEY_TIMEOUT_JITTER_MAX_NS: u64 = 333 * NSEC_PER_MSEC;
/// Seconds of receive-without-send after which a keepalive is sent.
pub const KEEPALIVE_TIMEOUT: u64 = 10;
/// Number of handshake retransmissions before giving up: 90 / 5.
pub const MAX_TIMER_HANDSHAKES: u32 = (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT) as u32;
/// Maximum number of initiations per second accepted from one peer.
pub const INITIATIONS_PER_SECOND: u64 = 50;

/// Seconds after which the cookie secret is rotated.
pub const COOKIE_SECRET_MAX_AGE: u64 = 2 * 60;
/// Safety margin (seconds) subtracted from a received cookie's validity.
pub const COOKIE_SECRET_LATENCY: u64 = 5;

/// Length of a public/private key and of a DH result.
pub const KEY_LEN: usize = 32;
/// Length of a BLAKE2s hash / chaining key / symmetric key.
pub const HASH_LEN: usize = 32;
/// Length of a Poly1305 authentication tag.
pub const TAG_LEN: usize = 16;
/// Length of a TAI64N timestamp.
pub const TIMESTAMP_LEN: usize = 12;
/// Length of a cookie and of MAC1/MAC2.
pub const COOKIE_LEN: usize = 16;
/// Length of the XChaCha20-Poly1305 nonce of a cookie reply.
pub const COOKIE_NONCE_LEN: usize = 24;

/// Noise protocol name.
pub const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
/// WireGuard prologue / identifier.
pub const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
/// Label for the MAC1 key.
pub const LABEL_MAC1: &[u8] = b"mac1----";
/// Label for the cookie encryption key.
pub const LABEL_COOKIE: &[u8] = b"cookie--";

/// Data packets are padded to a multiple of this many bytes.
pub const MESSAGE_PADDING_MULTIPLE: usize = 16;
