"""ids: 100k ULIDs in one `generate_many` call, then 100k one call at a time, each batch
checked to be strictly increasing.

pylon makes them with the ids cap (`ids.ulid`). The native python has no ids cap, so it
runs the same workload on a monotonic ULID generator in pure Python (time_ns, os.urandom,
Crockford base32, +1 within a millisecond): `cargo xtask bench`'s ratio is therefore
"pylon with the cap" against "what native CPython does without one". Run directly, the
script prints the in-process time of each half.
"""
import os
import time

N = 100_000

try:
    import ids
except ImportError:
    ids = None

if ids is not None:
    implementation = "ids cap"
    new = ids.ulid.new
    new_many = ids.ulid.new_many
else:
    implementation = "pure Python"
    import base64

    # RFC 4648 base32 → Crockford's alphabet: the fastest pure-Python encoding found.
    _CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    _state = [-1, 0]  # last millisecond, last random part

    def new():
        ms = time.time_ns() // 1_000_000
        last_ms, last_rand = _state
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
            if rand >> 80:
                raise RuntimeError("ULID random part overflow")
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _state[0], _state[1] = ms, rand
        # 26 characters hold 130 bits: two zero bits, then the 128 of the ULID.
        v = ((ms << 80) | rand) << 6
        return base64.b32encode(v.to_bytes(17, "big"))[:26].translate(_CROCKFORD).decode()

    def new_many(n):
        return [new() for _ in range(n)]


t0 = time.perf_counter()
batch = new_many(N)
t1 = time.perf_counter()
loop = [new() for _ in range(N)]
t2 = time.perf_counter()

for seq in (batch, loop):
    assert len(seq) == N and all(a < b for a, b in zip(seq, seq[1:]))
assert batch[-1] < loop[0]

print(f"{implementation}: {N} ULIDs in one call {1e3 * (t1 - t0):.1f} ms "
      f"({1e9 * (t1 - t0) / N:.0f} ns each), one at a time {1e3 * (t2 - t1):.1f} ms "
      f"({1e9 * (t2 - t1) / N:.0f} ns each)")
