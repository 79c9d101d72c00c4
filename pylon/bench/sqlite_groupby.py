# sqlite3: a grouped query over 100k rows (inserted as in sqlite_insert), run 20 times, with
# the 100 result rows fetched to Python each time.
import sqlite3

con = sqlite3.connect(":memory:")
con.execute("create table t(id integer primary key, grp integer, x real, label text)")
with con:
    con.executemany("insert into t values (?, ?, ?, ?)",
                    ((i, i % 100, i * 0.5, f"row {i}") for i in range(100_000)))
for _ in range(20):
    groups = con.execute(
        "select grp, count(*), sum(x), avg(x), max(label) from t group by grp order by grp"
    ).fetchall()
    assert len(groups) == 100 and groups[0][1] == 1000
con.close()
