# script-args: alpha beta 3
# Arguments after the script reach sys.argv unchanged.
import sys

assert sys.argv[1:] == ["alpha", "beta", "3"], sys.argv
assert sys.argv[0].endswith("argv.py"), sys.argv
print("argv ok")
