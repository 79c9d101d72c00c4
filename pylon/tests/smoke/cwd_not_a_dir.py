# pylon-args: --dir {tmp}::/proj --cwd /proj/file.txt
# native-before: open('file.txt', 'w').write('x')
# exit: 2
# stderr-contains: (the mount at /proj) is not a directory
# A --cwd that names a file in a mount is refused before anything runs.
raise AssertionError("ran with a --cwd naming a file")
