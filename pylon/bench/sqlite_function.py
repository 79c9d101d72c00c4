# sqlite3: a Python scalar function called from SQL 200k times (create_function), the cost
# of SQLite calling back into Python inside sqlite3_step.
import sqlite3

con = sqlite3.connect(":memory:")
con.create_function("twice", 1, lambda x: 2 * x, deterministic=True)
total = con.execute(
    "with recursive c(x) as (select 1 union all select x + 1 from c limit 200000) select sum(twice(x)) from c"
).fetchone()[0]
assert total == 200000 * 200001
con.close()
