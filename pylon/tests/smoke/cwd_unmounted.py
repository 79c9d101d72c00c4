# pylon-args: --cwd /nowhere
# exit: 2
# stderr-contains: --cwd /nowhere: /nowhere is not a directory inside any mount
# A --cwd no mount provides is refused before anything runs.
raise AssertionError("ran with a --cwd outside every mount")
