# pylon-args: --dir-ro {tmp}::/dev
# native-before: open('null', 'w').write('the user mounted this\n')
# A mount at /dev is the user's choice: its files are what /dev holds, /dev/null included.
import os
import stat

assert os.listdir("/dev") == ["null"]
assert stat.S_ISREG(os.stat("/dev/null").st_mode)
assert open("/dev/null").read() == "the user mounted this\n"
try:
    open("/dev/null", "w")
except OSError:
    pass
else:
    raise AssertionError("wrote through a read-only mount")
print("devnull with a /dev mount ok")
