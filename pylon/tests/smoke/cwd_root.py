# The guest's / exists with nothing mounted there (pytest, for one, changes to its start
# directory): a read-only directory of the runner's holding its mount points.
import errno
import os

assert os.getcwd() == "/", os.getcwd()
os.chdir("/")
assert os.getcwd() == "/"
assert sorted(os.listdir(".")) == ["dev", "usr"], os.listdir(".")
assert sorted(os.listdir("/")) == ["dev", "usr"]
assert os.listdir("/usr/local") == ["lib"]
# More specific mounts still win inside it: the stdlib at /usr/local/lib.
assert "python3.13" in os.listdir("/usr/local/lib"), os.listdir("/usr/local/lib")
os.chdir("/usr/local/lib")
assert os.getcwd() == "/usr/local/lib"
assert os.path.isfile("python3.13/os.py")
# `..` leaves a mount for the directory above it, as natively.
os.chdir("..")
assert os.getcwd() == "/usr/local", os.getcwd()
assert os.path.isfile("lib/python3.13/os.py")
os.chdir("../../")
assert os.getcwd() == "/", os.getcwd()
assert os.path.isdir("./usr/../dev")

# Nothing can be written there.
for attempt in (lambda: open("/new.txt", "w"), lambda: os.mkdir("/tmp"), lambda: os.rmdir("/usr")):
    try:
        attempt()
    except OSError as e:
        assert e.errno in (errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOTEMPTY), e
    else:
        raise AssertionError("wrote into the guest's /")
assert sorted(os.listdir("/")) == ["dev", "usr"]
# The host is still out of reach from there.
for path in ["/etc/passwd", "/../etc/passwd", "/usr/../../etc/passwd"]:
    try:
        open(path)
    except OSError:
        pass
    else:
        raise AssertionError(f"{path} was readable")
print("cwd root ok")
