"""UUID version 7 (RFC 9562): a 48-bit timestamp in milliseconds, a counter and random
bits, as ``uuid.UUID`` objects. UUIDs made by one interpreter are strictly increasing
(RFC 9562 section 6.2, method 3: a counter reseeded each millisecond)."""

import uuid as _uuid

import ids as _ids

SCHEME = "uuid7"


def new():
    """A new version 7 ``uuid.UUID``."""
    return _uuid.UUID(_ids.generate(SCHEME))


def new_many(n):
    """A list of ``n`` new version 7 ``uuid.UUID``s, strictly increasing."""
    return [_uuid.UUID(u) for u in _ids.generate_many(SCHEME, n)]


def _text(u):
    return str(u) if isinstance(u, _uuid.UUID) else u


def parse(u):
    """``u`` (a ``uuid.UUID`` or text in any form ``uuid.UUID`` reads) parsed: an
    ``ids.Parsed`` with the canonical text, the 16 bytes and ``timestamp_ms``;
    ``ValueError`` when it is not a version 7 UUID."""
    return _ids.parse(SCHEME, _text(u))


def timestamp(u):
    """The UUID's timestamp, in milliseconds since the Unix epoch."""
    return parse(u).timestamp_ms


def datetime(u):
    """The UUID's timestamp as an aware UTC ``datetime.datetime``."""
    return _ids._datetime(timestamp(u))


def validate(u):
    """Whether ``u`` is a version 7 UUID."""
    return _ids.validate(SCHEME, _text(u))
