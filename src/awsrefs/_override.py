"""The process-wide store override of ``awsrefs.testing``: one object, swapped whole.

Every resolver remembers the :data:`active` object it last saw and compares it with the
current one (``is``) before it reads its cache or fetches, so after a swap it drops what it
cached from the store before. The cached ``get`` path does not look: a swap clears each
resolver's memo of recent ``get`` answers (registered with :func:`clear_on_swap`), which
sends the next ``get`` through that comparison.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from awsrefs.backends._base import Backend

__all__ = ["Override", "active", "after_fork", "clear_on_swap", "swap"]


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
