"""Process-wide state: the default resolver, the testing override, and what a forked child resets.

The override of ``awsrefs.testing`` is one object, swapped whole. Every resolver remembers the
:data:`active` object it last saw and compares it with the current one (``is``) before it
reads its cache or fetches, so after a swap it drops what it cached from the store before. The
cached ``get`` path does not look: a swap clears each resolver's memo of recent ``get``
answers (registered with :func:`clear_on_swap`), which sends the next ``get`` through that
comparison.

Every resolver is registered here (held weakly) so that a forked child drops its threads,
locks and connections.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from awsrefs.backends import Backend

if TYPE_CHECKING:
    from awsrefs._resolver import Resolver

__all__ = [
    "Override",
    "active",
    "after_fork",
    "clear_on_swap",
    "default_resolver",
    "register",
    "set_default_resolver",
    "swap",
]


class Override:
    """The store every resolver reads from instead of its own.

    Attributes:
        backend: The store, or None: each resolver reads from its own.
    """

    __slots__ = ("backend",)  # a plain class: a dataclass would cost about 1 ms of import

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend = backend


active = Override()
_lock = threading.Lock()
_cleared_on_swap: weakref.WeakSet[Any] = weakref.WeakSet()


def clear_on_swap(memo: Any) -> None:
    """Have ``memo.clear()`` called on every swap (the memo is held weakly)."""
    _cleared_on_swap.add(memo)


def swap(backend: Backend | None) -> Backend | None:
    """Make every resolver read from ``backend`` (None: from its own); return the one before."""
    global active
    with _lock:
        previous = active.backend
        active = Override(backend)
        memos = list(_cleared_on_swap)
    for memo in memos:
        memo.clear()
    return previous


def after_fork() -> None:
    """A child process gets a lock of its own."""
    global _lock
    _lock = threading.Lock()


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
    after_fork()
    for resolver in list(_resolvers):
        resolver._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
