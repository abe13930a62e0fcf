"""The process-wide store override of ``awsrefs.testing``: one object, swapped whole.

Every resolver remembers the :data:`active` object it last saw; ``is`` against the current
one is the only check on its hot paths. A swap makes a new object, so each resolver notices
with that one comparison and drops what it cached from the store before.
"""

from __future__ import annotations

import threading

from awsrefs.backends._base import Backend

__all__ = ["Override", "active", "after_fork", "swap"]


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


def swap(backend: Backend | None) -> Backend | None:
    """Make every resolver read from ``backend`` (None: from its own); return the one before."""
    global active
    with _lock:
        previous = active.backend
        active = Override(backend)
    return previous


def after_fork() -> None:
    """A child process gets a lock of its own."""
    global _lock
    _lock = threading.Lock()
