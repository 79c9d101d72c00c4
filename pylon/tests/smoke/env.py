# pylon-args: --env PYLON_GREETING=hello --env EMPTY=
# Only --env values reach the guest: nothing of the host's environment leaks in.
import os

assert os.environ.get("PYLON_GREETING") == "hello", dict(os.environ)
assert os.environ.get("EMPTY") == "", dict(os.environ)
assert "PYLON_SMOKE_HOST_ONLY" not in os.environ, dict(os.environ)
assert "HOME" not in os.environ and "PATH" not in os.environ, dict(os.environ)
print("env ok")
