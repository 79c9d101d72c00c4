"""json round trips of a mixed document (after pyperformance's json_dumps/json_loads)."""
import json

doc = {
    "key": "value",
    "list": list(range(50)),
    "nested": [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "score": i / 7} for i in range(40)],
    "unicode": "pylon \u00e9\u2603",
    "flags": [True, False, None],
}
for _ in range(1_500):
    text = json.dumps(doc)
    assert json.loads(text)["key"] == "value"
