# pylon-args: --dir {tmp}::/data
# zlib through the cap: gzip, zipfile and tarfile work unchanged inside pylon.
import base64, gzip, io, tarfile, zipfile, zlib

# Known values: CRC-32 check value, Adler-32 of "Wikipedia".
assert zlib.crc32(b"123456789") == 0xCBF43926
assert zlib.adler32(b"Wikipedia") == 0x11E60398
assert zlib.decompress(zlib.compress(b"pylon" * 1000, 9)) == b"pylon" * 1000

# A gzip member written by the native CPython (zlib 1.2/1.3 from C) reads back here.
native = base64.b64decode("H4sIAAAAAAACAysvyiwpSc1TSKpUyEssySxLVXAOqCzJyM9TL1ZIr8os4CofVTCqgL4KAJmV3TGUAgAA")
assert gzip.decompress(native) == b"written by native CPython's gzip\n" * 20

# Streaming objects: max_length, unconsumed tail, unused data, eof.
d = zlib.decompressobj()
packed = zlib.compress(bytes(range(256)) * 64) + b"trailing"
out = d.decompress(packed, 100)
assert len(out) == 100 and d.unconsumed_tail
while not d.eof:
    out += d.decompress(d.unconsumed_tail, 1000)
assert out == bytes(range(256)) * 64 and d.eof and d.unused_data == b"trailing"

# Corrupt input raises zlib.error; it never traps the runtime.
try:
    zlib.decompress(b"not zlib data")
except zlib.error as e:
    assert "incorrect header check" in str(e), e
else:
    raise AssertionError("corrupt input was accepted")

# gzip, zipfile (ZIP_DEFLATED) and tarfile (w:gz) on a mounted directory.
text = b"pylon " * 5000
with gzip.open("/data/a.gz", "wb") as f:
    f.write(text)
with gzip.open("/data/a.gz", "rb") as f:
    assert f.read() == text
with zipfile.ZipFile("/data/a.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("hello.txt", text)
with zipfile.ZipFile("/data/a.zip") as z:
    assert z.read("hello.txt") == text and z.testzip() is None
with tarfile.open("/data/a.tar.gz", "w:gz") as t:
    info = tarfile.TarInfo("hello.txt")
    info.size = len(text)
    t.addfile(info, io.BytesIO(text))
with tarfile.open("/data/a.tar.gz", "r:gz") as t:
    assert t.extractfile("hello.txt").read() == text
print("zlib ok", zlib.ZLIB_VERSION)
