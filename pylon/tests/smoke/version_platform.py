# The interpreter is CPython 3.13.5 built for WASI.
import sys

assert sys.version_info[:3] == (3, 13, 5), sys.version
assert sys.platform == "wasi", sys.platform
assert sys.implementation.name == "cpython"
print(sys.version, sys.platform)
