"""Unique identifiers of several schemes, generated and parsed by pylon's ids cap.

The schemes (``schemes()``):

- ``"ksuid"``: KSUID, 27 base62 characters: a timestamp in seconds and 16 random bytes;
- ``"nanoid"``: NanoID, random symbols of the URL-safe alphabet ``A-Za-z0-9_-``,
  21 of them unless ``size`` says otherwise (2 to 255);
- ``"ulid"``: ULID, 26 Crockford base32 characters: a timestamp in milliseconds and 80
  random bits; monotonic: within one millisecond each ULID is the previous one plus one;
- ``"uuid7"``: UUID version 7 (RFC 9562), a timestamp in milliseconds, a counter and
  random bits; increasing within the interpreter.

Each scheme also has a submodule with a shorter API: ``ids.ulid.new()``,
``ids.uuid7.new()`` (a ``uuid.UUID``), ``ids.ksuid.new()``, ``ids.nanoid.new(size=21)``.

Errors: an unknown scheme, an invalid identifier or a bad argument raise ``ValueError``;
``RuntimeError`` when a scheme cannot make another identifier now (ULID's random part
overflowing within one millisecond).
"""

import operator

import _ids_cap

__all__ = ["Parsed", "generate", "generate_many", "parse", "schemes", "validate"]

#: The result of ``parse``: ``scheme``, ``canonical`` (the canonical text), ``bytes`` (the
#: binary form) and ``timestamp_ms`` (milliseconds since the Unix epoch, or None).
Parsed = _ids_cap.Parsed

# Counts and sizes are u32 in the interface; past that the cap's own range message is
# given here, instead of the conversion's OverflowError.
_MAX_U32 = 2**32 - 1


def _error(exc):
    """The Python exception for the cap's ``error`` variant."""
    case, payload = exc.value
    if case == "unknown_scheme":
        return ValueError(
            f"unknown id scheme {payload.scheme!r}; the known schemes are: {', '.join(payload.known)}"
        )
    if case == "exhausted":
        return RuntimeError(payload)
    return ValueError(payload)


def _count(n):
    n = operator.index(n)
    if not 0 <= n <= _MAX_U32:
        raise ValueError(f"the number of ids must be between 0 and 1000000, not {n}")
    return n


def _size(size):
    if size is None:
        return None
    size = operator.index(size)
    if not 0 <= size <= _MAX_U32:
        raise ValueError(f"nanoid size must be between 2 and 255, not {size}")
    return size


def schemes():
    """The names of the schemes served, sorted."""
    return _ids_cap.schemes()


def generate(scheme, size=None):
    """A new identifier of ``scheme``, as text.

    ``size`` is the length of a NanoID (default 21); the other schemes have a fixed size.
    """
    try:
        return _ids_cap.generate(scheme, _size(size))
    except _ids_cap.WitError as exc:
        raise _error(exc) from None


def generate_many(scheme, n, size=None):
    """A list of ``n`` new identifiers of ``scheme`` (at most 1000000 per call), in the
    order made: ULIDs and UUIDv7s are strictly increasing, also across calls."""
    try:
        return _ids_cap.generate_many(scheme, _count(n), _size(size))
    except _ids_cap.WitError as exc:
        raise _error(exc) from None


def parse(scheme, text, size=None):
    """Parses ``text`` as an identifier of ``scheme``; returns a ``Parsed``.

    ``ValueError`` says why when ``text`` is not valid. A NanoID is checked for its
    alphabet and its length (``size``, default 21) only: it has no other structure.
    """
    try:
        return _ids_cap.parse(scheme, text, _size(size))
    except _ids_cap.WitError as exc:
        raise _error(exc) from None


def validate(scheme, text, size=None):
    """Whether ``text`` is a valid identifier of ``scheme`` (``ValueError`` for an
    unknown scheme)."""
    try:
        return _ids_cap.validate(scheme, text, _size(size))
    except _ids_cap.WitError as exc:
        raise _error(exc) from None


def _datetime(ms):
    """An aware UTC datetime for a Unix time in milliseconds, exactly."""
    import datetime

    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return epoch + datetime.timedelta(milliseconds=ms)


# The per-scheme submodules load on first use (`ids.ulid`), so that `import ids` stays
# cheap: `ids.uuid7` needs the `uuid` module, which costs more than the rest together.
_SUBMODULES = ("ksuid", "nanoid", "ulid", "uuid7")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBMODULES})
