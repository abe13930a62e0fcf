"""awsrefs.rotation against real drivers, real PostgreSQL/MariaDB servers and moto."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import socket
import threading
import traceback

import asyncpg
import psycopg
import psycopg2
import pymysql
import pytest

import awsrefs
from awsrefs.backends.static import StaticBackend
from awsrefs.rotation import (
    Credentials,
    CredentialsError,
    RotatingCredentials,
    connection_target,
    is_auth_failure,
    redact_exception,
)
from tests.support.canary import assert_no_secrets, assert_no_secrets_in_frames, traceback_locals
from tests.support.databases import unique_name

PW1 = "pw-rot-core-1-Zq8v"
PW2 = "pw-rot-core-2-Kc4m"
WRONG = "pw-rot-core-wrong-Tt3x"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret_json(server, user, password, **extra):
    return {
        "engine": "postgres" if server.kind == "postgresql" else "mariadb",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
        "dbname": server.database,
        **extra,
    }


def pg_connect(creds: Credentials, port: int | None = None):
    return psycopg.connect(
        host=creds.host,
        port=port or creds.port,
        user=creds.username,
        password=creds.password,
        dbname=creds.dbname,
        connect_timeout=60,
    )


async def pg_aconnect(creds: Credentials):
    return await asyncpg.connect(
        host=creds.host,
        port=creds.port,
        user=creds.username,
        password=creds.password,
        database=creds.dbname,
        timeout=60,
    )


def raised(fn):
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("no exception")


# -- is_auth_failure with what real drivers raise ---------------------------------------------


@pytest.fixture(scope="module")
def pg_user(postgres_server):
    name = unique_name("auth")
    postgres_server.create_user(name, PW1)
    return name


@pytest.fixture(scope="module")
def my_user(mariadb_server):
    name = unique_name("auth")
    mariadb_server.create_user(name, PW1)
    return name


def _pg_attempts(server, user, port):
    kw = {"host": server.host, "port": port, "user": user, "password": WRONG}
    return {
        "psycopg": lambda: psycopg.connect(dbname=server.database, connect_timeout=60, **kw),
        "psycopg2": lambda: psycopg2.connect(dbname=server.database, connect_timeout=60, **kw),
        "asyncpg": lambda: asyncio.run(asyncpg.connect(database=server.database, timeout=60, **kw)),
    }


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2", "asyncpg"])
def test_wrong_password_is_an_auth_failure_postgres(postgres_server, pg_user, driver):
    exc = raised(_pg_attempts(postgres_server, pg_user, postgres_server.port)[driver])
    assert is_auth_failure(exc), repr(exc)
    # A user that does not exist looks the same to the client (PostgreSQL hides which).
    exc = raised(_pg_attempts(postgres_server, "nobody_here", postgres_server.port)[driver])
    assert is_auth_failure(exc)


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2", "asyncpg"])
def test_server_down_is_not_an_auth_failure_postgres(postgres_server, pg_user, driver):
    exc = raised(_pg_attempts(postgres_server, pg_user, closed_port())[driver])
    assert not is_auth_failure(exc), repr(exc)


@pytest.mark.postgres
def test_other_server_errors_are_not_auth_failures(postgres_server, pg_user):
    exc = raised(
        lambda: psycopg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=pg_user,
            password=PW1,
            dbname="no_such_database",
        )
    )
    assert not is_auth_failure(exc)
    with pg_connect(
        Credentials(pg_user, PW1, "127.0.0.1", postgres_server.port, "awsrefs_test")
    ) as c:
        exc = raised(lambda: c.execute("SELECT * FROM no_such_table"))
    assert not is_auth_failure(exc)


@pytest.mark.mariadb
def test_wrong_password_and_down_server_mariadb(mariadb_server, my_user):
    kw = {"host": mariadb_server.host, "user": my_user, "password": WRONG, "connect_timeout": 5}
    wrong = raised(lambda: pymysql.connect(port=mariadb_server.port, **kw))
    assert is_auth_failure(wrong)
    down = raised(lambda: pymysql.connect(port=closed_port(), **kw))
    assert not is_auth_failure(down)


def test_auth_failure_found_inside_wrappers():
    class Wrapper(Exception):
        def __init__(self, orig):
            super().__init__("wrapped")
            self.orig = orig

    inner = pymysql.err.OperationalError(1045, "Access denied for user 'app'")
    assert is_auth_failure(Wrapper(inner))
    outer = RuntimeError("pool gave up")
    outer.__cause__ = inner
    assert is_auth_failure(outer)
    # An OS error with the same number is a network problem, whatever its number.
    assert not is_auth_failure(OSError(1045, "Access denied"))
    assert not is_auth_failure(pymysql.err.OperationalError(2003, "Can't connect"))
    assert not is_auth_failure(ValueError("password authentication failed"))


# -- Credentials -------------------------------------------------------------------------------


def test_credentials_from_rds_template_secret(canary):
    creds = Credentials.from_secret(
        '{"engine": "postgres", "host": "db.internal", "port": "5432", "username": "app",'
        f' "password": "{canary}", "dbname": "orders", "masterarn": "arn:x"}}',
        secret="app/db",
        version_id="v1",
    )
    assert (creds.username, creds.host, creds.port, creds.dbname, creds.engine) == (
        "app",
        "db.internal",
        5432,
        "orders",
        "postgres",
    )
    assert creds.password == canary
    assert dict(creds.extra) == {"masterarn": "arn:x"}
    assert_no_secrets(repr(creds), "repr")
    assert_no_secrets(str(creds), "str")
    assert "password=<hidden>" in repr(creds)


def test_credentials_master_secret_has_only_username_and_password():
    creds = Credentials.from_secret({"username": "admin", "password": "pw-master-only-8k"})
    assert (creds.host, creds.port, creds.dbname) == (None, None, None)


@pytest.mark.parametrize(
    "value",
    [
        "not json at all awsrefs-canary-5e1f0c9b7d3a46e2b8c4",
        '["awsrefs-canary-5e1f0c9b7d3a46e2b8c4"]',
        '{"user": "app", "password": "awsrefs-canary-5e1f0c9b7d3a46e2b8c4"}',
        '{"username": "app", "password": "awsrefs-canary-5e1f0c9b7d3a46e2b8c4", "port": "x"}',
    ],
)
def test_credentials_errors_never_show_the_value(value):
    with pytest.raises(CredentialsError) as info:
        Credentials.from_secret(value, secret="app/db", version_id="v9")
    assert "app/db" in str(info.value)
    assert_no_secrets(str(info.value), "error")


def test_connection_target_given_parts_win_over_the_secret():
    creds = Credentials("u", "p", host="instance.internal", port=5432, dbname="orders")
    assert connection_target(creds) == ("instance.internal", 5432, "orders")
    assert connection_target(creds, host="proxy.internal", port=6432, dbname="reports") == (
        "proxy.internal",
        6432,
        "reports",
    )
    assert connection_target(creds, host="", port=6432, dbname="") == (
        "instance.internal",
        6432,
        "orders",
    )
    bare = Credentials("u", "p")  # an RDS-managed master secret: username and password only
    assert connection_target(bare, host="h", dbname="d") == ("h", None, "d")


def test_secret_must_be_the_whole_current_secret():
    assert RotatingCredentials("secretsmanager:app/db").secret == awsrefs.SecretRef("app/db")
    assert RotatingCredentials("app/db").secret == awsrefs.SecretRef("app/db")
    for bad in ("secretsmanager:app/db:password", "secretsmanager:app/db::AWSPENDING", "ssm:/x"):
        with pytest.raises(ValueError, match="secret"):
            RotatingCredentials(bad)


# -- the rule, with a real server and moto ----------------------------------------------------


@pytest.fixture
def resolver(aws):
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


@pytest.fixture
def pg_secret(aws, postgres_server):
    user = unique_name("app")
    postgres_server.create_user(user, PW1)
    name = f"rot/{user}"
    aws.put_secret(name, secret_json(postgres_server, user, PW1))
    return name, user


@pytest.mark.postgres
def test_wrong_credentials_without_rotation_fail_fast(aws, resolver, postgres_server, pg_secret):
    name, user = pg_secret
    postgres_server.set_password(user, WRONG + "-db")  # the secret is simply wrong
    rotating = RotatingCredentials(name, resolver=resolver)
    rotating.current()
    resolver.stats.reset()
    with pytest.raises(psycopg.OperationalError) as info:
        rotating.connect(pg_connect)
    assert is_auth_failure(info.value)
    # One refresh of AWSCURRENT and one look for AWSPENDING, no more.
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] == 2
    # Failing again right away reuses that answer instead of calling AWS per attempt.
    with pytest.raises(psycopg.OperationalError):
        rotating.connect(pg_connect)
    assert resolver.stats.total_calls == 2


@pytest.mark.postgres
def test_server_down_is_not_retried(aws, resolver, pg_secret):
    name, _ = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver)
    rotating.current()
    resolver.stats.reset()
    port = closed_port()
    attempts = []

    def connect(creds):
        attempts.append(creds)
        return pg_connect(creds, port=port)

    with pytest.raises(psycopg.OperationalError) as info:
        rotating.connect(connect)
    assert "Connection refused" in str(info.value) or "connect" in str(info.value).lower()
    assert not is_auth_failure(info.value)
    assert len(attempts) == 1
    assert resolver.stats.total_calls == 0


@pytest.mark.postgres
def test_rotation_window_uses_pending_then_sticks_to_it(
    aws, resolver, postgres_server, pg_secret, caplog
):
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver)
    with rotating.connect(pg_connect) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (user,)
    pending = aws.put_secret_value(
        name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"]
    )
    postgres_server.set_password(user, PW2)  # setSecret: AWSCURRENT is now wrong
    resolver.stats.reset()
    used = []

    def connect(creds):
        used.append(creds.stage)
        return pg_connect(creds)

    with caplog.at_level(logging.INFO, "awsrefs.rotation"):
        rotating.connect(connect).close()
    assert used == ["AWSCURRENT", "AWSPENDING"]
    assert pending in caplog.text
    assert "rotation is in progress" in caplog.text
    # Later connections go straight to the credentials that worked: no failure, no call.
    used.clear()
    for _ in range(3):
        rotating.connect(connect).close()
    assert used == ["AWSPENDING"] * 3
    assert resolver.stats.total_calls == 2
    aws.move_stage(name, "AWSCURRENT", to_version=pending)  # finishSecret
    resolver.clear_cache()
    used.clear()
    rotating.connect(connect).close()
    assert used == ["AWSCURRENT"]


@pytest.mark.postgres
def test_stuck_rotation_retries_once_then_raises(aws, resolver, postgres_server, pg_secret):
    name, user = pg_secret
    aws.put_secret_value(name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"])
    postgres_server.set_password(user, WRONG + "-neither")
    rotating = RotatingCredentials(name, resolver=resolver, retry_budget=10, max_backoff=0.2)
    rotating.current()
    resolver.stats.reset()
    tries = []

    def connect(creds):
        tries.append(creds.stage)
        return pg_connect(creds)

    with pytest.raises(psycopg.OperationalError) as info:
        rotating.connect(connect)
    assert is_auth_failure(info.value)
    # Each stage, then each once more after AWSPENDING was read again and had not changed.
    assert sorted(tries) == ["AWSCURRENT", "AWSCURRENT", "AWSPENDING", "AWSPENDING"]
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] == 3


# -- bounded cost when both stages are refused (issue 18, item 14) ------------------------------

# Documented in docs/rotation.md: per look at Secrets Manager, a connect call's own first try
# plus at most two refusals of each of the (at most two) credentials, and three calls.
MAX_EXTRA_FAILED_LOGINS = 4
MAX_SM_CALLS = 3


class CountingConnect:
    """The driver's connect, counting the logins the database refused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stages: list[str] = []
        self.refused = 0

    def __call__(self, creds: Credentials):
        with self.lock:
            self.stages.append(creds.stage)
        try:
            return pg_connect(creds)
        except psycopg.OperationalError as exc:
            if is_auth_failure(exc):
                with self.lock:
                    self.refused += 1
            raise


def _stale_pending_both_wrong(aws, resolver, postgres_server, pg_secret) -> RotatingCredentials:
    """A rotation bridged with AWSPENDING, then the database takes neither password."""
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver, retry_budget=30, max_backoff=0.2)
    rotating.connect(pg_connect).close()
    aws.put_secret_value(name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"])
    postgres_server.set_password(user, PW2)
    rotating.connect(pg_connect).close()  # bridged: AWSPENDING worked and is now preferred
    postgres_server.set_password(user, WRONG + "-stale")  # the rotation went wrong
    resolver.stats.reset()
    return rotating


@pytest.mark.postgres
def test_both_stages_wrong_one_connect_is_bounded(aws, resolver, postgres_server, pg_secret):
    rotating = _stale_pending_both_wrong(aws, resolver, postgres_server, pg_secret)
    connect = CountingConnect()
    with pytest.raises(psycopg.OperationalError):
        rotating.connect(connect)
    assert connect.refused <= 1 + MAX_EXTRA_FAILED_LOGINS
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] <= MAX_SM_CALLS
    # Retrying the connection: one refused login each, and no more Secrets Manager calls.
    for _ in range(5):
        before = connect.refused
        with pytest.raises(psycopg.OperationalError):
            rotating.connect(connect)
        assert connect.refused == before + 1
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] <= MAX_SM_CALLS


@pytest.mark.postgres
def test_both_stages_wrong_eight_threads_share_the_bound(aws, resolver, postgres_server, pg_secret):
    rotating = _stale_pending_both_wrong(aws, resolver, postgres_server, pg_secret)
    connect = CountingConnect()
    barrier = threading.Barrier(8)
    errors = []

    def work():
        barrier.wait()
        try:
            rotating.connect(connect).close()
        except psycopg.OperationalError as exc:
            errors.append(is_auth_failure(exc))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [True] * 8
    assert connect.refused <= 8 + MAX_EXTRA_FAILED_LOGINS
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] <= MAX_SM_CALLS


@pytest.mark.postgres
def test_both_stages_wrong_eight_tasks_share_the_bound(aws, resolver, postgres_server, pg_secret):
    rotating = _stale_pending_both_wrong(aws, resolver, postgres_server, pg_secret)
    refused = []

    async def connect(creds: Credentials):
        try:
            return await psycopg.AsyncConnection.connect(
                host=creds.host,
                port=creds.port,
                user=creds.username,
                password=creds.password,
                dbname=creds.dbname,
            )
        except psycopg.OperationalError:
            refused.append(creds.stage)
            raise

    async def scenario():
        return await asyncio.gather(
            *(rotating.aconnect(connect) for _ in range(8)), return_exceptions=True
        )

    results = asyncio.run(scenario())
    assert all(isinstance(r, psycopg.OperationalError) and is_auth_failure(r) for r in results)
    assert len(refused) <= 8 + MAX_EXTRA_FAILED_LOGINS
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] <= MAX_SM_CALLS


@pytest.mark.postgres
def test_second_rotation_right_after_the_first_is_followed(
    aws, resolver, postgres_server, pg_secret
):
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver)
    rotating.connect(pg_connect).close()
    # First rotation, not bridged by this process: it finds out after finishSecret.
    first = aws.put_secret_value(
        name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"]
    )
    postgres_server.set_password(user, PW2)
    aws.move_stage(name, "AWSCURRENT", to_version=first)
    connect = CountingConnect()
    rotating.connect(connect).close()  # cached PW1 refused, the look finds PW2
    # Second rotation a moment later, in its window (setSecret done, finishSecret not yet).
    third = PW2 + "-next"
    aws.put_secret_value(name, secret_json(postgres_server, user, third), stages=["AWSPENDING"])
    postgres_server.set_password(user, third)
    for _ in range(3):
        rotating.connect(connect).close()  # no failed connection
    assert connect.stages[-2:] == ["AWSPENDING", "AWSPENDING"]


@pytest.mark.postgres
def test_stale_pending_that_once_worked_is_not_tried_first(
    aws, resolver, postgres_server, pg_secret
):
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver)
    rotating.connect(pg_connect).close()
    aws.put_secret_value(name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"])
    postgres_server.set_password(user, PW2)
    rotating.connect(pg_connect).close()  # bridged with AWSPENDING
    postgres_server.set_password(user, PW1)  # the rotation was abandoned: AWSCURRENT is right
    connect = CountingConnect()
    rotating.connect(connect).close()
    assert connect.stages == ["AWSPENDING", "AWSCURRENT"]  # the preference failed once
    connect.stages.clear()
    for _ in range(3):
        rotating.connect(connect).close()
    assert connect.stages == ["AWSCURRENT"] * 3
    assert connect.refused == 1
    # AWSCURRENT moves on to a new version: the leftover AWSPENDING is not tried first.
    fresh = PW1 + "-moved"
    aws.put_secret_value(name, secret_json(postgres_server, user, fresh))
    postgres_server.set_password(user, fresh)
    resolver.clear_cache()
    connect.stages.clear()
    rotating.connect(connect).close()
    assert connect.stages == ["AWSCURRENT"]
    assert connect.refused == 1


@pytest.mark.postgres
def test_restarted_rotation_is_followed_by_looking_again(aws, resolver, postgres_server, pg_secret):
    # A rotation whose first attempt failed after setSecret is retried with a new AWSPENDING
    # version (a new token) and a new password, seconds later. Connections that bridged the
    # first window with the old AWSPENDING must look again, not retry stale credentials
    # until the budget runs out.
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver, retry_budget=10, max_backoff=0.2)
    rotating.connect(pg_connect).close()
    aws.put_secret_value(name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"])
    postgres_server.set_password(user, PW2)
    rotating.connect(pg_connect).close()  # bridged with the first AWSPENDING
    third = PW2 + "-retry"
    aws.put_secret_value(name, secret_json(postgres_server, user, third), stages=["AWSPENDING"])
    postgres_server.set_password(user, third)
    used = []

    def connect(creds):
        used.append(creds.password == third)
        return pg_connect(creds)

    rotating.connect(connect).close()
    # It looked again and logged in, instead of retrying the stale AWSPENDING until the
    # budget ran out and raising; the AWS calls below bound how often it looked.
    assert used[-1] is True
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] <= 8


@pytest.mark.postgres
def test_async_rotation_window(aws, resolver, postgres_server, pg_secret):
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver)

    async def scenario():
        conn = await rotating.aconnect(pg_aconnect)
        await conn.close()
        pending = aws.put_secret_value(
            name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"]
        )
        postgres_server.set_password(user, PW2)
        conns = await asyncio.gather(*(rotating.aconnect(pg_aconnect) for _ in range(8)))
        users = {await c.fetchval("SELECT current_user") for c in conns}
        for c in conns:
            await c.close()
        return pending, users

    resolver.stats.reset()
    _, users = asyncio.run(scenario())
    assert users == {user}
    assert resolver.stats.total_calls <= 3


@pytest.mark.postgres
def test_threads_that_fail_together_cause_one_lookup(aws, resolver, postgres_server, pg_secret):
    name, user = pg_secret
    rotating = RotatingCredentials(name, resolver=resolver)
    rotating.current()
    aws.put_secret_value(name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"])
    postgres_server.set_password(user, PW2)
    resolver.stats.reset()
    barrier = threading.Barrier(8)
    errors = []

    def work():
        barrier.wait()
        try:
            rotating.connect(pg_connect).close()
        except Exception as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] == 2


# -- secrets stay out of errors ----------------------------------------------------------------


def test_driver_messages_with_the_password_are_redacted(canary):
    class FakeDriverError(Exception):
        pass

    def leaky(c):
        raise FakeDriverError(f"could not connect with dsn 'postgresql://app:{c.password}@db'")

    backend = StaticBackend({"secretsmanager:app/db": {"username": "app", "password": canary}})
    rotating = RotatingCredentials("app/db", resolver=awsrefs.Resolver(backend=backend))
    with pytest.raises(FakeDriverError) as info:
        rotating.connect(leaky)
    assert_no_secrets(str(info.value), "error")
    assert "<redacted>" in str(info.value)

    # Also for auth failures (raised after the lookups) and inside chains.
    def leaky_auth(c):
        try:
            raise ValueError(f"password={c.password}")
        except ValueError as inner:
            raise pymysql.err.OperationalError(
                1045, f"denied, dsn password={c.password}"
            ) from inner

    with pytest.raises(pymysql.err.OperationalError) as info:
        rotating.connect(leaky_auth)
    assert info.value.args[0] == 1045
    assert_no_secrets(str(info.value), "error")
    assert_no_secrets(str(info.value.__cause__), "cause")


def test_redact_exception_handles_escaped_forms(canary):
    exc = RuntimeError(f"dsn=postgresql://u:{canary}%21@h", repr(canary + "'"))
    redact_exception(exc, [canary])
    assert_no_secrets(repr(exc.args), "args")


# -- no password in the frames of a raised driver error ----------------------------------------


def _connect_error(rotating: RotatingCredentials, fn) -> BaseException:
    """The error ``connect`` raises, caught in a frame that holds no secret itself."""
    try:
        rotating.connect(fn)
    except Exception as exc:
        return exc
    raise AssertionError("connect() did not raise")


def _aconnect_error(rotating: RotatingCredentials, fn) -> BaseException:
    async def attempt() -> BaseException:
        try:
            await rotating.aconnect(fn)
        except Exception as exc:
            return exc
        raise AssertionError("aconnect() did not raise")

    return asyncio.run(attempt())


@pytest.fixture
def canary_pg_secret(aws, postgres_server, canary):
    """A secret whose password is the canary, for a user whose real password differs."""
    user = unique_name("frames")
    postgres_server.create_user(user, WRONG + "-real")
    name = f"rot/{user}"
    aws.put_secret(name, secret_json(postgres_server, user, canary))
    return name


@pytest.mark.postgres
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_no_frame_of_a_rejected_password_error_holds_the_password(
    resolver, postgres_server, canary_pg_secret, driver
):
    def connect(creds: Credentials):
        kw = {"host": creds.host, "port": creds.port, "user": creds.username}
        module = psycopg if driver == "psycopg" else psycopg2
        return module.connect(
            dbname=creds.dbname, password=creds.password, connect_timeout=60, **kw
        )

    rotating = RotatingCredentials(canary_pg_secret, resolver=resolver)
    error = _connect_error(rotating, connect)
    assert is_auth_failure(error)
    assert_no_secrets(str(error), "error")
    assert_no_secrets_in_frames(error, "rejected password error")
    # The traceback still says where it failed.
    functions = [name for name, _, _ in traceback_locals(error)]
    assert "connect" in functions


@pytest.mark.postgres
def test_no_frame_of_a_failed_async_connect_holds_the_password(resolver, canary_pg_secret):
    rotating = RotatingCredentials(canary_pg_secret, resolver=resolver)
    error = _aconnect_error(rotating, pg_aconnect)
    assert is_auth_failure(error)
    assert_no_secrets_in_frames(error, "asyncpg error")


@pytest.mark.postgres
def test_no_frame_of_a_non_auth_error_holds_the_password(resolver, canary_pg_secret):
    port = closed_port()
    rotating = RotatingCredentials(canary_pg_secret, resolver=resolver)
    error = _connect_error(rotating, lambda creds: pg_connect(creds, port=port))
    assert not is_auth_failure(error)
    assert_no_secrets_in_frames(error, "connection refused error")


def test_frames_are_scrubbed_through_chained_errors_too(canary):
    def leaky(c):
        dsn = f"postgresql://app:{c.password}@db"
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise pymysql.err.OperationalError(1045, f"denied for {dsn}") from inner

    backend = StaticBackend({"secretsmanager:app/db": {"username": "app", "password": canary}})
    rotating = RotatingCredentials("app/db", resolver=awsrefs.Resolver(backend=backend))
    error = _connect_error(rotating, leaky)
    assert error.args[0] == 1045
    assert_no_secrets_in_frames(error, "chained driver error")


# -- no password anywhere in a real driver error (issue 18, item 10) ---------------------------


def _everything_reachable(exc: BaseException, depth: int = 6) -> list[str]:
    """repr of the error chain and of every attribute reachable from it (vars, a few levels)."""
    texts: list[str] = []
    seen: set[int] = set()

    def walk(obj: object, level: int) -> None:
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        try:
            texts.append(repr(obj))
        except Exception:
            return
        if isinstance(obj, (str, bytes, int, float, bool, type(None))):
            return
        if isinstance(obj, dict):
            for value in obj.values():
                walk(value, level + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for value in obj:
                walk(value, level + 1)
        attributes = getattr(obj, "__dict__", None)
        if isinstance(attributes, dict) and not isinstance(obj, type):
            walk(attributes, level + 1)
        if dataclasses.is_dataclass(obj):
            for field in dataclasses.fields(obj):
                walk(getattr(obj, field.name, None), level + 1)
        if isinstance(obj, BaseException):
            walk(obj.args, level + 1)
            for inner in (obj.__cause__, obj.__context__, getattr(obj, "__notes__", None)):
                walk(inner, level + 1)

    walk(exc, 0)
    return texts


def _assert_error_shows_no_secret(error: BaseException, what: str) -> None:
    assert_no_secrets(repr(error), f"{what} repr")
    assert_no_secrets(str(error), f"{what} str")
    assert_no_secrets(repr(vars(error)), f"{what} vars")
    for text in _everything_reachable(error):
        assert_no_secrets(text, f"{what} attribute")
    formatted = traceback.TracebackException.from_exception(error, capture_locals=True).format()
    assert_no_secrets("".join(formatted), f"{what} traceback with locals")
    try:
        pickled = pickle.dumps(error)
    except Exception:  # some driver errors do not pickle; nothing to check then
        return
    assert_no_secrets(pickled.decode("latin-1"), f"{what} pickle")
    assert_no_secrets(repr(vars(pickle.loads(pickled))), f"{what} unpickled")


def _driver_connect(driver: str, server):
    def connect(creds: Credentials):
        kw = {"host": creds.host, "port": creds.port, "user": creds.username}
        if driver == "psycopg":
            return psycopg.connect(dbname=creds.dbname, password=creds.password, **kw)
        if driver == "psycopg2":
            return psycopg2.connect(dbname=creds.dbname, password=creds.password, **kw)
        return pymysql.connect(database=creds.dbname, password=creds.password, **kw)

    return connect


@pytest.mark.parametrize(
    ("driver", "real"),
    [
        pytest.param(d, r, marks=pytest.mark.mariadb if d == "pymysql" else pytest.mark.postgres)
        for d in ("psycopg", "psycopg2", "asyncpg", "pymysql")
        for r in ("other", "canary")
    ],
)
def test_real_driver_errors_show_the_password_nowhere(request, aws, resolver, canary, driver, real):
    # real == "other": the password tried is the canary and is refused; "canary": the canary is
    # the database's real password and the secret holds a wrong one.
    server = request.getfixturevalue("mariadb_server" if driver == "pymysql" else "postgres_server")
    user = unique_name("leak")
    tried = WRONG + "-leak" if real == "canary" else canary
    server.create_user(user, canary if real == "canary" else WRONG + "-real")
    name = f"rot/{user}"
    aws.put_secret(name, secret_json(server, user, tried))
    rotating = RotatingCredentials(name, resolver=resolver)
    if driver == "asyncpg":
        error = _aconnect_error(rotating, pg_aconnect)
    else:
        error = _connect_error(rotating, _driver_connect(driver, server))
    assert is_auth_failure(error)
    _assert_error_shows_no_secret(error, driver)


@pytest.mark.postgres
def test_redact_exception_cleans_psycopg_pgconn(postgres_server, pg_user, canary):
    error = raised(
        lambda: psycopg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=pg_user,
            password=canary,
            dbname=postgres_server.database,
        )
    )
    redact_exception(error, [canary])
    assert_no_secrets(repr(vars(error)), "vars")
    for text in _everything_reachable(error):
        assert_no_secrets(text, "attribute")
    pgconn = error.pgconn
    if dataclasses.is_dataclass(pgconn):  # psycopg 3.2+ keeps the finished connection as data
        assert pgconn.password == b"<redacted>"  # the diagnostics stay, only the password goes
        assert pgconn.user == pg_user.encode()
    else:  # older psycopg keeps a C object that cannot be cleaned: it is dropped
        assert pgconn is None


def test_redact_exception_drops_objects_it_cannot_clean(canary):
    class Holder:
        def __init__(self, secret: str) -> None:
            self.secret = secret

        def __repr__(self) -> str:
            return f"Holder({self.secret})"

    error = RuntimeError("failed")
    error.conn = Holder(canary)  # type: ignore[attr-defined]
    params = {"password": canary, "port": 5432}  # the application's own, still in use
    error.params = params  # type: ignore[attr-defined]
    error.note = ("dsn", f"password={canary}")  # type: ignore[attr-defined]
    redact_exception(error, [canary])
    assert error.conn is None  # type: ignore[attr-defined]
    assert error.params == {"password": "<redacted>", "port": 5432}  # type: ignore[attr-defined]
    assert error.note == ("dsn", "password=<redacted>")  # type: ignore[attr-defined]
    assert_no_secrets(repr(vars(error)), "vars")
    assert params["password"] == canary  # cleaned in a copy, not in place
