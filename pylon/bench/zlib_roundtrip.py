"""zlib: compress + decompress 1 MiB of mixed text (pylon: through the zlib cap)."""
import random
import zlib

rng = random.Random(7)
words = ["pylon", "capability", "component", "wasm", "python", "zlib", "deflate", "stream"]
text = " ".join(rng.choice(words) + str(rng.randrange(1000)) for _ in range(200_000)).encode()[: 1 << 20]
for _ in range(5):
    packed = zlib.compress(text, 6)
    assert zlib.decompress(packed) == text
