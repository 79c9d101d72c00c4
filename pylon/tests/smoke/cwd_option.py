# pylon-args: --dir {tmp}::/proj --cwd /proj
# native-before: import os; os.mkdir('sub'); open('input.txt', 'w').write('from the host\n')
# host-file: out.txt = written relative
# host-file: sub/deeper.txt = up and down
# --cwd starts the guest in a mounted directory, so relative paths work as in real tools.
import os

assert os.getcwd() == "/proj", os.getcwd()
assert os.environ["PWD"] == "/proj", os.environ.get("PWD")
assert open("input.txt").read() == "from the host\n"
assert sorted(os.listdir(".")) == ["input.txt", "sub"], os.listdir(".")
assert os.path.abspath("x") == "/proj/x"
with open("out.txt", "w") as f:
    f.write("written relative\n")
os.chdir("sub")
assert os.getcwd() == "/proj/sub"
open("../sub/./deeper.txt", "w").write("up and down\n")
assert open("../input.txt").read() == "from the host\n"
os.chdir("..")
assert os.getcwd() == "/proj"
os.chdir("/")
assert sorted(os.listdir(".")) == ["dev", "usr"]
os.chdir("/proj")
assert os.path.isfile("out.txt")
print("cwd option ok")
