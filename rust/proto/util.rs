// SPDX-License-Identifier: GPL-2.0

//! Small helpers: constant-time compare, zeroing, little-endian field access.

/// Constant-time equality of two byte slices (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut acc: u8 = 0;
    for (x, y) in a.iter().zip(b.iter()) {
        acc |= x ^ y;
    }
    core::hint::black_box(acc) == 0
}

/// True if every byte is zero (constant time).
pub fn is_zero(a: &[u8]) -> bool {
    let mut acc: u8 = 0;
    for x in a {
        acc |= *x;
    }
    core::hint::black_box(acc) == 0
}

/// Overwrite with zeros in a way the optimiser keeps.
pub fn zeroize(a: &mut [u8]) {
    for x in a.iter_mut() {
        *x = 0;
    }
    core::hint::black_box(a);
}

/// Read a little-endian u32 at `off`.
pub fn le32(buf: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let b = buf.get(off..end)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    Some(u32::from_le_bytes(a))
}

/// Read a little-endian u64 at `off`.
pub fn le64(buf: &[u8], off: usize) -> Option<u64> {
    let end = off.checked_add(8)?;
    let b = buf.get(off..end)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Read a big-endian u16 at `off`.
pub fn be16(buf: &[u8], off: usize) -> Option<u16> {
    let end = off.checked_add(2)?;
    let b = buf.get(off..end)?;
    let mut a = [0u8; 2];
    a.copy_from_slice(b);
    Some(u16::from_be_bytes(a))
}

/// Copy `N` bytes at `off` into an array.
pub fn array_at<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    let b = buf.get(off..end)?;
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    Some(a)
}

/// Write `src` into `dst` at `off`; `false` if it does not fit.
pub fn put(dst: &mut [u8], off: usize, src: &[u8]) -> bool {
    let Some(end) = off.checked_add(src.len()) else {
        return false;
    };
    match dst.get_mut(off..end) {
        Some(d) => {
            d.copy_from_slice(src);
            true
        }
        None => false,
    }
}
