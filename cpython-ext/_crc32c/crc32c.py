"""CRC-32C (Castagnoli), the checksum of iSCSI, SCTP, ext4 and many storage formats.

crc32c(data[, value]) -- Compute a CRC-32C checksum, called like zlib.crc32.

crc32c(b"123456789") == 0xE3069283, and a running checksum continues from the previous
result: crc32c(b"6789", crc32c(b"12345")) == crc32c(b"123456789")."""

# pylon's facade over _crc32c, the generated extension that imports the dynlink linker.
# The provider is whichever crc32c cap the composition's plan chose (caps/dynlink/plan.toml);
# its contract (caps/crc32c_*/src/lib.rs): function "crc32c", input = the starting value as
# 4 little-endian bytes followed by the data, output = the result as 4 little-endian bytes.

from operator import index as _index

import _crc32c
from _crc32c import WitError as _WitError

__all__ = ["crc32c", "error"]


class error(Exception):
    """The provider (or the linker) refused a call; the message says which and why."""


try:
    _HANDLE = _crc32c.resolve("crc32c")
except _WitError as e:
    raise ImportError("crc32c: the linker has no provider for `crc32c`: %s" % e.value,
                      name="crc32c") from None

_invoke = _crc32c.invoke


def _not_bytes_like(data):
    """The exception zlib.crc32 raises for data that bytes concatenation refused."""
    try:
        view = memoryview(data)
    except TypeError:
        return TypeError("a bytes-like object is required, not '%s'" % type(data).__name__)
    if not view.c_contiguous:
        return BufferError("memoryview: underlying buffer is not C-contiguous")
    return TypeError("crc32c: cannot read %s as bytes" % type(data).__name__)


def crc32c(data, value=0, /):
    """Compute a CRC-32C checksum of data.

      value
        Starting value of the checksum (the previous result, to continue one).

    The returned checksum is an integer."""
    if value.__class__ is not int:
        value = _index(value)
    try:
        # The one copy: bytes + any C-contiguous buffer (bytes, bytearray, memoryview, array).
        payload = (value & 0xFFFFFFFF).to_bytes(4, "little") + data
    except TypeError:
        raise _not_bytes_like(data) from None
    try:
        out = _invoke(_HANDLE, "crc32c", payload)
    except _WitError as e:
        raise error(e.value) from None
    if len(out) != 4:
        raise error("crc32c: the provider returned %d bytes, expected 4" % len(out))
    return int.from_bytes(out, "little")
