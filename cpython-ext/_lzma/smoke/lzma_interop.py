# pylon-args: --dir {tmp}::/data
# native-before: import lzma; open('native.xz', 'wb').write(lzma.compress(b'written by native CPython\n' * 5000)); open('native.lzma', 'wb').write(lzma.compress(b'alone format\n' * 100, format=lzma.FORMAT_ALONE))
# native-after: import lzma, tarfile; data = lzma.decompress(open('pylon.xz', 'rb').read()); assert data == bytes(range(256)) * 4096, len(data); t = tarfile.open('pylon.tar.xz'); assert t.extractfile('hello.txt').read() == b'hello from pylon\n'; open('native-read.txt', 'w').write('native read %d bytes' % len(data))
# host-file: native-read.txt = native read 1048576 bytes
# lzma in the core: CPython's own _lzma over liblzma (xz 5.8.1); files go both ways.
import io
import lzma
import tarfile

with open("/data/native.xz", "rb") as f:
    assert lzma.decompress(f.read()) == b"written by native CPython\n" * 5000
with open("/data/native.lzma", "rb") as f:
    assert lzma.decompress(f.read(), format=lzma.FORMAT_ALONE) == b"alone format\n" * 100

data = bytes(range(256)) * 4096
with lzma.open("/data/pylon.xz", "wb", check=lzma.CHECK_SHA256) as f:
    f.write(data)
with tarfile.open("/data/pylon.tar.xz", "w:xz") as t:
    info = tarfile.TarInfo("hello.txt")
    payload = b"hello from pylon\n"
    info.size = len(payload)
    t.addfile(info, io.BytesIO(payload))

# Every check, raw filter chains with a BCJ filter and delta, the liblzma version.
for check in (lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256):
    assert lzma.is_check_supported(check)
    assert lzma.decompress(lzma.compress(data, check=check)) == data
filters = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
raw = lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters)
assert lzma.decompress(raw, format=lzma.FORMAT_RAW, filters=filters) == data
try:
    lzma.decompress(b"\xfd7zXZ\x00 corrupt")
except lzma.LZMAError as e:
    assert "Corrupt input data" in str(e) or "Input format not supported" in str(e), e
else:
    raise AssertionError("corrupt input was accepted")
print("lzma ok")
