# pylon-args: --dir-ro {tmp}::/ro
# A read-only mount cannot be written.
try:
    open("/ro/new.txt", "w").write("x")
except OSError as e:
    print("write refused:", type(e).__name__)
else:
    raise AssertionError("wrote into a read-only mount")
