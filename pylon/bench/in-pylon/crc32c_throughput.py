"""crc32c through the dynlink linker at 4 KiB and 1 MiB, with zlib.crc32 (a static cap) on
the same data for scale. Prints name, value, unit; the bench runs this once per provider."""
import time
import zlib

try:
    from crc32c import crc32c
except ImportError:
    crc32c = None


def mb_per_s(fn, data, calls):
    batches = []
    for _ in range(5):
        start = time.perf_counter_ns()
        value = 0
        for _ in range(calls):
            value = fn(data, value)
        batches.append(time.perf_counter_ns() - start)
    ns = sorted(batches)[2]
    return len(data) * calls / ns * 1e3  # bytes/ns -> MB/s


for label, size, calls in (("4 KiB", 4096, 2000), ("1 MiB", 1 << 20, 20)):
    data = bytes(range(256)) * (size // 256)
    if crc32c is not None:
        print(f"dynlink crc32c {label}\t{mb_per_s(crc32c, data, calls):.0f}\tMB/s")
    print(f"static zlib.crc32 {label}\t{mb_per_s(zlib.crc32, data, calls):.0f}\tMB/s")
