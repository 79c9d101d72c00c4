//! The algorithm alone (no std, no glue), so that it can be reused and measured anywhere.

/// The reflected CRC-32C polynomial.
pub const POLY: u32 = 0x82F6_3B78;

/// `TABLE[b]` is the CRC register after shifting the byte `b` through it (no init, no final xor).
pub static TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// The CRC-32C of `data`, continuing from `value` (the previous result, 0 to start), like
/// `zlib.crc32(data, value)`.
pub fn crc32c(value: u32, data: &[u8]) -> u32 {
    let mut crc = !value;
    for &byte in data {
        crc = (crc >> 8) ^ TABLE[((crc as u8) ^ byte) as usize];
    }
    !crc
}
