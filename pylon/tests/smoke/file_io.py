# pylon-args: --dir {tmp}::/data
# host-file: out.txt = written in pylon
# A mounted directory is readable and writable; the file lands on the host.
import os
import pathlib

data = pathlib.Path("/data")
(data / "out.txt").write_text("written in pylon\n")
assert (data / "out.txt").read_text() == "written in pylon\n"
(data / "sub").mkdir()
(data / "sub" / "x.bin").write_bytes(bytes(range(256)))
assert (data / "sub" / "x.bin").read_bytes() == bytes(range(256))
assert sorted(os.listdir(data)) == ["out.txt", "sub"]
print("file io ok")
