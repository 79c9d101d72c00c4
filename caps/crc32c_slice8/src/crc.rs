//! The algorithm alone (no std, no glue), so that it can be reused and measured anywhere.
//!
//! Slicing-by-8: `TABLES[k][b]` is the CRC register after shifting the byte `b` followed by
//! `k` zero bytes through it, so eight bytes are folded in with eight independent lookups
//! instead of eight dependent ones. The head and tail (fewer than 8 bytes) go byte by byte.

/// The reflected CRC-32C polynomial.
pub const POLY: u32 = 0x82F6_3B78;

/// 8 KiB of tables, computed at compile time.
pub static TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

#[inline(always)]
fn byte(crc: u32, b: u8) -> u32 {
    (crc >> 8) ^ TABLES[0][((crc as u8) ^ b) as usize]
}

#[inline(always)]
fn t(k: usize, x: u32) -> u32 {
    TABLES[k][(x & 0xff) as usize]
}

/// The CRC-32C of `data`, continuing from `value` (the previous result, 0 to start), like
/// `zlib.crc32(data, value)`.
pub fn crc32c(value: u32, data: &[u8]) -> u32 {
    let mut crc = !value;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let c: &[u8; 8] = c.try_into().unwrap();
        let a = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let b = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = t(7, a) ^ t(6, a >> 8) ^ t(5, a >> 16) ^ t(4, a >> 24) ^ t(3, b) ^ t(2, b >> 8) ^ t(1, b >> 16) ^ t(0, b >> 24);
    }
    for &b in chunks.remainder() {
        crc = byte(crc, b);
    }
    !crc
}
