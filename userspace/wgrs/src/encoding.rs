//! Key encoding exactly as wg(8) accepts and prints it: 44 characters of
//! standard base64 ending in a single '=', canonical (the unused low bits of
//! the last character must be zero).

use wgrs_netlink::Key;

/// Length of a base64-encoded key, without a terminator.
pub const KEY_B64_LEN: usize = 44;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes a key.
pub fn key_to_base64(key: &Key) -> String {
    let mut out = String::with_capacity(KEY_B64_LEN);
    let mut chunks = key.chunks(3);
    for chunk in &mut chunks {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        let take = if chunk.len() == 3 { 4 } else { 3 };
        for i in idx.iter().take(take) {
            out.push(char::from(ALPHABET[*i as usize]));
        }
    }
    out.push('=');
    out
}

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

/// Decodes a key; `None` unless `s` is exactly what [`key_to_base64`] would
/// produce for some key.
pub fn key_from_base64(s: &[u8]) -> Option<Key> {
    if s.len() != KEY_B64_LEN || s[KEY_B64_LEN - 1] != b'=' {
        return None;
    }
    let mut key = [0u8; 32];
    for i in 0..10 {
        let mut n = 0u32;
        for c in &s[i * 4..i * 4 + 4] {
            n = (n << 6) | decode_char(*c)?;
        }
        key[i * 3] = (n >> 16) as u8;
        key[i * 3 + 1] = (n >> 8) as u8;
        key[i * 3 + 2] = n as u8;
    }
    let n = (decode_char(s[40])? << 18) | (decode_char(s[41])? << 12) | (decode_char(s[42])? << 6);
    if n & 0xff != 0 {
        return None;
    }
    key[30] = (n >> 16) as u8;
    key[31] = (n >> 8) as u8;
    Some(key)
}

/// Curve25519 secret clamping, as `wg genkey` applies it.
pub fn clamp(key: &mut Key) {
    key[31] = (key[31] & 127) | 64;
    key[0] &= 248;
}

/// The public key of a private key (the scalar is clamped first, as wg does).
///
/// Uses the same X25519 as the protocol core's userspace crypto. The base point
/// has prime order, so no scalar maps it to the all-zero point and the
/// core's zero-result flag cannot be set here.
pub fn public_key(private: &Key) -> Key {
    use wgrs_proto::crypto::Crypto;
    let mut public = [0u8; 32];
    wgrs_proto::rustcrypto::RustCrypto.curve25519_generate_public(&mut public, private);
    public
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_known_vector() {
        let zero = [0u8; 32];
        assert_eq!(
            key_to_base64(&zero),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8 * 7 + 1;
        }
        let s = key_to_base64(&k);
        assert_eq!(s.len(), 44);
        assert_eq!(key_from_base64(s.as_bytes()), Some(k));
        let ff = [0xffu8; 32];
        assert_eq!(
            key_to_base64(&ff),
            "//////////////////////////////////////////8="
        );
    }

    #[test]
    fn rejects_malformed() {
        let good = b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
        assert!(key_from_base64(good).is_some());
        assert!(key_from_base64(&good[..43]).is_none());
        assert!(key_from_base64(b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk==").is_none());
        assert!(key_from_base64(b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmkA").is_none());
        assert!(key_from_base64(b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm*=").is_none());
        // Non-canonical: low bits of the last character set.
        assert!(key_from_base64(b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml=").is_none());
        assert!(key_from_base64(b"yAnz5TF+lXXJte14tji3zl=Nq+hd2rYUIgJBgB3fBmk=").is_none());
    }

    #[test]
    fn rfc7748_public_key() {
        // RFC 7748 section 6.1, Alice.
        let private = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        assert_eq!(public_key(&private), public);
    }

    #[test]
    fn clamping() {
        let mut k = [0xffu8; 32];
        clamp(&mut k);
        assert_eq!(k[0], 0xf8);
        assert_eq!(k[31], 0x7f);
        let mut z = [0u8; 32];
        clamp(&mut z);
        assert_eq!(z[31], 0x40);
    }

    fn hex(s: &str) -> Key {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).expect("hex");
        }
        k
    }
}
