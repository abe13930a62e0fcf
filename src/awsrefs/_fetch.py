"""Fetching items through the cache: planned, parallel, single-flight, retried, counted.

A :class:`Fetcher` claims the keys a caller needs from the :class:`Cache` (another thread's
fetch in flight is waited for, not repeated), plans the fewest calls for the rest, runs them in
parallel on its worker threads, retries throttled and failed-in-transit calls within the
retry budget when nothing is cached to fall back on, and puts each outcome in the cache.
:class:`Stats` counts the calls, attempts and cache use that tests, benchmarks and operators
read.

Planning. An :class:`ItemKey` names one fetched item: a parameter (at a selector) or a secret
version in one region. All references that read the same item (several JSON keys of one
secret) share its key, so the item is fetched once. :func:`plan_calls` groups the keys into
calls: parameters by ``parameter_batch_size`` per region, AWSCURRENT secrets by
``secret_batch_size`` per region (one by one where the backend cannot batch), and one call
per secret pinned to a stage or version id.

Retrying. botocore already retries each call ``max_attempts`` times. That is too short for a
fleet starting at once: hundreds of processes sharing SSM's 40 calls per second need seconds,
not one backoff cycle, to get through. So a call whose items came back throttled or failed in
transit is made again, after a random pause in ``[0, min(cap, base * 2**n)]`` ("full
jitter": processes that were throttled together do not retry together), until the budget
is spent. A resolution therefore takes at most ``budget`` plus one call's own worst case.
The pauses stay short (at most 2 s): botocore's adaptive mode already slows a throttled
client, and a long pause would leave a fleet idle after the quota has room again.

One budget per process for one outage: once calls to an endpoint (a service in a region,
through one endpoint URL) spent a whole budget failing in transit, :data:`OUTAGES` remembers
it for :data:`OUTAGE_WINDOW_SECONDS`. Calls there in that window, from any resolver of the
process (Django imports its settings twice; a check command resolves again), are made once
with a single HTTP attempt and not retried, and their reason says so. An answer from the
endpoint ends the outage at once.

Every transient reason states the calls and HTTP attempts that were really made for it.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar

from awsrefs._grammar import Ref, SSMRef, split_selector
from awsrefs.backends import TRANSIENT, Backend, Fetched, Miss, Outcome
from awsrefs.errors import Failure, FailureKind, ResolutionError

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = [
    "OUTAGES",
    "OUTAGE_WINDOW_SECONDS",
    "RETRYABLE",
    "Cache",
    "Call",
    "Entry",
    "Fetcher",
    "ItemKey",
    "Outages",
    "Stats",
    "backoff_delay",
    "counting_into",
    "ended_in_transit",
    "item_key",
    "one_attempt",
    "one_attempt_only",
    "plan_calls",
    "retry_transient",
]

T = TypeVar("T")

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


K = TypeVar("K")

#: Kinds worth calling again: the store was busy or unreachable, not "no" for an answer.
RETRYABLE = TRANSIENT
BASE_DELAY = 0.25
MAX_DELAY = 2.0
#: How long a spent budget makes later calls to the same endpoint fail fast.
OUTAGE_WINDOW_SECONDS = 60.0

_single = threading.local()


@contextlib.contextmanager
def one_attempt() -> Iterator[None]:
    """Ask the backend for one HTTP attempt per call made in this thread (no retries)."""
    was, _single.on = getattr(_single, "on", False), True
    try:
        yield
    finally:
        _single.on = was


def one_attempt_only() -> bool:
    """True inside :func:`one_attempt`: backends that retry on their own should not."""
    return getattr(_single, "on", False)


class Outages:
    """Endpoints that spent a whole retry budget failing in transit, process-wide.

    Args:
        window: Seconds a spent budget counts.
        clock: Monotonic time.
    """

    def __init__(
        self, window: float = OUTAGE_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self._clock = clock
        self._spent: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def spent(self, target: Hashable) -> tuple[float, float] | None:
        """``(seconds ago, budget)`` when ``target``'s budget was spent within the window."""
        with self._lock:
            got = self._spent.get(target)
            if got is None:
                return None
            ago = self._clock() - got[0]
            if ago >= self.window:
                del self._spent[target]
                return None
            return ago, got[1]

    def record(self, target: Hashable, budget: float) -> None:
        """``target`` failed in transit through a whole budget of ``budget`` seconds."""
        with self._lock:
            self._spent[target] = (self._clock(), budget)

    def clear(self, target: Hashable | None = None) -> None:
        """``target`` answered (None: forget every outage)."""
        with self._lock:
            if target is None:
                self._spent.clear()
            else:
                self._spent.pop(target, None)

    def after_fork(self) -> None:
        self._lock = threading.Lock()


#: The process's outages, shared by every resolver.
OUTAGES = Outages()


def backoff_delay(
    retry: int, *, base: float = BASE_DELAY, cap: float = MAX_DELAY, rng: Callable[[], float]
) -> float:
    """The full-jitter pause before retry number ``retry`` (0 for the first retry)."""
    return rng() * min(cap, base * 2.0 ** min(retry, 30))


def retry_transient(
    run: Callable[[], dict[K, Outcome]],
    budget: float,
    *,
    rng: Callable[[], float] | None = None,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    note: str = "",
) -> dict[K, Outcome]:
    """Call ``run`` until no item failed transiently or ``budget`` seconds have passed.

    Args:
        run: Makes one call; returns an outcome per item.
        budget: Seconds, from now, after which no retry starts (0: never retry).
        rng: Uniform random numbers in [0, 1) (default: ``random.random``).
        sleep: Pauses between calls.
        clock: Monotonic time.
        note: Added to the reason of each item that still failed transiently.

    Returns:
        Each item's last outcome: values fetched by an earlier call are kept. An item that
        still failed transiently says in its reason how many calls and HTTP attempts were
        made for it (the attempts as far as the backend counted them).
    """
    if rng is None:
        import random  # not at import time: ``import awsrefs`` stays light

        rng = random.random
    deadline = clock() + budget
    out = run()
    calls = dict.fromkeys(out, 1)
    sent = {k: _attempts(o) for k, o in out.items()}
    retry = 0
    while True:
        failed = [k for k, o in out.items() if isinstance(o, Miss) and o.kind in RETRYABLE]
        if not failed:
            return out
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(backoff_delay(retry, rng=rng), remaining))
        retry += 1
        again = run()
        for key in failed:
            out[key] = again[key]
            calls[key] += 1
            sent[key] = _add(sent[key], _attempts(again[key]))
    for key in failed:
        miss = out[key]
        assert isinstance(miss, Miss)
        out[key] = replace(
            miss,
            reason=miss.reason + _counts(calls[key], sent[key], budget) + note,
            attempts=sent[key],
        )
    return out


def _attempts(outcome: Outcome) -> int | None:
    return outcome.attempts if isinstance(outcome, Miss) else None


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _counts(calls: int, attempts: int | None, budget: float) -> str:
    """`` after 4 attempts`` or `` after 33 attempts in 9 calls within the 30 s retry budget``."""
    made = "" if attempts is None else f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if calls == 1:
        return f" after {made}" if made else ""
    within = f"within the {budget:g} s retry budget"
    return f" after {made} in {calls} calls {within}" if made else f" after {calls} calls {within}"


def ended_in_transit(outcomes: dict[K, Outcome]) -> bool | None:
    """True when every item failed in transit, False when the store answered, else None."""
    kinds = {o.kind if isinstance(o, Miss) else None for o in outcomes.values()}
    if kinds == {FailureKind.NETWORK}:
        return True
    if any(kind is None or kind not in TRANSIENT for kind in kinds):
        return False  # a value or an answer ("no", "not found"): the endpoint is reachable
    return None  # throttled: reachable but busy, which a spent budget does not claim


class ItemKey(NamedTuple):
    """One item a backend fetches; immutable, and hashed as fast as a plain tuple.

    Attributes:
        service: ``"ssm"`` or ``"secretsmanager"``.
        region: The region, or None for the backend's default.
        name: Parameter name (with any ``:selector``) or secret id.
        stage: Secrets only: a staging label other than AWSCURRENT.
        version_id: Secrets only: a version id.
    """

    service: Literal["ssm", "secretsmanager"]
    region: str | None
    name: str
    stage: str | None = None
    version_id: str | None = None

    @property
    def pinned(self) -> bool:
        """A secret read at a stage or version id: fetched on its own."""
        return self.stage is not None or self.version_id is not None

    @property
    def label(self) -> str:
        """How logs name the item (never its value)."""
        if self.service == "ssm":
            return f"ssm:{self.name}"
        stage = f" ({self.stage or self.version_id})" if self.pinned else ""
        return f"secretsmanager:{self.name}{stage}"


def item_key(ref: Ref, region: str | None) -> ItemKey:
    """The item ``ref`` reads in ``region``: references to keys of one secret share it."""
    if isinstance(ref, SSMRef):
        return ItemKey("ssm", region, ref.api_name)
    stage = None if ref.stage == "AWSCURRENT" else ref.stage
    return ItemKey("secretsmanager", region, ref.secret_id, stage, ref.version_id)


Call = Callable[[], dict[ItemKey, Outcome]]


def plan_calls(backend: Backend, keys: Sequence[ItemKey]) -> list[Call]:
    """The calls that fetch ``keys`` from ``backend``; each returns an outcome per key."""
    parameters: dict[str | None, list[str]] = defaultdict(list)
    current: dict[str | None, list[str]] = defaultdict(list)
    calls: list[Call] = []
    for key in keys:
        if key.service == "ssm":
            parameters[key.region].append(key.name)
        elif key.pinned:
            calls.append(_pinned_call(backend, key))
        else:
            current[key.region].append(key.name)
    for region, names in parameters.items():
        for chunk in _parameter_chunks(names, backend.parameter_batch_size):
            calls.append(_parameters_call(backend, region, chunk))
    for region, ids in current.items():
        size = backend.secret_batch_size if backend.can_batch_secrets(region) else 1
        for ids_chunk in _chunks(ids, size):
            calls.append(_secrets_call(backend, region, ids_chunk))
    return calls


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parameter_chunks(names: list[str], size: int) -> Iterator[list[str]]:
    """Chunks of at most ``size`` names, each naming a parameter at most once.

    ``/a:1`` and ``/a:prod`` go to different calls so answers match requests without
    relying on the response's ``Selector``. The fewest calls is max(ceil(n / size),
    repeats of one name); both ways below reach it in linear time.
    """
    by_base: dict[str, list[str]] = defaultdict(list)
    for name in names:
        by_base[split_selector(name)[0]].append(name)
    repeats = max((len(group) for group in by_base.values()), default=0)
    if repeats <= 1:  # the usual case: in order, as tightly as _chunks
        yield from (list(chunk) for chunk in _chunks(names, size))
        return
    # Deal the names, grouped by parameter, round the calls like cards: a group has at most
    # `count` names, so its names land in different calls, and no call gets more than size.
    count = max(-(-len(names) // size), repeats)
    chunks: list[list[str]] = [[] for _ in range(count)]
    position = 0
    for group in by_base.values():
        for name in group:
            chunks[position % count].append(name)
            position += 1
    yield from chunks


def _parameters_call(backend: Backend, region: str | None, names: Sequence[str]) -> Call:
    def run() -> dict[ItemKey, Outcome]:
        got = backend.get_parameters(region, names)
        return {ItemKey("ssm", region, name): got[name] for name in names}

    return run


def _secrets_call(backend: Backend, region: str | None, ids: Sequence[str]) -> Call:
    def run() -> dict[ItemKey, Outcome]:
        got = backend.get_current_secrets(region, ids)
        return {ItemKey("secretsmanager", region, sid): got[sid] for sid in ids}

    return run


def _pinned_call(backend: Backend, key: ItemKey) -> Call:
    def run() -> dict[ItemKey, Outcome]:
        return {key: backend.get_secret(key.region, key.name, key.stage, key.version_id)}

    return run


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

    One budget per process for one outage (see :mod:`awsrefs._fetch`).
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
