"""NanoIDs (github.com/ai/nanoid): random symbols of the URL-safe alphabet
``A-Za-z0-9_-`` (6 random bits each), 21 by default. They have no structure: parsing checks
the alphabet and the length only."""

import ids as _ids

SCHEME = "nanoid"

#: The alphabet, in base64url order (the values ``parse`` reports in ``bytes``).
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

#: The default length: 126 random bits.
SIZE = 21


def new(size=SIZE):
    """A new NanoID of ``size`` characters (2 to 255)."""
    return _ids.generate(SCHEME, size)


def new_many(n, size=SIZE):
    """A list of ``n`` new NanoIDs of ``size`` characters."""
    return _ids.generate_many(SCHEME, n, size)


def parse(text, size=SIZE):
    """``text`` checked: an ``ids.Parsed`` whose ``bytes`` are the symbols' 6-bit values
    and whose ``timestamp_ms`` is None; ``ValueError`` when a character is not in the
    alphabet or the length is not ``size``."""
    return _ids.parse(SCHEME, text, size)


def validate(text, size=SIZE):
    """Whether ``text`` is a NanoID of ``size`` characters."""
    return _ids.validate(SCHEME, text, size)
