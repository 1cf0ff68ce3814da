// SPDX-License-Identifier: GPL-2.0

//! Wire formats of the four WireGuard messages, with strict parsing.
//!
//! All integers are little endian. The first 4 bytes are the type as a
//! little-endian u32, i.e. one type byte followed by three reserved bytes
//! that must be zero. Handshake messages must have their exact length; data
//! messages need at least the header and a tag (32 bytes).

use super::constants::{COOKIE_LEN, COOKIE_NONCE_LEN, KEY_LEN, TAG_LEN, TIMESTAMP_LEN};
use super::util::{array_at, le32, le64, put};

/// Message type codes.
pub const MESSAGE_HANDSHAKE_INITIATION: u32 = 1;
/// Handshake response.
pub const MESSAGE_HANDSHAKE_RESPONSE: u32 = 2;
/// Cookie reply.
pub const MESSAGE_HANDSHAKE_COOKIE: u32 = 3;
/// Transport data.
pub const MESSAGE_DATA: u32 = 4;

/// Size of a handshake initiation.
pub const INITIATION_LEN: usize = 148;
/// Size of a handshake response.
pub const RESPONSE_LEN: usize = 92;
/// Size of a cookie reply.
pub const COOKIE_REPLY_LEN: usize = 64;
/// Size of the transport data header (type, receiver, counter).
pub const DATA_HEADER_LEN: usize = 16;
/// Smallest valid data message: header + tag (a keepalive).
pub const DATA_MIN_LEN: usize = DATA_HEADER_LEN + TAG_LEN;

/// Offset of mac1 inside an initiation.
pub const INITIATION_MAC1_OFF: usize = 116;
/// Offset of mac1 inside a response.
pub const RESPONSE_MAC1_OFF: usize = 60;

/// Parse errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Packet is empty or shorter than any message.
    TooShort,
    /// Unknown type or reserved bytes not zero.
    BadType,
    /// Length does not match the type.
    BadLength,
}

/// The kind of a message, after type and length checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Handshake initiation.
    Initiation,
    /// Handshake response.
    Response,
    /// Cookie reply.
    CookieReply,
    /// Transport data.
    Data,
}

/// Classify a UDP payload, checking type, reserved bytes and length like
/// the C driver's `prepare_skb_header()`.
pub fn classify(buf: &[u8]) -> Result<MessageKind, ParseError> {
    let ty = le32(buf, 0).ok_or(ParseError::TooShort)?;
    classify_len(ty, buf.len())
}

/// [`classify`] from the type field (the first 4 bytes as a little-endian
/// u32) and the message length, for callers that hold only the start of a
/// message (a packet whose payload is not contiguous).
pub fn classify_len(ty: u32, len: usize) -> Result<MessageKind, ParseError> {
    let (kind, ok) = match ty {
        MESSAGE_HANDSHAKE_INITIATION => (MessageKind::Initiation, len == INITIATION_LEN),
        MESSAGE_HANDSHAKE_RESPONSE => (MessageKind::Response, len == RESPONSE_LEN),
        MESSAGE_HANDSHAKE_COOKIE => (MessageKind::CookieReply, len == COOKIE_REPLY_LEN),
        MESSAGE_DATA => (MessageKind::Data, len >= DATA_MIN_LEN),
        _ => return Err(ParseError::BadType),
    };
    if ok {
        Ok(kind)
    } else {
        Err(ParseError::BadLength)
    }
}

impl MessageKind {
    /// Bytes of the message a receiver must see before processing it: the
    /// whole handshake message, or a data message's header.
    pub fn header_len(self) -> usize {
        match self {
            MessageKind::Initiation => INITIATION_LEN,
            MessageKind::Response => RESPONSE_LEN,
            MessageKind::CookieReply => COOKIE_REPLY_LEN,
            MessageKind::Data => DATA_HEADER_LEN,
        }
    }
}

fn check(buf: &[u8], ty: u32, len: usize) -> Result<(), ParseError> {
    let t = le32(buf, 0).ok_or(ParseError::TooShort)?;
    if t != ty {
        return Err(ParseError::BadType);
    }
    if buf.len() != len {
        return Err(ParseError::BadLength);
    }
    Ok(())
}

/// Handshake initiation (type 1, 148 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiation {
    /// Initiator's session index.
    pub sender: u32,
    /// Unencrypted ephemeral public key.
    pub ephemeral: [u8; KEY_LEN],
    /// AEAD(static public key).
    pub encrypted_static: [u8; KEY_LEN + TAG_LEN],
    /// AEAD(TAI64N timestamp).
    pub encrypted_timestamp: [u8; TIMESTAMP_LEN + TAG_LEN],
    /// MAC1 over everything before it.
    pub mac1: [u8; COOKIE_LEN],
    /// MAC2 over everything before it (zero if no cookie).
    pub mac2: [u8; COOKIE_LEN],
}

impl Initiation {
    /// Parse exactly 148 bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        check(buf, MESSAGE_HANDSHAKE_INITIATION, INITIATION_LEN)?;
        let e = ParseError::BadLength;
        Ok(Self {
            sender: le32(buf, 4).ok_or(e)?,
            ephemeral: array_at(buf, 8).ok_or(e)?,
            encrypted_static: array_at(buf, 40).ok_or(e)?,
            encrypted_timestamp: array_at(buf, 88).ok_or(e)?,
            mac1: array_at(buf, 116).ok_or(e)?,
            mac2: array_at(buf, 132).ok_or(e)?,
        })
    }

    /// Serialise into 148 bytes.
    pub fn to_bytes(&self) -> [u8; INITIATION_LEN] {
        let mut b = [0u8; INITIATION_LEN];
        let ok = put(&mut b, 0, &MESSAGE_HANDSHAKE_INITIATION.to_le_bytes())
            & put(&mut b, 4, &self.sender.to_le_bytes())
            & put(&mut b, 8, &self.ephemeral)
            & put(&mut b, 40, &self.encrypted_static)
            & put(&mut b, 88, &self.encrypted_timestamp)
            & put(&mut b, 116, &self.mac1)
            & put(&mut b, 132, &self.mac2);
        // Fixed offsets inside a fixed-size array: cannot fail.
        let _ = ok;
        b
    }
}

/// Handshake response (type 2, 92 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Responder's session index.
    pub sender: u32,
    /// Initiator's session index, echoed.
    pub receiver: u32,
    /// Unencrypted ephemeral public key.
    pub ephemeral: [u8; KEY_LEN],
    /// AEAD of the empty string.
    pub encrypted_nothing: [u8; TAG_LEN],
    /// MAC1.
    pub mac1: [u8; COOKIE_LEN],
    /// MAC2.
    pub mac2: [u8; COOKIE_LEN],
}

impl Response {
    /// Parse exactly 92 bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        check(buf, MESSAGE_HANDSHAKE_RESPONSE, RESPONSE_LEN)?;
        let e = ParseError::BadLength;
        Ok(Self {
            sender: le32(buf, 4).ok_or(e)?,
            receiver: le32(buf, 8).ok_or(e)?,
            ephemeral: array_at(buf, 12).ok_or(e)?,
            encrypted_nothing: array_at(buf, 44).ok_or(e)?,
            mac1: array_at(buf, 60).ok_or(e)?,
            mac2: array_at(buf, 76).ok_or(e)?,
        })
    }

    /// Serialise into 92 bytes.
    pub fn to_bytes(&self) -> [u8; RESPONSE_LEN] {
        let mut b = [0u8; RESPONSE_LEN];
        let ok = put(&mut b, 0, &MESSAGE_HANDSHAKE_RESPONSE.to_le_bytes())
            & put(&mut b, 4, &self.sender.to_le_bytes())
            & put(&mut b, 8, &self.receiver.to_le_bytes())
            & put(&mut b, 12, &self.ephemeral)
            & put(&mut b, 44, &self.encrypted_nothing)
            & put(&mut b, 60, &self.mac1)
            & put(&mut b, 76, &self.mac2);
        // Fixed offsets inside a fixed-size array: cannot fail.
        let _ = ok;
        b
    }
}

/// Cookie reply (type 3, 64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieReply {
    /// Sender index of the handshake message this answers.
    pub receiver: u32,
    /// Random XChaCha20 nonce.
    pub nonce: [u8; COOKIE_NONCE_LEN],
    /// XAEAD(cookie), with the answered message's mac1 as associated data.
    pub encrypted_cookie: [u8; COOKIE_LEN + TAG_LEN],
}

impl CookieReply {
    /// Parse exactly 64 bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        check(buf, MESSAGE_HANDSHAKE_COOKIE, COOKIE_REPLY_LEN)?;
        let e = ParseError::BadLength;
        Ok(Self {
            receiver: le32(buf, 4).ok_or(e)?,
            nonce: array_at(buf, 8).ok_or(e)?,
            encrypted_cookie: array_at(buf, 32).ok_or(e)?,
        })
    }

    /// Serialise into 64 bytes.
    pub fn to_bytes(&self) -> [u8; COOKIE_REPLY_LEN] {
        let mut b = [0u8; COOKIE_REPLY_LEN];
        let ok = put(&mut b, 0, &MESSAGE_HANDSHAKE_COOKIE.to_le_bytes())
            & put(&mut b, 4, &self.receiver.to_le_bytes())
            & put(&mut b, 8, &self.nonce)
            & put(&mut b, 32, &self.encrypted_cookie);
        // Fixed offsets inside a fixed-size array: cannot fail.
        let _ = ok;
        b
    }
}

/// Header of a transport data message; the ciphertext follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// Receiver's session index.
    pub receiver: u32,
    /// Nonce counter.
    pub counter: u64,
}

impl DataHeader {
    /// Parse a data message; returns the header and the ciphertext+tag part
    /// (at least 16 bytes).
    pub fn parse(buf: &[u8]) -> Result<(Self, &[u8]), ParseError> {
        let t = le32(buf, 0).ok_or(ParseError::TooShort)?;
        if t != MESSAGE_DATA {
            return Err(ParseError::BadType);
        }
        if buf.len() < DATA_MIN_LEN {
            return Err(ParseError::BadLength);
        }
        let e = ParseError::BadLength;
        let h = Self {
            receiver: le32(buf, 4).ok_or(e)?,
            counter: le64(buf, 8).ok_or(e)?,
        };
        let rest = buf.get(DATA_HEADER_LEN..).ok_or(e)?;
        Ok((h, rest))
    }

    /// Parse only the 16-byte header at the start of `buf`: what a receiver
    /// needs before decryption. The message's total length (at least
    /// [`DATA_MIN_LEN`]) is checked apart from this ([`classify_len`]),
    /// because a received packet need not hold its ciphertext and tag in
    /// the same contiguous buffer as its header (a NIC may deliver the
    /// rest in page fragments).
    pub fn parse_header(buf: &[u8]) -> Result<Self, ParseError> {
        let t = le32(buf, 0).ok_or(ParseError::TooShort)?;
        if t != MESSAGE_DATA {
            return Err(ParseError::BadType);
        }
        let e = ParseError::TooShort;
        Ok(Self {
            receiver: le32(buf, 4).ok_or(e)?,
            counter: le64(buf, 8).ok_or(e)?,
        })
    }

    /// Write the 16-byte header into the start of `out`.
    pub fn write(&self, out: &mut [u8]) -> bool {
        put(out, 0, &MESSAGE_DATA.to_le_bytes())
            & put(out, 4, &self.receiver.to_le_bytes())
            & put(out, 8, &self.counter.to_le_bytes())
    }
}

/// Number of zero bytes to append to a plaintext of `len` bytes before
/// encryption (`calculate_skb_padding()` in send.c): up to the next multiple
/// of 16, but not beyond `mtu`; `mtu == 0` means unknown (pad to 16).
/// A packet larger than the MTU is padded as if it were `len % mtu` long.
pub fn padding_len(len: usize, mtu: usize) -> usize {
    const M: usize = super::constants::MESSAGE_PADDING_MULTIPLE;
    let align = |n: usize| -> usize {
        let rem = n % M;
        if rem == 0 {
            n
        } else {
            n.saturating_add(M.wrapping_sub(rem))
        }
    };
    if mtu == 0 {
        return align(len).saturating_sub(len);
    }
    let last_unit = if len > mtu {
        len.checked_rem(mtu).unwrap_or(0)
    } else {
        len
    };
    let padded = mtu.min(align(last_unit));
    padded.saturating_sub(last_unit)
}

/// Plaintext length after padding: `len + padding_len(len, mtu)`.
pub fn padded_len(len: usize, mtu: usize) -> usize {
    len.saturating_add(padding_len(len, mtu))
}
