# embed-kv's host cap is compiled in, but the pylon CLI does not provide it: the module
# imports, and its first call raises HostInterfaceMissing naming the interface.
import _kv_host
import pylon_host

assert not pylon_host.provided("example:kv/kv@0.1.0")
for call in (lambda: _kv_host.Store("s"), lambda: _kv_host.lookup("k")):
    try:
        call()
    except pylon_host.HostInterfaceMissing as e:
        assert "example:kv/kv@0.1.0" in str(e) and "_kv_host" in str(e), e
    else:
        raise AssertionError("a host interface nobody provides answered")
print("kv host missing: ok")
