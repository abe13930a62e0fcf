"""The thread-safe TTL cache: single-flight claims, stale-if-error, negative entries, fork-safe."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from awsrefs.backends._base import Fetched, Miss, Outcome
from awsrefs.errors import FailureKind

if TYPE_CHECKING:  # concurrent.futures (and logging) load on the first fetch
    from concurrent.futures import Future

__all__ = ["Cache", "Entry"]

Key = TypeVar("Key", bound=Hashable)  # what names one fetched item

# After a failed refresh, a stale value is served for this long (at most the TTL) before
# the next attempt, so an outage does not turn every read into an AWS call. "Not found" is
# remembered as long, so an optional reference read in a loop is not a call per read.
STALE_RETRY_SECONDS = 30.0
NEGATIVE_TTL_SECONDS = 30.0


# A slots dataclass, not a NamedTuple: Resolver.get reads expires_at on every cached read,
# and a slot is read faster than a NamedTuple field.
@dataclass(frozen=True, slots=True)
class Entry:
    """A fetched value and when it was fetched (time.monotonic())."""

    fetched: Fetched
    fetched_at: float
    expires_at: float


class Cache(Generic[Key]):
    """Thread-safe TTL cache with single-flight fetching and stale-if-error.

    ``claim`` hands each key to exactly one fetcher, so any number of threads asking for one
    expired key cause one fetch; the others wait on the fetcher's future. An expired value is
    never handed out while its refresh is in flight: only when that refresh ends transiently
    (throttling, network, 5xx) does it come back, to the fetcher and every waiter at once
    (stale-if-error). Any other failure drops the entry, so no reader gets it after AWS said
    no. Fresh entries are read without the lock (``entries`` is a plain dict).
    """

    def __init__(self, ttl: float) -> None:
        if not ttl >= 0:  # also refuses nan, which every comparison would take as "expired"
            raise ValueError(f"ttl must be >= 0 seconds (inf: never expire), got {ttl!r}")
        self.ttl = ttl
        self.entries: dict[Key, Entry] = {}
        self.missing: dict[Key, tuple[Miss, float]] = {}
        self._inflight: dict[Key, Future[Entry | Miss]] = {}
        self._lock = threading.Lock()

    def claim(
        self, keys: Iterable[Key], *, force: bool = False, newer_than: float | None = None
    ) -> tuple[dict[Key, Entry | Miss], list[Key], dict[Key, Future[Entry | Miss]]]:
        """Split keys into fresh entries, keys this caller must fetch, and fetches to wait on.

        Args:
            keys: The keys wanted.
            force: Fetch even when fresh (a refresh), unless someone is already fetching.
            newer_than: With force, an entry fetched after this time counts as already
                refreshed; lets callers that found the same value stale cause one refresh.
        """
        now = time.monotonic()
        fresh: dict[Key, Entry | Miss] = {}
        mine: dict[Key, None] = {}  # a dict: `in` on a list made 100k keys quadratic
        waiting: dict[Key, Future[Entry | Miss]] = {}
        with self._lock:
            for key in keys:
                if key in fresh or key in waiting or key in mine:
                    continue
                future = self._inflight.get(key)
                entry = self.entries.get(key)
                if future is not None:
                    if entry is not None and not force and entry.expires_at > now:
                        fresh[key] = entry  # still fresh: a forced refresh is in flight
                    else:
                        # An expired value waits for its refresh: if AWS now says no
                        # (access denied, deleted), nobody may get the old value.
                        waiting[key] = future
                    continue
                if entry is not None:
                    if force and newer_than is not None and entry.fetched_at > newer_than:
                        fresh[key] = entry
                        continue
                    if not force and entry.expires_at > now:
                        fresh[key] = entry
                        continue
                elif not force and key in self.missing and self.missing[key][1] > now:
                    fresh[key] = self.missing[key][0]
                    continue
                self._inflight[key] = _new_future()
                mine[key] = None
        return fresh, list(mine), waiting

    def complete(self, key: Key, outcome: Outcome, label: str) -> Entry | Miss:
        """Store what a fetch returned and wake the waiters; returns what callers should use.

        A transient failure with an older value cached keeps serving that value
        (stale-if-error) and logs a warning naming the reference, never the value. Any other
        failure drops the cached value: it is an answer (denied, not found, invalid), and
        serving the old value would hide it.
        """
        now = time.monotonic()
        result: Entry | Miss
        with self._lock:
            if isinstance(outcome, Fetched):
                result = Entry(outcome, now, now + self.ttl)
                self.entries[key] = result
                self.missing.pop(key, None)
            else:
                old = self.entries.get(key)
                if old is not None and outcome.transient:
                    result = Entry(
                        old.fetched, old.fetched_at, now + min(self.ttl, STALE_RETRY_SECONDS)
                    )
                    self.entries[key] = result
                    _log().warning(
                        "awsrefs: refreshing %s failed (%s: %s); serving the value fetched "
                        "%.0f s ago",
                        label,
                        outcome.kind.value,
                        outcome.reason,
                        now - old.fetched_at,
                    )
                else:
                    result = outcome
                    if not outcome.transient:
                        self.entries.pop(key, None)
                    if outcome.kind is FailureKind.NOT_FOUND:
                        ttl = min(self.ttl, NEGATIVE_TTL_SECONDS)
                        self.missing[key] = (outcome, now + ttl)
            future = self._inflight.pop(key, None)
        if future is not None:
            future.set_result(result)
        return result

    def abandon(self, keys: Iterable[Key], error: BaseException) -> None:
        """Release claimed keys after an unexpected error so that waiters do not hang."""
        with self._lock:
            futures = [self._inflight.pop(k, None) for k in keys]
        for future in futures:
            if future is not None and not future.done():
                future.set_exception(error)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.missing.clear()

    def after_fork(self) -> None:
        # Fetches in flight belonged to threads of the parent; values stay valid.
        self._lock = threading.Lock()
        self._inflight = {}


def _new_future() -> Future[Entry | Miss]:
    from concurrent.futures import Future

    return Future()


def _log() -> Any:
    import logging

    return logging.getLogger("awsrefs")
