# pylon-args: --dir {tmp}::/data
# native-before: open('m.bin', 'wb').write(b'native ' * 1000)
# native-after: d = open('m.bin', 'rb').read(); assert d[:7] == b'PYLON! ' and d[7000 - 7:] == b'native ' and len(d) == 7000, d[:20]
# native-after: assert open('private.bin', 'rb').read() == b'unchanged'
# CPython's mmap module, over wasi-posix/mman.c: a map is a copy of the file's bytes, and a
# shared writable map is written back by flush() and close() (README, "What works").
import mmap
import os

with open("/data/m.bin", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)  # trackfd=True: WASI has no dup(), so the map is untracked
    assert len(m) == 7000 and m[:7] == b"native "
    assert m.find(b"native", 1) == 7
    m[:7] = b"PYLON! "
    m.flush()
    assert f.read(7) == b"PYLON! "  # flush() reached the file
    m.close()

with open("/data/private.bin", "wb") as f:
    f.write(b"unchanged")
with open("/data/private.bin", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    m[:2] = b"XX"
    assert m[:9] == b"XXchanged"
    m.close()
with open("/data/private.bin", "rb") as f:
    r = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    assert r[:] == b"unchanged"
    try:
        r[0] = 1
    except TypeError:
        pass
    else:
        raise AssertionError("wrote to a read-only map")
    r.close()

anon = mmap.mmap(-1, 4096)
anon.write(b"anonymous")
anon.seek(0)
assert anon.read(9) == b"anonymous"
anon.close()

# What cannot exist without dup() and mremap() says so.
with open("/data/m.bin", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    for call in (m.size, lambda: m.resize(100)):
        try:
            call()
        except (OSError, ValueError):
            pass
        else:
            raise AssertionError(f"{call} worked without a tracked descriptor")
    m.close()
