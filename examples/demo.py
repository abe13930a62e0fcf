"""The README's first command: resolve settings, then survive a password rotation.

1. Starts moto's server on 127.0.0.1 (nothing leaves this machine), seeds a few parameters and a
   JSON secret the way an RDS rotation template stores them, resolves a Django-style settings
   dict in one pass, and prints what was resolved (secrets masked) and the AWS calls it took.
2. Starts a throwaway PostgreSQL (password auth, 127.0.0.1), runs queries from several threads
   through the rotation-proof SQLAlchemy engine, each on a new connection, while the secret
   rotates step by step as AWS's rotation function does it, and prints how many queries were
   served and how many failed. Without PostgreSQL on the machine it says what to install.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from typing import Any

import awsrefs

SETTINGS: dict[str, Any] = {
    "DATABASES": {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "secretsmanager:myapp/prod/db:host",
            "PORT": "secretsmanager:myapp/prod/db:port",
            "NAME": "secretsmanager:myapp/prod/db:dbname",
            "USER": "secretsmanager:myapp/prod/db:username",
            "PASSWORD": "secretsmanager:myapp/prod/db:password",
        }
    },
    "ALLOWED_HOSTS": ["ssm:/myapp/prod/public-host", "localhost"],
    "STRIPE_KEY": "ssm:/myapp/prod/stripe-key",
    "SENTRY_DSN": "https://${url:ssm:/myapp/prod/sentry-key}@o1.ingest.example.io/42",
    "FEATURE_FLAGS": "optional:ssm:/myapp/prod/feature-flags",
    "DEBUG": False,
}

PARAMETERS = {
    "/myapp/prod/public-host": ("String", "shop.example.com"),
    "/myapp/prod/stripe-key": ("SecureString", "sk_live_demo_7d41c0a2b9e8f35a"),
    "/myapp/prod/sentry-key": ("SecureString", "5e0c2d9a81f74b3f"),
}
SECRET = {
    "engine": "postgres",
    "host": "db.internal.example",
    "port": 5432,
    "dbname": "shop",
    "username": "shop_app",
    "password": "demo-Rotated-Password-93c1e7",
}


def start_emulator() -> tuple[Any, str]:
    """Start moto's server on a free loopback port, with fake credentials."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_REGION="us-east-1"
    )
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def seed(endpoint: str) -> None:
    """Put the parameters and the secret the settings refer to."""
    import boto3

    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
    for name, (kind, value) in PARAMETERS.items():
        ssm.put_parameter(Name=name, Value=value, Type=kind)
    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    sm.create_secret(Name="myapp/prod/db", SecretString=json.dumps(SECRET))


def leaves(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    """Flatten nested settings into (path, value) rows."""
    if isinstance(obj, dict):
        return [row for k, v in obj.items() for row in leaves(v, f"{path}.{k}" if path else k)]
    if isinstance(obj, list):
        return [row for i, v in enumerate(obj) for row in leaves(v, f"{path}[{i}]")]
    return [(path, obj)]


def shown(reference: Any, value: Any) -> str:
    """A value as the demo prints it: secrets masked, everything else as is."""
    secret = isinstance(reference, str) and (
        "secretsmanager:" in reference
        or any(n in reference for n, (k, _) in PARAMETERS.items() if k == "SecureString")
    )
    if secret and not reference.endswith((":host", ":port", ":dbname", ":username")):
        return f"<secret, {len(str(value))} chars>"
    return repr(value)


def resolution_story(endpoint: str) -> awsrefs.Resolver:
    """Part 1: resolve the settings in one pass and print what happened."""
    print(f"awsrefs {awsrefs.__version__} demo: AWS emulator (moto) on {endpoint}\n")
    resolver = awsrefs.Resolver(endpoint_url=endpoint, region_name="us-east-1")
    started = time.perf_counter()
    resolved = resolver.resolve(SETTINGS)
    elapsed = time.perf_counter() - started
    before = dict(leaves(SETTINGS))
    after = dict(leaves(resolved))
    width = max(map(len, before))
    ref_width = max(len(str(r)) for r in before.values())
    print(f"{'setting':<{width}}  {'written as':<{ref_width}}  resolved to")
    for path, reference in before.items():
        value = shown(reference, after[path]) if path in after else "(optional, not set: removed)"
        print(f"{path:<{width}}  {reference!s:<{ref_width}}  {value}")
    parsed = [awsrefs.parse(r) for r in before.values() if isinstance(r, str)]
    refs = sum(1 for p in parsed if p)
    naive = sum(len(p.refs) if isinstance(p, awsrefs.Template) else 1 for p in parsed if p)
    calls = ", ".join(f"{op}={n}" for op, n in sorted(resolver.stats.calls.items()))
    print(
        f"\n{refs} settings with references resolved in one pass, {elapsed * 1000:.0f} ms."
        f"\nAWS calls: {calls} (total {resolver.stats.total_calls}; "
        f"a client making one call per reference would make {naive})."
    )
    again = resolver.resolve(SETTINGS)
    assert again == resolved
    total = resolver.stats.total_calls
    print(f"Resolving again is served from the cache: total calls still {total}.")
    return resolver


def rotation_story(endpoint: str, resolver: awsrefs.Resolver, seconds: float = 2.0) -> int:
    """Part 2: queries keep working while the database password rotates. Returns failures."""
    import pytest

    from tests.support.databases import run_postgres

    print("\n-- rotation: a throwaway PostgreSQL, queries from 4 threads, the password rotates --")
    with contextlib.ExitStack() as stack:
        try:
            db = stack.enter_context(run_postgres())
        except (pytest.skip.Exception, pytest.fail.Exception) as missing:
            print(f"skipped: {missing.msg}")
            return 0
        return _rotate(endpoint, resolver, db, seconds)
    return 0


def _rotate(endpoint: str, resolver: awsrefs.Resolver, db: Any, seconds: float) -> int:
    import awsrefs_sqlalchemy
    import boto3
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    old_password, new_password = "demo-Before-Rotation-5d2e91", "demo-After-Rotation-7f0c33"
    db.create_user("shop_rw", old_password)
    body = {**SECRET, "host": db.host, "port": db.port, "dbname": db.database}
    sm.create_secret(
        Name="myapp/prod/db-rw",
        SecretString=json.dumps({**body, "username": "shop_rw", "password": old_password}),
    )
    engine = awsrefs_sqlalchemy.create_engine(
        "postgresql+psycopg://",
        secret="secretsmanager:myapp/prod/db-rw",
        resolver=resolver,
        poolclass=NullPool,  # every query opens a new connection: the hardest case
    )
    served, failed = [0], [0]
    stop = threading.Event()
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            try:
                with engine.connect() as conn:
                    conn.execute(sqlalchemy.text("SELECT 1")).scalar_one()
                outcome = served
            except Exception:
                outcome = failed
            with lock:
                outcome[0] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(seconds / 2)
    before = resolver.stats.calls["secretsmanager:GetSecretValue"]
    old_version = sm.describe_secret(SecretId="myapp/prod/db-rw")["VersionIdsToStages"]
    current = next(v for v, stages in old_version.items() if "AWSCURRENT" in stages)
    print("createSecret: new password stored as AWSPENDING")
    pending = sm.put_secret_value(
        SecretId="myapp/prod/db-rw",
        SecretString=json.dumps({**body, "username": "shop_rw", "password": new_password}),
        VersionStages=["AWSPENDING"],
    )["VersionId"]
    print("setSecret:    ALTER ROLE: the database now wants the new password; AWSCURRENT still old")
    db.set_password("shop_rw", new_password)
    time.sleep(seconds)
    print("finishSecret: AWSCURRENT moves to the new version")
    sm.update_secret_version_stage(
        SecretId="myapp/prod/db-rw",
        VersionStage="AWSCURRENT",
        MoveToVersionId=pending,
        RemoveFromVersionId=current,
    )
    time.sleep(seconds / 2)
    stop.set()
    for t in threads:
        t.join(30)
    engine.dispose()
    calls = resolver.stats.calls["secretsmanager:GetSecretValue"] - before
    print(
        f"\nqueries served: {served[0]}, failed: {failed[0]}; Secrets Manager calls during the "
        f"rotation: {calls} (for all 4 threads together)"
    )
    return failed[0]


def main() -> int:
    """Run the demo; returns the exit code."""
    server, endpoint = start_emulator()
    try:
        from tests.support.aws import moto_corrections

        with moto_corrections():  # moto's AWSCURRENT bug would otherwise hide the rotation
            seed(endpoint)
            resolver = resolution_story(endpoint)
            failures = rotation_story(endpoint, resolver)
        return 1 if failures else 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
