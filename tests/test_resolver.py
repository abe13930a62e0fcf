"""The resolver through the real path: boto3 over HTTP to the moto server (and the fault proxy)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict, namedtuple

import pytest

import awsrefs
from awsrefs import FailureKind, ResolutionError, Resolver, SecretRef
from tests.support.proxy import FaultConfig, FaultProxy, ProxyRequest, Rate


@pytest.fixture
def resolver(aws):
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def db_secret(i: int = 0) -> dict:
    return {
        "username": f"app{i}",
        "password": f"pw-{i}-0b5d9e4a7c11",
        "host": "db.internal",
        "port": 5432,
        "dbname": "app",
    }


# -- values, shapes, batching ------------------------------------------------------------------


def test_resolves_nested_settings_with_types_and_same_shape(aws, resolver):
    aws.put_parameter("/app/db-host", "db.internal")
    aws.put_parameter("/app/api-key", "k-123", type="SecureString")
    aws.put_secret("app/db", db_secret())
    Point = namedtuple("Point", "host port")
    untouched = {"keep": [1, 2, 3]}
    settings = {
        "DATABASES": OrderedDict(
            default={
                "HOST": "ssm:/app/db-host",
                "PORT": "secretsmanager:app/db:port",
                "PASSWORD": "secretsmanager:app/db:password",
                "OPTIONS": untouched,
            }
        ),
        "KEYS": ("ssm:/app/api-key", "plain"),
        "POINT": Point("ssm:/app/db-host", 1),
        "DSN": "postgresql://${secretsmanager:app/db:username}@${ssm:/app/db-host}:${secretsmanager:app/db:port}/x",
        "DEBUG": False,
    }
    out = resolver.resolve(settings)
    assert out["DATABASES"]["default"]["HOST"] == "db.internal"
    assert out["DATABASES"]["default"]["PORT"] == 5432  # JSON type kept for a whole setting
    assert out["DATABASES"]["default"]["PASSWORD"] == "pw-0-0b5d9e4a7c11"
    assert type(out["DATABASES"]) is OrderedDict
    assert out["DATABASES"]["default"]["OPTIONS"] is untouched  # unchanged parts are not copied
    assert out["KEYS"] == ("k-123", "plain")
    assert out["POINT"] == Point("db.internal", 1)
    assert out["DSN"] == "postgresql://app0@db.internal:5432/x"  # text inside a template
    assert out["DEBUG"] is False
    assert settings["DATABASES"]["default"]["HOST"] == "ssm:/app/db-host"  # input untouched
    # 2 parameters, 1 secret read once for its 3 keys.
    assert resolver.stats.calls == {"ssm:GetParameters": 1, "secretsmanager:GetSecretValue": 1}


def test_minimum_calls_for_many_references(aws, resolver):
    n_params, n_secrets = 23, 25
    for i in range(n_params):
        aws.put_parameter(f"/app/p{i}", f"v{i}", type="SecureString" if i % 2 else "String")
    for i in range(n_secrets):
        aws.put_secret(f"app/s{i}", db_secret(i))
    settings = {
        "params": [f"ssm:/app/p{i}" for i in range(n_params)],
        "secrets": {
            f"s{i}": {
                k: f"secretsmanager:app/s{i}:{k}" for k in ("username", "password", "port", "host")
            }
            for i in range(n_secrets)
        },
    }
    out = resolver.resolve(settings)
    assert out["params"][7] == "v7"
    assert out["secrets"]["s24"]["password"] == "pw-24-0b5d9e4a7c11"
    assert resolver.stats.calls == {
        "ssm:GetParameters": math.ceil(n_params / 10),
        "secretsmanager:BatchGetSecretValue": math.ceil(n_secrets / 20),
    }
    # A second pass is served from the cache.
    resolver.resolve(settings)
    assert resolver.stats.total_calls == 3 + 2


def test_pinned_versions_use_one_get_secret_value_each(aws, resolver):
    aws.put_secret("app/db", db_secret())
    pending = {**db_secret(), "password": "next-password-77a1"}
    aws.put_secret_value("app/db", pending, stages=["AWSPENDING"])
    out = resolver.resolve(
        {
            "now": "secretsmanager:app/db:password",
            "explicit_current": "secretsmanager:app/db:password:AWSCURRENT",
            "next": "secretsmanager:app/db:password:AWSPENDING",
            "next_user": "secretsmanager:app/db:username:AWSPENDING",
        }
    )
    assert out == {
        "now": "pw-0-0b5d9e4a7c11",
        "explicit_current": "pw-0-0b5d9e4a7c11",
        "next": "next-password-77a1",
        "next_user": "app0",
    }
    assert resolver.stats.calls == {"secretsmanager:GetSecretValue": 2}


def test_version_id_and_label_selectors(aws, resolver):
    aws.put_parameter("/app/flag", "one", labels=["blue"])
    aws.client("ssm").put_parameter(Name="/app/flag", Value="two", Type="String", Overwrite=True)
    # Secret values become canary secrets: not words a later report could contain.
    aws.put_secret("app/tok", "first-Tq83")
    second = aws.put_secret_value("app/tok", "second-Tq84")
    out = resolver.resolve(
        {
            "latest": "ssm:/app/flag",
            "v1": "ssm:/app/flag:1",
            "blue": "ssm:/app/flag:blue",
            "tok": "secretsmanager:app/tok",
            "tok_by_id": f"secretsmanager:app/tok:::{second}",
        }
    )
    assert out == {
        "latest": "two",
        "v1": "one",
        "blue": "one",
        "tok": "second-Tq84",
        "tok_by_id": "second-Tq84",
    }
    # The same parameter at three selectors needs three calls (one name per call).
    assert resolver.stats.calls["ssm:GetParameters"] == 3


def test_references_by_arn_and_other_regions(aws, resolver):
    aws.put_parameter("/shared/x", "from-eu", region="eu-west-1")
    aws.put_parameter("/local/y", "from-us")
    eu_secret = aws.put_secret("eu/db", {"password": "eu-pw-3f2a"}, region="eu-west-1")
    out = resolver.resolve(
        {
            "x": f"ssm:{aws.parameter_arn('/shared/x', region='eu-west-1')}",
            "y": "ssm:/local/y",
            "y_arn": f"ssm:{aws.parameter_arn('/local/y')}",
            "pw": f"secretsmanager:{eu_secret}:password",
        }
    )
    assert out == {"x": "from-eu", "y": "from-us", "y_arn": "from-us", "pw": "eu-pw-3f2a"}
    # One GetParameters per region; the ARN and the plain name of /local/y share one call.
    assert resolver.stats.calls["ssm:GetParameters"] == 2


def test_binary_secret_is_bytes(aws, resolver):
    aws.put_secret("app/cert", b"\x00\x01binary-blob")
    assert resolver.get("secretsmanager:app/cert") == b"\x00\x01binary-blob"


# -- optional ----------------------------------------------------------------------------------


def test_missing_optional_references_drop_out(aws, resolver):
    aws.put_secret("app/db", db_secret())
    out = resolver.resolve(
        {
            "A": "optional:ssm:/nope",
            "B": "optional:secretsmanager:app/db:no_such_key",
            "C": ["x", "optional:secretsmanager:missing/secret", "y"],
            "D": "prefix-${optional:ssm:/nope}-suffix",
            "E": "optional:secretsmanager:app/db:username",
        }
    )
    assert out == {"C": ["x", "y"], "D": "prefix--suffix", "E": "app0"}
    assert resolver.resolve("optional:ssm:/nope") is None
    assert resolver.get("optional:ssm:/nope") is None
    assert resolver.get("ssm:/nope", default="fallback") == "fallback"


# -- errors ------------------------------------------------------------------------------------


def test_every_failure_is_reported_at_once_with_paths_and_reasons(aws, resolver, canary):
    aws.put_secret("app/db", {"username": "app", "password": canary})
    aws.put_secret("app/plain", canary)
    aws.put_secret("app/bin", canary.encode())
    settings = {
        "DATABASES": {
            "default": {
                "HOST": "ssm:/app/missing-host",
                "PASSWORD": "secretsmanager:app/db:passwd",
                "USER": "secretsmanager:app/db:username",
            }
        },
        "TOKEN": "secretsmanager:app/plain:token",
        "CERT_KEY": "secretsmanager:app/bin:key",
        "GONE": "secretsmanager:app/nothing-here",
        "BAD": "ssm:/has space",
        "URLS": ["https://x/${ssm:/app/missing-2}"],
    }
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(settings)
    error = caught.value
    by_path = {f.path: f for f in error.failures}
    assert set(by_path) == {
        "DATABASES.default.HOST",
        "DATABASES.default.PASSWORD",
        "TOKEN",
        "CERT_KEY",
        "GONE",
        "BAD",
        "URLS[0]",
    }
    assert by_path["DATABASES.default.HOST"].kind is FailureKind.NOT_FOUND
    assert "no parameter '/app/missing-host'" in by_path["DATABASES.default.HOST"].reason
    key_failure = by_path["DATABASES.default.PASSWORD"]
    assert key_failure.kind is FailureKind.NO_SUCH_KEY
    assert "no JSON key 'passwd'" in key_failure.reason
    # Neither values nor key names (keys can be secrets): how many, and how to list them.
    assert "(it has 2 keys; their names are not shown" in key_failure.reason
    assert "username" not in key_failure.reason
    assert by_path["TOKEN"].kind is FailureKind.NOT_JSON
    assert "use 'secretsmanager:app/plain' for the whole value" in by_path["TOKEN"].reason
    assert by_path["CERT_KEY"].kind is FailureKind.NOT_JSON
    assert "binary" in by_path["CERT_KEY"].reason
    assert by_path["GONE"].kind is FailureKind.NOT_FOUND
    assert "secret 'app/nothing-here' does not exist" in by_path["GONE"].reason
    assert by_path["BAD"].kind is FailureKind.SYNTAX
    assert "position 8" in by_path["BAD"].reason
    assert by_path["URLS[0]"].reference == "ssm:/app/missing-2"
    text = str(error)
    assert text.startswith("7 references could not be resolved:")
    assert "DATABASES.default.PASSWORD: secretsmanager:app/db:passwd: no such JSON key" in text
    assert canary not in text
    assert canary not in repr(error)


def test_access_denied_names_action_resource_and_kms(aws, moto_server):
    aws.put_parameter("/app/ok", "fine")
    aws.put_parameter("/app/secret-param", "nope", type="SecureString")
    aws.put_secret("app/one", {"k": "v1"})
    aws.put_secret("app/two", {"k": "v2"})
    denied_param = aws.parameter_arn("/app/secret-param")

    def deny(request: ProxyRequest) -> str | None:
        body = json.loads(request.body or b"{}")
        if request.operation == "AmazonSSM.GetParameters" and "/app/secret-param" in body["Names"]:
            return denied_param
        if request.operation == "secretsmanager.BatchGetSecretValue":
            return "*"
        if request.operation == "secretsmanager.GetSecretValue" and body["SecretId"] == "app/two":
            return aws.secret_arn("app/two")
        return None

    with FaultProxy(aws.endpoint_url, FaultConfig(deny=deny)) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region)
        with pytest.raises(ResolutionError) as caught:
            r.resolve(
                {
                    "OK": "ssm:/app/ok",
                    "P": "ssm:/app/secret-param",
                    "ONE": "secretsmanager:app/one:k",
                    "TWO": "secretsmanager:app/two:k",
                }
            )
        r.close()
    failures = {f.path: f for f in caught.value.failures}
    assert set(failures) == {"P", "TWO"}  # denial is pinned on exactly the denied references
    assert failures["P"].kind is FailureKind.ACCESS_DENIED
    assert f"needs ssm:GetParameters on {denied_param}" in failures["P"].reason
    assert "kms:Decrypt" in failures["P"].reason
    assert failures["TWO"].kind is FailureKind.ACCESS_DENIED
    assert "needs secretsmanager:GetSecretValue on arn:aws:secretsmanager" in failures["TWO"].reason
    # BatchGetSecretValue was denied once; the resolver fell back to GetSecretValue per secret.
    assert r.stats.calls["secretsmanager:BatchGetSecretValue"] == 1
    assert r.stats.calls["secretsmanager:GetSecretValue"] == 2


def test_throttled_after_bounded_retries(aws):
    aws.put_parameter("/app/x", "1")
    config = FaultConfig(throttle={"ssm": Rate(0.001, burst=1)})
    with FaultProxy(aws.endpoint_url, config) as proxy:
        proxy.configure(throttle={"ssm": Rate(0.001, burst=0.5)})
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, max_attempts=2, retry_budget=0)
        with pytest.raises(ResolutionError) as caught:
            r.resolve({"X": "ssm:/app/x"})
        r.close()
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.THROTTLED
    assert "retries ran out" in failure.reason
    assert r.stats.attempts["ssm:GetParameters"] == 2  # bounded: max_attempts


def test_network_failure_is_reported_in_bounded_time():
    # A port nobody listens on: connection refused, retried max_attempts times, then reported.
    # retry_budget=0: only botocore's attempts (tests/test_faults.py covers the budget).
    r = Resolver(
        endpoint_url="http://127.0.0.1:9", region_name="us-east-1", max_attempts=2, retry_budget=0
    )
    started = time.monotonic()
    with pytest.raises(ResolutionError) as caught:
        r.resolve({"X": "ssm:/a", "Y": "secretsmanager:b"})
    assert time.monotonic() - started < 120  # only against a hang
    kinds = {f.path: f.kind for f in caught.value.failures}
    assert kinds == {"X": FailureKind.NETWORK, "Y": FailureKind.NETWORK}
    assert "could not reach ssm in us-east-1 (EndpointConnectionError) after 2 attempts" in str(
        caught.value
    )


def test_missing_region_is_a_configuration_error(monkeypatch):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    r = Resolver(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ResolutionError, match="no AWS region"):
        r.resolve("ssm:/a")


def test_get_raises_syntax_errors_and_passes_plain_text(resolver):
    with pytest.raises(awsrefs.RefSyntaxError):
        resolver.get("ssm:/bad name")
    assert resolver.get("just text") == "just text"


# -- cache -------------------------------------------------------------------------------------


def test_ttl_expiry_refetches_and_refresh_forces(aws):
    aws.put_parameter("/app/x", "one")
    # Fresh within a TTL no machine outlasts; then one so short that the sleep expires it
    # (sleeping only ever takes longer on a busy machine, never shorter).
    cached = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region, ttl=3600)
    short = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region, ttl=0.3)
    assert cached.get("ssm:/app/x") == short.get("ssm:/app/x") == "one"
    aws.client("ssm").put_parameter(Name="/app/x", Value="two", Type="String", Overwrite=True)
    assert cached.get("ssm:/app/x") == "one"  # fresh in the cache
    assert cached.refresh("ssm:/app/x") == "two"
    assert cached.stats.calls["ssm:GetParameters"] == 2
    assert cached.stats.cache_hits == 1
    time.sleep(0.35)
    assert short.get("ssm:/app/x") == "two"
    assert short.stats.calls["ssm:GetParameters"] == 2


def test_single_flight_64_threads_one_call(aws):
    aws.put_secret("app/db", db_secret())
    with FaultProxy(aws.endpoint_url, FaultConfig(latency_s=0.2)) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region)
        r.get("secretsmanager:app/db:password")  # warm: clients made
        r.stats.reset()
        barrier = threading.Barrier(64)
        results: list = []

        def worker() -> None:
            barrier.wait()
            results.append(r.refresh("secretsmanager:app/db:password"))

        threads = [threading.Thread(target=worker) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        r.close()
    assert results == ["pw-0-0b5d9e4a7c11"] * 64
    assert r.stats.calls == {"secretsmanager:GetSecretValue": 1}


def test_lookup_newer_than_makes_stale_reports_cause_one_refresh(aws, resolver):
    aws.put_secret("app/db", db_secret())
    ref = SecretRef("app/db")
    first = resolver.lookup(ref)
    resolver.stats.reset()
    again = resolver.lookup(ref, refresh=True, newer_than=first.fetched_at)
    late = resolver.lookup(ref, refresh=True, newer_than=first.fetched_at)  # already newer
    assert late.fetched_at == again.fetched_at > first.fetched_at
    assert resolver.stats.calls == {"secretsmanager:GetSecretValue": 1}
    assert "pw-0" not in repr(first)


def test_stale_if_error_serves_last_good_value_and_warns(aws, caplog, canary):
    aws.put_secret("app/db", {"password": canary})
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, ttl=0.2, max_attempts=1)
        assert r.get("secretsmanager:app/db:password") == canary
        proxy.configure(error_rate=1.0, error_status=(503,))
        time.sleep(0.25)
        with caplog.at_level(logging.WARNING, logger="awsrefs"):
            assert r.get("secretsmanager:app/db:password") == canary
            assert r.refresh("secretsmanager:app/db:password") == canary
        r.close()
    assert r.stats.stale_served == 2
    warnings = [rec.getMessage() for rec in caplog.records if rec.name == "awsrefs"]
    assert warnings
    assert "refreshing secretsmanager:app/db failed" in warnings[0]
    assert all(canary not in w for w in warnings)


def test_negative_cache_for_missing_optional(aws, resolver):
    for _ in range(5):
        assert resolver.get("optional:ssm:/never") is None
    assert resolver.stats.calls == {"ssm:GetParameters": 1}


# -- processes, threads, asyncio ---------------------------------------------------------------


def _child_reads(resolver: Resolver, conn) -> None:
    try:
        conn.send((resolver.get("ssm:/app/x"), resolver.refresh("ssm:/app/y")))
    except BaseException as error:  # report, don't hang the parent
        conn.send(("error", repr(error)))
    conn.close()


def test_works_after_fork(aws, resolver):
    aws.put_parameter("/app/x", "cached-in-parent")
    aws.put_parameter("/app/y", "fetched-in-child")
    assert resolver.get("ssm:/app/x") == "cached-in-parent"
    resolver.resolve({"a": "ssm:/app/x", "b": "ssm:/app/y"})  # executor and clients in use
    ctx = multiprocessing.get_context("fork")
    results = []
    for _ in range(2):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child_reads, args=(resolver, child))
        proc.start()
        assert parent.poll(120)
        results.append(parent.recv())
        proc.join(120)
        assert proc.exitcode == 0
    assert results == [("cached-in-parent", "fetched-in-child")] * 2


def test_aresolve_does_not_block_the_event_loop(aws):
    # The proxy holds the AWS call until the event loop has ticked 10 times: if aresolve
    # blocked the loop, the ticks could not happen while the call is held (events, not time).
    aws.put_parameter("/app/x", "1")
    ticked = threading.Event()
    held: list[bool] = []

    def hold_until_ticked(request: ProxyRequest) -> None:
        held.append(ticked.wait(120))  # only against a hang
        return None  # then forward it

    with FaultProxy(aws.endpoint_url, FaultConfig(answer=hold_until_ticked)) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region)

        async def main() -> tuple[dict, int]:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1
                    if ticks == 10:
                        ticked.set()

            task = asyncio.create_task(ticker())
            out = await r.aresolve({"X": "ssm:/app/x"})
            task.cancel()
            return out, ticks

        out, ticks = asyncio.run(main())
        r.close()
    assert out == {"X": "1"}
    assert held == [True]  # the loop kept running while the call was held
    assert ticks >= 10


# Loaded on first use, never by ``import awsrefs`` or by parsing and finding references.
LAZY_MODULES = (
    "boto3",
    "botocore",
    "asyncio",
    "concurrent.futures",
    "random",
    "ssl",
    "json",
    "logging",
    "socket",
    "urllib3",
)


def test_import_awsrefs_loads_nothing_but_itself():
    # The import budget (20 ms) leaves no room for typing or dataclasses on a slow machine:
    # every public name loads its module on first use.
    code = (
        "import sys; before = set(sys.modules); import awsrefs; "
        "print(sorted(set(sys.modules) - before - {'__future__'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['awsrefs']"


def test_every_public_name_loads_on_first_use():
    code = (
        "import awsrefs; "
        "missing = [n for n in awsrefs.__all__ if getattr(awsrefs, n, None) is None]; "
        "print(missing, sorted(set(awsrefs.__all__) - set(dir(awsrefs))), "
        "awsrefs.errors.RefError is awsrefs.RefError, awsrefs.backends.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] [] True awsrefs.backends"
    star = subprocess.run(
        [sys.executable, "-c", "from awsrefs import *; print(Resolver.__name__, parse('ssm:/a'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert star.stdout.split() == ["Resolver", "ssm:/a"]
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        awsrefs.nonsense  # noqa: B018


def test_import_awsrefs_loads_only_what_parsing_needs():
    code = (
        "import sys, awsrefs; awsrefs.parse('ssm:/x'); awsrefs.find_references({'a': 'ssm:/x'}); "
        "awsrefs.is_reference('secretsmanager:db:password'); "
        f"print(sorted(m for m in {LAZY_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_modules_load_on_first_use(aws):
    code = (
        "import sys, awsrefs; "
        f"r = awsrefs.Resolver(region_name='us-east-1', endpoint_url={aws.endpoint_url!r}); "
        "r.check({'a': 'optional:ssm:/nothing', 'b': 'optional:secretsmanager:nothing'}); "
        "print('botocore' in sys.modules, 'concurrent.futures' in sys.modules)"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "True True"


def test_reprs_never_show_values(aws, resolver, canary):
    aws.put_secret("app/db", {"password": canary})
    resolved = resolver.lookup("secretsmanager:app/db:password")
    assert resolved.value == canary
    for text in (repr(resolved), repr(resolver), repr(resolver.stats)):
        assert canary not in text


def test_checked_statuses_without_values(aws, resolver, canary):
    aws.put_secret("app/db", {"password": canary})
    checked = resolver.check(
        {
            "A": "secretsmanager:app/db:password",
            "B": "ssm:/missing",
            "C": "optional:ssm:/nope",
            "D": "ssm:bad name",
        }
    )
    assert [(c.path, c.status) for c in checked] == [
        ("A", "OK"),
        ("B", "not found"),
        ("C", "OK (optional, missing)"),
        ("D", "bad syntax"),
    ]
    assert canary not in repr(checked)


def test_default_resolver_uses_the_environment(aws, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("AWS_REGION", aws.region)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)  # botocore reads only this one
    aws.put_parameter("/app/x", "from-env-config")
    awsrefs.set_default_resolver(None)
    try:
        assert awsrefs.resolve({"X": "ssm:/app/x"}) == {"X": "from-env-config"}
        assert awsrefs.default_resolver() is awsrefs.default_resolver()
    finally:
        awsrefs.set_default_resolver(None)


def test_constructor_rejects_bad_options():
    with pytest.raises(ValueError, match="ttl must be >= 0"):
        Resolver(ttl=-1)
    with pytest.raises(ValueError, match="max_workers must be >= 1"):
        Resolver(max_workers=0)


def test_environment_is_not_required_to_construct():
    # Constructing never calls AWS or imports boto3 eagerly beyond the backend object.
    r = Resolver(region_name="us-east-1")
    assert r.stats.total_calls == 0
    assert os.environ.get("AWS_ACCESS_KEY_ID") in (None, "testing")
