"""Random calls into one cap's raw extension module, run inside pylon.

    capfuzz.py MODULE CALLS SEED DIR

Run by `cargo xtask fuzz-caps` and `cargo xtask test` (xtask/src/commands/fuzz.rs). DIR is a mounted
host directory: it holds `hints.json` (written by the xtask) and receives `calls.log`, one
line per call, written and flushed *before* the call: when a call traps the runtime (pylon
exits 134) the log's last line is that call, with its arguments.

The fuzzer knows no cap. The module describes its API in `__wit__` (JSON, written by the
generator: xtask/src/stages/extglue/gen/sig.rs); the fuzzer calls its functions, constructors, static
functions and methods, on live and closed resources, with values of the declared WIT types
drawn from pools of hostile values (0, -1, 2**31-1, 2**32-1, 2**63, out-of-range integers,
empty and huge bytes, long and odd strings, NaN, None, wrong types, long lists), the hints
of the extension's `[fuzz]` table in ext.toml (values by parameter name; `setup` calls made
on new objects), values that earlier calls returned (handles, ids, compressed data, ...)
and the arguments of earlier successful calls, replayed or with one of them redrawn. An
exception is a fine outcome; only a trap is a bug. The last stdout line is a JSON report:
calls, outcomes by exception type, targets never called or never successful, the slowest
calls and the seed. The same seed makes the same calls (up to what the cap returns, e.g.
fresh random ids).
"""

import gc
import importlib
import json
import os
import random
import sys
import time

MODULE, CALLS, SEED, DIR = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

mod = importlib.import_module(MODULE)
API = json.loads(mod.__wit__)
with open(os.path.join(DIR, "hints.json"), encoding="utf-8") as f:
    HINTS = json.load(f)
WitError = mod.WitError
rng = random.Random(SEED)

# Objects are closed or dropped every EPOCH calls, so that a long run's memory and the
# number of live handles stay bounded and close orders vary.
EPOCH = 500
# Share of arguments replaced by a value of the wrong type, and of calls with a wrong count.
WRONG_TYPE = 0.02
WRONG_ARITY = 0.02
# A parameter named in the hints takes one of them this often.
PARAM_HINT = 0.8
# A call reuses the arguments of an earlier successful call to the same target this often:
# as they were (REPLAY of them: setting up state again, e.g. on a new connection) or with
# one of them drawn anew. That is how calls get deep (a valid stream, then a hostile
# flush; a blob that opened, then a huge read).
MUTATE = 0.45
REPLAY = 0.3
CORPUS_MAX = 8
# Objects known to be closed are picked (as receivers or arguments) this often.
CLOSED = 0.15
# A call goes to a target that has not succeeded yet this often (they are the hard ones).
HARD = 0.3
# At most this many objects of one type are kept (more would spread the calls thin), and
# each call closes (drops the reference to) one of them this often.
PER_TYPE = 6
CLOSE = 0.02
DROP = 0.01
# Any string (int) parameter takes one of the derived/hinted strings (ints) this often.
POOL_HINT = 0.25

INT_RANGES = {
    "u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1), "u64": (0, 2**64 - 1),
    "s8": (-2**7, 2**7 - 1), "s16": (-2**15, 2**15 - 1), "s32": (-2**31, 2**31 - 1),
    "s64": (-2**63, 2**63 - 1),
}
EDGE_INTS = [
    0, 1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 47, 63, 64, 127, 128, 255, 256, 1000,
    1024, 4096, 65535, 65536, 2**20, 2**24, 2**31 - 1, -2**31, 2**31, 2**32 - 1, 2**32, 2**53,
    2**63 - 1, -2**63, 2**63, 2**64 - 1,
]
OUT_OF_RANGE = [2**64, -2**63 - 1, 2**100, -2**100]
STRINGS = [
    "", "a", " ", "\x00", "a\x00b", "\u00e9", "\u2603", "\U0001f600", "%s%s%n", "'", '"', ";",
    "--", "/*", "\\", "../../etc/passwd", "/", ".", "..", "-" * 300, "x" * 4096, "NaN", "0",
    "-1", "null", "main", ":memory:", "\n", "\r\n", "\t", "\ufeff", "\uffff", "A" * 255,
]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), float("-inf"), 1e308, -1e308,
          5e-324, 3.4028234e38, 3.5e38, 2.0**63, 2.0**64]


class Obj:
    """A resource object the fuzzer holds, with a serial number for the log."""
    serial = 0

    def __init__(self, type_name, obj):
        Obj.serial += 1
        self.n = Obj.serial
        self.type = type_name
        self.obj = obj
        self.closed = False
        self.setup = 0  # `[fuzz.setup]` calls made on it

    def __repr__(self):
        return f"<{self.type}#{self.n}{' closed' if self.closed else ''}>"


RESOURCES = {r["name"]: r for r in API["resources"]}
# Calls made on each new object of a type, half the time (`[fuzz.setup]`): [method, args...].
SETUP = HINTS.get("setup", {})
for _type, _calls in SETUP.items():
    _known = [m["name"] for m in RESOURCES.get(_type, {"methods": []})["methods"]]
    for _call in _calls:
        if _call[0] not in _known:
            raise SystemExit(f"capfuzz: [fuzz.setup] {_type}: {MODULE} has no method {_type}.{_call[0]}")
fresh = []  # objects not set up yet
objects = []  # Obj
harvest = {"int": [], "str": [], "bytes": []}
HARVEST_MAX = 64
corpus = {}  # target label -> argument lists of calls that succeeded


def keep(kind, value):
    pool = harvest[kind]
    if value in pool:
        return
    pool.append(value)
    if len(pool) > HARVEST_MAX:
        pool.pop(rng.randrange(len(pool)))


def take(value, depth=0):
    """Feeds what a call returned back into the pools."""
    if depth > 4:
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        keep("int", value)
    elif isinstance(value, str):
        if len(value) <= 1 << 16:
            keep("str", value)
    elif isinstance(value, bytes):
        if len(value) <= 1 << 20:
            keep("bytes", value)
    elif type(value).__name__ in RESOURCES and type(value).__module__ == MODULE:
        name = type(value).__name__
        same = [i for i, o in enumerate(objects) if o.type == name]
        if len(same) >= PER_TYPE:
            forget(rng.choice(same))
        objects.append(Obj(name, value))
        if name in SETUP and rng.random() < 0.5:
            fresh.append(objects[-1])
    elif isinstance(value, (tuple, list)):
        for item in value[:8]:
            take(item, depth + 1)


def pick(candidates):
    """An object, live ones preferred."""
    live = [o for o in candidates if not o.closed]
    if live and (len(live) == len(candidates) or rng.random() > CLOSED):
        return rng.choice(live)
    return rng.choice(candidates)


def arguments(label, params):
    good = corpus.get(label)
    if good and params and rng.random() < MUTATE:
        args = list(rng.choice(good))
        if rng.random() < REPLAY:
            return args
        k = rng.randrange(len(args))
        name, ty = params[k]
        args[k] = gen(ty, name)
        return args
    return [gen(t, p) for p, t in params]


def weight(v, depth=0):
    """About how many bytes `v` holds (shared items counted each time: an upper bound)."""
    if isinstance(v, (str, bytes, bytearray)):
        return len(v)
    if isinstance(v, memoryview):
        return v.nbytes
    if isinstance(v, (list, tuple)) and depth < 4:
        return 8 * len(v) + sum(weight(x, depth + 1) for x in v[:64]) * max(1, len(v) // 64)
    return 8


def remember(label, args):
    # The corpus lives as long as the epoch: big arguments would pile up in memory.
    if weight(args) > 1 << 16:
        return
    good = corpus.setdefault(label, [])
    if len(good) < CORPUS_MAX:
        good.append(args)
    else:
        good[rng.randrange(CORPUS_MAX)] = args


def forget(i):
    """Drops the fuzzer's reference: the handle goes when the object is freed."""
    objects.pop(i)


def wrong():
    choices = [None, 0, -1, 1.5, "s", b"b", [], (), [1, 2], {"a": 1}, object(), True, 2**100,
               float("nan"), ("x", None), bytearray(b"ab")]
    if objects:
        choices.append(rng.choice(objects).obj)
    return rng.choice(choices)


def gen_int(ty, name):
    lo, hi = INT_RANGES[ty]
    r = rng.random()
    if r < 0.03:
        return rng.choice(OUT_OF_RANGE + [lo - 1, hi + 1])
    if r < 0.13:
        return rng.randint(lo, hi)
    if r < 0.28:
        # Small values: offsets, counts and sizes that fit the data at hand.
        return max(lo, min(hi, rng.randint(-2, 64)))
    if r < 0.28 + POOL_HINT and HINTS["ints"]:
        return rng.choice(HINTS["ints"])
    pool = [v for v in EDGE_INTS + harvest["int"] if lo <= v <= hi]
    return rng.choice(pool)


def random_text(n):
    alphabet = "abcxyzABC019 _-./:'\"\u00e9\u4e2d\U0001f600\x00"
    return "".join(rng.choice(alphabet) for _ in range(n))


def gen_str(name):
    r = rng.random()
    if r < 0.02:
        return rng.choice(["x" * (1 << 20), "\u00e9" * (1 << 18), "\ud800", "a\udfffb"])
    if r < 0.02 + POOL_HINT and HINTS["strings"]:
        return rng.choice(HINTS["strings"])
    if r < 0.45 and harvest["str"]:
        s = rng.choice(harvest["str"])
        # Near misses of values that worked: cut, grown, case changed.
        m = rng.random()
        if m < 0.1:
            return s[: rng.randrange(len(s) + 1)]
        if m < 0.15:
            return s + rng.choice(["x", "\x00", " ", "0"])
        if m < 0.2:
            return s.swapcase()
        return s
    if r < 0.6:
        return random_text(rng.randrange(0, 40))
    return rng.choice(STRINGS)


def gen_bytes(name):
    r = rng.random()
    if r < 0.01:
        data = rng.choice([b"\x00" * (16 << 20), b"\xff" * (4 << 20)])
    elif r < 0.04:
        data = rng.choice([b"\x00" * (1 << 20), rng.randbytes(1 << 16)])
    elif r < 0.4 and harvest["bytes"]:
        data = rng.choice(harvest["bytes"])
        m = rng.random()
        if m < 0.15 and data:
            data = data[: rng.randrange(len(data))]
        elif m < 0.3 and data:
            i = rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
        elif m < 0.35:
            data = data + rng.randbytes(rng.randrange(1, 16))
    elif r < 0.55:
        data = rng.randbytes(rng.randrange(0, 64))
    else:
        data = rng.choice([b"", b"\x00", b"\xff", bytes(range(256)), b"\x00" * 4, b"\xff" * 4,
                           b"\x01\x00\x00\x00", b"x\x9c", b"\x1f\x8b\x08\x00",
                           b"x\x9c\x03\x00\x00\x00\x00\x01", b"SQLite format 3\x00" + b"\x00" * 84])
    kind = rng.random()
    if kind < 0.05:
        return bytearray(data)
    if kind < 0.08:
        return memoryview(data)
    if kind < 0.1 and len(data) > 1:
        return memoryview(data)[::2]  # not contiguous
    return data


def gen_list(elem, name, depth):
    r = rng.random()
    if r < 0.25:
        return []
    if r < 0.75:
        n = rng.randint(1, 3)
    elif r < 0.95:
        n = rng.randint(4, 32)
    else:
        n = rng.choice([1000, 10000, 100000])
        one = gen(elem, name, depth + 1)
        return [one] * n
    items = [gen(elem, name, depth + 1) for _ in range(n)]
    return items if rng.random() < 0.9 else tuple(items)


def gen(ty, name, depth=0):
    """A value for a parameter `name` of WIT type `ty` (the `__wit__` encoding)."""
    if rng.random() < WRONG_TYPE or depth > 6:
        return wrong()
    if isinstance(ty, dict) and "option" in ty:
        # Decided before the hints, which cannot say None (TOML has no null).
        return None if rng.random() < 0.35 else gen(ty["option"], name, depth)
    hints = HINTS["params"].get(name)
    if hints and depth == 0 and rng.random() < PARAM_HINT:
        return rng.choice(hints)
    if isinstance(ty, str):
        if ty in INT_RANGES:
            return gen_int(ty, name)
        if ty == "bool":
            return rng.choice([True, False, True, False, 0, 1, None, "x"])
        if ty in ("f32", "f64"):
            return rng.choice(FLOATS) if rng.random() < 0.7 else rng.uniform(-1e6, 1e6)
        if ty == "char":
            return rng.choice(["a", "\x00", "\u00e9", "\U0001f600", "\ud800", "", "ab"])
        if ty == "string":
            return gen_str(name)
        if ty == "bytes":
            return gen_bytes(name)
        raise SystemExit(f"capfuzz: unknown WIT type {ty!r} in {MODULE}.__wit__")
    if "record" in ty:
        fields = [gen(t, f, depth + 1) for f, t in ty["fields"]]
        r = rng.random()
        if r < 0.05:
            fields = fields[:-1] if fields else [None]
        elif r < 0.1:
            fields.append(None)
        return tuple(fields)
    if "variant" in ty:
        case, payload = rng.choice(ty["cases"])
        r = rng.random()
        if r < 0.03:
            return ("no_such_case", None)
        if r < 0.06:
            return (case, "unexpected" if payload is None else None)
        if r < 0.08:
            return (case.replace("_", "-"), None if payload is None else gen(payload, case, depth + 1))
        return (case, None if payload is None else gen(payload, case, depth + 1))
    if "enum" in ty:
        return rng.choice(list(range(ty["cases"])) + [ty["cases"], -1, 2**64])
    if "flags" in ty:
        full = (1 << ty["count"]) - 1
        return rng.choice([0, full, rng.randint(0, full), full + 1, -1])
    if "list" in ty:
        return gen_list(ty["list"], name, depth)
    if "result" in ty:
        ok, err = ty["result"]
        case, t = rng.choice([("ok", ok), ("err", err)])
        return (case, None if t is None else gen(t, name, depth + 1))
    if "tuple" in ty:
        return tuple(gen(t, name, depth + 1) for t in ty["tuple"])
    if "own" in ty or "borrow" in ty:
        want = ty.get("own") or ty.get("borrow")
        mine = [o for o in objects if o.type == want]
        return pick(mine).obj if mine else wrong()
    raise SystemExit(f"capfuzz: unknown WIT type {ty!r} in {MODULE}.__wit__")


def short(v, depth=0):
    """The value for the log: exact when small, summarised when large."""
    if isinstance(v, Obj):
        return repr(v)
    for o in objects:
        if o.obj is v:
            return repr(o)
    if isinstance(v, (bytes, bytearray, memoryview)):
        n = v.nbytes if isinstance(v, memoryview) else len(v)
        if isinstance(v, memoryview):
            return f"memoryview({short(v.tobytes(), depth)}{'' if v.c_contiguous else ', strided'})"
        return repr(v) if n <= 48 else f"<{type(v).__name__} len={n} {bytes(v[:16])!r}...>"
    if isinstance(v, str):
        return repr(v) if len(v) <= 80 else f"<str len={len(v)} {v[:24]!r}...>"
    if isinstance(v, (list, tuple)) and depth < 3:
        items = [short(x, depth + 1) for x in v[:8]]
        more = f", ... {len(v)} items" if len(v) > 8 else ""
        body = ", ".join(items) + more
        return f"[{body}]" if isinstance(v, list) else f"({body}{',' if len(v) == 1 else ''})"
    if isinstance(v, (list, tuple)):
        return f"<{type(v).__name__} len={len(v)}>"
    if isinstance(v, (int, float, bool)) or v is None:
        return repr(v)
    return f"<{type(v).__name__}>"


TARGETS = []  # (label, kind, resource or None, function entry)
for f in API["functions"]:
    TARGETS.append((f["name"], "fn", None, f))
for r in API["resources"]:
    if r["constructor"]:
        TARGETS.append((r["name"], "ctor", r["name"], r["constructor"]))
    for s in r["statics"]:
        TARGETS.append((f"{r['name']}.{s['name']}", "static", r["name"], s))
METHODS = {r["name"]: r["methods"] for r in API["resources"]}

outcomes = {}
ok_targets = set()
called = set()
slowest = []
log = open(os.path.join(DIR, "calls.log"), "w", encoding="utf-8", errors="backslashreplace")


def note(line):
    log.write(line + "\n")
    log.flush()


def call(i, label, fn, params, receiver=None):
    args = arguments(label, params)
    if rng.random() < WRONG_ARITY:
        args = args[:-1] if args and rng.random() < 0.5 else args + [None]
    who = f"{label}[{receiver!r}]" if receiver is not None else label
    note(f"{i} {who}({', '.join(short(a) for a in args)})")
    called.add(label)
    t0 = time.perf_counter()
    try:
        result = fn(*args)
    except WitError:
        # (Its payload is not harvested: error messages would crowd out the values.)
        outcome = "WitError"
    except Exception as e:  # any exception is a fine answer; only traps are bugs
        outcome = type(e).__name__
    else:
        outcome = "ok"
        ok_targets.add(label)
        if len(args) == len(params):
            remember(label, args)
        before = Obj.serial
        take(result)
        if Obj.serial != before:
            made = [o for o in objects if o.n > before]
            note(f"{i}   -> {', '.join(repr(o) for o in made)}")
    dt = time.perf_counter() - t0
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
    slowest.append((dt, f"{i} {label}"))
    if len(slowest) > 20:
        slowest.sort(reverse=True)
        del slowest[5:]


def epoch(i):
    """Closes or drops every object, in random order."""
    note(f"{i} -- epoch: closing or dropping {len(objects)} object(s)")
    rng.shuffle(objects)
    while objects:
        o = objects.pop()
        if rng.random() < 0.5:
            o.obj.close()
    corpus.clear()
    gc.collect()
    for pool in harvest.values():
        del pool[: len(pool) // 2]


def set_up(i, o):
    """One `[fuzz.setup]` call on a new object (the others come in the next steps)."""
    method, *args = SETUP[o.type][o.setup]
    o.setup += 1
    if o.setup == len(SETUP[o.type]):
        fresh.remove(o)
    label = f"{o.type}.{method}"
    note(f"{i} {label}[{o!r}]({', '.join(short(a) for a in args)}) (setup)")
    try:
        getattr(o.obj, method)(*args)
        outcome = "ok"
    except WitError:
        outcome = "WitError"
    except Exception as e:
        outcome = type(e).__name__
    outcomes[outcome] = outcomes.get(outcome, 0) + 1


started = time.perf_counter()
for i in range(1, CALLS + 1):
    if i % EPOCH == 0:
        epoch(i)
    fresh[:] = [o for o in fresh if o in objects]
    if fresh:
        set_up(i, fresh[0])
        continue
    r = rng.random()
    with_methods = [o for o in objects if METHODS[o.type]]
    if objects and r < CLOSE:
        o = rng.choice(objects)
        note(f"{i} close {o!r}")
        o.obj.close()
        o.closed = True
        outcomes["close"] = outcomes.get("close", 0) + 1
        continue
    if objects and r < CLOSE + DROP:
        k = rng.randrange(len(objects))
        note(f"{i} drop {objects[k]!r}")
        forget(k)
        outcomes["drop"] = outcomes.get("drop", 0) + 1
        continue
    if with_methods and r < 0.66:
        o = pick(with_methods)
        methods = METHODS[o.type]
        hard = [m for m in methods if f"{o.type}.{m['name']}" not in ok_targets]
        m = rng.choice(hard if hard and rng.random() < HARD else methods)
        label = f"{o.type}.{m['name']}"
        call(i, label, getattr(o.obj, m["name"]), m["params"], o)
        continue
    hard = [t for t in TARGETS if t[0] not in ok_targets]
    label, kind, res, f = rng.choice(hard if hard and rng.random() < HARD else TARGETS)
    fn = getattr(mod, label) if kind == "fn" else getattr(mod, res)
    if kind == "static":
        fn = getattr(fn, f["name"])
    call(i, label, fn, f["params"])

note("-- done")
all_targets = [t[0] for t in TARGETS] + [f"{r}.{m['name']}" for r, ms in METHODS.items() for m in ms]
slowest.sort(reverse=True)
log.close()
print(json.dumps({
    "module": MODULE,
    "seed": SEED,
    "calls": CALLS,
    "seconds": round(time.perf_counter() - started, 2),
    "outcomes": dict(sorted(outcomes.items())),
    "targets": len(all_targets),
    "never_called": [t for t in all_targets if t not in called],
    "never_ok": [t for t in all_targets if t in called and t not in ok_targets],
    "slowest": [[label, round(dt, 3)] for dt, label in slowest[:3]],
}))
