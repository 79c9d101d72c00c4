"""The functions in this module allow compression and decompression using the
zlib library, which is based on GNU zip.

adler32(string[, start]) -- Compute an Adler-32 checksum.
compress(data[, level]) -- Compress data, with compression level 0-9 or -1.
compressobj([level[, ...]]) -- Return a compressor object.
crc32(string[, start]) -- Compute a CRC-32 checksum.
decompress(string,[wbits],[bufsize]) -- Decompresses a compressed string.
decompressobj([wbits[, zdict]]) -- Return a decompressor object.

'wbits' is window buffer size and container format.
Compressor objects support compress() and flush() methods; decompressor
objects support decompress() and flush()."""

# pylon's facade for the stdlib zlib module: CPython on WASI has no zlib, so the work is
# done by the zlib cap (a Wasm component running zlib-rs with CPython's zlibmodule.c
# logic), reached through the generated extension _zlib_cap. This file only does what
# the C module's argument clinic did: convert and range-check arguments (the extension
# only takes in-range ints) and raise the exception types CPython raises.

import sys as _sys
from operator import index as _index

import _zlib_cap
from _zlib_cap import WitError as _WitError

MAX_WBITS = 15
DEFLATED = 8
DEF_MEM_LEVEL = 8
DEF_BUF_SIZE = 16384
Z_NO_COMPRESSION = 0
Z_BEST_SPEED = 1
Z_BEST_COMPRESSION = 9
Z_DEFAULT_COMPRESSION = -1
Z_FILTERED = 1
Z_HUFFMAN_ONLY = 2
Z_RLE = 3
Z_FIXED = 4
Z_DEFAULT_STRATEGY = 0
Z_NO_FLUSH = 0
Z_PARTIAL_FLUSH = 1
Z_SYNC_FLUSH = 2
Z_FULL_FLUSH = 3
Z_FINISH = 4
Z_BLOCK = 5
Z_TREES = 6
__version__ = "1.0"


# The versions come from the cap, asked on first use rather than at import: importing zlib
# then calls no cap, so modules that import it (shutil, tempfile, ...) can be prewarmed in
# the build-time snapshot, where the caps are not there yet.
def __getattr__(name):
    if name in ("ZLIB_VERSION", "ZLIB_RUNTIME_VERSION"):
        version = _zlib_cap.version()
        globals().update(ZLIB_VERSION=version, ZLIB_RUNTIME_VERSION=version)
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"ZLIB_VERSION", "ZLIB_RUNTIME_VERSION"})


class error(Exception):
    pass


# The cap reports every failure as (code, message); these messages are the ones
# zlibmodule.c raises as something other than zlib.error (see caps/zlib/src/engine.rs).
_OTHER_ERRORS = {
    "Invalid initialization option": ValueError,
    "Invalid dictionary": ValueError,
    "deflateSetDictionary()": ValueError,
    "Inconsistent stream state": ValueError,
    "length must be greater than zero": ValueError,
    "Out of memory while compressing data": MemoryError,
    "Out of memory while decompressing data": MemoryError,
    "Can't allocate memory for compression object": MemoryError,
    "Can't allocate memory for decompression object": MemoryError,
    "Unable to allocate output buffer.": MemoryError,
    "zdict length does not fit in an unsigned int": OverflowError,
}


def _error(e):
    """The exception CPython would raise for the cap's error `e` (a WitError)."""
    message = e.value.message
    return _OTHER_ERRORS.get(message, error)(message)


_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_SSIZE_MIN, _SSIZE_MAX = -_sys.maxsize - 1, _sys.maxsize


def _int(v):
    """A C int, as the clinic's `int` converter takes it."""
    if v.__class__ is not int:
        v = _index(v)
    if not _INT_MIN <= v <= _INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return v


def _ssize(v):
    """A Py_ssize_t, as the clinic's `Py_ssize_t` converter takes it."""
    if v.__class__ is not int:
        v = _index(v)
    if not _SSIZE_MIN <= v <= _SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return v


def _buffer(data):
    """A bytes-like object (the clinic's `Py_buffer`), with CPython's TypeError."""
    if data.__class__ is not bytes:
        try:
            memoryview(data)
        except TypeError:
            raise TypeError("a bytes-like object is required, not '%s'"
                            % type(data).__name__) from None
    return data


class _Absent:
    """An argument left out, which CPython tells apart from any value (even None)."""

    __slots__ = ("_shown",)

    def __init__(self, shown):
        self._shown = shown

    def __repr__(self):
        return self._shown


def _no_pickle(self, protocol=None):
    raise TypeError("cannot pickle '%s.%s' object"
                    % (type(self).__module__, type(self).__name__))


def adler32(data, value=1, /):
    """Compute an Adler-32 checksum of data.

      value
        Starting value of the checksum.

    The returned checksum is an integer."""
    if value.__class__ is not int:
        value = _index(value)
    return _zlib_cap.adler32(_buffer(data), value & 0xFFFFFFFF)


def crc32(data, value=0, /):
    """Compute a CRC-32 checksum of data.

      value
        Starting value of the checksum.

    The returned checksum is an integer."""
    if value.__class__ is not int:
        value = _index(value)
    return _zlib_cap.crc32(_buffer(data), value & 0xFFFFFFFF)


def compress(data, /, level=Z_DEFAULT_COMPRESSION, wbits=MAX_WBITS):
    """Returns a bytes object containing compressed data.

      data
        Binary data to be compressed.
      level
        Compression level, in 0-9 or -1.
      wbits
        The window buffer size and container format."""
    data = _buffer(data)
    level = _int(level)
    wbits = _int(wbits)
    try:
        return _zlib_cap.compress(data, level, wbits)
    except _WitError as e:
        raise _error(e) from None


def decompress(data, /, wbits=MAX_WBITS, bufsize=DEF_BUF_SIZE):
    """Returns a bytes object containing the uncompressed data.

      data
        Compressed data.
      wbits
        The window buffer size and container format.
      bufsize
        The initial output buffer size."""
    data = _buffer(data)
    wbits = _int(wbits)
    bufsize = _ssize(bufsize)
    if bufsize < 0:
        raise ValueError("bufsize must be non-negative")
    try:
        return _zlib_cap.decompress(data, wbits, bufsize)
    except _WitError as e:
        raise _error(e) from None


def compressobj(level=Z_DEFAULT_COMPRESSION, method=DEFLATED, wbits=MAX_WBITS,
                memLevel=DEF_MEM_LEVEL, strategy=Z_DEFAULT_STRATEGY, zdict=_Absent("None")):
    """Return a compressor object.

      level
        The compression level (an integer in the range 0-9 or -1; default is
        currently equivalent to 6).  Higher compression levels are slower,
        but produce smaller results.
      method
        The compression algorithm.  If given, this must be DEFLATED.
      wbits
        +9 to +15: The base-two logarithm of the window size.  Include a zlib
            container.
        -9 to -15: Generate a raw stream.
        +25 to +31: Include a gzip container.
      memLevel
        Controls the amount of memory used for internal compression state.
        Valid values range from 1 to 9.  Higher values result in higher memory
        usage, faster compression, and smaller output.
      strategy
        Used to tune the compression algorithm.  Possible values are
        Z_DEFAULT_STRATEGY, Z_FILTERED, and Z_HUFFMAN_ONLY.
      zdict
        The predefined compression dictionary - a sequence of bytes
        containing subsequences that are likely to occur in the input data."""
    level = _int(level)
    method = _int(method)
    wbits = _int(wbits)
    memLevel = _int(memLevel)
    strategy = _int(strategy)
    if zdict.__class__ is _Absent:
        zdict = None
    else:
        zdict = _buffer(zdict)
    try:
        c = _zlib_cap.Compressor.create(level, method, wbits, memLevel, strategy, zdict)
    except _WitError as e:
        raise _error(e) from None
    return _Compress._wrap(c)


def decompressobj(wbits=MAX_WBITS, zdict=_Absent("b''")):
    """Return a decompressor object.

      wbits
        The window buffer size and container format.
      zdict
        The predefined compression dictionary.  This must be the same
        dictionary as used by the compressor that produced the input data."""
    # An absent zdict is not an empty one: a zlib stream that asks for a dictionary
    # then fails with "Error 2" rather than with the empty dictionary's error.
    wbits = _int(wbits)
    if zdict.__class__ is _Absent:
        zdict = None
    else:
        try:
            memoryview(zdict)
        except TypeError:
            raise TypeError("zdict argument must support the buffer protocol") from None
    try:
        d = _zlib_cap.Decompressor.create(wbits, zdict)
    except _WitError as e:
        raise _error(e) from None
    return _Decompress._wrap(d)


class Compress:
    """A compression object (zlib.compressobj())."""

    __slots__ = ("_c",)

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'zlib.Compress' instances")

    @classmethod
    def _wrap(cls, c):
        self = object.__new__(cls)
        self._c = c
        return self

    def compress(self, data, /):
        """Returns a bytes object containing compressed data.

          data
            Binary data to be compressed.

        After calling this function, some of the input data may still
        be stored in internal buffers for later processing.
        Call the flush() method to clear these buffers."""
        try:
            return self._c.compress(_buffer(data))
        except _WitError as e:
            raise _error(e) from None

    def flush(self, mode=Z_FINISH, /):
        """Return a bytes object containing any remaining compressed data.

          mode
            One of the constants Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_FINISH.
            If mode == Z_FINISH, the compressor object can no longer be
            used after calling the flush() method.  Otherwise, more data
            can still be compressed."""
        mode = _int(mode)
        try:
            return self._c.flush(mode)
        except _WitError as e:
            raise _error(e) from None

    def copy(self):
        """Return a copy of the compression object."""
        try:
            return _Compress._wrap(self._c.copy())
        except _WitError as e:
            raise _error(e) from None

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo, /):
        return self.copy()

    __reduce_ex__ = _no_pickle


class Decompress:
    """A decompression object (zlib.decompressobj())."""

    # eof, unused_data and unconsumed_tail live in the cap; they are fetched on first
    # access after a call that may have changed them (None: not known).
    __slots__ = ("_d", "_eof", "_unused_data", "_unconsumed_tail")

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'zlib.Decompress' instances")

    @classmethod
    def _wrap(cls, d, eof=False, unused_data=b"", unconsumed_tail=b""):
        self = object.__new__(cls)
        self._d = d
        self._eof = eof
        self._unused_data = unused_data
        self._unconsumed_tail = unconsumed_tail
        return self

    @property
    def eof(self):
        """True if the end-of-stream marker has been reached."""
        if self._eof is None:
            self._eof = self._d.eof()
        return self._eof

    @property
    def unused_data(self):
        """Data found after the end of the compressed stream."""
        if self._unused_data is None:
            self._unused_data = self._d.unused_data()
        return self._unused_data

    @property
    def unconsumed_tail(self):
        """Input not yet consumed because of max_length."""
        if self._unconsumed_tail is None:
            self._unconsumed_tail = self._d.unconsumed_tail()
        return self._unconsumed_tail

    def _changed(self, tail_may_change=True):
        # unused_data only grows once the end is reached; without max_length the tail
        # can only change if it was already non-empty (zlibmodule.c's
        # save_unconsumed_input) or on error.
        if not self._eof:
            self._eof = None
        self._unused_data = None
        if tail_may_change or self._unconsumed_tail != b"":
            self._unconsumed_tail = None

    def decompress(self, data, /, max_length=0):
        """Return a bytes object containing the decompressed version of the data.

          data
            The binary data to decompress.
          max_length
            The maximum allowable length of the decompressed data.
            Unconsumed input data will be stored in
            the unconsumed_tail attribute.

        After calling this function, some of the input data may still be stored in
        internal buffers for later processing.
        Call the flush() method to clear these buffers."""
        data = _buffer(data)
        max_length = _ssize(max_length)
        if max_length < 0:
            raise ValueError("max_length must be non-negative")
        try:
            out = self._d.decompress(data, max_length)
        except _WitError as e:
            self._changed()
            raise _error(e) from None
        self._changed(max_length != 0)
        return out

    def flush(self, length=DEF_BUF_SIZE, /):
        """Return a bytes object containing any remaining decompressed data.

          length
            the initial size of the output buffer."""
        length = _ssize(length)
        if length <= 0:
            raise ValueError("length must be greater than zero")
        try:
            out = self._d.flush(length)
        except _WitError as e:
            self._changed()
            raise _error(e) from None
        self._changed()
        return out

    def copy(self):
        """Return a copy of the decompression object."""
        try:
            d = self._d.copy()
        except _WitError as e:
            raise _error(e) from None
        return _Decompress._wrap(d, self._eof, self._unused_data, self._unconsumed_tail)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo, /):
        return self.copy()

    __reduce_ex__ = _no_pickle


class _ZlibDecompressor:
    """Create a decompressor object for decompressing data incrementally.

      wbits = 15
      zdict
         The predefined compression dictionary. This is a sequence of bytes
         (such as a bytes object) containing subsequences that are expected
         to occur frequently in the data that is to be compressed. Those
         subsequences that are expected to be most common should come at the
         end of the dictionary. This must be the same dictionary as used by the
         compressor that produced the input data."""

    # CPython keeps the input it could not use yet in a buffer of its own; here that is
    # the Decompressor's unconsumed tail, handed back with the next input.
    __slots__ = ("_d", "_pending", "_eof", "_needs_input", "_unused_data")

    def __new__(cls, wbits=MAX_WBITS, zdict=None):
        wbits = _int(wbits)
        if zdict is not None:
            zdict = _buffer(zdict)
        try:
            d = _zlib_cap.Decompressor.create(wbits, zdict)
        except _WitError as e:
            raise _error(e) from None
        self = object.__new__(cls)
        self._d = d
        self._pending = b""
        self._eof = False
        self._needs_input = True
        self._unused_data = b""
        return self

    eof = property(lambda self: self._eof,
                   doc="True if the end-of-stream marker has been reached.")
    unused_data = property(lambda self: self._unused_data,
                           doc="Data found after the end of the compressed stream.")
    needs_input = property(lambda self: self._needs_input, doc=(
        "True if more input is needed before more decompressed data can be produced."))

    def __init_subclass__(cls, **kwargs):
        raise TypeError("type 'zlib._ZlibDecompressor' is not an acceptable base type")

    def decompress(self, data, max_length=-1):
        """Decompress *data*, returning uncompressed data as bytes.

        If *max_length* is nonnegative, returns at most *max_length* bytes of
        decompressed data. If this limit is reached and further output can be
        produced, *self.needs_input* will be set to ``False``. In this case, the next
        call to *decompress()* may provide *data* as b'' to obtain more of the output.

        If all of the input data was decompressed and returned (either because this
        was less than *max_length* bytes, or because *max_length* was negative),
        *self.needs_input* will be set to True.

        Attempting to decompress data after the end of stream is reached raises an
        EOFError.  Any data found after the end of the stream is ignored and saved in
        the unused_data attribute."""
        data = _buffer(data)
        max_length = _ssize(max_length)
        if self._eof:
            raise EOFError("End of stream already reached")
        if self._pending:
            data = self._pending + data
        if max_length == 0:
            # The cap has no "no output" limit (0 means none); keep the input for later.
            self._pending = bytes(data)
            self._needs_input = not self._pending
            return b""
        limit = 0 if max_length < 0 or max_length == _sys.maxsize else max_length
        try:
            out = self._d.decompress(data, limit)
        except _WitError as e:
            self._pending = b""
            raise _error(e) from None
        if self._d.eof():
            self._eof = True
            self._needs_input = False
            self._pending = b""
            self._unused_data = self._d.unused_data()
        else:
            self._pending = self._d.unconsumed_tail() if limit else b""
            self._needs_input = not self._pending
        return out

    __reduce_ex__ = _no_pickle


_Compress, _Decompress = Compress, Decompress
del Compress, Decompress
