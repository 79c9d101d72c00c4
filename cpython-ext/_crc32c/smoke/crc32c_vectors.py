# crc32c through the dynlink linker: whichever provider the plan chose gives the published
# CRC-32C values, chains like zlib.crc32, takes any bytes-like object and refuses str.
import array
import random

import crc32c

# The check value of CRC-32C and RFC 3720 (iSCSI) appendix B.4.
assert crc32c.crc32c(b"123456789") == 0xE3069283, hex(crc32c.crc32c(b"123456789"))
assert crc32c.crc32c(b"") == 0
assert crc32c.crc32c(bytes(32)) == 0x8A9136AA
assert crc32c.crc32c(b"\xff" * 32) == 0x62A8AB43
assert crc32c.crc32c(bytes(range(32))) == 0x46DD794E
assert crc32c.crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
read_pdu = bytes.fromhex(
    "01c00000000000000000000000000000"
    "14000000000004000000001400000018"
    "28000000000000000200000000000000"
)
assert crc32c.crc32c(read_pdu) == 0xD9963A56

# Chaining, with the value masked to 32 bits like zlib.crc32's.
assert crc32c.crc32c(b"6789", crc32c.crc32c(b"12345")) == 0xE3069283
assert crc32c.crc32c(b"abc", 0x1234) == crc32c.crc32c(b"abc", 0x1234 + (5 << 32))
assert crc32c.crc32c(b"abc", -1) == crc32c.crc32c(b"abc", 0xFFFFFFFF)
assert crc32c.crc32c(b"", 0xDEADBEEF) == 0xDEADBEEF

# Any bytes-like object.
assert crc32c.crc32c(bytearray(b"123456789")) == 0xE3069283
assert crc32c.crc32c(memoryview(b"xx123456789yy")[2:-2]) == 0xE3069283
assert crc32c.crc32c(array.array("B", b"123456789")) == 0xE3069283


# 1 MiB against a plain Python table implementation.
def table():
    out = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        out.append(n)
    return out


def reference(data, value=0):
    t = table()
    crc = value ^ 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


assert reference(b"123456789") == 0xE3069283
big = random.Random(7).randbytes(1 << 20)
expected = reference(big)
assert crc32c.crc32c(big) == expected
value = 0
for start in range(0, len(big), 100_000):
    value = crc32c.crc32c(memoryview(big)[start:start + 100_000], value)
assert value == expected

# Wrong types are TypeErrors with zlib.crc32's messages.
for bad, message in [(("abc",), "a bytes-like object is required, not 'str'"),
                     ((5,), "a bytes-like object is required, not 'int'"),
                     ((b"", 1.0), "'float' object cannot be interpreted as an integer")]:
    try:
        crc32c.crc32c(*bad)
    except TypeError as e:
        assert str(e) == message, e
    else:
        raise AssertionError("crc32c.crc32c%r was accepted" % (bad,))
print("crc32c ok")
