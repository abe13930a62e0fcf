"""The cache after AWS says no, and what cached values callers can change (issue 18).

All through the real path: Resolver -> boto3 over HTTP -> FaultProxy -> moto server.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable

import pytest

import awsrefs
from awsrefs import FailureKind, RefSyntaxError, ResolutionError, Resolver, SecretRef, SSMRef
from tests.support.proxy import FaultProxy, ProxyRequest
from tests.support.unreachable import ClosingListener

THREADS = 8
READS_PER_THREAD = 40
TTL = 0.3


def _denied(proxy: FaultProxy, aws) -> None:
    proxy.configure(deny=lambda request: aws.parameter_arn("/app/x"))


def _answer(code: str) -> Callable[[FaultProxy, object], None]:
    def switch(proxy: FaultProxy, aws) -> None:
        def answer(request: ProxyRequest) -> tuple[int, str, str]:
            return 400, code, f"injected {code}"

        proxy.configure(answer=answer)

    return switch


def _deleted(proxy: FaultProxy, aws) -> None:
    aws.client("ssm").delete_parameter(Name="/app/x")


@pytest.mark.parametrize(
    ("switch", "kind"),
    [
        (_denied, FailureKind.ACCESS_DENIED),
        (_answer("UnrecognizedClientException"), FailureKind.CREDENTIALS),
        (_answer("ValidationException"), FailureKind.INVALID),
        (_deleted, FailureKind.NOT_FOUND),
    ],
    ids=["access-denied", "unrecognized-client", "validation", "not-found"],
)
def test_no_reader_gets_the_old_value_after_aws_says_no(aws, switch, kind):
    aws.put_parameter("/app/x", "old-value-5e1d")
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, ttl=TTL, max_attempts=1)
        assert r.get("ssm:/app/x") == "old-value-5e1d"
        switch(proxy, aws)
        time.sleep(TTL + 0.05)  # the cached value has expired: every read now asks AWS
        old: list[str] = []
        kinds: set[FailureKind] = set()
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def reader() -> None:
            start.wait()
            for _ in range(READS_PER_THREAD):
                try:
                    value = r.get("ssm:/app/x")
                except ResolutionError as error:
                    with lock:
                        kinds.update(f.kind for f in error.failures)
                else:
                    with lock:
                        old.append(value)

        threads = [threading.Thread(target=reader) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # resolve and refresh, after the readers, agree.
        with pytest.raises(ResolutionError):
            r.resolve({"X": "ssm:/app/x"})
        with pytest.raises(ResolutionError):
            r.refresh("ssm:/app/x")
        r.close()
    assert len(old) == 0, f"{len(old)} old values served after AWS said {kind.value}"
    assert kinds == {kind}


def test_readers_of_an_expired_value_wait_for_the_refresh_and_share_a_transient_stale_answer(
    aws,
):
    """The stale value does come back, once the refresh failed in transit."""
    aws.put_parameter("/app/x", "old-value-5e1d")
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(
            endpoint_url=proxy.url,
            region_name=aws.region,
            ttl=TTL,
            max_attempts=1,  # no timeouts are injected: the client's default timeouts
        )
        assert r.get("ssm:/app/x") == "old-value-5e1d"
        proxy.configure(error_rate=1.0, error_status=(503,))
        time.sleep(TTL + 0.05)
        got: list[str] = []
        start = threading.Barrier(THREADS)

        def reader() -> None:
            start.wait()
            got.append(r.get("ssm:/app/x"))

        threads = [threading.Thread(target=reader) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        received = proxy.totals()["received"]
        r.close()
    assert got == ["old-value-5e1d"] * THREADS
    assert received == 2  # start-up, and one refresh for all eight readers
    # The refresher and each reader that waited for it were served the stale value; a reader
    # that came after the failed refresh found the value kept for min(ttl, 30 s).
    assert 1 <= r.stats.stale_served <= THREADS


# -- item 2: what callers get cannot change the cache --------------------------------------------


def test_json_objects_from_the_cache_are_copies_for_get_resolve_and_lookup(aws):
    aws.put_secret("app/cfg", {"a": {"b": "one", "list": [1, {"c": 2}]}, "n": 5, "s": "text-1c9e"})
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    want = {"b": "one", "list": [1, {"c": 2}]}
    first = r.get("secretsmanager:app/cfg:a")
    assert first == want
    first["b"] = "X"
    first["list"][1]["c"] = "X"
    for _ in range(3):  # the first read after a fetch and the memoized ones alike
        again = r.get("secretsmanager:app/cfg:a")
        assert again == want
        again["list"].append("X")
    settings = {"A": "secretsmanager:app/cfg:a", "N": "secretsmanager:app/cfg:n"}
    resolved = r.resolve(settings)
    resolved["A"]["b"] = "X"
    resolved["A"]["list"].clear()
    assert r.resolve(settings) == {"A": want, "N": 5}
    looked = r.lookup("secretsmanager:app/cfg:a")
    looked.value["b"] = "X"
    assert r.get("secretsmanager:app/cfg:a") == want
    assert r.lookup("secretsmanager:app/cfg:a").value == want
    # Scalars are handed out as they are (the same object each time: nothing to change).
    assert r.get("secretsmanager:app/cfg:s") is r.get("secretsmanager:app/cfg:s")
    assert r.stats.calls == {"secretsmanager:GetSecretValue": 1}
    r.close()


# -- item 13: bad input is one of our errors, naming what to fix ------------------------------


def test_a_bad_endpoint_url_in_the_environment_is_a_resolution_error_naming_the_variable(
    aws, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    r = Resolver(region_name=aws.region)
    with pytest.raises(ResolutionError) as caught:
        r.resolve({"A": "ssm:/app/a", "B": "secretsmanager:app/b"})
    assert {f.kind for f in caught.value.failures} == {FailureKind.CONFIGURATION}
    assert "set by the environment variable AWS_ENDPOINT_URL is not a valid URL" in str(
        caught.value
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", "also not a url")
    with pytest.raises(ResolutionError) as caught:
        Resolver(region_name=aws.region).get("ssm:/app/a")
    assert "the environment variable AWS_ENDPOINT_URL_SSM" in str(caught.value)
    with pytest.raises(ValueError, match="endpoint_url must be an http:// or https:// URL"):
        Resolver(endpoint_url="not a url")


@pytest.mark.parametrize(
    "build",
    [
        lambda: SecretRef("arn:x"),
        lambda: SecretRef(""),
        lambda: SecretRef("a b"),
        lambda: SecretRef("app/db:password"),  # the key belongs in key=
        lambda: SecretRef("app/db", key="k", stage="AWS PENDING"),
        lambda: SSMRef("arn:x"),
        lambda: SSMRef(""),
        lambda: SSMRef("/a", selector="not:one"),
        lambda: SecretRef("app/db", key=""),
        lambda: SecretRef("arn:aws:ssm:eu-west-1:123456789012:parameter/a"),  # wrong service
    ],
)
def test_constructing_a_malformed_reference_raises_ref_syntax_error(build):
    with pytest.raises(RefSyntaxError) as caught:
        build()
    assert isinstance(caught.value, ValueError)


def test_constructing_a_reference_from_something_else_than_text_is_a_type_error():
    with pytest.raises(TypeError, match=r"SSMRef\(name=\.\.\.\) takes text \(str\), not int"):
        SSMRef(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not bytes"):
        SecretRef("app/db", key=b"k")  # type: ignore[arg-type]


def test_well_formed_references_construct_as_before():
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db"
    ref = SecretRef(arn, key="password", stage="AWSPENDING")
    assert (ref.region, ref.account) == ("eu-west-1", "123456789012")
    assert awsrefs.parse(str(ref)) == ref
    assert SSMRef("/a/b", selector="3", optional=True) == awsrefs.parse("optional:ssm:/a/b:3")
    # Names AWS makes itself (RDS-managed master secrets) construct; AWS judges characters.
    assert SecretRef("rds!db-1b2c").secret_id == "rds!db-1b2c"


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("ttl", math.nan),
        ("ttl", -1.0),
        ("retry_budget", math.nan),
        ("retry_budget", math.inf),
        ("retry_budget", -0.5),
    ],
)
def test_meaningless_ttl_and_retry_budget_are_refused_naming_the_argument(argument, value):
    with pytest.raises(ValueError, match=f"^{argument} must be"):
        Resolver(region_name="us-east-1", **{argument: value})


# -- item 15: one retry budget per process for one outage, and honest counts ----------------------


def _counts_said(text: str) -> tuple[int, int]:
    """(attempts, calls) as a network failure's reason states them."""
    found = re.search(r"after (\d+) attempts?(?: in (\d+) calls)?", text)
    assert found, text
    return int(found[1]), int(found[2] or 1)


def test_two_passes_against_an_unreachable_endpoint_spend_one_budget_and_say_so(moto_server):
    """moto_server only for its fake credentials; the endpoint is the closing listener."""
    settings = {"HOST": "ssm:/app/db-host"}
    options = {"region_name": "us-east-1", "max_attempts": 2, "retry_budget": 1.0}
    with ClosingListener() as endpoint:
        first = Resolver(endpoint_url=endpoint.url, **options)
        with pytest.raises(ResolutionError) as caught:
            first.resolve(settings)
        first.close()
        after_first = endpoint.connections
        # Django imports its settings twice; a check command resolves again: new resolvers.
        second = Resolver(endpoint_url=endpoint.url, **options)
        with pytest.raises(ResolutionError) as again:
            second.resolve(settings)
        second.close()
        after_second = endpoint.connections
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.NETWORK
    attempts, calls = _counts_said(failure.reason)
    # The message counts what really happened: every attempt is one connection.
    assert attempts == after_first == first.stats.attempts["ssm:GetParameters"]
    # The budget was spent: as many calls as fit in it (on a busy machine the first call,
    # which also builds the client, can take all of it).
    assert calls == first.stats.calls["ssm:GetParameters"] >= 1
    (fast,) = again.value.failures
    assert fast.kind is FailureKind.NETWORK
    assert _counts_said(fast.reason) == (1, 1)
    assert "not retried: ssm in us-east-1 already failed in transit through a 1 s retry budget" in (
        fast.reason
    )
    assert after_second - after_first == 1
    assert second.stats.calls == {"ssm:GetParameters": 1}
    assert second.stats.attempts == {"ssm:GetParameters": 1}


def test_an_answer_ends_the_remembered_outage(aws):
    aws.put_parameter("/app/x", "1")
    with FaultProxy(aws.endpoint_url) as proxy:
        proxy.configure(reset_rate=1.0)
        # Long enough for retries after the first call, which also builds the client.
        options = {"region_name": aws.region, "max_attempts": 1, "retry_budget": 2.0}
        first = Resolver(endpoint_url=proxy.url, **options)
        with pytest.raises(ResolutionError):
            first.get("ssm:/app/x")
        proxy.configure(reset_rate=0.0)
        # One attempt only, but it is answered: the value, and full budgets again after it.
        second = Resolver(endpoint_url=proxy.url, **options)
        assert second.get("ssm:/app/x") == "1"
        proxy.configure(reset_rate=1.0)
        third = Resolver(endpoint_url=proxy.url, **options)
        with pytest.raises(ResolutionError) as caught:
            third.get("ssm:/app/other")
        for r in (first, second, third):
            r.close()
    _, calls = _counts_said(caught.value.failures[0].reason)
    assert calls == third.stats.calls["ssm:GetParameters"] >= 1  # as many as fit in 2 s
    assert "not retried" not in caught.value.failures[0].reason  # a whole budget again
