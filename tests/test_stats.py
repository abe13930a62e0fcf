"""Resolver counters: exact under threads, and read without deprecated interpreter tricks."""

from __future__ import annotations

import threading
import warnings

from awsrefs import Resolver
from awsrefs.backends.static import StaticBackend


def test_cached_reads_are_counted_exactly_across_threads_without_deprecation_warnings():
    r = Resolver(backend=StaticBackend({"ssm:/a": "x"}))
    assert r.get("ssm:/a") == "x"  # the miss; every read below is a cached one
    r.stats.reset()
    barrier = threading.Barrier(8)

    def reader() -> None:
        barrier.wait()
        for _ in range(5000):
            r.get("ssm:/a")

    # Reading the counters used a deprecated interpreter feature (itertools.count pickling,
    # deprecated in 3.12 and gone in 3.14): any DeprecationWarning here is an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert r.stats.cache_hits == 8 * 5000
        assert r.stats.snapshot()["cache_hits"] == 8 * 5000
        r.stats.reset()
        assert r.stats.cache_hits == 0
        r.get("ssm:/a")
        assert r.stats.cache_hits == 1
    assert r.stats.calls == {}
