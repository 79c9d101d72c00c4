# The ids cap: every scheme generated, parsed and validated inside pylon, the spec vectors,
# ULID/UUIDv7 monotonicity (in one call and call by call) and the errors.
import datetime
import uuid

import _ids_cap
import ids

assert ids.schemes() == ["ksuid", "nanoid", "ulid", "uuid7"], ids.schemes()
assert _ids_cap.schemes() == ids.schemes()

# Every scheme: generate, parse, validate, round trip.
for scheme in ids.schemes():
    one = ids.generate(scheme)
    many = ids.generate_many(scheme, 50)
    assert len(many) == 50 and len(set(many)) == 50, scheme
    for text in [one, *many]:
        p = ids.parse(scheme, text)
        assert isinstance(p, ids.Parsed) and p.scheme == scheme and p.canonical == text, (scheme, p)
        assert ids.validate(scheme, text), (scheme, text)
    print(scheme, one, ids.parse(scheme, one).timestamp_ms)

# The spec vectors.
p = ids.ulid.parse("01ARYZ6S41TSV4RRFFQ69G5FAV")  # the ULID spec: ulid(1469918176385)
assert p.timestamp_ms == 1469918176385
assert p.bytes == bytes.fromhex("01563df36481d6764c61efb99302bd5b")
assert ids.ulid.timestamp("01ARZ3NDEKTSV4RRFFQ69G5FAV") == 1469922850259
assert ids.ulid.parse("01arz3ndektsv4rrffq69g5fav").canonical == "01ARZ3NDEKTSV4RRFFQ69G5FAV"
assert ids.ulid.datetime("01ARYZ6S41TSV4RRFFQ69G5FAV") == datetime.datetime(
    2016, 7, 30, 22, 36, 16, 385000, tzinfo=datetime.timezone.utc
)

k = ids.ksuid.parse("0ujtsYcgvSTl8PAuAdqWYSMnLOv")  # segmentio/ksuid's README
assert k.bytes == bytes.fromhex("0669F7EFB5A1CD34B5F99D1154FB6853345C9735")
assert ids.ksuid.timestamp("0ujtsYcgvSTl8PAuAdqWYSMnLOv") == 107608047 + ids.ksuid.EPOCH == 1507608047
assert ids.ksuid.payload("0ujtsYcgvSTl8PAuAdqWYSMnLOv") == bytes.fromhex("B5A1CD34B5F99D1154FB6853345C9735")
assert ids.ksuid.datetime("0ujtsYcgvSTl8PAuAdqWYSMnLOv").isoformat() == "2017-10-10T04:00:47+00:00"

u = ids.uuid7.parse("017F22E2-79B0-7CC3-98C4-DC0C0C07398F")  # RFC 9562, appendix A.6
assert u.timestamp_ms == 0x017F22E279B0
assert u.canonical == "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"
assert ids.uuid7.timestamp(uuid.UUID("017F22E2-79B0-7CC3-98C4-DC0C0C07398F")) == 1645557742000
assert not ids.uuid7.validate("919108f7-52d1-4320-9bac-f847db4148a8")  # a version 4 UUID

n = ids.nanoid.parse("V1StGXR8_Z5jdHi6B-myT")  # nanoid's README
assert n.timestamp_ms is None and len(n.bytes) == 21 and n.bytes[0] == ids.nanoid.ALPHABET.index("V")
assert not ids.nanoid.validate("V1StGXR8_Z5jdHi6B-my+")
assert not ids.nanoid.validate("V1StGXR8_Z5jdHi6B-my")

# Per-scheme modules.
assert len(ids.ulid.new()) == 26 and len(ids.ksuid.new()) == 27
v = ids.uuid7.new()
assert isinstance(v, uuid.UUID) and v.version == 7 and v.variant == uuid.RFC_4122
assert all(isinstance(x, uuid.UUID) for x in ids.uuid7.new_many(5))
assert len(ids.nanoid.new()) == 21 and len(ids.nanoid.new(size=8)) == 8
assert ids.nanoid.validate(ids.nanoid.new(40), size=40)
assert set("".join(ids.nanoid.new_many(200))) <= set(ids.nanoid.ALPHABET)

# Timestamps are the guest's clock.
now_ms = datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000
for scheme in ("ulid", "uuid7", "ksuid"):
    ts = ids.parse(scheme, ids.generate(scheme)).timestamp_ms
    assert abs(ts - now_ms) < 5000, (scheme, ts, now_ms)

# Monotonic: 1000 in one call, then 1000 one at a time, strictly increasing throughout.
for scheme in ("ulid", "uuid7"):
    batch = ids.generate_many(scheme, 1000)
    assert batch == sorted(batch) and len(set(batch)) == 1000, scheme
    loop = [ids.generate(scheme) for _ in range(1000)]
    assert all(a < b for a, b in zip([batch[-1], *loop], loop)), scheme
# Within a millisecond a ULID is the previous one plus one.
values = [int.from_bytes(ids.ulid.parse(t).bytes, "big") for t in ids.ulid.new_many(1000)]
same_ms = [(a, b) for a, b in zip(values, values[1:]) if a >> 80 == b >> 80]
assert same_ms and all(b == a + 1 for a, b in same_ms), len(same_ms)

# Errors.
def raises(exc, fn, *args, match=""):
    try:
        fn(*args)
    except exc as e:
        assert match in str(e), (str(e), match)
        return str(e)
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc.__name__}")

msg = raises(ValueError, ids.generate, "snowflake")
assert msg == "unknown id scheme 'snowflake'; the known schemes are: ksuid, nanoid, ulid, uuid7", msg
raises(ValueError, ids.parse, "ULID", "01ARZ3NDEKTSV4RRFFQ69G5FAV", match="unknown id scheme 'ULID'")
raises(ValueError, ids.validate, "uuid4", "x", match="known schemes are: ksuid")
raises(ValueError, ids.ulid.parse, "01ARZ3NDEKTSV4RRFFQ69G5FA", match="invalid ulid '01ARZ3NDEKTSV4RRFFQ69G5FA': a ULID has 26 characters, not 25")
raises(ValueError, ids.ulid.parse, "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", match="first character must be 0-7")
raises(ValueError, ids.ksuid.parse, "aWgEPTl1tmebfsQzFP4bxwgy80W", match="larger than the largest KSUID")
raises(ValueError, ids.uuid7.parse, "919108f7-52d1-4320-9bac-f847db4148a8", match="a version 4 UUID, not version 7")
raises(ValueError, ids.nanoid.new, 1, match="nanoid size must be between 2 and 255, not 1")
raises(ValueError, ids.nanoid.new, -1, match="between 2 and 255")
raises(ValueError, ids.generate, "ulid", 10, match="ulid ids have a fixed size")
raises(ValueError, ids.generate_many, "ulid", 1_000_001, match="at most 1000000 ids per call")
raises(ValueError, ids.generate_many, "ulid", -1, match="between 0 and 1000000")
raises(TypeError, ids.generate, 7)
assert ids.generate_many("ksuid", 0) == []
# The raw WitError carries the variant.
try:
    _ids_cap.generate("nope", None)
except _ids_cap.WitError as e:
    case, payload = e.value
    assert case == "unknown_scheme" and payload.scheme == "nope" and payload.known == ids.schemes()
else:
    raise AssertionError("no WitError")

print("ids ok")
