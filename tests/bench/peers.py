"""Benchmark: awsrefs against its peers, in one run, at ~20 ms per AWS round trip.

Run with ``python -m tests.bench.peers`` (``--sizes 10 50 200 --runs 3``). Not a test.

The same settings for every library: N references, 70% SSM SecureString parameters and 30%
keys of JSON secrets (4 keys per secret), as in ``tests/bench/resolve.py``. A moto server in
its own process sits behind the fault proxy, which adds the latency and counts every request,
so "AWS calls" is what reached AWS, whatever library made it. Libraries without SSM support
(aws-secretsmanager-caching, pydantic-settings' AWS source) get the parameters from a plain
boto3 GetParameter loop, as an application using them would have to.

Columns: AWS calls of a cold resolution; cold wall time (new clients, empty caches; after
imports; best of --runs); import time of everything the library needs (best of --runs, in a
fresh interpreter); a cached read of one secret key (microseconds; a library that does not
cache makes a call).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

from tests.bench.resolve import references, seed, start_moto
from tests.support.proxy import FaultConfig, FaultProxy

REGION = "us-east-1"
Reader = Callable[[], Any]


def split(refs: dict[str, str]) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Setting name to parameter name, and setting name to (secret id, key)."""
    params, keys = {}, {}
    for name, ref in refs.items():
        kind, _, rest = ref.partition(":")
        if kind == "ssm":
            params[name] = rest
        else:
            secret, _, key = rest.partition(":")
            keys[name] = (secret, key)
    return params, keys


def ssm_loop(params: dict[str, str]) -> dict[str, str]:
    import boto3

    ssm = boto3.client("ssm")
    return {
        n: ssm.get_parameter(Name=p, WithDecryption=True)["Parameter"]["Value"]
        for n, p in params.items()
    }


# -- the contestants: each resolves everything cold and returns (values, cached read) ---------


def with_awsrefs(refs: dict[str, str]) -> tuple[dict[str, Any], Reader]:
    import awsrefs

    resolver = awsrefs.Resolver()
    out = resolver.resolve(refs)
    one = next(r for r in refs.values() if r.startswith("secretsmanager:"))
    return out, lambda: resolver.get(one)


def with_powertools(refs: dict[str, str]) -> tuple[dict[str, Any], Reader]:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # new providers: new clients, empty caches
    params, keys = split(refs)
    got = parameters.get_parameters_by_name(
        {p: {} for p in set(params.values())}, decrypt=True, max_age=300
    )
    secrets = parameters.get_secrets_by_name(
        sorted({s for s, _ in keys.values()}), transform="json", max_age=300
    )
    out = {n: got[p] for n, p in params.items()}
    out.update({n: secrets[s][k] for n, (s, k) in keys.items()})
    secret, key = next(iter(keys.values()))
    return out, lambda: parameters.get_secret(secret, transform="json", max_age=300)[key]


def with_caching(refs: dict[str, str]) -> tuple[dict[str, Any], Reader]:
    import boto3
    from aws_secretsmanager_caching import SecretCache

    params, keys = split(refs)
    cache = SecretCache(client=boto3.client("secretsmanager"))
    out: dict[str, Any] = ssm_loop(params)
    out.update({n: json.loads(cache.get_secret_string(s))[k] for n, (s, k) in keys.items()})
    secret, key = next(iter(keys.values()))
    return out, lambda: json.loads(cache.get_secret_string(secret))[key]


def with_pydantic(refs: dict[str, str]) -> tuple[dict[str, Any], Reader]:
    from pydantic_settings import AWSSecretsManagerSettingsSource, BaseSettings

    class SecretKeys(BaseSettings):
        k0: Any = None
        k1: Any = None
        k2: Any = None
        k3: Any = None

    params, keys = split(refs)
    out: dict[str, Any] = ssm_loop(params)
    # One JSON secret per source: a source (and its GetSecretValue) per secret.
    loaded = {
        s: AWSSecretsManagerSettingsSource(SecretKeys, secret_id=s)()
        for s in sorted({s for s, _ in keys.values()})
    }
    out.update({n: loaded[s][k] for n, (s, k) in keys.items()})
    secret, key = next(iter(keys.values()))
    return out, lambda: AWSSecretsManagerSettingsSource(SecretKeys, secret_id=secret)()[key]


def with_naive(refs: dict[str, str]) -> tuple[dict[str, Any], Reader]:
    import boto3

    params, keys = split(refs)
    sm = boto3.client("secretsmanager")
    out: dict[str, Any] = ssm_loop(params)

    def read(secret: str, key: str) -> Any:
        return json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])[key]

    out.update({n: read(s, k) for n, (s, k) in keys.items()})
    secret, key = next(iter(keys.values()))
    return out, lambda: read(secret, key)


PEERS: dict[str, tuple[Callable[[dict[str, str]], tuple[dict[str, Any], Reader]], str]] = {
    "awsrefs": (with_awsrefs, "import awsrefs, botocore.session, botocore.config"),
    "Powertools parameters": (
        with_powertools,
        "from aws_lambda_powertools.utilities import parameters",
    ),
    "aws-secretsmanager-caching (+ SSM loop)": (
        with_caching,
        "import boto3, aws_secretsmanager_caching",
    ),
    "pydantic-settings AWS source (+ SSM loop)": (
        with_pydantic,
        "import boto3; from pydantic_settings import AWSSecretsManagerSettingsSource",
    ),
    "naive boto3 loop": (with_naive, "import boto3"),
}


def import_time(statement: str, runs: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    return min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    )


def cached_read_us(read: Reader, expected: Any) -> float:
    assert read() == expected
    started = time.perf_counter()
    read()
    once = time.perf_counter() - started
    if once > 0.002:  # not cached: a call per read; timing one is enough
        return min(once, *(timeit.repeat(read, number=1, repeat=3))) * 1e6
    loops = 2000
    return min(timeit.repeat(read, number=loops, repeat=5)) / loops * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per round trip")
    parser.add_argument("--runs", type=int, default=3, help="best of N")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10, 50, 200])
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = REGION
    for var in ("AWS_PROFILE", "AWSREFS_BACKEND"):
        os.environ.pop(var, None)

    imports = {name: import_time(stmt, args.runs) for name, (_, stmt) in PEERS.items()}
    server, upstream = start_moto()  # its own process: its CPU does not compete for the GIL
    rows = []
    try:
        with FaultProxy(upstream, FaultConfig(latency_s=args.latency)) as proxy:
            os.environ["AWS_ENDPOINT_URL"] = proxy.url
            for n in args.sizes:
                seed(upstream, n)
                refs = references(n)
                expected = None
                for name, (run, _) in PEERS.items():
                    run(refs)  # warm: imports done, connections to the proxy known
                    best = float("inf")
                    calls = 0
                    for i in range(args.runs):
                        proxy.reset_stats()
                        started = time.perf_counter()
                        out, read = run(refs)
                        best = min(best, time.perf_counter() - started)
                        if i == 0:
                            calls = proxy.totals()["received"]
                    expected = expected or out
                    assert out == expected, f"{name} disagrees"
                    one = next(k for k, r in refs.items() if r.startswith("secretsmanager:"))
                    rows.append(
                        (n, name, calls, best, imports[name], cached_read_us(read, out[one]))
                    )
    finally:
        server.terminate()
        server.wait(10)

    print(
        f"\nawsrefs and its peers, {args.latency * 1000:.0f} ms per AWS round trip, "
        f"best of {args.runs}\n"
    )
    header = (
        f"| {'N':>3} | {'library':<42} | {'AWS calls':>9} | {'cold':>8} | {'import':>7} "
        f"| {'cached read':>12} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for n, name, calls, cold, imp, read_us in rows:
        read = f"{read_us:.1f} us" if read_us < 1000 else f"{read_us / 1000:.0f} ms (call)"
        print(
            f"| {n:>3} | {name:<42} | {calls:>9} | {cold * 1000:>6.0f}ms | {imp * 1000:>5.0f}ms "
            f"| {read:>12} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
