# exit: 3
# sys.exit's code is the runner's exit code.
import sys

sys.exit(3)
