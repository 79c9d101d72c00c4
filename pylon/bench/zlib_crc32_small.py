"""zlib.crc32 of 16 bytes, many times: the per-call cost (pylon: a cap call each)."""
import zlib

data = b"0123456789abcdef"
value = 0
for _ in range(200_000):
    value = zlib.crc32(data, value)
assert value != 0
