"""Faults on the real path: resolver -> FaultProxy -> moto server, and PostgreSQL for the creator.

- 30% of requests failing (500/503, connection resets, timeouts) still resolves every value;
- 100% failing spends the retry budget, then stops with a clear error;
- with AWS down, an app that already started keeps serving cached values (stale-if-error),
  including the SQLAlchemy creator opening new database connections;
- processes forked after start-up (gunicorn --preload) all resolve;
- no value ever reaches an error text or a log line.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time

import pytest

import awsrefs
from awsrefs import FailureKind, ResolutionError, Resolver
from awsrefs._fetch import backoff_delay, retry_transient
from awsrefs.backends import Fetched, Miss
from tests.support.proxy import FaultConfig, FaultProxy, ProxyRequest

# Short client timeouts keep "timed out" requests cheap; the proxy holds them unanswered.
# Not shorter: on a busy machine moto itself once took over 0.5 s to answer, and the tests
# that start an app through the proxy count on its real answers arriving.
FAST = {"connect_timeout": 1.0, "read_timeout": 2.0}
# Where every request meets a fault, no real answer has to arrive in time.
ALL_FAULTS = {"connect_timeout": 0.5, "read_timeout": 0.5}
N_PARAMS = 25
N_SECRETS = 6
# Only against a hang: no assertion here depends on how fast the machine is.
HANG_GUARD_S = 300


def seed(aws, canary: str) -> tuple[dict, dict]:
    """25 parameters and 6 JSON secrets (3 keys used each); the canary in one of them."""
    settings, expected = {}, {}
    for i in range(N_PARAMS):
        aws.put_parameter(
            f"/app/p{i}", f"value-{i}-4f1c", type="SecureString" if i % 3 else "String"
        )
        settings[f"P{i}"] = f"ssm:/app/p{i}"
        expected[f"P{i}"] = f"value-{i}-4f1c"
    for i in range(N_SECRETS):
        body = {"user": f"u{i}", "password": canary if i == 0 else f"pw-{i}-9d2e7a", "port": 5432}
        aws.put_secret(f"app/s{i}", body)
        for key in body:
            settings[f"S{i}_{key}"] = f"secretsmanager:app/s{i}:{key}"
            expected[f"S{i}_{key}"] = body[key]
    return settings, expected


def faulted(totals: dict[str, int]) -> int:
    """How many requests the proxy answered with an injected fault."""
    return totals["reset"] + totals["timed_out"] + totals["errored"]


def faults(rate: float) -> dict:
    """Reset, timeout and 500/503 in equal thirds of ``rate``."""
    return {"reset_rate": rate / 3, "timeout_rate": rate / 3, "error_rate": rate / 3}


# -- the retry policy itself ---------------------------------------------------------------------


def test_retry_transient_keeps_successes_uses_full_jitter_and_stops_at_the_budget():
    now = [0.0]
    sleeps: list[float] = []
    answers = iter(
        [
            {
                "a": Miss(FailureKind.THROTTLED, "t"),
                "b": Fetched("B"),
                "c": Miss(FailureKind.NETWORK, "n"),
            },
            {
                "a": Fetched("A"),
                "b": Miss(FailureKind.THROTTLED, "t"),
                "c": Miss(FailureKind.NETWORK, "n"),
            },
        ]
        + [{k: Miss(FailureKind.NETWORK, "n") for k in "abc"}] * 50
    )

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    out = retry_transient(
        lambda: next(answers), 10.0, rng=lambda: 1.0, sleep=sleep, clock=lambda: now[0]
    )
    # "b" succeeded first and is kept although the retry of the call failed for it; "a" was
    # fetched on the retry; "c" never came and is reported as the last failure.
    assert out["a"].value == "A"
    assert out["b"].value == "B"
    assert isinstance(out["c"], Miss)
    assert out["c"].kind is FailureKind.NETWORK
    # rng=1.0 shows the caps: 0.25, 0.5, 1, 2, 2, 2... never past the 10 s budget.
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 0.25]
    assert sum(sleeps) == pytest.approx(10.0)
    # Full jitter: any pause from 0 to the cap.
    assert backoff_delay(3, rng=lambda: 0.0) == 0.0
    assert backoff_delay(100, rng=lambda: 0.5) == 1.0


def test_permanent_failures_are_not_retried():
    calls = []

    def run() -> dict:
        calls.append(1)
        return {
            "a": Miss(FailureKind.NOT_FOUND, "gone"),
            "b": Miss(FailureKind.ACCESS_DENIED, "no"),
        }

    retry_transient(run, 10.0, sleep=lambda s: pytest.fail("slept"))
    assert len(calls) == 1


# -- 30% and 100% failing --------------------------------------------------------------------------


def test_thirty_percent_failures_still_resolve_every_value(aws, canary):
    settings, expected = seed(aws, canary)
    with FaultProxy(aws.endpoint_url, FaultConfig(seed=8, **faults(0.30))) as proxy:
        for _ in range(4):  # cold each time: new clients, empty cache
            r = Resolver(endpoint_url=proxy.url, region_name=aws.region, **FAST)
            assert r.resolve(settings) == expected
            r.close()
        totals = proxy.totals()
    injected = faulted(totals)
    # The faults really happened, at about the configured rate.
    assert injected >= 5
    assert 0.15 < injected / totals["received"] < 0.45, totals


def test_total_failure_spends_the_budget_then_stops_with_a_clear_error(aws, canary):
    settings, _ = seed(aws, canary)
    budget, attempts = 2.0, 3
    with FaultProxy(aws.endpoint_url, FaultConfig(seed=3, **faults(1.0))) as proxy:
        r = Resolver(
            endpoint_url=proxy.url,
            region_name=aws.region,
            max_attempts=attempts,
            retry_budget=budget,
            **ALL_FAULTS,
        )
        started = time.monotonic()
        with pytest.raises(ResolutionError) as caught:
            r.resolve(settings)
        elapsed = time.monotonic() - started
        received = proxy.totals()["received"]
        r.close()
        totals = proxy.totals()
    # The budget was used (a slow machine only makes this longer), and then it stopped: no
    # request reached the proxy after resolve() raised. How long that takes is the budget
    # plus one call's worst case (test_retry_transient_... checks the arithmetic on a fake
    # clock); the bound below only guards against a hang.
    assert elapsed >= budget
    assert elapsed < HANG_GUARD_S
    assert totals["forwarded"] == 0
    assert totals["received"] == received
    failures = caught.value.failures
    assert {f.path for f in failures} == set(settings)
    assert {f.kind for f in failures} == {FailureKind.NETWORK}
    text = str(caught.value)
    assert f"{len(settings)} references could not be resolved" in text
    assert "could not reach ssm in us-east-1" in text or "ssm in us-east-1 answered HTTP" in text
    assert canary not in text
    # Every call spent botocore's attempts; how many calls fit in the budget depends on how
    # fast this machine is (the retry arithmetic is checked on a fake clock above).
    assert r.stats.attempts["ssm:GetParameters"] >= attempts * r.stats.calls["ssm:GetParameters"]
    assert r.stats.calls["ssm:GetParameters"] >= 1


def test_throttled_fleet_member_waits_within_its_budget_instead_of_failing(aws):
    # The first 2 SSM requests are throttled, whatever the time: botocore's 2 attempts alone
    # would fail; the resolver waits and calls again within its budget. (Counted, not
    # timed, so a slow machine cannot turn the throttle off.)
    aws.put_parameter("/app/x", "1")
    throttled = 0
    lock = threading.Lock()

    def throttle_first_two(request: ProxyRequest) -> tuple[int, str, str] | None:
        nonlocal throttled
        with lock:
            if request.operation != "AmazonSSM.GetParameters" or throttled >= 2:
                return None
            throttled += 1
        return 400, "ThrottlingException", "Rate exceeded"

    with FaultProxy(aws.endpoint_url, FaultConfig(answer=throttle_first_two)) as proxy:
        r = Resolver(
            endpoint_url=proxy.url, region_name=aws.region, max_attempts=2, retry_budget=60
        )
        assert r.resolve({"X": "ssm:/app/x"}) == {"X": "1"}
        r.close()
        totals = proxy.totals()
    assert throttled == 2
    assert totals["forwarded"] == 1
    assert totals["received"] == 3
    assert r.stats.calls["ssm:GetParameters"] == 2  # a throttled call, then the good one


# -- AWS down after start-up: stale-if-error ----------------------------------------------------


@pytest.mark.slow  # every third refresh waits out the 2 s read timeout
def test_aws_down_causes_zero_failed_reads_in_an_app_that_had_started(aws, canary, caplog):
    """A minute of outage, scaled: TTL 0.3 s, and reads go on until values were served stale
    (as many times as there are values) and 10 refreshes failed: counted, not timed.

    With the default TTL of 300 s a 60 s outage lets each value expire at most once, and a
    failed refresh keeps the old value for min(TTL, 30 s), so at most 2 refresh attempts per
    value fail in that minute. Here every value expires over and over while AWS is down,
    which is the harder case.
    """
    settings, expected = seed(aws, canary)
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(
            endpoint_url=proxy.url, region_name=aws.region, ttl=0.3, max_attempts=2, **FAST
        )
        assert r.resolve(settings) == expected  # the app started
        started_with = dict(r.stats.calls)
        proxy.configure(**faults(1.0), seed=5)  # AWS is down: 500s, resets, timeouts
        # Every request from here on meets a fault. Faults are counted, not what was
        # forwarded: a start-up attempt that a busy moto answered after botocore's read
        # timeout (and botocore sent again) is counted as forwarded late; CI once saw 7, not 4.
        down_from = proxy.totals()
        failures: list[str] = []
        reads = 0
        lock = threading.Lock()
        # Read until the cache served stale values and refreshes failed (counts, not a
        # duration: a slow machine just takes longer to get there).
        enough = threading.Event()
        guard = time.monotonic() + HANG_GUARD_S

        def request_handler() -> None:
            nonlocal reads
            while not enough.is_set() and time.monotonic() < guard:
                for name, ref in settings.items():
                    try:
                        value = r.get(ref)
                    except Exception as error:  # a failed request
                        failures.append(type(error).__name__)
                        continue
                    with lock:
                        reads += 1
                    if value != expected[name]:
                        failures.append(f"wrong value for {name}")
                if r.stats.stale_served >= len(settings) and failed_refreshes() >= 10:
                    enough.set()
                time.sleep(0.01)

        def failed_refreshes() -> int:
            return faulted(proxy.totals()) - faulted(down_from)

        with caplog.at_level(logging.WARNING, logger="awsrefs"):
            workers = [threading.Thread(target=request_handler) for _ in range(8)]
            for w in workers:
                w.start()
            for w in workers:
                w.join(HANG_GUARD_S + 60)
        totals = proxy.totals()
        r.close()
    assert enough.is_set(), "the outage was not exercised before the hang guard"
    assert failures == []
    # The app started with the minimum calls: 3 GetParameters, 1 BatchGetSecretValue.
    assert started_with == {"ssm:GetParameters": 3, "secretsmanager:BatchGetSecretValue": 1}
    # Refreshes were attempted while AWS was down, and met the outage.
    assert faulted(totals) - faulted(down_from) >= 10
    # Reads went on from the cache, fresh or stale, while every refresh failed.
    assert r.stats.stale_served >= len(settings)
    assert reads > r.stats.stale_served
    warnings = [rec.getMessage() for rec in caplog.records if rec.name == "awsrefs"]
    assert warnings
    assert all(canary not in w for w in warnings)


@pytest.mark.slow  # as above, through SQLAlchemy logins
@pytest.mark.postgres
def test_sqlalchemy_creator_keeps_connecting_while_aws_is_down(aws, postgres_server, canary):
    awsrefs_sqlalchemy = pytest.importorskip("awsrefs_sqlalchemy")
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    from tests.support.databases import unique_name

    user = unique_name("down")
    password = f"{canary}-{user}"
    postgres_server.create_user(user, password)
    aws.put_secret(
        "app/db",
        {
            "username": user,
            "password": password,
            "host": postgres_server.host,
            "port": postgres_server.port,
            "dbname": postgres_server.database,
        },
    )
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(
            endpoint_url=proxy.url, region_name=aws.region, ttl=0.3, max_attempts=2, **FAST
        )
        engine = awsrefs_sqlalchemy.create_engine(
            "postgresql+psycopg://", secret="secretsmanager:app/db", resolver=r, poolclass=NullPool
        )
        with engine.connect() as conn:  # started: credentials cached
            assert conn.execute(text("SELECT current_user")).scalar() == user
        proxy.configure(**faults(1.0), seed=11)
        opened = 0
        guard = time.monotonic() + HANG_GUARD_S
        # Log in until the credentials expired and were served stale several times (counts,
        # not a duration).
        while (opened < 10 or r.stats.stale_served < 3) and time.monotonic() < guard:
            with engine.connect() as conn:  # NullPool: every connect is a new login
                assert conn.execute(text("SELECT current_user")).scalar() == user
            opened += 1
        engine.dispose()
        assert proxy.totals()["received"] > proxy.totals()["forwarded"]
        r.close()
    assert opened >= 10
    assert r.stats.stale_served >= 3


# -- gunicorn --preload: resolve in the master, fork workers ---------------------------------------


def _worker(conn) -> None:
    try:
        settings = awsrefs.resolve(
            {"HOST": "ssm:/app/host", "PW": "secretsmanager:app/db:password"}
        )
        fresh = awsrefs.default_resolver().refresh("ssm:/app/later")
        conn.send((settings["HOST"], settings["PW"] == "pw-fork-7c1e9a", fresh))
    except BaseException as error:  # report, don't hang the master
        conn.send(("error", type(error).__name__, str(error)))
    conn.close()


def test_preload_then_fork_workers_all_resolve(aws):
    aws.put_parameter("/app/host", "db.internal")
    aws.put_parameter("/app/later", "set-after-start")
    aws.put_secret("app/db", {"password": "pw-fork-7c1e9a"})
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    awsrefs.set_default_resolver(r)
    try:
        # The master resolves settings (its pool threads and HTTP connections are live)...
        awsrefs.resolve({"HOST": "ssm:/app/host", "PW": "secretsmanager:app/db:password"})
        ctx = multiprocessing.get_context("fork")
        pipes, workers = [], []
        for _ in range(4):  # ...then forks its workers, all alive at once.
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child,))
            proc.start()
            pipes.append(parent)
            workers.append(proc)
        results = []
        for parent in pipes:
            assert parent.poll(120), "a worker hung"
            results.append(parent.recv())
        for proc in workers:
            proc.join(120)
            assert proc.exitcode == 0
    finally:
        awsrefs.set_default_resolver(None)
        r.close()
    assert results == [("db.internal", True, "set-after-start")] * 4


def test_error_texts_and_reprs_never_show_values(aws, canary):
    aws.put_secret("app/s", json.dumps({"password": canary}))
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, max_attempts=1, **FAST)
        assert r.get("secretsmanager:app/s:password") == canary
        proxy.configure(error_rate=1.0)
        with pytest.raises(ResolutionError) as caught:
            Resolver(
                endpoint_url=proxy.url,
                region_name=aws.region,
                max_attempts=1,
                retry_budget=0.5,
                **FAST,
            ).resolve({"PW": "secretsmanager:app/s:password"})
        r.close()
    assert canary not in str(caught.value)
    assert canary not in repr(r)
