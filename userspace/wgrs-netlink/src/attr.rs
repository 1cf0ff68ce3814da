//! Netlink attribute writing with an explicit size limit (the equivalent of
//! libmnl's `mnl_attr_put_check`), and tolerant attribute iteration on top of
//! `netlink-packet-core`'s [`NlasIterator`].

use netlink_packet_core::NlasIterator;

use crate::consts::{NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK};
use crate::Error;

/// Rounds up to the netlink attribute alignment (4 bytes).
pub const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Appends netlink attributes to a buffer that must never grow past `limit`
/// bytes. Every `put` reports whether it fitted; a failed `put` leaves the
/// buffer untouched.
#[derive(Debug, Clone)]
pub struct AttrWriter {
    buf: Vec<u8>,
    limit: usize,
}

/// Position of an open nest, returned by [`AttrWriter::nest_start`].
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Nest(usize);

impl AttrWriter {
    /// `limit` is capped at 65532: a nest's length is a `u16`.
    pub fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit: limit.min(usize::from(u16::MAX) & !3),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether an attribute with `payload_len` bytes of payload still fits.
    pub fn fits(&self, payload_len: usize) -> bool {
        self.buf.len() + NLA_HDRLEN + align4(payload_len) <= self.limit
    }

    fn put_header(&mut self, kind: u16, payload_len: usize) {
        // Cannot truncate: fits() bounds payload_len by limit <= 65532.
        let len = u16::try_from(NLA_HDRLEN + payload_len).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
    }

    /// Puts one attribute; `false` (and nothing written) if it does not fit.
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> bool {
        if !self.fits(payload.len()) {
            return false;
        }
        self.put_header(kind, payload.len());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        true
    }

    pub fn put_u8(&mut self, kind: u16, v: u8) -> bool {
        self.put(kind, &[v])
    }

    pub fn put_u16(&mut self, kind: u16, v: u16) -> bool {
        self.put(kind, &v.to_ne_bytes())
    }

    pub fn put_u32(&mut self, kind: u16, v: u32) -> bool {
        self.put(kind, &v.to_ne_bytes())
    }

    pub fn put_u64(&mut self, kind: u16, v: u64) -> bool {
        self.put(kind, &v.to_ne_bytes())
    }

    /// NUL-terminated string.
    pub fn put_strz(&mut self, kind: u16, s: &str) -> bool {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.put(kind, &v)
    }

    /// Opens a nested attribute (type gets `NLA_F_NESTED`, like
    /// `mnl_attr_nest_start`); `None` if not even its header fits.
    pub fn nest_start(&mut self, kind: u16) -> Option<Nest> {
        if self.buf.len() + NLA_HDRLEN > self.limit {
            return None;
        }
        let pos = self.buf.len();
        self.put_header(kind | NLA_F_NESTED, 0);
        Some(Nest(pos))
    }

    /// Closes a nest, fixing up its length.
    pub fn nest_end(&mut self, nest: Nest) {
        let len = u16::try_from(self.buf.len() - nest.0).unwrap_or(u16::MAX);
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// Drops everything written since `pos` (from [`AttrWriter::len`]).
    pub fn truncate(&mut self, pos: usize) {
        self.buf.truncate(pos);
    }

    /// Drops an open nest and everything in it (`mnl_attr_nest_cancel`).
    pub fn nest_cancel(&mut self, nest: Nest) {
        self.buf.truncate(nest.0);
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

/// Iterates over the attributes in `buf` as `(type without flags, payload)`.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), Error>> {
    NlasIterator::new(buf).map(|nla| {
        let nla = nla.map_err(|e| Error::Decode(e.to_string()))?;
        let kind = nla.kind() & NLA_TYPE_MASK;
        let len = usize::from(nla.length());
        // new_checked() guaranteed NLA_HDRLEN <= len <= buffer length.
        let inner: &[u8] = nla.into_inner();
        Ok((kind, inner.get(NLA_HDRLEN..len).unwrap_or_default()))
    })
}

fn fixed<const N: usize>(what: &str, v: &[u8]) -> Result<[u8; N], Error> {
    v.try_into()
        .map_err(|_| Error::Decode(format!("{what}: expected {N} bytes, got {}", v.len())))
}

pub fn get_u8(what: &str, v: &[u8]) -> Result<u8, Error> {
    Ok(fixed::<1>(what, v)?[0])
}

pub fn get_u16(what: &str, v: &[u8]) -> Result<u16, Error> {
    Ok(u16::from_ne_bytes(fixed(what, v)?))
}

pub fn get_u32(what: &str, v: &[u8]) -> Result<u32, Error> {
    Ok(u32::from_ne_bytes(fixed(what, v)?))
}

pub fn get_u64(what: &str, v: &[u8]) -> Result<u64, Error> {
    Ok(u64::from_ne_bytes(fixed(what, v)?))
}

pub fn get_i64(what: &str, v: &[u8]) -> Result<i64, Error> {
    Ok(i64::from_ne_bytes(fixed(what, v)?))
}

pub fn get_array<const N: usize>(what: &str, v: &[u8]) -> Result<[u8; N], Error> {
    fixed(what, v)
}

/// A NUL-terminated (or not) string attribute.
pub fn get_str(v: &[u8]) -> String {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}
