"""Benchmark: a fleet of processes starting at once through AWS's SSM throttling.

Run with ``python -m tests.bench.fleet`` (``--size 100``). Not a test: it prints numbers.

A moto server runs in its own process behind the fault proxy, which throttles SSM at 40 calls
per second shared (and BatchGetSecretValue at 100/s), as AWS does. Each member process resolves
the same 50 references (35 parameters, 15 keys of 4 secrets). Three fleets, one after another:

- awsrefs, natural start: all processes launched together, each resolving once imported;
- awsrefs, released at once: imports first, then every member calls AWS at the same instant;
- naive: one boto3 call per reference (GetParameter / GetSecretValue), default client config.

For each it prints the wall time next to the physical limit (SSM calls / 40 per second) and the
CPU limit (the CPU the members used, divided by the cores), the requests the proxy saw and how
many were throttled, and how many members started.
"""

from __future__ import annotations

import argparse
import os
import sys

from tests.bench.resolve import start_moto
from tests.support.fleet import FleetResult, fleet_values, run_fleet
from tests.support.fleet_app import digest
from tests.support.proxy import FaultConfig, FaultProxy, aws_rates

REGION = "us-east-1"


def seed(endpoint: str) -> dict[str, str]:
    import json

    import boto3

    parameters, secrets, expected = fleet_values()
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    for name, value in parameters.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    for name, body in secrets.items():
        sm.create_secret(Name=name, SecretString=json.dumps(body))
    return expected


def run(
    label: str, mode: str, proxy: FaultProxy, size: int, timeout: float, *, gate: bool = False
) -> tuple[str, FleetResult, dict[str, dict[str, int]]]:
    proxy.reset_stats()
    proxy.configure(throttle=aws_rates())  # refill the buckets
    result = run_fleet(mode, proxy.url, size, timeout=timeout, gate=gate)
    return label, result, proxy.stats()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100, help="processes in the fleet")
    parser.add_argument("--naive-timeout", type=float, default=240.0)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    cores = os.cpu_count() or 1

    server, upstream = start_moto()  # its own process: its CPU is not the fleet's
    rows = []
    try:
        expected = digest(seed(upstream))
        with FaultProxy(upstream, FaultConfig(throttle=aws_rates())) as proxy:
            rows.append(run("awsrefs", "awsrefs", proxy, args.size, 120))
            rows.append(
                run("awsrefs, released at once", "awsrefs", proxy, args.size, 120, gate=True)
            )
            if not args.skip_naive:
                rows.append(run("naive boto3 loop", "naive", proxy, args.size, args.naive_timeout))
    finally:
        server.terminate()
        server.wait(10)

    print(
        f"\nFleet of {args.size} processes, 50 references each, SSM throttled at 40/s, "
        f"BatchGetSecretValue at 100/s; {cores} cores\n"
    )
    header = (
        f"{'fleet':<27} {'started':>8} {'wall':>7} {'SSM limit':>9} {'CPU limit':>9} "
        f"{'ratio':>6} {'requests':>8} {'throttled':>9} {'retried %':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, result, stats in rows:
        ssm = stats.get("AmazonSSM.GetParameters", {}).get("forwarded", 0) + stats.get(
            "AmazonSSM.GetParameter", {}
        ).get("forwarded", 0)
        received = sum(s["received"] for s in stats.values())
        throttled = sum(s["throttled"] for s in stats.values())
        ssm_limit = ssm / 40
        # The CPU the members needed (after the gate, for the released fleet), over the cores.
        member_cpu = sum(r.get("cpu", 0.0) for r in result.reports)
        cpu_limit = (member_cpu if "released" in label else result.cpu) / cores
        limit = max(ssm_limit, cpu_limit)
        good = sum(1 for r in result.reports if r.get("ok") and r.get("digest") == expected)
        print(
            f"{label:<27} {good:>4}/{args.size:<3} {result.wall:>6.1f}s {ssm_limit:>8.1f}s "
            f"{cpu_limit:>8.1f}s {result.wall / max(limit, 1e-9):>5.2f}x {received:>8} "
            f"{throttled:>9} "
            f"{100 * throttled / max(received, 1):>8.0f}%"
        )
    print(
        "\nwall: launch (or release) to the last member done. SSM limit: SSM calls forwarded / 40"
        " per second. CPU limit: the members' CPU time / cores (released fleet: only the CPU"
        " after release). ratio: wall / the larger limit. retried %: throttled requests (each"
        " one retried) / all requests."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
