"""Django's RedisCache with awsrefs_redis's connection class, in a real Django process.

The OPTIONS are those of docs/redis.md. The process caches a value, the parent rotates the
secret the way the ElastiCache function does (with a server that keeps only the new password)
and drops the process's connections; the process then reads the value again through a new,
rotated login.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.canary import assert_no_secrets
from tests.support.databases import unique_name
from tests.support.redis_rotation import password, secret_value

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import os, sys

    import django
    from django.conf import settings

    import awsrefs
    import awsrefs_redis
    from awsrefs.rotation import RotatingCredentials

    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": os.environ["TEST_REDIS_URL"],
                "OPTIONS": {
                    "connection_class": awsrefs_redis.Connection,
                    "awsrefs_credentials": RotatingCredentials(os.environ["TEST_SECRET"]),
                },
            }
        }
    )
    django.setup()
    from django.core.cache import cache

    cache.set("greeting", "hello")
    print("before", cache.get("greeting"), flush=True)
    sys.stdin.readline()  # the parent rotates and kills this process's connections
    print("after", cache.get("greeting"), flush=True)
    print("calls", awsrefs.default_resolver().stats.total_calls, flush=True)
    """
)


@pytest.mark.slow
def test_django_redis_cache_follows_a_rotation(aws, redis_server):
    pytest.importorskip("django")
    user = unique_name("cache")
    old, new = password("old"), password("new")
    redis_server.set_user(user, old)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, old))
    env = {
        **os.environ,
        "TEST_REDIS_URL": redis_server.url,
        "TEST_SECRET": f"secretsmanager:{name}",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        first = proc.stdout.readline()
        assert first == "before hello\n", first + proc.stderr.read()
        # createSecret, then setSecret on a server that keeps only the new password.
        version = aws.put_secret_value(name, secret_value(user, new), stages=["AWSPENDING"])
        redis_server.set_user(user, new)
        assert redis_server.kill_user(user) >= 1  # the next cache access must log in again
        proc.stdin.write("\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert_no_secrets(out + err, "Django process output")
    assert proc.returncode == 0, err[-2000:]
    lines = out.splitlines()
    assert lines[0] == "after hello", out
    # The start-up read, one refresh of AWSCURRENT and one read of AWSPENDING.
    assert lines[1] == "calls 3", out
    aws.move_stage(name, "AWSCURRENT", to_version=version)  # finishSecret
