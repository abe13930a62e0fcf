"""Benchmark: awsrefs against a naive one-call-per-reference boto3 loop, at ~20 ms per AWS call.

Run with ``./dev bench`` (or ``python -m tests.bench.resolve``). Not a test: it prints numbers.

For N = 10, 50, 200 references (70% SSM parameters, 30% Secrets Manager JSON keys, 4 keys per
secret) it starts a moto server, puts a latency proxy in front of it (``--latency``, default
20 ms per round trip), and measures in the same run:

- AWS calls by operation, next to the minimum ceil(ssm/10) + ceil(secrets/20);
- cold wall time after imports (clients created, nothing cached), awsrefs and naive;
- whole-process cold time (``python -c`` from exec to values, imports included), both;
- a cached ``resolver.get`` in microseconds of CPU time (best of 20 runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import socket
import subprocess
import sys
import time
import timeit
import urllib.request
from typing import Any

from tests.support.proxy import FaultConfig, FaultProxy

SIZES = (10, 50, 200)
REGION = "us-east-1"

_NAIVE = """
import json, sys, boto3
refs = json.loads(sys.argv[1])
ssm = boto3.client("ssm", region_name="us-east-1")
sm = boto3.client("secretsmanager", region_name="us-east-1")
out = {}
for name, ref in refs.items():
    kind, _, rest = ref.partition(":")
    if kind == "ssm":
        out[name] = ssm.get_parameter(Name=rest, WithDecryption=True)["Parameter"]["Value"]
    else:
        secret, _, key = rest.partition(":")
        out[name] = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])[key]
"""

_AWSREFS = """
import json, sys, awsrefs
refs = json.loads(sys.argv[1])
out = awsrefs.Resolver(region_name="us-east-1").resolve(refs)
"""


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return server, url
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the moto server did not start within 30 s") from None
            time.sleep(0.1)


def references(n: int) -> dict[str, str]:
    """N settings: 70% SSM parameters, 30% JSON keys of secrets holding 4 keys each."""
    n_ssm = round(n * 0.7)
    n_keys = n - n_ssm
    refs = {f"P{i}": f"ssm:/bench/p{i}" for i in range(n_ssm)}
    for i in range(n_keys):
        refs[f"S{i}"] = f"secretsmanager:bench/s{i // 4}:k{i % 4}"
    return refs


def seed(endpoint: str, n: int) -> None:
    import boto3

    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    refs = references(n)
    for ref in refs.values():
        kind, _, rest = ref.partition(":")
        if kind == "ssm":
            ssm.put_parameter(
                Name=rest, Value=f"value-of-{rest}", Type="SecureString", Overwrite=True
            )
    secrets = {ref.split(":")[1] for ref in refs.values() if ref.startswith("secretsmanager:")}
    for secret in secrets:
        body = json.dumps({f"k{k}": f"{secret}-k{k}" for k in range(4)})
        with contextlib.suppress(sm.exceptions.ResourceExistsException):
            sm.create_secret(Name=secret, SecretString=body)


def minimum_calls(refs: dict[str, str]) -> dict[str, int]:
    ssm = sum(1 for r in refs.values() if r.startswith("ssm:"))
    secrets = len({r.split(":")[1] for r in refs.values() if r.startswith("secretsmanager:")})
    out = {"ssm:GetParameters": math.ceil(ssm / 10)}
    if secrets == 1:
        out["secretsmanager:GetSecretValue"] = 1
    elif secrets:
        out["secretsmanager:BatchGetSecretValue"] = math.ceil(secrets / 20)
    return out


def naive_in_process(endpoint: str, refs: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    import boto3

    started = time.perf_counter()
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    out: dict[str, Any] = {}
    calls = 0
    for name, ref in refs.items():
        kind, _, rest = ref.partition(":")
        calls += 1
        if kind == "ssm":
            out[name] = ssm.get_parameter(Name=rest, WithDecryption=True)["Parameter"]["Value"]
        else:
            secret, _, key = rest.partition(":")
            out[name] = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])[key]
    return time.perf_counter() - started, calls, out


def awsrefs_in_process(
    endpoint: str, refs: dict[str, str]
) -> tuple[float, dict[str, int], dict[str, Any], float]:
    import awsrefs

    started = time.perf_counter()
    resolver = awsrefs.Resolver(endpoint_url=endpoint, region_name=REGION)
    out = resolver.resolve(refs)
    elapsed = time.perf_counter() - started
    calls = dict(resolver.stats.calls)
    some = next(iter(refs.values()))
    resolver.get(some)
    loops = 50_000  # best of many short runs: a neighbour's burst spoils one run, not all
    # CPU time of this process: what a cached read costs, not how busy the machine's other
    # processes keep the core (the wall clock counts their time slices too).
    per_get = (
        min(
            timeit.repeat(
                lambda: resolver.get(some), number=loops, repeat=20, timer=time.process_time
            )
        )
        / loops
    )
    resolver.close()
    return elapsed, calls, out, per_get


def whole_process(code: str, endpoint: str, refs: dict[str, str], runs: int) -> float:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION}
    best = math.inf
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, json.dumps(refs)], env=env, check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per AWS round trip")
    parser.add_argument("--process-runs", type=int, default=3, help="best of N runs of each kind")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_PROFILE", None)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # moto in its own process: its CPU must not compete with the client's for the GIL.
    server, upstream = start_moto()
    rows = []
    try:
        with FaultProxy(upstream, FaultConfig(latency_s=args.latency)) as proxy:
            for n in args.sizes:
                seed(upstream, n)
                refs = references(n)
                # Best of --process-runs: each run makes new clients and starts with no cache.
                naive_runs = [naive_in_process(proxy.url, refs) for _ in range(args.process_runs)]
                refs_runs = [awsrefs_in_process(proxy.url, refs) for _ in range(args.process_runs)]
                t_naive = min(r[0] for r in naive_runs)
                _, naive_calls, naive_out = naive_runs[0]
                t_refs = min(r[0] for r in refs_runs)
                _, calls, out, _ = refs_runs[0]
                per_get = min(r[3] for r in refs_runs)
                assert out == naive_out, "awsrefs and the naive loop disagree"
                p_naive = whole_process(_NAIVE, proxy.url, refs, args.process_runs)
                p_refs = whole_process(_AWSREFS, proxy.url, refs, args.process_runs)
                rows.append(
                    (n, refs, calls, naive_calls, t_refs, t_naive, p_refs, p_naive, per_get)
                )
    finally:
        server.terminate()
        server.wait(10)

    print(f"\nawsrefs vs a naive boto3 loop, {args.latency * 1000:.0f} ms per AWS round trip\n")
    header = (
        f"{'N':>4}  {'awsrefs calls (by operation)':<56} {'minimum':>7} {'naive':>5}  "
        f"{'awsrefs':>8} {'naive':>8} {'speedup':>7}  "
        f"{'proc awsrefs':>12} {'proc naive':>10}  {'get':>7}"
    )
    print(header)
    print("-" * len(header))
    for n, refs, calls, naive_calls, t_refs, t_naive, p_refs, p_naive, per_get in rows:
        by_op = ", ".join(f"{op.split(':')[1]}={c}" for op, c in sorted(calls.items()))
        minimum = sum(minimum_calls(refs).values())
        total = sum(calls.values())
        print(
            f"{n:>4}  {by_op + f' (total {total})':<56} {minimum:>7} {naive_calls:>5}  "
            f"{t_refs * 1000:>6.0f}ms {t_naive * 1000:>6.0f}ms {t_naive / t_refs:>6.1f}x  "
            f"{p_refs * 1000:>10.0f}ms {p_naive * 1000:>8.0f}ms  {per_get * 1e6:>5.2f}us"
        )
    print(
        "\nawsrefs/naive: cold resolution after imports (new clients, empty cache; best of "
        f"{args.process_runs});"
        "\nproc: whole process from exec to values, imports included (best of "
        f"{args.process_runs}); get: a cached resolver.get, CPU time (best of 20)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
