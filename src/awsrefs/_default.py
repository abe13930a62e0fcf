"""The process-wide resolver, and what a forked child resets in every resolver."""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING

from awsrefs import _override

if TYPE_CHECKING:
    from awsrefs._resolver import Resolver

__all__ = ["default_resolver", "register", "set_default_resolver"]

_resolvers: weakref.WeakSet[Resolver] = weakref.WeakSet()


def register(resolver: Resolver) -> None:
    """Have ``resolver`` drop its threads, locks and connections in a forked child."""
    _resolvers.add(resolver)


_default: Resolver | None = None
_default_lock = threading.Lock()


def default_resolver() -> Resolver:
    """The process-wide resolver used by ``awsrefs.resolve`` and the integrations.

    Made on first use with the environment's AWS configuration (``AWS_REGION``,
    ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``...).
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from awsrefs._resolver import Resolver

                _default = Resolver()
    return _default


def set_default_resolver(resolver: Resolver | None) -> None:
    """Replace the process-wide resolver (None: make a new one on next use)."""
    global _default
    with _default_lock:
        _default = resolver


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    _override.after_fork()
    for resolver in list(_resolvers):
        resolver._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
