//! Base64 of WireGuard keys (standard alphabet, padded: 44 characters).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes 32 bytes as wg does.
pub fn to_base64(key: &[u8; 32]) -> String {
    let mut out = String::with_capacity(44);
    for chunk in key.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes a 44-character base64 key.
pub fn from_base64(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 44 || b[43] != b'=' {
        return None;
    }
    let val = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|v| v as u32);
    let mut out = [0u8; 32];
    let mut o = 0;
    for chunk in b[..40].chunks(4) {
        let n = (val(chunk[0])? << 18)
            | (val(chunk[1])? << 12)
            | (val(chunk[2])? << 6)
            | val(chunk[3])?;
        out[o] = (n >> 16) as u8;
        out[o + 1] = (n >> 8) as u8;
        out[o + 2] = n as u8;
        o += 3;
    }
    let n = (val(b[40])? << 18) | (val(b[41])? << 12) | (val(b[42])? << 6);
    if n & 0xff != 0 {
        return None;
    }
    out[30] = (n >> 16) as u8;
    out[31] = (n >> 8) as u8;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for seed in [0u8, 1, 0x7f, 0xff] {
            let mut k = [0u8; 32];
            for (i, b) in k.iter_mut().enumerate() {
                *b = seed.wrapping_mul(31).wrapping_add(i as u8);
            }
            let s = to_base64(&k);
            assert_eq!(s.len(), 44);
            assert_eq!(from_base64(&s), Some(k));
        }
        assert_eq!(
            to_base64(&[0; 32]),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        assert_eq!(from_base64("short"), None);
        assert_eq!(
            from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="),
            None
        );
    }
}
