"""crc32c of 1 MiB, many times (pylon: the dynlink provider the plan chose, via the linker).

Native CPython has no crc32c module: there, zlib.crc32 (C, in process) stands in on the same
data and call count, so the ratio reads "dynlink crc32c in pylon vs native in-process C CRC"."""
import random
import time

try:
    from crc32c import crc32c as crc
    name = "crc32c"
except ImportError:
    from zlib import crc32 as crc
    name = "native: crc32c n/a, zlib.crc32 stands in"

data = random.Random(7).randbytes(1 << 20)
calls = 100
start = time.perf_counter()
value = 0
for _ in range(calls):
    value = crc(data, value)
took = time.perf_counter() - start
assert value != 0
print(f"{name}: 1 MiB x {calls}: {len(data) * calls / took / 1e9:.3f} GB/s")
