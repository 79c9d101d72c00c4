# pylon-args: --dir {tmp}::/
# native-before: open('from-host.txt', 'w').write('host side\n')
# host-file: written-at-root.txt = in the user's /
# A mount at / replaces the runner's /, but /dev/null is still the null device.
import os

assert "from-host.txt" in os.listdir("/"), os.listdir("/")
assert "dev" not in os.listdir("/")
open("/written-at-root.txt", "w").write("in the user's /\n")
assert os.listdir("/dev") == ["null"]
assert open("/dev/null").read() == ""
with open(os.devnull, "w") as f:
    f.write("gone" * 1000)
assert not os.path.exists("/dev/zero")
print("devnull with a root mount ok")
