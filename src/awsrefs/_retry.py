"""Retrying throttled and failed calls within a time budget, with full-jitter backoff.

botocore already retries each call ``max_attempts`` times. That is too short for a fleet
starting at once: hundreds of processes sharing SSM's 40 calls per second need seconds, not
one backoff cycle, to get through. So a call whose items came back throttled or failed in
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
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import replace
from typing import TypeVar

from awsrefs.backends._base import TRANSIENT, Miss, Outcome
from awsrefs.errors import FailureKind

__all__ = [
    "OUTAGES",
    "OUTAGE_WINDOW_SECONDS",
    "RETRYABLE",
    "Outages",
    "backoff_delay",
    "ended_in_transit",
    "one_attempt",
    "one_attempt_only",
    "retry_transient",
]

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
