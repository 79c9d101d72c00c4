# pylon-args: --dir {tmp}::/data
# host-file: ok.txt = still running
# WASI paths are UTF-8 strings, and bytes that are not UTF-8 used to trap the runtime inside
# the component adapter. Every path call now answers EILSEQ with the filename instead
# (deps/patches.toml, __wasilibc_real.c), for both sides of link, rename and symlink.
import errno
import os

bad = b"/data/\xff\xfe-name"
surrogate = "/data/\udcff"  # os.fsencode turns it into the same kind of bytes


def eilseq(call, *args):
    try:
        call(*args)
    except OSError as e:
        assert e.errno == errno.EILSEQ, (call, e)
        return e
    raise AssertionError(f"{call.__name__}{args!r} did not raise")


e = eilseq(os.stat, bad)
assert e.filename == bad, e.filename
eilseq(open, bad, "wb")
eilseq(open, surrogate, "w")
eilseq(os.mkdir, bad)
eilseq(os.listdir, bad)
eilseq(os.unlink, bad)
eilseq(os.rmdir, bad)
eilseq(os.utime, bad)
eilseq(os.readlink, bad)
open("/data/good", "w").close()
eilseq(os.rename, b"/data/good", bad)
eilseq(os.rename, bad, b"/data/good")
eilseq(os.link, b"/data/good", bad)
eilseq(os.symlink, b"/data/\xff", b"/data/link")
eilseq(os.symlink, b"target", bad)
# Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
for raw in [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]:
    eilseq(os.stat, b"/data/" + raw)
# Real non-ASCII names work as before.
name = "/data/h\u00e9llo-\u4e16\u754c-\U0001f600"
open(name, "w").write("x")
assert os.path.basename(name) in os.listdir("/data")
os.unlink(name)
open("/data/ok.txt", "w").write("still running\n")
