"""awsrefs_sqlalchemy against real PostgreSQL and MariaDB servers and moto.

The rotation tests do what AWS's rotation functions do, step by step (createSecret puts
AWSPENDING; setSecret runs ALTER ROLE / ALTER USER; testSecret logs in; finishSecret moves
AWSCURRENT), while 8 workers keep querying through an engine that keeps opening new connections.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import awsrefs_sqlalchemy
import pytest
import sqlalchemy
import sqlalchemy.ext.asyncio  # not imported by `import sqlalchemy` in SQLAlchemy 2.0
from sqlalchemy import event, text
from sqlalchemy.pool import NullPool

import awsrefs
from awsrefs.rotation import is_auth_failure
from tests.support.canary import assert_no_secrets
from tests.support.databases import unique_name

ROOT = Path(__file__).resolve().parents[3]
HANG_GUARD_S = 300.0  # only against a hang: the waits below are for counts, not for time
WORKERS = 8
CURRENT_USER = {"postgresql": "SELECT current_user", "mariadb": "SELECT CURRENT_USER()"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret_json(server, user, password, **overrides):
    value = {
        "engine": "postgres" if server.kind == "postgresql" else "mariadb",
        "host": server.host,
        "port": server.port,
        "username": user,
        "password": password,
        "dbname": server.database,
    }
    value.update(overrides)
    return value


def password(label: str) -> str:
    return f"pw-{label}-{unique_name('x')}"


@pytest.fixture
def resolver(aws):
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


FIXTURE = {"postgresql": "postgres_server", "mariadb": "mariadb_server"}
MARK = {"postgresql": pytest.mark.postgres, "mariadb": pytest.mark.mariadb}


def with_marks(rows, ids):
    """Parametrize rows whose first item is the server kind, marked for ``-m``."""
    return [pytest.param(*row, marks=MARK[row[0]], id=i) for row, i in zip(rows, ids, strict=True)]


# -- load and rotation helpers -----------------------------------------------------------------


@dataclasses.dataclass
class Load:
    """What the workers saw: query counts, failures (type names only) and users."""

    queries: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    users: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    connects: int = 0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def record(self, user: str | None = None, failure: BaseException | None = None) -> None:
        with self.lock:
            if failure is not None:
                self.failures.append(type(failure).__name__)
            else:
                self.queries += 1
                self.users[str(user).split("@")[0]] += 1


def count_connects(engine, load: Load) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record):
        with load.lock:
            load.connects += 1


def sync_load(engine, query: str, load: Load, stop: threading.Event) -> list[threading.Thread]:
    def work():
        while not stop.is_set():
            try:
                with engine.connect() as conn:
                    user = conn.execute(text(query)).scalar_one()
                load.record(user)
            except Exception as exc:
                load.record(failure=exc)
            time.sleep(0.005)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    return threads


def async_load(make_engine, query: str, load: Load, stop: threading.Event) -> threading.Thread:
    async def main():
        engine = make_engine()
        count_connects(engine.sync_engine, load)

        async def work():
            while not stop.is_set():
                try:
                    async with engine.connect() as conn:
                        user = (await conn.execute(text(query))).scalar_one()
                    load.record(user)
                except Exception as exc:
                    load.record(failure=exc)
                await asyncio.sleep(0.005)

        try:
            await asyncio.gather(*(work() for _ in range(WORKERS)))
        finally:
            await engine.dispose()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return thread


def wait_for(condition) -> None:
    """Wait until ``condition()`` holds (the load reached a count), or the hang guard."""
    guard = time.monotonic() + HANG_GUARD_S
    while not condition() and time.monotonic() < guard:
        time.sleep(0.01)


@dataclasses.dataclass
class Rotation:
    calls: int  # Secrets Manager calls from createSecret until just after finishSecret
    connects_in_window: int


def rotate(aws, server, resolver, load: Load, name: str, user: str, new_password: str):
    """One rotation, as the AWS rotation functions run it."""
    before_calls = resolver.stats.total_calls
    version = aws.put_secret_value(  # createSecret
        name, secret_json(server, user, new_password), stages=["AWSPENDING"]
    )
    server.set_password(user, new_password)  # setSecret
    connects = load.connects
    # The window stays open until the workers opened WORKERS new connections in it: the test
    # checks what happened in the window, whatever the machine's speed.
    wait_for(lambda: load.connects - connects >= WORKERS)
    connects_in_window = load.connects - connects
    server.connect(user, new_password).close()  # testSecret
    aws.move_stage(name, "AWSCURRENT", to_version=version)  # finishSecret
    finished = load.connects
    wait_for(lambda: load.connects - finished >= WORKERS)  # connections after finishSecret too
    return Rotation(resolver.stats.total_calls - before_calls, connects_in_window)


SYNC_URLS = {
    "postgresql": ["postgresql+psycopg://", "postgresql+psycopg2://"],
    "mariadb": ["mysql+pymysql://"],
}


def pool_options(kind: str) -> dict:
    if kind == "nullpool":  # every checkout is a new connection
        return {"poolclass": NullPool}
    return {"pool_size": 4, "max_overflow": 4, "pool_recycle": 0.2}


def run_scenario(aws, server, resolver, *, url, alternating, is_async, pool, twice=False):
    app = unique_name("app")
    clone = f"{app}_clone"
    pw_app = password("app1")
    server.create_user(app, pw_app)
    name = f"rot/{app}"
    aws.put_secret(name, secret_json(server, app, pw_app))
    steps = []
    if alternating:
        pw_clone = password("clone1")
        server.create_user(clone, pw_clone)  # as the alternating template's clone starts out
        steps = [(clone, password("clone2")), (app, password("app2"))]
    else:
        steps = [(app, password("app2"))]
        if twice:  # a second rotation of the same user right after the first
            steps.append((app, password("app3")))

    load, stop = Load(), threading.Event()
    query = CURRENT_USER[server.kind]
    if is_async:
        worker = async_load(
            lambda: awsrefs_sqlalchemy.create_async_engine(
                url, secret=name, resolver=resolver, **pool_options(pool)
            ),
            query,
            load,
            stop,
        )
        workers = [worker]
    else:
        engine = awsrefs_sqlalchemy.create_engine(
            url, secret=name, resolver=resolver, **pool_options(pool)
        )
        count_connects(engine, load)
        workers = sync_load(engine, query, load, stop)
    try:
        wait_for(lambda: load.queries >= WORKERS)
        rotations = [rotate(aws, server, resolver, load, name, u, p) for u, p in steps]
        wait_for(lambda: load.queries >= 4 * WORKERS)
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        if not is_async:
            engine.dispose()
    return load, rotations, (app, clone)


SCENARIOS = [
    # (server, url, alternating, async, pool)
    ("postgresql", "postgresql+psycopg://", False, False, "nullpool"),
    ("postgresql", "postgresql+psycopg2://", True, False, "recycle"),
    ("postgresql", "postgresql+asyncpg://", False, True, "nullpool"),
    ("postgresql", "postgresql+asyncpg://", True, True, "recycle"),
    ("mariadb", "mysql+pymysql://", False, False, "nullpool"),
    ("mariadb", "mysql+pymysql://", True, False, "recycle"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "url", "alternating", "is_async", "pool"),
    with_marks(
        SCENARIOS,
        [
            f"{k}-{u.split('+')[1].rstrip(':/')}-{'alternating' if a else 'single'}-{p}"
            for k, u, a, _, p in SCENARIOS
        ],
    ),
)
def test_rotation_under_load_loses_no_query(
    request, aws, resolver, kind, url, alternating, is_async, pool
):
    server = request.getfixturevalue(FIXTURE[kind])
    load, rotations, (app, clone) = run_scenario(
        aws, server, resolver, url=url, alternating=alternating, is_async=is_async, pool=pool
    )
    summary = (
        f"queries={load.queries} failures={collections.Counter(load.failures)} "
        f"users={dict(load.users)} rotations={rotations}"
    )
    print(summary)  # the measured numbers, visible with -rP
    assert load.failures == [], summary
    assert load.queries >= 4 * WORKERS, summary
    for rotation in rotations:
        assert rotation.calls <= 3, summary
        # The window really was exercised: new connections were opened during it.
        assert rotation.connects_in_window >= WORKERS, summary
    if alternating:
        # The second rotation changed the first user's password: connections moved to the clone.
        assert set(load.users) == {app, clone}, summary
    else:
        assert set(load.users) == {app}, summary


@pytest.mark.slow
@pytest.mark.postgres
def test_two_rotations_back_to_back_lose_no_query(aws, resolver, postgres_server):
    # The second rotation starts 0.3 s after the first one's finishSecret: it must be
    # followed as the first was, without a quiet period after the first.
    load, rotations, (app, _) = run_scenario(
        aws,
        postgres_server,
        resolver,
        url="postgresql+psycopg://",
        alternating=False,
        is_async=False,
        pool="nullpool",
        twice=True,
    )
    summary = f"queries={load.queries} failures={collections.Counter(load.failures)} {rotations}"
    print(summary)
    assert load.failures == [], summary
    assert len(rotations) == 2
    for rotation in rotations:
        assert rotation.calls <= 3, summary
        assert rotation.connects_in_window >= WORKERS, summary
    assert set(load.users) == {app}, summary


# -- failures that are not rotation -----------------------------------------------------------


def _engine_for(server, url, name, resolver):
    if "asyncpg" in url:
        return awsrefs_sqlalchemy.create_async_engine(url, secret=name, resolver=resolver)
    return awsrefs_sqlalchemy.create_engine(url, secret=name, resolver=resolver)


def _connect_once(engine, query):
    if not isinstance(engine, sqlalchemy.Engine):  # an AsyncEngine (sqlalchemy.ext.asyncio)

        async def go():
            try:
                async with engine.connect() as conn:
                    return (await conn.execute(text(query))).scalar_one()
            finally:
                await engine.dispose()

        return asyncio.run(go())
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


DRIVERS = [
    ("postgresql", "postgresql+psycopg://"),
    ("postgresql", "postgresql+psycopg2://"),
    ("postgresql", "postgresql+asyncpg://"),
    ("mariadb", "mysql+pymysql://"),
]


@pytest.mark.parametrize(
    ("kind", "url"), with_marks(DRIVERS, [u.split("+")[1][:-3] for _, u in DRIVERS])
)
def test_wrong_credentials_fail_fast_with_the_driver_error(request, aws, resolver, kind, url):
    server = request.getfixturevalue(FIXTURE[kind])
    user = unique_name("wrong")
    server.create_user(user, password("right"))
    name = f"wrong/{user}"
    aws.put_secret(name, secret_json(server, user, password("wrong")))  # no rotation going on
    engine = _engine_for(server, url, name, resolver)
    # As in a running app: the AWS client exists and the secret is cached. The failure path
    # measured is: rejected login, one refresh, one look for AWSPENDING, the driver's error.
    resolver.get(f"secretsmanager:{name}")
    resolver.stats.reset()
    with pytest.raises((sqlalchemy.exc.DBAPIError, asyncpg.PostgresError)) as info:
        _connect_once(engine, "SELECT 1")
    # Fail fast means no retry loop: one refresh of AWSCURRENT, one look for AWSPENDING.
    assert resolver.stats.calls["secretsmanager:GetSecretValue"] == 2
    assert is_auth_failure(info.value)
    if isinstance(info.value, sqlalchemy.exc.DBAPIError):
        # SQLAlchemy wraps the driver's own exception, as without awsrefs (its asyncpg adapter
        # wraps asyncpg's InvalidPasswordError once more).
        driver = info.value.orig.__cause__ if "asyncpg" in url else info.value.orig
    else:
        # SQLAlchemy 2.0 lets asyncpg's connect-time error through unwrapped, as it does
        # without awsrefs (a URL with the wrong password raises the same).
        assert "asyncpg" in url
        assert sqlalchemy.__version__.startswith("2.0.")
        driver = info.value
    assert type(driver).__name__ in ("OperationalError", "InvalidPasswordError")
    assert type(driver).__module__.split(".")[0] in ("psycopg", "psycopg2", "pymysql", "asyncpg")
    assert resolver.stats.total_calls <= 3  # initial read, one refresh, one AWSPENDING look
    assert_no_secrets(str(info.value), "error")


@pytest.mark.parametrize(
    ("kind", "url"), with_marks(DRIVERS, [u.split("+")[1][:-3] for _, u in DRIVERS])
)
def test_server_down_is_reported_as_down(request, aws, resolver, kind, url):
    server = request.getfixturevalue(FIXTURE[kind])
    name = f"down/{unique_name('s')}"
    aws.put_secret(name, secret_json(server, "app", password("down"), port=closed_port()))
    engine = _engine_for(server, url, name, resolver)
    with pytest.raises((sqlalchemy.exc.OperationalError, OSError)) as info:
        _connect_once(engine, "SELECT 1")
    assert not is_auth_failure(info.value)
    text_of_error = str(info.value).lower()
    assert any(m in text_of_error for m in ("refused", "can't connect", "connect call failed"))
    # Read once; a network failure triggers no refresh and no AWSPENDING look.
    assert resolver.stats.total_calls == 1


# -- URL handling ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_url_parts_fill_in_what_the_secret_lacks(aws, resolver, postgres_server):
    user = unique_name("master")
    pw = password("master")
    postgres_server.create_user(user, pw)
    aws.put_secret("rds!db-master", {"username": user, "password": pw})  # RDS-managed shape
    url = (
        f"postgresql+psycopg://{postgres_server.host}:{postgres_server.port}/"
        f"{postgres_server.database}?application_name=awsrefs-test"
    )
    engine = awsrefs_sqlalchemy.create_engine(url, secret="rds!db-master", resolver=resolver)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT current_user, current_database(), current_setting('application_name')")
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == (user, postgres_server.database, "awsrefs-test")
    assert_no_secrets(repr(engine), "engine repr")
    assert_no_secrets(str(engine.url), "engine url")


@pytest.mark.postgres
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_url_host_port_database_win_over_the_secret(aws, resolver, postgres_server, is_async):
    # The URL names the way in (an RDS Proxy, a tunnel); the secret keeps another address.
    user = unique_name("proxy")
    pw = password("proxy")
    postgres_server.create_user(user, pw)
    name = f"sa/{user}"
    wrong = {"host": "db-instance.invalid", "port": closed_port(), "dbname": "not_this_db"}
    aws.put_secret(name, secret_json(postgres_server, user, pw, **wrong))
    where = f"{postgres_server.host}:{postgres_server.port}/{postgres_server.database}"
    query = text("SELECT current_user, current_database(), inet_server_port()")
    if not is_async:
        engine = awsrefs_sqlalchemy.create_engine(
            f"postgresql+psycopg://{where}", secret=name, resolver=resolver
        )
        try:
            with engine.connect() as conn:
                row = tuple(conn.execute(query).one())
        finally:
            engine.dispose()
    else:

        async def run():
            engine = awsrefs_sqlalchemy.create_async_engine(
                f"postgresql+asyncpg://{where}", secret=name, resolver=resolver
            )
            try:
                async with engine.connect() as conn:
                    return tuple((await conn.execute(query)).one())
            finally:
                await engine.dispose()

        row = asyncio.run(run())
    assert row == (user, postgres_server.database, postgres_server.port)


@pytest.mark.mariadb
def test_mariadb_url_query_options_are_kept(aws, resolver, mariadb_server):
    user = unique_name("q")
    pw = password("q")
    mariadb_server.create_user(user, pw)
    aws.put_secret("my/db", secret_json(mariadb_server, user, pw))
    engine = awsrefs_sqlalchemy.create_engine(
        "mysql+pymysql://?charset=utf8mb4", secret="my/db", resolver=resolver
    )
    try:
        with engine.connect() as conn:
            charset = conn.execute(text("SELECT @@character_set_client")).scalar_one()
    finally:
        engine.dispose()
    assert charset == "utf8mb4"


@pytest.mark.postgres
def test_psycopg_async_and_creator_objects(aws, resolver, postgres_server):
    user = unique_name("pa")
    pw = password("pa")
    postgres_server.create_user(user, pw)
    aws.put_secret("pg/async", secret_json(postgres_server, user, pw))
    make = awsrefs_sqlalchemy.async_creator(
        "secretsmanager:pg/async", "postgresql+psycopg://", resolver=resolver
    )
    assert_no_secrets(repr(make), "creator repr")
    engine = sqlalchemy.ext.asyncio.create_async_engine("postgresql+psycopg://", async_creator=make)
    assert _connect_once(engine, "SELECT current_user") == user


def test_url_with_a_password_is_refused():
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="password"):
        awsrefs_sqlalchemy.creator("app/db", "postgresql+psycopg://u:pw-in-url-123@h/db")


def test_sync_driver_refused_for_async():
    with pytest.raises(sqlalchemy.exc.ArgumentError):
        awsrefs_sqlalchemy.async_creator("app/db", "mysql+pymysql://")


# -- the example -------------------------------------------------------------------------------


@pytest.mark.slow  # the example program in a subprocess
@pytest.mark.postgres
def test_example_runs(aws, postgres_server):
    user = unique_name("example")
    pw = password("example")
    postgres_server.create_user(user, pw)
    aws.put_secret("myapp/prod/db", secret_json(postgres_server, user, pw))
    env = dict(os.environ, AWS_ENDPOINT_URL=aws.endpoint_url, AWS_REGION=aws.region)
    env["DB_SECRET"] = "secretsmanager:myapp/prod/db"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sqlalchemy_rotation.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"connected as {user}; 6 * 7 = 42"
