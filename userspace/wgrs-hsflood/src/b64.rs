// SPDX-License-Identifier: GPL-2.0

//! WireGuard keys in base64 as wg(8) prints them: 44 characters of
//! standard base64 ending in a single '=', canonical (the unused low bits of
//! the last character zero). The same rules as `wgrs`' own decoder.

use wgrs_proto::proto::constants::KEY_LEN;

/// Length of a base64-encoded key.
const KEY_B64_LEN: usize = 44;

fn decode_char(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes a key; `None` unless `s` is a canonical 44-character key.
pub fn key_from_base64(s: &str) -> Option<[u8; KEY_LEN]> {
    let s = s.as_bytes();
    if s.len() != KEY_B64_LEN || s.last() != Some(&b'=') {
        return None;
    }
    // 43 characters carry 258 bits: 32 bytes and 2 bits that must be zero.
    let mut key = [0u8; KEY_LEN];
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut out = 0usize;
    for &c in s.get(..KEY_B64_LEN - 1)? {
        acc = (acc << 6) | decode_char(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *key.get_mut(out)? = (acc >> bits) as u8;
            out += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (out == KEY_LEN && acc == 0).then_some(key)
}

/// Encodes a key (tests and diagnostics).
#[cfg(test)]
pub fn key_to_base64(key: &[u8; KEY_LEN]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(KEY_B64_LEN);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in key {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    out.push('=');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_roundtrip() {
        assert_eq!(
            key_from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Some([0; 32])
        );
        assert_eq!(
            key_from_base64("//////////////////////////////////////////8="),
            Some([0xff; 32])
        );
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(5);
        }
        let s = key_to_base64(&k);
        assert_eq!(s.len(), 44);
        assert_eq!(key_from_base64(&s), Some(k));
    }

    #[test]
    fn rejects_malformed() {
        let good = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
        assert!(key_from_base64(good).is_some());
        assert!(key_from_base64(&good[..43]).is_none());
        assert!(key_from_base64("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk==").is_none());
        assert!(key_from_base64("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmkA").is_none());
        assert!(key_from_base64("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm*=").is_none());
        // Non-canonical: low bits of the last character set.
        assert!(key_from_base64("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml=").is_none());
        assert!(key_from_base64("yAnz5TF+lXXJte14tji3zl=Nq+hd2rYUIgJBgB3fBmk=").is_none());
        assert!(key_from_base64("").is_none());
        assert!(key_from_base64("ä").is_none());
    }
}
