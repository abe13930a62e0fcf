"""awsrefs_redis against a real redis-server with ACL users, and moto for Secrets Manager.

The rotation follows AWS's ElastiCache user rotation function step by step: createSecret puts
AWSPENDING; setSecret is ModifyUser with ``Passwords=[AWSPENDING, AWSCURRENT]`` (here
``ACL SETUSER app resetpass >new >old`` on the real server); finishSecret moves AWSCURRENT.
Meanwhile 8 workers run SET/GET and every connection of the user is killed again and again
(``CLIENT KILL USER``), so each reconnect needs a password the server accepts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import pickle
import socket
import threading
import time
import traceback

import awsrefs_redis
import awsrefs_redis.asyncio
import pytest
import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

import awsrefs
from awsrefs.rotation import RotatingCredentials, is_auth_failure
from tests.support.canary import assert_no_secrets, assert_no_secrets_in_frames
from tests.support.databases import unique_name

WINDOW = 1.5  # seconds between setSecret and finishSecret
BUSY_MACHINE_WAIT = 30.0  # at most, for the load to reach what the assertions count
KILL_EVERY = 0.05  # seconds between CLIENT KILL USER while the workers run
WORKERS = 8


def password(label: str) -> str:
    return f"pw-{label}-{unique_name('x')}"


def secret_value(user: str, pw: str) -> dict:
    # As the ElastiCache user rotation function keeps it.
    arn = f"arn:aws:elasticache:us-east-1:123456789012:user:{user}"
    return {"user_arn": arn, "username": user, "password": pw}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def resolver(aws):
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def retry_options(is_async: bool) -> dict:
    # redis-py's own retry of commands whose connection was killed (its choice, not ours):
    # the retried command reconnects, and the login is what this integration answers for.
    retry = (redis.asyncio.retry.Retry if is_async else Retry)(NoBackoff(), 3)
    return {"retry": retry, "retry_on_error": [redis.ConnectionError]}


def error_of(call):
    """The error ``call()`` raises, caught here: the traceback starts in this frame."""
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def failed_logins(server) -> int:
    """Refused AUTH attempts the server logged since the last ACL LOG RESET."""
    with contextlib.closing(server.admin()) as admin:
        entries = admin.acl_log(count=1000)
    return sum(int(e["count"]) for e in entries if e["reason"] == "auth")


# -- load and rotation -------------------------------------------------------------------------


@dataclasses.dataclass
class Load:
    """What the workers saw: command counts and failures (type names only)."""

    commands: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def record(self, failure: BaseException | None = None) -> None:
        with self.lock:
            if failure is None:
                self.commands += 2
            else:
                self.failures.append(type(failure).__name__)


def sync_load(client, load: Load, stop: threading.Event) -> list[threading.Thread]:
    def work(n: int) -> None:
        key = f"k{n}"
        i = 0
        while not stop.is_set():
            i += 1
            try:
                client.set(key, i)
                assert int(client.get(key)) == i
                load.record()
            except Exception as exc:
                load.record(exc)
            time.sleep(0.002)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(WORKERS)]
    for t in threads:
        t.start()
    return threads


def async_load(make_client, load: Load, stop: threading.Event) -> list[threading.Thread]:
    async def main() -> None:
        client = make_client()

        async def work(n: int) -> None:
            key = f"k{n}"
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    await client.set(key, i)
                    assert int(await client.get(key)) == i
                    load.record()
                except Exception as exc:
                    load.record(exc)
                await asyncio.sleep(0.002)

        try:
            await asyncio.gather(*(work(n) for n in range(WORKERS)))
        finally:
            await client.aclose()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return [thread]


class Admin:
    """One admin connection: kills the user's connections and counts new connections."""

    def __init__(self, server, user: str) -> None:
        self.client = server.admin()
        self.user = user
        self.kills = 0

    def connections(self) -> int:
        return int(self.client.info("stats")["total_connections_received"])

    def killer(self, stop: threading.Event) -> threading.Thread:
        def run() -> None:
            while not stop.wait(KILL_EVERY):
                self.kills += int(self.client.execute_command("CLIENT", "KILL", "USER", self.user))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@dataclasses.dataclass
class Rotation:
    calls: int  # Secrets Manager calls from createSecret until just after finishSecret
    connects_in_window: int


def rotate(aws, server, resolver, admin: Admin, name, user, new, old, *, keep_old: bool):
    """One rotation as AWS's ElastiCache user rotation function runs it."""
    before = resolver.stats.total_calls
    version = aws.put_secret_value(  # createSecret
        name, secret_value(user, new), stages=["AWSPENDING"]
    )
    # setSecret: ModifyUser Passwords=[AWSPENDING, AWSCURRENT] (or the new one alone).
    server.set_user(user, *([new, old] if keep_old else [new]))
    connects = admin.connections()
    time.sleep(WINDOW)
    deadline = time.monotonic() + BUSY_MACHINE_WAIT
    while admin.connections() - connects < WORKERS and time.monotonic() < deadline:
        time.sleep(0.05)
    connects_in_window = admin.connections() - connects
    probe = redis.Redis(host=server.host, port=server.port, username=user, password=new)
    with contextlib.closing(probe):  # testSecret
        probe.ping()
    aws.move_stage(name, "AWSCURRENT", to_version=version)  # finishSecret
    time.sleep(0.3)  # the workers reconnect after finishSecret too
    return Rotation(resolver.stats.total_calls - before, connects_in_window)


def run_scenario(aws, server, resolver, *, is_async: bool, rotations: int, keep_old: bool):
    user = unique_name("app")
    passwords = [password(f"v{i}") for i in range(rotations + 1)]
    server.set_user(user, passwords[0])
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, passwords[0]))
    options = {"secret": name, "resolver": resolver, **retry_options(is_async)}
    load, stop = Load(), threading.Event()
    admin = Admin(server, user)
    if is_async:
        workers = async_load(
            lambda: awsrefs_redis.asyncio.from_url(server.url, **options), load, stop
        )
    else:
        client = awsrefs_redis.from_url(server.url, **options)
        workers = sync_load(client, load, stop)
    killer_stop = threading.Event()
    try:
        deadline = time.monotonic() + BUSY_MACHINE_WAIT
        while load.commands < 2 * WORKERS and time.monotonic() < deadline:
            time.sleep(0.01)
        admin.client.acl_log_reset()
        killer = admin.killer(killer_stop)
        done = [
            rotate(aws, server, resolver, admin, name, user, new, old, keep_old=keep_old)
            for old, new in itertools.pairwise(passwords)
        ]
        commands = load.commands
        deadline = time.monotonic() + BUSY_MACHINE_WAIT
        while load.commands < commands + 4 * WORKERS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        killer_stop.set()
        stop.set()
        for w in workers:
            w.join(30)
        if not is_async:
            client.close()
    killer.join(10)
    refused = failed_logins(server)
    admin.client.close()
    return load, done, refused, admin.kills


SCENARIOS = {
    # id: (rotations, keep_old): "keep_old" is ElastiCache's Passwords=[AWSPENDING, AWSCURRENT]
    "one-rotation": (1, True),
    "two-rotations-first-password-dropped": (2, True),
    "server-keeps-only-awspending": (1, False),
}


@pytest.mark.slow
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "asyncio"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_rotation_under_load_loses_no_command(aws, resolver, redis_server, scenario, is_async):
    rotations, keep_old = SCENARIOS[scenario]
    load, done, refused, kills = run_scenario(
        aws, redis_server, resolver, is_async=is_async, rotations=rotations, keep_old=keep_old
    )
    summary = (
        f"commands={load.commands} failures={collections.Counter(load.failures)} "
        f"rotations={done} refused_logins={refused} kills={kills}"
    )
    print(summary)  # the measured numbers, visible with -rP
    assert load.failures == [], summary
    assert kills >= WORKERS, summary  # connections really were dropped
    for rotation in done:
        assert rotation.calls <= 3, summary
        assert rotation.connects_in_window >= WORKERS, summary  # the window was exercised
    # A rotation costs each rejecting stage a few refused logins, not one per reconnect.
    assert refused <= rotations * (WORKERS + 4), summary


# -- failures that are not rotation ------------------------------------------------------------


def test_wrong_password_fails_fast_without_redis_retries(aws, resolver, redis_server, canary):
    user = unique_name("wrong")
    redis_server.set_user(user, password("right"))
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, canary))  # no rotation going on
    # redis-py would retry a refused login like a dropped connection (AuthenticationError is
    # a ConnectionError): 10 retries asked for here.
    client = awsrefs_redis.from_url(
        redis_server.url,
        secret=name,
        resolver=resolver,
        retry=Retry(NoBackoff(), 10),
        retry_on_error=[redis.ConnectionError],
    )
    resolver.get(f"secretsmanager:{name}")  # the app is running: the secret is cached
    resolver.stats.reset()
    with contextlib.closing(redis_server.admin()) as admin:
        admin.acl_log_reset()
    with contextlib.closing(client):
        error = error_of(client.ping)
    assert isinstance(error, redis.AuthenticationError)
    # One refresh of AWSCURRENT and one look for AWSPENDING, the refused logins bounded.
    assert resolver.stats.total_calls == 2
    assert 1 <= failed_logins(redis_server) <= 2
    assert is_auth_failure(error)
    for text in (str(error), repr(error), "".join(traceback.format_exception(error))):
        assert canary not in text
        assert_no_secrets(text, "error")
    assert_no_secrets_in_frames(error)
    assert canary not in repr(pickle.loads(pickle.dumps(error)))


def test_asyncio_wrong_password_fails_fast(aws, resolver, redis_server, canary):
    user = unique_name("wrong")
    redis_server.set_user(user, password("right"))
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, canary))
    resolver.get(f"secretsmanager:{name}")
    resolver.stats.reset()

    async def go():
        client = awsrefs_redis.asyncio.from_url(
            redis_server.url,
            secret=name,
            resolver=resolver,
            retry=redis.asyncio.retry.Retry(NoBackoff(), 10),
            retry_on_error=[redis.ConnectionError],
        )
        try:
            await client.ping()
        finally:
            await client.aclose()

    with contextlib.closing(redis_server.admin()) as admin:
        admin.acl_log_reset()
    error = error_of(lambda: asyncio.run(go()))
    assert isinstance(error, redis.AuthenticationError)
    assert resolver.stats.total_calls == 2
    assert 1 <= failed_logins(redis_server) <= 2
    assert canary not in repr(error)
    assert canary not in str(error)
    assert_no_secrets_in_frames(error)


def test_server_down_is_not_a_rejection(aws, resolver, redis_server):
    name = f"redis/{unique_name('down')}"
    aws.put_secret(name, secret_value("app", password("down")))
    client = awsrefs_redis.from_url(
        f"redis://127.0.0.1:{closed_port()}/0", secret=name, resolver=resolver
    )
    with contextlib.closing(client), pytest.raises(redis.ConnectionError) as info:
        client.ping()
    assert not is_auth_failure(info.value)
    assert resolver.stats.total_calls == 1  # read once: no refresh, no AWSPENDING look


def test_credentials_come_from_the_secret_only(resolver, canary):
    for url, options in [
        (f"redis://app:{canary}@127.0.0.1:6379/0", {}),
        ("redis://127.0.0.1:6379/0", {"password": canary}),
        ("redis://127.0.0.1:6379/0", {"username": "app"}),
        ("redis://127.0.0.1:6379/0", {"connection_class": redis.Connection}),
    ]:
        with pytest.raises(ValueError, match="come from the secret") as info:
            awsrefs_redis.from_url(url, secret="secretsmanager:x", resolver=resolver, **options)
        assert canary not in str(info.value)
        with pytest.raises(ValueError, match="come from the secret"):
            awsrefs_redis.asyncio.from_url(url, secret="x", resolver=resolver, **options)


def test_login_follows_the_secret_user_and_keeps_no_password(aws, resolver, redis_server):
    user = unique_name("app")
    pw = password("one")
    redis_server.set_user(user, pw)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, pw))
    creds = RotatingCredentials(f"secretsmanager:{name}", resolver=resolver)
    client = awsrefs_redis.from_url(redis_server.url, secret=creds)
    with contextlib.closing(client):
        assert client.acl_whoami() in (user, user.encode())
        assert pw not in repr(client)
        assert client.connection_pool.connection_class is awsrefs_redis.Connection
    conn = awsrefs_redis.Connection(
        host=redis_server.host, port=redis_server.port, awsrefs_credentials=creds
    )
    try:
        conn.connect()
        conn.send_command("ACL", "WHOAMI")
        assert conn.read_response() in (user, user.encode())
        assert conn.password is None  # used for the handshake, not kept
        assert pw not in repr(conn)
    finally:
        conn.disconnect()


def test_is_auth_failure_classifies_real_redis_errors(redis_server):
    wrong = redis.Redis(host=redis_server.host, port=redis_server.port, password="nope")
    with contextlib.closing(wrong), pytest.raises(redis.AuthenticationError) as refused:
        wrong.ping()
    assert is_auth_failure(refused.value)  # WRONGPASS
    anonymous = redis.Redis(host=redis_server.host, port=redis_server.port)
    with contextlib.closing(anonymous), pytest.raises(redis.AuthenticationError) as noauth:
        anonymous.ping()
    assert is_auth_failure(noauth.value)  # NOAUTH
    with (
        contextlib.closing(redis_server.admin()) as admin,
        pytest.raises(redis.ResponseError) as other,
    ):
        admin.execute_command("NOSUCHCOMMAND")
    assert not is_auth_failure(other.value)
    assert is_auth_failure(redis.ResponseError("WRONGPASS invalid username-password pair"))
