"""KSUIDs (github.com/segmentio/ksuid): 27 base62 characters for 20 bytes, a 32-bit
timestamp in seconds since 2014-05-13T16:53:20Z, then a 16-byte random payload. They sort
by time to the second."""

import ids as _ids

SCHEME = "ksuid"

#: KSUID timestamps count seconds from this Unix time.
EPOCH = 1_400_000_000


def new():
    """A new KSUID, as text."""
    return _ids.generate(SCHEME)


def new_many(n):
    """A list of ``n`` new KSUIDs."""
    return _ids.generate_many(SCHEME, n)


def parse(text):
    """``text`` parsed: an ``ids.Parsed`` with the 20 bytes and ``timestamp_ms`` (a whole
    number of seconds); ``ValueError`` when it is not a KSUID."""
    return _ids.parse(SCHEME, text)


def timestamp(text):
    """The KSUID's timestamp, in seconds since the Unix epoch."""
    return parse(text).timestamp_ms // 1000


def datetime(text):
    """The KSUID's timestamp as an aware UTC ``datetime.datetime``."""
    return _ids._datetime(parse(text).timestamp_ms)


def payload(text):
    """The KSUID's 16-byte random payload."""
    return parse(text).bytes[4:]


def validate(text):
    """Whether ``text`` is a KSUID."""
    return _ids.validate(SCHEME, text)
