# pylon-args: --dir {tmp}::/tmp
# The sandbox identity (wasi-posix/identity.c): one fixed user, `pylon`, uid/gid 1000, home
# /home/pylon, through CPython's own posixmodule, pwd and grp. No USER/LOGNAME/HOME is set
# (the runner passes no environment), so the lookups below go to the user database.
import getpass
import grp
import os
import pathlib
import pwd
import tempfile

assert "HOME" not in os.environ and "USER" not in os.environ
assert (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == (1000, 1000, 1000, 1000)
assert os.getgroups() == [1000]
assert os.getlogin() == "pylon"
from os import getuid  # what pip does

me = pwd.getpwuid(getuid())
assert tuple(me) == ("pylon", "x", 1000, 1000, "pylon sandbox user", "/home/pylon", "/bin/sh"), me
assert pwd.getpwnam("pylon") == me
assert [p.pw_name for p in pwd.getpwall()] == ["root", "pylon"]
for missing in (lambda: pwd.getpwnam("nobody"), lambda: pwd.getpwuid(4242)):
    try:
        missing()
    except KeyError:
        pass
    else:
        raise AssertionError("an unknown user was found")
group = grp.getgrgid(os.getgid())
assert (group.gr_name, group.gr_gid, group.gr_mem) == ("pylon", 1000, ["pylon"]), group
assert grp.getgrnam("root").gr_gid == 0
assert [g.gr_name for g in grp.getgrall()] == ["root", "pylon"]

assert getpass.getuser() == "pylon"
assert os.path.expanduser("~") == "/home/pylon"
assert os.path.expanduser("~pylon/x") == "/home/pylon/x"
assert pathlib.Path.home() == pathlib.Path("/home/pylon")
# WASI reports no owner: every file has uid 0 and gid 0, which the database names root.
f = pathlib.Path(tempfile.mkdtemp()) / "f"
f.write_text("x")
assert (f.stat().st_uid, f.stat().st_gid) == (0, 0)
assert (f.owner(), f.group()) == ("root", "root")
# tempfile-heavy code: /tmp is the mount above.
assert tempfile.gettempdir() == "/tmp"
with tempfile.NamedTemporaryFile("w+") as t:
    t.write("data")
    t.seek(0)
    assert t.read() == "data"
with tempfile.TemporaryDirectory() as d:
    assert os.path.isdir(d)
# Nothing grants a change of identity.
assert not hasattr(os, "setuid") and not hasattr(os, "seteuid")
print("identity ok")
