//! A `crc32c` provider for pylon's dynlink linker: CRC-32C (Castagnoli, the iSCSI/SCTP/ext4
//! CRC; reflected polynomial `0x82F63B78`), computed the classic way, one byte at a time
//! through a 256-entry table. It is the plain reference the faster provider
//! (`cap-crc32c-slice8`) is compared with.
//!
//! # The `crc32c` contract (`endpoint.invoke`)
//!
//! Function `"crc32c"`:
//!
//! - input: 4 bytes, the starting value as a little-endian `u32`, then the data. The starting
//!   value means what `value` means to CPython's `zlib.crc32(data, value)`: the result of the
//!   previous call, `0` to start. So `crc32c(b"123456789") == 0xE3069283`, and
//!   `crc32c(b"6789", crc32c(b"12345")) == crc32c(b"123456789")`.
//! - output: 4 bytes, the result as a little-endian `u32`.
//! - errors: an input shorter than 4 bytes, or any other function name.
//!
//! [`invoke`] is that contract on the host; the component glue (Wasm only) exports it as
//! `pylon:dynlink/endpoint@0.1.0`, world `provider` of `caps/dynlink/wit`.

#[cfg(target_arch = "wasm32")]
mod component;

/// The provider's name in its error messages.
pub const NAME: &str = "crc32c_table";

mod crc;
pub use crc::{POLY, TABLE, crc32c};

/// The endpoint: runs `function` on `input` under the contract in the crate docs.
pub fn invoke(function: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match function {
        "crc32c" => {
            let Some((value, data)) = input.split_first_chunk::<4>() else {
                return Err(format!(
                    "{NAME}: crc32c input is {} bytes; it must start with the 4-byte little-endian starting value (0 to start)",
                    input.len()
                ));
            };
            Ok(crc32c(u32::from_le_bytes(*value), data).to_le_bytes().to_vec())
        }
        other => Err(format!("{NAME}: unknown function `{other}` (serves: crc32c)")),
    }
}
