# sqlite3: insert 100k rows (int, float, text) in one transaction with executemany, into an
# in-memory database, then count them.
import sqlite3

con = sqlite3.connect(":memory:")
con.execute("create table t(id integer primary key, grp integer, x real, label text)")
rows = ((i, i % 100, i * 0.5, f"row {i}") for i in range(100_000))
with con:
    con.executemany("insert into t values (?, ?, ?, ?)", rows)
assert con.execute("select count(*) from t").fetchone()[0] == 100_000
con.close()
