# os.devnull works with nothing of the host mounted: reads give EOF, writes vanish.
import contextlib
import errno
import os
import stat

assert os.devnull == "/dev/null"
assert os.path.exists(os.devnull)
st = os.stat(os.devnull)
assert stat.S_ISCHR(st.st_mode), oct(st.st_mode)
assert os.listdir("/dev") == ["null"], os.listdir("/dev")

with open(os.devnull) as f:
    assert f.read() == ""
with open(os.devnull, "rb") as f:
    assert f.read(4096) == b""
    assert stat.S_ISCHR(os.fstat(f.fileno()).st_mode)
with open(os.devnull, "w") as f:
    print("discarded", file=f)
    f.write("x" * 10**6)
print("silenced", file=open(os.devnull, "w"))
with open(os.devnull, "ab") as f:
    assert f.write(b"appended") == 8
with open(os.devnull, "r+b") as f:
    f.write(b"abc")
    f.seek(0)
    assert f.read() == b""
with open(os.devnull, "w") as f, contextlib.redirect_stdout(f):
    print("into the void")
fd = os.open(os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
assert os.write(fd, b"12345") == 5
os.close(fd)
# Relative to a descriptor of /dev, and through a relative path from /dev.
dev = os.open("/dev", os.O_RDONLY | os.O_DIRECTORY)
fd = os.open("null", os.O_RDONLY, dir_fd=dev)
assert os.read(fd, 10) == b""
os.close(fd)
os.close(dev)
os.chdir("/dev")
assert open("null").read() == ""
assert os.path.exists("./null") and os.path.exists("../dev/null")
os.chdir("/")


def fails(what, call, *errnos):
    try:
        call()
    except OSError as e:
        assert not errnos or e.errno in errnos, f"{what}: {e!r}"
    else:
        raise AssertionError(f"{what} succeeded")


# POSIX answers for what /dev/null is not.
fails("O_EXCL", lambda: os.open(os.devnull, os.O_WRONLY | os.O_CREAT | os.O_EXCL), errno.EEXIST)
fails("O_DIRECTORY", lambda: os.open(os.devnull, os.O_RDONLY | os.O_DIRECTORY), errno.ENOTDIR)
fails("trailing slash", lambda: open("/dev/null/"), errno.ENOTDIR)
fails("listdir", lambda: os.listdir(os.devnull), errno.ENOTDIR)
# It cannot be changed: the runner's /dev is read-only, and set-times is refused.
fails("remove", lambda: os.remove(os.devnull))
fails("rename", lambda: os.rename(os.devnull, "/dev/x"))
fails("utime", lambda: os.utime(os.devnull, (0, 0)), errno.EPERM)
with open(os.devnull, "w") as f:
    fails("futime", lambda: os.utime(f.fileno(), (0, 0)), errno.EPERM)
# No other device of the host is reachable through it.
for path in ["/dev/zero", "/dev/tty", "/dev/random", "/dev/urandom", "/dev/full",
             "/dev/../dev/zero", "/dev/./zero", "/dev/null/../zero", "/dev//zero",
             "/dev/null/x", "/dev/nullx"]:
    fails(path, lambda: open(path, "rb").read(1))
    assert not os.path.exists(path), path
print("devnull ok")
