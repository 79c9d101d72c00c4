# The bridge is in every build; the pylon CLI registers no host function, so a call names
# the missing function, and the CLI provides the bridge interface itself but no other.
import pylon_host

try:
    pylon_host.call("no.such.function", 1, key="v")
except pylon_host.UnknownHostFunction as e:
    assert "'no.such.function'" in str(e), e
    assert isinstance(e, LookupError)
else:
    raise AssertionError("an unregistered host function returned")

try:
    pylon_host.call("x", object())
except TypeError:
    pass
else:
    raise AssertionError("a non-JSON argument crossed the bridge")

assert pylon_host.provided("pylon:host/bridge@0.1.0")
assert not pylon_host.provided("example:none/none@0.1.0")
print("pylon_host: ok")
