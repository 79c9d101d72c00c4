# exit: 1
# stderr-contains: Traceback (most recent call last)
# stderr-contains: ValueError: boom from pylon
# An uncaught exception prints a traceback and exits 1.
def fail():
    raise ValueError("boom from pylon")

fail()
