"""Rotation while a Django view is under load: zero failed requests.

Each scenario runs a Django process (``django_child.py``) whose worker threads query the
database through the test client, while this test performs the rotation steps against moto
and the real database: createSecret (AWSPENDING), setSecret (ALTER ROLE/USER), finishSecret
(AWSCURRENT moves). CONN_MAX_AGE=1 and the pool's ``max_lifetime=1`` make connections
renew during the rotation window, which each scenario asserts. Each phase lasts until the
child reports the requests and logins it needs (counts, not seconds: a busy machine only
makes a phase longer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import django
import pytest

from tests.support.canary import assert_no_secrets
from tests.support.databases import unique_name

CHILD = Path(__file__).with_name("django_child.py")
ROOT = Path(__file__).resolve().parents[3]
THREADS = 4


def _pool_available() -> bool:
    try:
        import psycopg_pool  # noqa: F401
    except ImportError:
        return False
    return True


def _need_pool() -> None:
    if _pool_available():
        return
    message = "psycopg_pool is not installed: pip install 'psycopg[pool]' to test Django's pool"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class Child:
    def __init__(self, config: dict) -> None:
        env = {**os.environ, "AWSREFS_CHILD": json.dumps(config)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            assert_no_secrets(line + err, "child output")
            pytest.fail(f"the Django process did not start:\n{line}{err[-3000:]}")

    def phase(self, name: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"phase {name}\n")
        self.proc.stdin.flush()

    def wait(self, requests: int, logins: int = 0, user: str = "") -> None:
        """Block until the current phase saw that many requests and logins (and ``user``)."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"wait {requests} {logins} {user}\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "reached", answer or "the Django process ended"

    def finish(self) -> dict:
        try:
            out, err = self.proc.communicate("stop\n", timeout=300)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert_no_secrets(out + err, "child output")
        assert self.proc.returncode == 0, err[-3000:]
        return json.loads(out.strip().splitlines()[-1])


def _secret(server, user: str, password: str) -> dict:
    return {
        "engine": "postgres" if server.kind == "postgresql" else "mariadb",
        "username": user,
        "password": password,
        "host": server.host,
        "port": server.port,
        "dbname": server.database,
    }


def _rotate(aws, server, name: str, user: str, password: str) -> str:
    """createSecret and setSecret: the database wants ``password``, AWSCURRENT is unchanged."""
    pending = aws.put_secret_value(name, _secret(server, user, password), stages=["AWSPENDING"])
    server.set_password(user, password)
    return pending


def _run_rotations(aws, server, child_config) -> dict:
    """A single-user rotation, then two alternating-user cycles, all under load."""
    first, second, name = unique_name("app"), unique_name("app"), unique_name("db/")
    server.create_user(first, f"pw-{first}-1-Hq21")
    server.create_user(second, f"pw-{second}-0-Hq30")
    aws.put_secret(name, _secret(server, first, f"pw-{first}-1-Hq21"))
    child = Child({**child_config, "secret": name})
    child.wait(requests=THREADS)

    # Single user: between setSecret and finishSecret only AWSPENDING's password works.
    pending = _rotate(aws, server, name, first, f"pw-{first}-2-Hq22")
    child.phase("single-window")
    child.wait(requests=2 * THREADS, logins=1)  # a new connection logged in during the window
    aws.move_stage(name, "AWSCURRENT", to_version=pending)
    child.phase("single-after")
    child.wait(requests=THREADS)
    # A new label before AWS changes again: requests made while the next steps run (on a busy
    # machine, long enough for the child's cache to expire and show the clone user) belong
    # to no phase whose users are asserted.
    child.phase("alternating-rotating")

    # Alternating users, cycle 1: AWSCURRENT becomes the clone user; the first stays valid.
    pending = _rotate(aws, server, name, second, f"pw-{second}-1-Hq31")
    aws.move_stage(name, "AWSCURRENT", to_version=pending)
    child.phase("alternating-cycle1")
    child.wait(requests=THREADS)
    # Cycle 2 changes the first user's password: credentials still cached for it are
    # refused, and new connections must switch to the clone user.
    pending = _rotate(aws, server, name, first, f"pw-{first}-3-Hq23")
    child.phase("alternating-window")
    child.wait(requests=2 * THREADS, logins=1, user=second)
    aws.move_stage(name, "AWSCURRENT", to_version=pending)
    child.phase("after")
    child.wait(requests=THREADS)
    result = child.finish()

    phases = result["phases"]
    assert phases["single-after"]["users"] == [first]
    assert second in phases["alternating-window"]["users"]
    return result


SCENARIOS = [
    pytest.param("postgres_server", "postgresql", 0, None, id="postgresql-conn_max_age=0"),
    pytest.param("postgres_server", "postgresql", 1, None, id="postgresql-conn_max_age=1"),
    pytest.param("mariadb_server", "mysql", 0, None, id="mariadb-conn_max_age=0"),
    pytest.param("mariadb_server", "mysql", 1, None, id="mariadb-conn_max_age=1"),
]
if django.VERSION >= (5, 1):  # Django's own connection pool is new in 5.1
    SCENARIOS.append(
        pytest.param(
            "postgres_server",
            "postgresql",
            0,
            {"min_size": 1, "max_size": THREADS, "max_lifetime": 1.0},
            id="postgresql-native-pool",
        )
    )


@pytest.mark.slow
@pytest.mark.parametrize(("server_fixture", "engine", "conn_max_age", "pool"), SCENARIOS)
def test_rotations_under_load_fail_no_request(
    request, aws, server_fixture, engine, conn_max_age, pool
):
    if pool:
        _need_pool()
    server = request.getfixturevalue(server_fixture)
    config = {"engine": engine, "conn_max_age": conn_max_age, "pool": pool, "threads": THREADS}

    result = _run_rotations(aws, server, config)

    phases = result["phases"]
    print(json.dumps(result))  # requests, failures and logins per phase, for the report
    assert sum(p["failed"] for p in phases.values()) == 0, result["errors"]
    for window in ("single-window", "alternating-window"):
        assert phases[window]["requests"] > 0
        assert phases[window]["logins"] > 0, f"no new connection during {window}"
    assert phases["after"]["requests"] > 0
