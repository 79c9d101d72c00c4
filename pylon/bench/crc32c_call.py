"""Per-call cost: crc32c (pylon: through the dynlink linker to a provider) against zlib.crc32
(pylon: a direct call into the static zlib cap) on the same empty and 16-byte inputs.

Native CPython has no crc32c module: there, zlib.crc32 stands in for it, so both processes
make the same number of calls; the printed lines say which function each loop timed."""
import time
import zlib

try:
    from crc32c import crc32c
    name = "crc32c"
except ImportError:
    crc32c = zlib.crc32
    name = "zlib.crc32 (native: crc32c n/a)"

calls = 100_000


def per_call(fn, data):
    start = time.perf_counter()
    value = 0
    for _ in range(calls):
        value = fn(data, value)
    return (time.perf_counter() - start) / calls * 1e9, value


for data in (b"", b"0123456789abcdef"):
    c_ns, c_value = per_call(crc32c, data)
    z_ns, z_value = per_call(zlib.crc32, data)
    if data:
        assert c_value != 0 and z_value != 0
    print(f"{len(data):>2} bytes: {name}: {c_ns:7.0f} ns/call   zlib.crc32: {z_ns:7.0f} ns/call")
