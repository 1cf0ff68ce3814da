//! A minimal PNG writer for QR codes: 8-bit greyscale, zlib "stored"
//! (uncompressed) blocks, CRC-32 and Adler-32 by hand. QR images are small,
//! so compression is not worth a dependency.

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn zlib_stored(raw: &[u8]) -> Vec<u8> {
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        z.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        z.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    z.extend_from_slice(&adler32(raw).to_be_bytes());
    z
}

/// Encodes a `width` × `height` greyscale image (`pixels` row by row,
/// 0 = black, 255 = white).
pub fn encode_grey(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(pixels.len() + height as usize);
    for row in pixels.chunks(width.max(1) as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut out = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bit, greyscale, deflate, filter 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A QR module matrix (`dark[y * n + x]`) as a PNG with a 4-module quiet
/// zone and `scale` pixels per module.
pub fn qr_png(dark: &[bool], n: usize, scale: usize) -> Vec<u8> {
    let quiet = 4;
    let side = (n + 2 * quiet) * scale;
    let mut px = vec![255u8; side * side];
    for y in 0..n {
        for x in 0..n {
            if dark[y * n + x] {
                for dy in 0..scale {
                    let row = ((y + quiet) * scale + dy) * side;
                    let col = (x + quiet) * scale;
                    px[row + col..row + col + scale].fill(0);
                }
            }
        }
    }
    encode_grey(side as u32, side as u32, &px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
    }

    #[test]
    fn structure() {
        let png = encode_grey(3, 2, &[0, 128, 255, 255, 128, 0]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[16..20], &3u32.to_be_bytes());
        assert_eq!(&png[20..24], &2u32.to_be_bytes());
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        // The IDAT payload is zlib with one final stored block of 8 bytes.
        let idat = &png[33..];
        assert_eq!(&idat[4..8], b"IDAT");
        let z = &idat[8..];
        assert_eq!(&z[..3], &[0x78, 0x01, 1]);
        assert_eq!(&z[3..5], &8u16.to_le_bytes());
        assert_eq!(&z[7..15], &[0, 0, 128, 255, 0, 255, 128, 0]);
    }
}
