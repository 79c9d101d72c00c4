# pylon-args: --dir {tmp}::/data
# native-before: import bz2; open('native.bz2', 'wb').write(bz2.compress(b'written by native CPython\n' * 5000, 9))
# native-after: import bz2, tarfile; data = bz2.decompress(open('pylon.bz2', 'rb').read()); assert data == bytes(range(256)) * 4096, len(data); t = tarfile.open('pylon.tar.bz2'); assert t.extractfile('hello.txt').read() == b'hello from pylon\n'; open('native-read.txt', 'w').write('native read %d bytes' % len(data))
# host-file: native-read.txt = native read 1048576 bytes
# bz2 in the core: CPython's own _bz2 over libbz2; files go both ways with the native CPython.
import bz2
import io
import tarfile

with open("/data/native.bz2", "rb") as f:
    assert bz2.decompress(f.read()) == b"written by native CPython\n" * 5000

data = bytes(range(256)) * 4096
with bz2.open("/data/pylon.bz2", "wb", compresslevel=9) as f:
    f.write(data)
with tarfile.open("/data/pylon.tar.bz2", "w:bz2") as t:
    info = tarfile.TarInfo("hello.txt")
    payload = b"hello from pylon\n"
    info.size = len(payload)
    t.addfile(info, io.BytesIO(payload))

# Streaming: chunks in, chunks out, unused data after the stream, eof.
c = bz2.BZ2Compressor(1)
packed = b"".join(c.compress(data[i : i + 1000]) for i in range(0, len(data), 1000)) + c.flush()
d = bz2.BZ2Decompressor()
out = d.decompress(packed + b"tail", max_length=100)
assert len(out) == 100
while not d.eof:
    out += d.decompress(b"", max_length=65536)
assert out == data and d.unused_data == b"tail"
try:
    bz2.decompress(b"BZh9not bzip2 at all")
except OSError as e:
    assert "Invalid data stream" in str(e), e
else:
    raise AssertionError("corrupt input was accepted")
print("bz2 ok")
