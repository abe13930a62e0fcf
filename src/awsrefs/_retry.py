"""Retrying throttled and failed calls within a time budget, with full-jitter backoff.

botocore already retries each call ``max_attempts`` times. That is too short for a fleet
starting at once: hundreds of processes sharing SSM's 40 calls per second need seconds, not
one backoff cycle, to get through. So a call whose items came back throttled or failed in
transit is made again, after a random pause in ``[0, min(cap, base * 2**n)]`` ("full
jitter": processes that were throttled together do not retry together), until the budget
is spent. A resolution therefore takes at most ``budget`` plus one call's own worst case.
The pauses stay short (at most 2 s): botocore's adaptive mode already slows a throttled
client, and a long pause would leave a fleet idle after the quota has room again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from awsrefs.backends._base import TRANSIENT, Miss, Outcome

__all__ = ["RETRYABLE", "backoff_delay", "retry_transient"]

K = TypeVar("K")

#: Kinds worth calling again: the store was busy or unreachable, not "no" for an answer.
RETRYABLE = TRANSIENT
BASE_DELAY = 0.25
MAX_DELAY = 2.0


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
) -> dict[K, Outcome]:
    """Call ``run`` until no item failed transiently or ``budget`` seconds have passed.

    Args:
        run: Makes one call; returns an outcome per item.
        budget: Seconds, from now, after which no retry starts (0: never retry).
        rng: Uniform random numbers in [0, 1) (default: ``random.random``).
        sleep: Pauses between calls.
        clock: Monotonic time.

    Returns:
        Each item's last outcome: values fetched by an earlier call are kept.
    """
    if rng is None:
        import random  # not at import time: ``import awsrefs`` stays light

        rng = random.random
    deadline = clock() + budget
    out = run()
    retry = 0
    while True:
        failed = [k for k, o in out.items() if isinstance(o, Miss) and o.kind in RETRYABLE]
        if not failed:
            return out
        remaining = deadline - clock()
        if remaining <= 0:
            return out
        sleep(min(backoff_delay(retry, rng=rng), remaining))
        retry += 1
        again = run()
        for key in failed:
            out[key] = again[key]
