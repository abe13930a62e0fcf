"""Benchmark: Redis clients across an ElastiCache-style rotation, awsrefs_redis and baselines.

Run with ``python -m tests.bench.redis_rotation``. Not a test (no assertion): it prints, per
client and scenario, the failed commands, the Secrets Manager calls from createSecret to just
after finishSecret, the logins the server refused, and the 99th percentile of a SET+GET pair
(successful ones; ``no-rotation`` is the reference). The load and the rotation steps are
those of the tests (``tests/support/redis_rotation.py``): 8 threads doing SET/GET while every
connection of the user is killed every 50 ms, a real redis-server, moto over HTTP.

Clients:

- ``awsrefs_redis``: :func:`awsrefs_redis.from_url`.
- ``read-once``: ``redis.Redis`` with the password read from the secret at start-up.
- ``every-connect``: ``redis.Redis`` with a ``CredentialProvider`` that reads AWSCURRENT from
  Secrets Manager on every new connection.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import redis
from redis.credentials import CredentialProvider

import awsrefs
from awsrefs import SecretRef
from awsrefs.rotation import Credentials
from tests.support.aws import AwsSeeder, moto_corrections
from tests.support.redis_rotation import retry_options, run_scenario
from tests.support.redis_server import run_redis

SCENARIOS = {
    "no-rotation": (0, True),
    "one-rotation": (1, True),
    "two-rotations": (2, True),
    "only-awspending": (1, False),
}


class EveryConnect(CredentialProvider):
    """Reads AWSCURRENT from Secrets Manager for every new connection."""

    def __init__(self, resolver: awsrefs.Resolver, name: str) -> None:
        self.resolver, self.ref = resolver, SecretRef(name)

    def get_credentials(self) -> tuple[str, str]:
        value = self.resolver.lookup(self.ref, refresh=True).value
        creds = Credentials.from_secret(value)
        return creds.username, creds.password


def p99(latencies: list[float]) -> float:
    """The 99th percentile of successful SET+GET pairs, in milliseconds."""
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def clients(url: str, resolver: awsrefs.Resolver) -> dict[str, Callable[[str], Any]]:
    import awsrefs_redis

    def read_once(name: str) -> redis.Redis:
        creds = Credentials.from_secret(resolver.get(f"secretsmanager:{name}"))
        return redis.Redis.from_url(
            url, username=creds.username, password=creds.password, **retry_options(False)
        )

    return {
        "awsrefs_redis": lambda name: awsrefs_redis.from_url(
            url, secret=name, resolver=resolver, **retry_options(False)
        ),
        "read-once": read_once,
        "every-connect": lambda name: redis.Redis.from_url(
            url, credential_provider=EveryConnect(resolver, name), **retry_options(False)
        ),
    }


@contextlib.contextmanager
def moto() -> Any:
    from moto.server import ThreadedMotoServer

    empty = os.path.join(tempfile.mkdtemp(), "none")
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=empty,
        AWS_SHARED_CREDENTIALS_FILE=empty,
        AWS_EC2_METADATA_DISABLED="true",
    )
    with moto_corrections():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        threading.Thread(target=server.start, daemon=True).start()
        import time

        for _ in range(300):
            try:
                host, port = server.get_host_and_port()
                break
            except Exception:
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        try:
            yield AwsSeeder(f"http://{host}:{port}")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", nargs="*", default=None)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto() as aws, run_redis() as server:
        print(f"{'client':15} {'scenario':16} {'commands':>8} {'failed':>7} "
              f"{'SM calls/rotation':>18} {'refused logins':>14} {'p99 ms':>7}")  # fmt: skip
        for scenario in args.scenarios:
            rotations, keep_old = SCENARIOS[scenario]
            resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name="us-east-1")
            for kind, make in clients(server.url, resolver).items():
                if args.clients and kind not in args.clients:
                    continue
                load, done, refused, _ = run_scenario(
                    aws, server, resolver, make,
                    is_async=False, rotations=rotations, keep_old=keep_old,
                )  # fmt: skip
                failed = collections.Counter(load.failures)
                calls = "/".join(str(r.calls) for r in done)
                print(
                    f"{kind:15} {scenario:16} {load.commands:>8} {sum(failed.values()):>7} "
                    f"{calls:>18} {refused:>14} {p99(load.latencies):>7.1f}  {dict(failed) or ''}",
                    flush=True,
                )
            resolver.close()


if __name__ == "__main__":
    main()
