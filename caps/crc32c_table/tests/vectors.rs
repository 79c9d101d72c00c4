//! The published vectors, chaining, random inputs against a bitwise oracle, and the
//! `invoke` contract (the suite in `suite/`, shared with the other provider).

use cap_crc32c_table as provider;

mod suite;

fn oracle(value: u32, data: &[u8]) -> u32 {
    suite::bitwise(value, data)
}
