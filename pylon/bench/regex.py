"""Regular expressions over generated text (after pyperformance's regex_v8 spirit)."""
import re

words = ["alpha", "beta", "gamma", "delta", "user@example.org", "2026-11-20", "http://x.test/a?b=c"]
text = " ".join(words[i % len(words)] + str(i) for i in range(20_000))
patterns = [
    re.compile(r"[\w.]+@[\w.]+"),
    re.compile(r"\d{4}-\d{2}-\d{2}"),
    re.compile(r"https?://[^\s]+"),
    re.compile(r"\b(?:alpha|gamma)\d+\b"),
]
total = 0
for _ in range(8):
    for p in patterns:
        total += len(p.findall(text))
    total += len(re.sub(r"(\d+)", r"<\1>", text))
assert total > 0
