"""Fetching items through the cache: single-flight claims, parallel calls, retries.

A :class:`Fetcher` claims the keys a caller needs from the cache (another thread's fetch in
flight is waited for, not repeated), plans the fewest calls for the rest, runs them in
parallel on its worker threads, retries throttled and failed-in-transit calls within the
retry budget when nothing is cached to fall back on, and puts each outcome in the cache.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from awsrefs._cache import Cache, Entry
from awsrefs._plan import Call, ItemKey, plan_calls
from awsrefs._retry import OUTAGES, ended_in_transit, one_attempt, retry_transient
from awsrefs._stats import Stats, counting_into
from awsrefs.backends._base import Backend, Fetched, Miss, Outcome
from awsrefs.errors import Failure, FailureKind, ResolutionError

if TYPE_CHECKING:  # concurrent.futures loads on the first parallel fetch
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Fetcher"]

T = TypeVar("T")
_WAIT_SECONDS = 300.0  # upper bound on waiting for another thread's fetch (botocore is bounded)


class Fetcher:
    """Fetches items into one cache, counting in one :class:`Stats`.

    Args:
        cache: Where outcomes go and are served from.
        stats: The resolver's counters.
        retry_budget: Seconds within which a transient failure is retried.
        max_workers: Calls run in parallel.
    """

    def __init__(
        self, cache: Cache[ItemKey], stats: Stats, retry_budget: float, max_workers: int
    ) -> None:
        if not 0 <= retry_budget < math.inf:  # nan and inf would retry forever
            raise ValueError(f"retry_budget must be >= 0 seconds and finite, got {retry_budget!r}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
        self.cache = cache
        self._stats = stats
        self._retry_budget = retry_budget
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def fetch(
        self,
        keys: Sequence[ItemKey],
        backend: Backend,
        *,
        count_here: bool,
        force: bool = False,
        newer_than: float | None = None,
    ) -> dict[ItemKey, Entry | Miss]:
        """Each key's cache entry, or why it could not be fetched.

        Args:
            keys: The items, each once.
            backend: Where to fetch what is not cached.
            count_here: Count the backend's calls in this fetcher's stats too (a backend
                passed in keeps counters of its own).
            force: Fetch even what is fresh in the cache.
            newer_than: With ``force``, an entry fetched after this instant is fresh enough.
        """
        asked = time.monotonic()
        results, mine, waiting = self.cache.claim(keys, force=force, newer_than=newer_than)
        self._stats.add_cache(hits=len(results), misses=len(mine) + len(waiting))
        try:
            if mine:
                results.update(self._fetch_claimed(mine, backend, count_here))
            for key, future in waiting.items():
                results[key] = future.result(timeout=_WAIT_SECONDS)
            if waiting:  # a refresh that failed in transit handed out the value from before it
                self._stats.add_cache(stale=_older(results, waiting, asked))
        except BaseException:
            del results  # values already at hand must not ride up the traceback
            raise
        return results

    def list_path(
        self, backend: Backend, region: str | None, path: str, recursive: bool, count_here: bool
    ) -> dict[str, str]:
        """Every parameter under ``path`` (not cached: each call lists again).

        Raises:
            ResolutionError: The backend cannot list, or the listing failed.
        """
        reference = f"ssm:{path}"
        by_path = getattr(backend, "get_parameters_by_path", None)
        if by_path is None:
            reason = f"{type(backend).__name__} cannot list parameters by path"
            raise ResolutionError([Failure("", reference, FailureKind.CONFIGURATION, reason)])

        def list_path() -> dict[str, Fetched] | Miss:
            return by_path(region, path, recursive=recursive)  # type: ignore[no-any-return]

        got = counting_into(self._stats, list_path) if count_here else list_path()
        if isinstance(got, Miss):
            raise ResolutionError([Failure("", reference, got.kind, got.reason)])
        return {name: str(fetched.value) for name, fetched in got.items()}

    def _fetch_claimed(
        self, mine: list[ItemKey], backend: Backend, count_here: bool
    ) -> dict[ItemKey, Entry | Miss]:
        """Fetch the keys this caller claimed and put the outcomes in the cache."""
        # Retrying only pays when there is nothing to serve meanwhile: with every value
        # cached, a failed refresh serves the old value at once (stale-if-error).
        every_one_cached = all(k in self.cache.entries for k in mine)
        budget = 0.0 if every_one_cached else self._retry_budget
        by_endpoint: dict[tuple[str, str | None], list[ItemKey]] = {}
        for key in mine:
            by_endpoint.setdefault((key.service, key.region), []).append(key)
        calls = [
            _bounded(call, _target(backend, service, region), budget, _where(service, region))
            for (service, region), keys in by_endpoint.items()
            for call in plan_calls(backend, keys)
        ]
        try:
            outcomes = self._run(calls, count_here)
        except BaseException as error:
            self.cache.abandon(mine, error)
            raise
        results: dict[ItemKey, Entry | Miss] = {}
        for key in mine:
            outcome = outcomes[key]
            result = self.cache.complete(key, outcome, key.label)
            if isinstance(outcome, Miss) and isinstance(result, Entry):
                self._stats.add_cache(stale=1)
            results[key] = result
        return results

    def _run(self, calls: list[Call], count_here: bool) -> dict[ItemKey, Outcome]:
        """Run ``calls``, in parallel when there are several."""
        if count_here:
            calls = [_counted(call, self._stats) for call in calls]
        if len(calls) == 1:
            return calls[0]()
        out: dict[ItemKey, Outcome] = {}
        for part in self._run_parallel(calls):
            out.update(part)
        return out

    def _run_parallel(self, tasks: list[Callable[[], T]]) -> list[T]:
        with self._lock:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(self._max_workers, "awsrefs")
            executor = self._executor
        futures: list[Future[T]] = [executor.submit(task) for task in tasks]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the worker threads (they start again on demand)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def after_fork(self) -> None:
        """A child process starts without the parent's threads and locks."""
        self._lock = threading.Lock()
        self._executor = None
        self.cache.after_fork()
        OUTAGES.after_fork()


def _older(results: dict[ItemKey, Entry | Miss], keys: Iterable[ItemKey], than: float) -> int:
    return sum(1 for k in keys if isinstance(e := results[k], Entry) and e.fetched_at < than)


def _target(backend: Backend, service: str, region: str | None) -> Hashable:
    """What one retry budget is spent on: a service in a region through one endpoint."""
    where = (getattr(backend, "endpoint_url", None), getattr(backend, "port", None))
    return (type(backend).__name__, where, service, region)


def _where(service: str, region: str | None) -> str:
    return f"{service} in {region or 'the default region'}"


def _bounded(call: Call, target: Hashable, budget: float, where: str) -> Call:
    """``call`` retried within ``budget``, or once with one attempt after a spent budget.

    One budget per process for one outage (see :mod:`awsrefs._retry`).
    """

    def run() -> dict[ItemKey, Outcome]:
        spent = OUTAGES.spent(target)
        if spent is None:
            out = retry_transient(call, budget)
            if ended_in_transit(out):  # every attempt and retry failed: the budget is spent
                OUTAGES.record(target, budget)
        else:
            ago, spent_budget = spent
            note = (
                f"; not retried: {where} already failed in transit through a {spent_budget:g} s "
                f"retry budget {ago:.0f} s ago in this process (one attempt per call for "
                f"{OUTAGES.window:g} s, or until it answers)"
            )
            with one_attempt():
                out = retry_transient(call, 0.0, note=note)
        if ended_in_transit(out) is False:
            OUTAGES.clear(target)
        return out

    return run


def _counted(call: Call, stats: Stats) -> Call:
    return lambda: counting_into(stats, call)
