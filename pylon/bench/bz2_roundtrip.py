# bz2: compress and decompress 1 MiB of text-like data (seeded words), 3 times, one shot.
import bz2
import random

rng = random.Random(1)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
data = b" ".join(rng.choice(words) for _ in range(200_000))[: 1 << 20]
assert len(data) == 1 << 20
for _ in range(3):
    packed = bz2.compress(data, 9)
    assert bz2.decompress(packed) == data
