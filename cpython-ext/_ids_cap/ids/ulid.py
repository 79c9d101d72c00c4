"""ULIDs (github.com/ulid/spec): 26 Crockford base32 characters, a 48-bit timestamp in
milliseconds then 80 random bits. Monotonic: within one millisecond each new ULID is the
previous one plus one, so ULIDs sort in the order they were made."""

import ids as _ids

SCHEME = "ulid"


def new():
    """A new ULID, as text (upper case)."""
    return _ids.generate(SCHEME)


def new_many(n):
    """A list of ``n`` new ULIDs, strictly increasing."""
    return _ids.generate_many(SCHEME, n)


def parse(text):
    """``text`` parsed (case-insensitive): an ``ids.Parsed`` with the canonical text, the 16
    bytes and ``timestamp_ms``; ``ValueError`` when it is not a ULID."""
    return _ids.parse(SCHEME, text)


def timestamp(text):
    """The ULID's timestamp, in milliseconds since the Unix epoch."""
    return parse(text).timestamp_ms


def datetime(text):
    """The ULID's timestamp as an aware UTC ``datetime.datetime``."""
    return _ids._datetime(timestamp(text))


def validate(text):
    """Whether ``text`` is a ULID."""
    return _ids.validate(SCHEME, text)
