"""Calls into the application that runs this sandbox.

``call(name, *args, **kwargs)`` calls the function the embedding application registered
as *name* (pylon's Rust library: ``RuntimeBuilder::bridge``); arguments and the result
cross the boundary as JSON, so they must be JSON-serializable. The ``pylon`` command-line
runner registers none: there every call raises :class:`UnknownHostFunction`.

Typed host interfaces (caps of kind ``host``) are modules of their own; ``provided(name)``
tells whether the application implements one.
"""

import json as _json

import _pylon_host

__all__ = ["HostError", "HostInterfaceMissing", "UnknownHostFunction", "call", "provided"]


class HostError(Exception):
    """A host function failed; the message is the host's."""


class UnknownHostFunction(HostError, LookupError):
    """No host function of this name is registered by the application."""


class HostInterfaceMissing(HostError):
    """A typed host interface this pylon was built with is not provided by the application."""


def call(name, /, *args, **kwargs):
    """Calls the host function *name*; returns its result, decoded from JSON."""
    if not isinstance(name, str):
        raise TypeError(f"host function name must be str, not {type(name).__name__}")
    payload = _json.dumps({"args": args, "kwargs": kwargs}, ensure_ascii=False)
    try:
        result = _pylon_host.call(name, payload)
    except _pylon_host.WitError as e:
        case, detail = e.value
        if case == "unknown":
            raise UnknownHostFunction(
                f"no host function {name!r} is registered by the application running pylon"
            ) from None
        raise HostError(f"host function {name!r} failed: {detail}") from None
    return _json.loads(result)


def provided(name):
    """Whether the application provides the host interface *name* (``ns:pkg/iface@version``)."""
    return _pylon_host.provided(name)


def _require(name, module):
    # Called by generated host-cap modules before their first call.
    if not _pylon_host.provided(name):
        raise HostInterfaceMissing(
            f"{module}: host interface {name} is not provided by the application running pylon"
        )
