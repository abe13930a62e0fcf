"""awsrefs.rotation against real drivers, real PostgreSQL/MariaDB servers and moto."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

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
def test_stuck_rotation_retries_within_budget_then_raises(
    aws, resolver, postgres_server, pg_secret
):
    name, user = pg_secret
    aws.put_secret_value(name, secret_json(postgres_server, user, PW2), stages=["AWSPENDING"])
    postgres_server.set_password(user, WRONG + "-neither")
    rotating = RotatingCredentials(name, resolver=resolver, retry_budget=0.6, max_backoff=0.2)
    tries = []

    def connect(creds):
        tries.append(creds.stage)
        return pg_connect(creds)

    with pytest.raises(psycopg.OperationalError) as info:
        rotating.connect(connect)
    assert is_auth_failure(info.value)
    assert tries.count("AWSPENDING") >= 2
    assert tries.count("AWSCURRENT") >= 2
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] <= 3


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
