"""pylon's pre-initialized snapshot: what is sealed at build time, and redone per run.

The snapshot (cpython-ext/_pylon_snapshot/snapshot.c) starts CPython once, at build time,
under a sealed environment. A cold start computes several things from the environment and
the filesystem it finds; a resumed snapshot must compute them again, for this run, exactly
as a cold start would. What does not depend on the run stays as the build left it.
"""

import sys


CUSTOMIZERS = ("sitecustomize", "usercustomize")
_stdlib_customizers = {name: True for name in CUSTOMIZERS}


def seal():
    """End of the build-time init: drop what describes the build machine, not the program."""
    import gc
    import importlib.util

    # Whether the stdlib's own path holds them: it is this build's read-only tree, the same
    # in every run, so resume need not search it for them again (about 1 ms a run).
    global _stdlib_customizers
    _stdlib_customizers = {name: importlib.util.find_spec(name) is not None for name in CUSTOMIZERS}

    # Directory listings cached by the path finders: the runtime mounts may differ, and
    # their order (the host's readdir order) would make the snapshot's bytes differ.
    for finder in sys.path_importer_cache.values():
        if hasattr(finder, "_path_cache"):
            finder._path_cache = set()
            finder._relaxed_path_cache = set()
            finder._path_mtime = -1
    # Objects made during init live as long as the interpreter: keep the collector off
    # their pages, so that a run copies as few of the snapshot's pages as it can.
    gc.collect()
    gc.freeze()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def resume(environ, pythonpath, base_path):
    """Start of a run: this run's environment, sys.path, randomness and stdio buffering.

    `environ` is this run's environment as `posix.environ` holds it (bytes to bytes),
    `pythonpath` its PYTHONPATH or None, `base_path` the interpreter's module search path
    without PYTHONPATH (the stdlib entries getpath computed at build time, for the same
    layout the runner mounts).
    """
    import posix

    os = sys.modules["os"]
    # os.environ's mapping is posix.environ itself on POSIX: refill it in place.
    posix.environ.clear()
    posix.environ.update(environ)

    # sys.path as a cold start builds it: PYTHONPATH made absolute the way getpath does
    # (joined to the working directory, not normalised), the stdlib, then site's part.
    entries = []
    if pythonpath:
        cwd = os.getcwd()
        for entry in pythonpath.split(os.pathsep):
            if entry.startswith("/"):
                entries.append(entry)
            elif entry in ("", "."):
                entries.append(cwd)
            else:
                entries.append(cwd + "/" + entry)
    sys.path[:] = entries + list(base_path)
    site = sys.modules.get("site")
    if site is not None and not sys.flags.no_site:
        known = site.removeduppaths()
        site.USER_BASE = None
        site.USER_SITE = None
        if site.ENABLE_USER_SITE:
            known = site.addusersitepackages(known)
        site.addsitepackages(known)
        # A cold start imports them from anywhere on sys.path. Beyond the stdlib's entries
        # (PYTHONPATH, site-packages, a user site) that means searching; the stdlib's hold
        # them only if they did at build time.
        elsewhere = any(entry not in base_path for entry in sys.path)
        if "sitecustomize" not in sys.modules and (elsewhere or _stdlib_customizers["sitecustomize"]):
            site.execsitecustomize()
        if site.ENABLE_USER_SITE and "usercustomize" not in sys.modules and (elsewhere or _stdlib_customizers["usercustomize"]):
            site.execusercustomize()

    # Randomness drawn during init belongs to the build: draw this run's.
    random = sys.modules.get("random")
    if random is not None:
        random.seed()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None

    # stdin and stdout are line-buffered when they are terminals (stderr always is).
    for stream, fd in ((sys.stdin, 0), (sys.stdout, 1)):
        if stream is None or stream.closed or not hasattr(stream, "reconfigure"):
            continue
        try:
            tty = os.isatty(fd)
        except OSError:
            continue
        if stream.line_buffering != tty:
            stream.reconfigure(line_buffering=tty)
