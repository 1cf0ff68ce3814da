// SPDX-License-Identifier: GPL-2.0

//! Minimal, strict parser for decrypted inner packets: IP version, addresses,
//! transport protocol and TCP/UDP ports, as the gate needs them.
//!
//! IPv4: version 4, IHL >= 5, total length within the buffer and >= header;
//! only the first fragment carries ports (later fragments report none).
//! IPv6: the fixed header, payload length within the buffer; extension
//! headers hop-by-hop, routing, destination options and fragment are walked
//! (bounded); ports only when the next header is TCP or UDP and, for a
//! fragment header, only in the first fragment.

use super::util::{array_at, be16};

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// Address of an inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpAddr {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

/// Parsed inner packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// (source, destination) port for TCP/UDP with the ports present.
    pub ports: Option<(u16, u16)>,
    /// Length of the IP packet according to its header.
    pub ip_len: usize,
}

/// Parse errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InnerError {
    /// Empty or shorter than its header.
    Truncated,
    /// Not IPv4 or IPv6.
    BadVersion,
    /// Inconsistent header fields.
    Malformed,
}

fn ports_at(buf: &[u8], off: usize, proto: u8, end: usize) -> Option<(u16, u16)> {
    if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
        return None;
    }
    let need = off.checked_add(4)?;
    if need > end {
        return None;
    }
    Some((be16(buf, off)?, be16(buf, off.checked_add(2)?)?))
}

/// Parse an inner IP packet (the plaintext of a data message, padding may
/// follow the IP packet).
pub fn parse(buf: &[u8]) -> Result<InnerHeader, InnerError> {
    parse_prefix(buf, buf.len())
}

/// Parse the headers of an inner IP packet of `packet_len` bytes of which
/// `buf` holds the first ones (at least the IP header; the transport ports
/// are reported only if they are in `buf`). `packet_len` smaller than
/// `buf` is taken as `buf.len()`.
pub fn parse_prefix(buf: &[u8], packet_len: usize) -> Result<InnerHeader, InnerError> {
    let len = packet_len.max(buf.len());
    let first = *buf.first().ok_or(InnerError::Truncated)?;
    match first >> 4 {
        4 => parse_v4(buf, len),
        6 => parse_v6(buf, len),
        _ => Err(InnerError::BadVersion),
    }
}

fn parse_v4(buf: &[u8], len: usize) -> Result<InnerHeader, InnerError> {
    if buf.len() < 20 {
        return Err(InnerError::Truncated);
    }
    let first = *buf.first().ok_or(InnerError::Truncated)?;
    let ihl = usize::from(first & 0x0f).wrapping_mul(4);
    if ihl < 20 {
        return Err(InnerError::Malformed);
    }
    let total = usize::from(be16(buf, 2).ok_or(InnerError::Truncated)?);
    if total < ihl {
        return Err(InnerError::Malformed);
    }
    if total > len {
        return Err(InnerError::Truncated);
    }
    let frag = be16(buf, 6).ok_or(InnerError::Truncated)?;
    let protocol = *buf.get(9).ok_or(InnerError::Truncated)?;
    let src = array_at::<4>(buf, 12).ok_or(InnerError::Truncated)?;
    let dst = array_at::<4>(buf, 16).ok_or(InnerError::Truncated)?;
    let ports = if frag & 0x1fff == 0 {
        ports_at(buf, ihl, protocol, total)
    } else {
        None
    };
    Ok(InnerHeader {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol,
        ports,
        ip_len: total,
    })
}

fn parse_v6(buf: &[u8], len: usize) -> Result<InnerHeader, InnerError> {
    const FIXED: usize = 40;
    if buf.len() < FIXED {
        return Err(InnerError::Truncated);
    }
    let payload = usize::from(be16(buf, 4).ok_or(InnerError::Truncated)?);
    let total = FIXED.checked_add(payload).ok_or(InnerError::Malformed)?;
    if total > len {
        return Err(InnerError::Truncated);
    }
    let mut next = *buf.get(6).ok_or(InnerError::Truncated)?;
    let src = array_at::<16>(buf, 8).ok_or(InnerError::Truncated)?;
    let dst = array_at::<16>(buf, 24).ok_or(InnerError::Truncated)?;
    let mut off = FIXED;
    let mut first_fragment = true;
    // Walk at most 8 extension headers.
    for _ in 0..8 {
        match next {
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let nh = *buf.get(off).ok_or(InnerError::Truncated)?;
                let len8 = usize::from(*buf.get(off.wrapping_add(1)).ok_or(InnerError::Truncated)?);
                let hlen = len8.wrapping_add(1).wrapping_mul(8);
                off = off.checked_add(hlen).ok_or(InnerError::Malformed)?;
                if off > total {
                    return Err(InnerError::Malformed);
                }
                next = nh;
            }
            // Fragment header, 8 bytes.
            44 => {
                let nh = *buf.get(off).ok_or(InnerError::Truncated)?;
                let fo = be16(buf, off.wrapping_add(2)).ok_or(InnerError::Truncated)?;
                if fo & 0xfff8 != 0 {
                    first_fragment = false;
                }
                off = off.checked_add(8).ok_or(InnerError::Malformed)?;
                if off > total {
                    return Err(InnerError::Malformed);
                }
                next = nh;
            }
            _ => break,
        }
    }
    let ports = if first_fragment {
        ports_at(buf, off, next, total)
    } else {
        None
    };
    Ok(InnerHeader {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        protocol: next,
        ports,
        ip_len: total,
    })
}
