//! Host throughput of the two crc32c providers at 4 KiB and 1 MiB (not a test; numbers vary
//! with the machine): `cargo run --release -p cap-crc32c-slice8 --example bench`.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Best of five rounds of `iters` calls, in GB/s.
fn gbps(f: fn(u32, &[u8]) -> u32, data: &[u8], iters: usize) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut value = 0;
        for _ in 0..iters {
            value = f(black_box(value), black_box(data));
        }
        black_box(value);
        best = best.min(start.elapsed());
    }
    (data.len() * iters) as f64 / best.as_secs_f64() / 1e9
}

fn main() {
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert_eq!(cap_crc32c_slice8::crc32c(0, &data), cap_crc32c_table::crc32c(0, &data));
    println!("{:<14} {:>10} {:>10}", "provider", "4 KiB", "1 MiB");
    for (name, f) in [
        ("crc32c_table", cap_crc32c_table::crc32c as fn(u32, &[u8]) -> u32),
        ("crc32c_slice8", cap_crc32c_slice8::crc32c),
    ] {
        let small = gbps(f, &data[..4096], 20_000);
        let large = gbps(f, &data, 80);
        println!("{name:<14} {small:>7.2} GB/s {large:>5.2} GB/s");
    }
}
