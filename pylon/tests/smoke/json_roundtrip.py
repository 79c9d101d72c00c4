# json (with its C accelerator) round-trips nested data exactly.
import json

data = {"name": "pylon", "n": [1, 2.5, -3, 10**20], "ok": True, "none": None, "s": "é\u2603\n"}
text = json.dumps(data, sort_keys=True)
assert json.loads(text) == data
assert text == '{"n": [1, 2.5, -3, 100000000000000000000], "name": "pylon", "none": null, "ok": true, "s": "\\u00e9\\u2603\\n"}', text
import _json  # the C speedups are built in
print("json ok")
