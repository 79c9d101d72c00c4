# What WASI preview1 has no equivalent for fails clearly, never with a trap, and does not
# pretend to work (README, "What works"). The few emulations wasi-libc and CPython make are
# pinned here too, so that a change of them shows.
import os
import signal
import subprocess
import threading


def raises(exc, call, *args):
    try:
        call(*args)
    except exc as e:
        return e
    raise AssertionError(f"{call!r}{args} did not raise {exc.__name__}")


# Descriptors cannot be duplicated: wasi-libc's dup answers ENOTSUP; dup2 is absent.
assert raises(OSError, os.dup, 1).strerror == "Not supported"
for name in ["dup2", "fork", "pipe", "kill", "killpg", "wait", "waitpid", "execv", "spawnv",
             "getppid", "setsid", "setuid", "fchmod", "chown", "mkfifo", "ttyname",
             "sendfile"]:
    assert not hasattr(os, name), f"os.{name} exists"
# umask keeps a mask (wasi-posix/umask.c) and returns the previous one; nothing on disk
# has permission bits for it to change.
old = os.umask(0o077)
assert old == 0o022, oct(old)
assert os.umask(old) == 0o077
# No processes: subprocess and os.popen say so.
assert "does not support processes" in str(raises(OSError, subprocess.run, ["true"]))
assert "does not support processes" in str(raises(OSError, os.popen, "true"))
# No threads.
assert "can't start new thread" in str(raises(RuntimeError, threading.Thread(target=print).start))
# Modules of what is not there are absent.
# (`_socket`, `pwd` and `grp` exist: sockets refuse at the call, and the sandbox has one
# fixed identity; see socket_no_network.py and identity.py. `mmap` copies: mmap_file.py.)
for mod in ["fcntl", "termios", "resource", "_ctypes", "_multiprocessing"]:
    raises(ModuleNotFoundError, __import__, mod)

# Emulations: a constant process id, and signals only ever raised by the program itself.
assert os.getpid() == 42
got = []
signal.signal(signal.SIGALRM, lambda n, f: got.append(n))
signal.raise_signal(signal.SIGALRM)
assert got == [signal.SIGALRM], got
assert not hasattr(signal, "alarm") and not hasattr(signal, "setitimer")
assert not hasattr(signal, "pthread_kill")
print("wasi absences ok")
