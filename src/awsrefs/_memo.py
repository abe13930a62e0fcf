"""A memo bounded by the size of what it holds, not by its number of entries."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["MEMO_CHARS", "MEMO_ITEM_CHARS", "SizedMemo"]

K = TypeVar("K")
V = TypeVar("V")

# The resolver's memos keep at most this many characters of setting text each, and nothing
# longer than MEMO_ITEM_CHARS (a reference is at most about 2,100 characters).
MEMO_CHARS = 1 << 20
MEMO_ITEM_CHARS = 4096


class SizedMemo(Generic[K, V]):
    """A dict that bounds what it keeps: read it through :attr:`data` or :attr:`get`.

    :meth:`remember` skips an item larger than ``max_item`` and forgets everything when the
    sizes remembered would pass ``max_total``, so the memo never keeps more than about
    ``max_total`` characters of keys however many distinct ones it is given.

    Not a dict subclass: ``get`` on a subclass costs a method look-up through the class on
    every call, a tenth of a cached ``Resolver.get``.

    Args:
        max_total: Sum of the sizes kept at most.
        max_item: Size of the largest item worth keeping.

    Attributes:
        data: The items, a plain dict (never replaced, so a bound ``data.get`` stays valid).
        get: ``data.get``.
    """

    def __init__(self, max_total: int = MEMO_CHARS, max_item: int = MEMO_ITEM_CHARS) -> None:
        self.data: dict[K, V] = {}
        self.get = self.data.get
        self.max_total = max_total
        self.max_item = max_item
        self.total = 0
        self._lock = threading.Lock()

    def remember(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` for ``key`` unless it is too large; ``size`` is usually ``len(key)``."""
        if size > self.max_item:
            return
        with self._lock:
            if key not in self.data:
                if self.total + size > self.max_total:
                    self.data.clear()
                    self.total = 0
                self.total += size
            self.data[key] = value

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self.data.clear()
            self.total = 0

    def after_fork(self) -> None:
        """Re-create the lock in a child process."""
        self._lock = threading.Lock()
