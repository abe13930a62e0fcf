"""The README's first command: resolve a settings dict against a local AWS emulator.

Starts moto's server on 127.0.0.1 (nothing leaves this machine), seeds a few parameters and a
JSON secret the way an RDS rotation template stores them, resolves a Django-style settings dict
in one pass, and prints what was resolved (secrets masked) and the AWS calls it took.
"""

from __future__ import annotations

import json
import logging
import os
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
    "SENTRY_DSN": "https://${ssm:/myapp/prod/sentry-key}@o1.ingest.example.io/42",
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


def main() -> int:
    """Run the demo; returns the exit code."""
    server, endpoint = start_emulator()
    try:
        seed(endpoint)
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
            if path in after:
                value = shown(reference, after[path])
            else:
                value = "(optional, not set: removed)"
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
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
