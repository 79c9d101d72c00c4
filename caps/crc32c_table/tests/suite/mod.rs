//! The tests every `crc32c` provider passes, shared by the providers' `tests/vectors.rs`
//! (which define `provider`, the crate under test, and `oracle`): the published vectors,
//! chaining, random inputs against the oracle, and the `invoke` contract.

use super::{oracle, provider};

/// `invoke("crc32c", value_le ++ data)`, decoded.
fn call(value: u32, data: &[u8]) -> u32 {
    let mut input = value.to_le_bytes().to_vec();
    input.extend_from_slice(data);
    let out = provider::invoke("crc32c", &input).unwrap();
    u32::from_le_bytes(out.try_into().expect("the result is 4 bytes"))
}

/// A bit at a time, straight from the definition: the oracle nothing else shares.
pub fn bitwise(value: u32, data: &[u8]) -> u32 {
    let mut crc = !value;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// Deterministic pseudo-random bytes (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn check_value() {
    assert_eq!(provider::crc32c(0, b"123456789"), 0xE306_9283);
    assert_eq!(call(0, b"123456789"), 0xE306_9283);
    assert_eq!(call(0, b""), 0);
    assert_eq!(call(0x1234_5678, b""), 0x1234_5678, "no data leaves the value unchanged");
}

/// RFC 3720 (iSCSI), appendix B.4.
#[test]
fn rfc3720_vectors() {
    assert_eq!(call(0, &[0u8; 32]), 0x8A91_36AA);
    assert_eq!(call(0, &[0xFFu8; 32]), 0x62A8_AB43);
    let ascending: Vec<u8> = (0..32).collect();
    assert_eq!(call(0, &ascending), 0x46DD_794E);
    let descending: Vec<u8> = (0..32).rev().collect();
    assert_eq!(call(0, &descending), 0x113F_DB5C);
    #[rustfmt::skip]
    let read_pdu: [u8; 48] = [
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
        0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(call(0, &read_pdu), 0xD996_3A56);
}

#[test]
fn chaining_is_like_zlib_crc32() {
    assert_eq!(call(call(0, b"12345"), b"6789"), call(0, b"123456789"));
    let mut rng = Rng(0x5EED_0001);
    let data = rng.bytes(5000);
    let whole = call(0, &data);
    for _ in 0..200 {
        let (mut value, mut at) = (0, 0);
        while at < data.len() {
            let n = rng.below(100).min(data.len() - at);
            value = call(value, &data[at..at + n]);
            at += n;
        }
        assert_eq!(value, whole);
    }
}

#[test]
fn random_lengths_and_unaligned_slices() {
    let mut rng = Rng(0x5EED_0002);
    let data = rng.bytes(4096 + 16);
    for _ in 0..600 {
        let start = rng.below(16);
        let len = rng.below(4097);
        let slice = &data[start..start + len];
        let value = if rng.below(2) == 0 { 0 } else { rng.next() as u32 };
        assert_eq!(provider::crc32c(value, slice), oracle(value, slice), "start {start}, len {len}, value {value:#x}");
    }
    for len in 0..=64 {
        for start in 0..8 {
            let slice = &data[start..start + len];
            assert_eq!(provider::crc32c(0, slice), bitwise(0, slice), "start {start}, len {len}");
        }
    }
}

#[test]
fn contract_errors() {
    assert_eq!(
        provider::invoke("x", &[0; 4]).unwrap_err(),
        format!("{}: unknown function `x` (serves: crc32c)", provider::NAME)
    );
    assert!(provider::invoke("crc32", &[0; 8]).is_err(), "no near misses");
    for n in 0..4 {
        let e = provider::invoke("crc32c", &vec![0; n]).unwrap_err();
        assert!(e.starts_with(&format!("{}: crc32c input is {n} bytes", provider::NAME)), "{e}");
        assert!(e.contains("4-byte little-endian starting value"), "{e}");
    }
    assert_eq!(provider::invoke("crc32c", &[0; 4]).unwrap(), vec![0; 4]);
}
