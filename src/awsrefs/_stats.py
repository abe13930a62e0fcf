"""Counters of calls, attempts and cache use that tests, benchmarks and operators read."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["Stats", "counting_into"]

# The resolver whose fetch this thread is running: a backend that keeps its own counters
# counts its calls there too, so ``resolver.stats`` sees every call it caused.
_counting = threading.local()


class Stats:
    """Counters of AWS calls and cache use, shared by a resolver and its backend.

    ``calls`` counts API calls by ``service:Operation`` as awsrefs made them; ``attempts``
    counts HTTP requests, retries included, so ``attempts - calls`` is how many were retried.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self._hits = 0
        self.cache_misses = 0
        self.stale_served = 0

    @property
    def cache_hits(self) -> int:
        """Reads served from the cache."""
        return self._hits  # one int read: no lock needed (snapshot() holds it already)

    def fast_hit(self) -> None:
        """Count one read served from the cache by ``Resolver.get``'s cached path."""
        with self._lock:  # uncontended: tens of nanoseconds of a cached read
            self._hits += 1

    def add_call(self, operation: str) -> None:
        """Count one API call of ``operation`` (``ssm:GetParameters``)."""
        self._add("calls", operation)

    def add_attempt(self, operation: str) -> None:
        """Count one HTTP request of ``operation``, a retry included."""
        self._add("attempts", operation)

    def _add(self, counter: str, operation: str) -> None:
        with self._lock:
            getattr(self, counter)[operation] += 1
        # Also in the resolver counting this call (see counting_into), if it is another.
        caller: Stats | None = getattr(_counting, "stats", None)
        if caller is not None and caller is not self:
            caller._add(counter, operation)

    def add_cache(self, *, hits: int = 0, misses: int = 0, stale: int = 0) -> None:
        with self._lock:
            self._hits += hits
            self.cache_misses += misses
            self.stale_served += stale

    @property
    def total_calls(self) -> int:
        """All API calls made, every operation together."""
        with self._lock:
            return sum(self.calls.values())

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, for printing and comparing."""
        with self._lock:
            return {
                "calls": dict(self.calls),
                "attempts": dict(self.attempts),
                "cache_hits": self.cache_hits,
                "cache_misses": self.cache_misses,
                "stale_served": self.stale_served,
            }

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self.calls.clear()
            self.attempts.clear()
            self._hits = self.cache_misses = self.stale_served = 0

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        snap = self.snapshot()
        return (
            f"Stats(calls={snap['calls']}, cache_hits={snap['cache_hits']}, "
            f"cache_misses={snap['cache_misses']}, stale_served={snap['stale_served']})"
        )


def counting_into(stats: Stats, run: Callable[[], T]) -> T:
    """Run ``run`` with the calls it records on any :class:`Stats` also counted in ``stats``."""
    previous = getattr(_counting, "stats", None)
    _counting.stats = stats
    try:
        return run()
    finally:
        _counting.stats = previous
