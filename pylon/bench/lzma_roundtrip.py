# lzma: compress and decompress 1 MiB of text-like data (seeded words), 3 times, .xz at
# the default preset.
import lzma
import random

rng = random.Random(1)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
data = b" ".join(rng.choice(words) for _ in range(200_000))[: 1 << 20]
assert len(data) == 1 << 20
for _ in range(3):
    packed = lzma.compress(data)
    assert lzma.decompress(packed) == data
