//! The published vectors, chaining, random inputs against the table provider and a bitwise
//! oracle, and the `invoke` contract: the suite every crc32c provider passes.

use cap_crc32c_slice8 as provider;

#[path = "../../crc32c_table/tests/suite/mod.rs"]
mod suite;

fn oracle(value: u32, data: &[u8]) -> u32 {
    let expected = cap_crc32c_table::crc32c(value, data);
    assert_eq!(expected, suite::bitwise(value, data));
    expected
}
