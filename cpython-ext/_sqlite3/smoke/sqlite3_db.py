# pylon-args: --dir {tmp}::/data
# native-before: import sqlite3; c = sqlite3.connect('native.db'); c.execute('create table t(k text primary key, v)'); c.executemany('insert into t values (?, ?)', [('a', 1), ('b', 2.5), ('c', b'\x00\x01'), ('d', None), ('é', 'ünïcode')]); c.commit(); c.close()
# native-after: import sqlite3; c = sqlite3.connect('pylon.db'); rows = c.execute('select n, sq, name from squares order by n').fetchall(); assert rows == [(i, i * i, 'n%d' % i) for i in range(1000)], rows[:3]; assert c.execute('pragma integrity_check').fetchone() == ('ok',); open('native-read.txt', 'w').write('native read %d rows' % len(rows))
# host-file: native-read.txt = native read 1000 rows
# host-file: pylon-read.txt = pylon read 5 rows
# sqlite3 in the core: CPython's own _sqlite3 over SQLite compiled into pylon; database
# files in a mounted directory, read and written by the native CPython too.
import sqlite3

assert sqlite3.sqlite_version_info >= (3, 40), sqlite3.sqlite_version

# A file the native CPython wrote (native-before) reads back here.
with sqlite3.connect("/data/native.db") as con:
    rows = con.execute("select k, v from t order by k").fetchall()
assert rows == [("a", 1), ("b", 2.5), ("c", b"\x00\x01"), ("d", None), ("é", "ünïcode")], rows
con.close()
with open("/data/pylon-read.txt", "w") as f:
    f.write(f"pylon read {len(rows)} rows")

# A file written here, read by the native CPython (native-after).
con = sqlite3.connect("/data/pylon.db")
con.execute("create table squares(n integer primary key, sq integer, name text)")
with con:
    con.executemany("insert into squares values (?, ?, ?)", ((i, i * i, f"n{i}") for i in range(1000)))
assert con.execute("select count(*), sum(sq) from squares").fetchone() == (1000, sum(i * i for i in range(1000)))
con.close()

# Locks between the connections of one instance (WASI has no fcntl locks; see
# cpython-ext/_sqlite3/wasi_vfs.c): a second writer is refused, a reader sees the last commit.
a = sqlite3.connect("/data/lock.db", timeout=0, isolation_level=None)
b = sqlite3.connect("/data/lock.db", timeout=0, isolation_level=None)
a.execute("create table l(x)")
a.execute("begin immediate")
a.execute("insert into l values (1)")
try:
    b.execute("begin immediate")
except sqlite3.OperationalError as e:
    assert "locked" in str(e), e
else:
    raise AssertionError("two writers at once")
assert b.execute("select count(*) from l").fetchone() == (0,)
a.execute("commit")
assert b.execute("select count(*) from l").fetchone() == (1,)
a.close()
b.close()

# A sort bigger than the page cache needs no temporary directory (none is mounted here).
big = sqlite3.connect(":memory:")
big.execute("create table t(grp, x, label)")
big.executemany("insert into t values (?, ?, ?)", ((i % 100, i * 0.5, f"row {i}") for i in range(100_000)))
assert len(big.execute("select grp, count(*), max(label) from t group by grp order by grp").fetchall()) == 100
big.close()

# :memory: needs no mount; DB-API behaviour.
con = sqlite3.connect(":memory:")
con.row_factory = sqlite3.Row
cur = con.execute("create table t(id integer primary key, name text unique, score real)")
cur.execute("insert into t(name, score) values (?, ?)", ("ada", 1.5))
assert cur.lastrowid == 1 and cur.rowcount == 1
cur.execute("insert into t(name, score) values (:name, :score)", {"name": "bob", "score": 2.0})
assert con.in_transaction
con.commit()
assert not con.in_transaction
row = con.execute("select * from t where name = ?", ("bob",)).fetchone()
assert row["NAME"] == "bob" and row[2] == 2.0 and row.keys() == ["id", "name", "score"]
assert [d[0] for d in con.execute("select id as x, name from t").description] == ["x", "name"]
try:
    con.execute("insert into t(name) values ('ada')")
except sqlite3.IntegrityError as e:
    assert e.sqlite_errorname == "SQLITE_CONSTRAINT_UNIQUE", e.sqlite_errorname
else:
    raise AssertionError("a UNIQUE violation was accepted")
try:
    con.execute("selec 1")
except sqlite3.OperationalError as e:
    assert "syntax error" in str(e)
cur = con.cursor()
cur.execute(
    "with recursive c(x) as (select 1 union all select x + 1 from c where x < 10) select x from c")
assert [r[0] for r in cur.fetchmany(3)] == [1, 2, 3]
assert [r[0] for r in cur] == list(range(4, 11))

# Adapters and converters.
import datetime
sqlite3.register_adapter(datetime.date, lambda d: d.isoformat())
sqlite3.register_converter("DAY", lambda b: datetime.date.fromisoformat(b.decode()))
c2 = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES)
c2.execute("create table d(x day)")
c2.execute("insert into d values (?)", (datetime.date(2024, 2, 29),))
assert c2.execute("select x from d").fetchone()[0] == datetime.date(2024, 2, 29)

# Blobs, backup, iterdump, serialize.
c2.execute("create table b(data blob)")
c2.execute("insert into b values (zeroblob(16))")
with c2.blobopen("b", "data", 1) as blob:
    blob.write(b"pylon")
    blob.seek(0)
    assert blob.read(5) == b"pylon" and len(blob) == 16
c2.commit()
copy = sqlite3.connect(":memory:")
c2.backup(copy)
assert copy.execute("select substr(data, 1, 5) from b").fetchone()[0] == b"pylon"
dump = "\n".join(copy.iterdump())
assert "CREATE TABLE d(x day);" in dump, dump
image = copy.serialize()
third = sqlite3.connect(":memory:")
third.deserialize(image)
assert third.execute("select count(*) from d").fetchone() == (1,)

# Callbacks from SQLite into Python run inside sqlite3_step. (Plain tuples again: a Row never
# equals a tuple.)
con.row_factory = None
con.create_function("twice", 1, lambda x: 2 * x, deterministic=True)
assert con.execute("select twice(21), twice('ab')").fetchone() == (42, "abab")


class Spread:
    def __init__(self):
        self.values = []

    def step(self, value):
        self.values.append(value)

    def finalize(self):
        return max(self.values) - min(self.values)


con.create_aggregate("spread", 1, Spread)
assert con.execute("select spread(score) from t").fetchone() == (0.5,)
con.create_collation("reverse", lambda a, b: (a < b) - (a > b))
assert [r[0] for r in con.execute("select name from t order by name collate reverse")] == ["bob", "ada"]


class Sum:
    def __init__(self):
        self.total = 0

    def step(self, value):
        self.total += value

    def inverse(self, value):
        self.total -= value

    def value(self):
        return self.total

    def finalize(self):
        return self.total


con.create_window_function("wsum", 1, Sum)
rows = con.execute("select x, wsum(x) over (order by x rows between 1 preceding and current row) from "
                   "(select 1 as x union all select 2 union all select 3)").fetchall()
assert rows == [(1, 1), (2, 3), (3, 5)], rows


def authorizer(action, arg1, arg2, db_name, trigger):
    return sqlite3.SQLITE_DENY if arg1 == "secret" else sqlite3.SQLITE_OK


con.execute("create table secret(x)")
con.set_authorizer(authorizer)
try:
    con.execute("select * from secret")
except sqlite3.DatabaseError as e:
    assert "access to secret.x is prohibited" in str(e), e
else:
    raise AssertionError("the authorizer was not asked")
con.set_authorizer(None)
steps = []
con.set_progress_handler(lambda: steps.append(1), 100)
con.execute("with recursive c(x) as (select 1 union all select x + 1 from c limit 10000) select count(*) from c").fetchone()
assert steps, "the progress handler never ran"
con.set_progress_handler(None, 0)


def boom(x):
    raise ValueError("from Python")


con.create_function("boom", 1, boom)
try:
    con.execute("select boom(1)").fetchone()
except sqlite3.OperationalError as e:
    assert "user-defined function raised exception" in str(e), e
else:
    raise AssertionError("an exception in a function was swallowed")
print("sqlite3 ok", sqlite3.sqlite_version)
