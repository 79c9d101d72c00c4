"""Per-call cost of each linkage mode, inside one pylon process (prints name, value, unit).

Every cap call here does next to no work, so the time is the boundary: Python -> generated
C glue -> canonical ABI -> the cap (and, for dynlink, the linker in between) and back.
"""
import time

N = 20_000


def per_call_ns(fn, *args):
    """Median over 5 batches of N calls, in ns per call."""
    batches = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(N):
            fn(*args)
        batches.append((time.perf_counter_ns() - start) / N)
    return sorted(batches)[2]


def report(name, fn, *args):
    print(f"{name}\t{per_call_ns(fn, *args):.0f}\tns/call")


def identity(x):
    return x


report("python function (baseline)", identity, b"")
report("builtin len (baseline)", len, b"")

import _zlib_cap  # noqa: E402
import zlib  # noqa: E402

report("static: _zlib_cap.crc32(b'', 0)", _zlib_cap.crc32, b"", 0)
report("static: zlib.crc32(b'') (facade)", zlib.crc32, b"")

try:
    import _ids_cap
except ImportError:
    _ids_cap = None
if _ids_cap is not None:
    report("mux: _ids_cap.generate('ulid', None)", _ids_cap.generate, "ulid", None)
    report("mux: _ids_cap.generate('uuid7', None)", _ids_cap.generate, "uuid7", None)

try:
    import _crc32c
    import crc32c
except ImportError:
    _crc32c = None
if _crc32c is not None:
    handle = _crc32c.resolve("crc32c")
    report("dynlink: _crc32c.invoke(h, 'crc32c', 4 bytes)", _crc32c.invoke, handle, "crc32c", b"\0\0\0\0")
    report("dynlink: crc32c.crc32c(b'') (facade)", crc32c.crc32c, b"")
