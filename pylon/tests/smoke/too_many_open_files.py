# pylon-args: --dir {tmp}::/t
# Running out of descriptors is EMFILE, as POSIX code expects (the preview1 adapter's table
# holds 128; its ENOMEM is mapped in wasi-libc, see deps/patches.toml), and closing them
# gives them back.
import errno
import os

open("/t/f", "w").close()
files = []
try:
    while len(files) < 1000:
        files.append(open("/t/f"))
except OSError as e:
    assert e.errno == errno.EMFILE, f"expected EMFILE, got {e!r}"
    print(f"EMFILE after {len(files)} open files")
else:
    raise AssertionError("1000 files opened: the descriptor table has no limit?")
for f in files:
    f.close()
with open("/t/f") as f:
    assert f.read() == ""
