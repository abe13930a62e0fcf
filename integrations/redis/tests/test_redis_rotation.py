"""awsrefs_redis against a real redis-server with ACL users, and moto for Secrets Manager.

The rotation steps (AWS's ElastiCache user rotation function, applied to the real server with
``ACL SETUSER``) and the load (8 workers doing SET/GET while ``CLIENT KILL USER`` drops their
connections) are in ``tests/support/redis_rotation.py``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import os
import pickle
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import awsrefs_redis
import awsrefs_redis.asyncio
import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

import awsrefs
from awsrefs.rotation import RotatingCredentials, is_auth_failure
from tests.support.canary import assert_no_secrets, assert_no_secrets_in_frames
from tests.support.databases import unique_name
from tests.support.redis_rotation import (
    WORKERS,
    error_of,
    failed_logins,
    password,
    retry_options,
    run_scenario,
    secret_value,
)
from tests.support.redis_server import no_retry, run_redis


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def resolver(aws):
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


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

    def make_client(name):
        options = {"secret": name, "resolver": resolver, **retry_options(is_async)}
        if is_async:
            return awsrefs_redis.asyncio.from_url(redis_server.url, **options)
        return awsrefs_redis.from_url(redis_server.url, **options)

    load, done, refused, kills = run_scenario(
        aws,
        redis_server,
        resolver,
        make_client,
        is_async=is_async,
        rotations=rotations,
        keep_old=keep_old,
    )
    summary = (
        f"commands={load.commands} failures={collections.Counter(load.failures)} "
        f"rotations={done} refused_logins={refused} kills={kills}"
    )
    print(summary)  # the measured numbers, visible with -rP
    assert load.auth_failures == 0, summary
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
        with pytest.raises(ValueError, match="come from the secret"):
            awsrefs_redis.asyncio.cluster_from_url(url, secret="x", resolver=resolver, **options)


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
    once = no_retry()  # a refused login is expected: don't wait out redis-py's backoff
    wrong = redis.Redis(host=redis_server.host, port=redis_server.port, password="nope", retry=once)
    with contextlib.closing(wrong), pytest.raises(redis.AuthenticationError) as refused:
        wrong.ping()
    assert is_auth_failure(refused.value)  # WRONGPASS
    anonymous = redis.Redis(host=redis_server.host, port=redis_server.port, retry=once)
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


def test_cluster_client_follows_a_rotation(aws, resolver, redis_cluster):
    user = unique_name("app")
    old, new = password("old"), password("new")
    redis_cluster.set_user(user, old)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, old))
    client = awsrefs_redis.cluster_from_url(redis_cluster.url, secret=name, resolver=resolver)
    keys = [f"k{i}" for i in range(30)]  # spread over the three nodes' slots
    with contextlib.closing(client):
        for i, key in enumerate(keys):
            client.set(key, i)
        assert len({client.keyslot(k) * 3 // 16384 for k in keys}) == 3
        before = resolver.stats.total_calls
        version = aws.put_secret_value(name, secret_value(user, new), stages=["AWSPENDING"])
        redis_cluster.set_user(user, new)  # setSecret, on a server keeping only the new one
        assert redis_cluster.kill_user(user) >= 3  # every node's connections log in again
        assert [int(client.get(key)) for key in keys] == list(range(len(keys)))
        assert resolver.stats.total_calls - before == 2  # AWSCURRENT refreshed, AWSPENDING
        aws.move_stage(name, "AWSCURRENT", to_version=version)  # finishSecret
        assert client.get(keys[0]) == b"0"


def test_asyncio_cluster_client_follows_a_rotation(aws, resolver, redis_cluster):
    user = unique_name("app")
    old, new = password("old"), password("new")
    redis_cluster.set_user(user, old)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, old))
    keys = [f"k{i}" for i in range(30)]  # spread over the three nodes' slots
    seen = {}

    async def go() -> None:
        client = awsrefs_redis.asyncio.cluster_from_url(
            redis_cluster.url, secret=name, resolver=resolver
        )
        try:
            for i, key in enumerate(keys):
                await client.set(key, i)
            assert len({client.keyslot(k) * 3 // 16384 for k in keys}) == 3
            nodes = client.get_nodes()
            assert len(nodes) == 3
            assert all(
                issubclass(n.connection_class, awsrefs_redis.asyncio.Connection) for n in nodes
            )
            assert await client.execute_command("ACL WHOAMI") in (user, user.encode())
            before = resolver.stats.total_calls
            version = await asyncio.to_thread(
                aws.put_secret_value, name, secret_value(user, new), stages=["AWSPENDING"]
            )
            await asyncio.to_thread(redis_cluster.set_user, user, new)  # only the new one
            seen["killed"] = await asyncio.to_thread(redis_cluster.kill_user, user)
            seen["values"] = [int(await client.get(key)) for key in keys]
            seen["calls"] = resolver.stats.total_calls - before
            await asyncio.to_thread(aws.move_stage, name, "AWSCURRENT", to_version=version)
            seen["after"] = await client.get(keys[0])
        finally:
            await client.aclose()

    asyncio.run(go())
    assert seen["killed"] >= 3  # every node's connections log in again
    assert seen["values"] == list(range(len(keys)))
    assert seen["calls"] == 2  # AWSCURRENT refreshed, AWSPENDING
    assert seen["after"] == b"0"


def test_asyncio_cluster_refuses_a_client_it_cannot_rewire(resolver):
    from awsrefs_redis._compat import set_cluster_connection_class

    creds = RotatingCredentials("secretsmanager:x", resolver=resolver)
    client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=closed_port())
    # A class this redis-py picked that we have no twin for: never leave redis-py's in place.
    with pytest.raises(RuntimeError, match="not supported"):
        set_cluster_connection_class(client, {})
    ours = awsrefs_redis.asyncio.bound_connection_class("redis://h:1", creds)
    assert set_cluster_connection_class(client, {redis.asyncio.Connection: ours}) is ours
    assert client.get_connection_kwargs()["connection_class"] is ours
    assert all(n.connection_class is ours for n in client.nodes_manager.startup_nodes.values())


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "asyncio"])
def test_unix_socket_login(aws, resolver, tmp_path, is_async):
    sock = tmp_path / "redis.sock"
    user = unique_name("unix")
    pw = password("unix")
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, pw))
    url = f"unix://{sock}"
    with run_redis(f"unixsocket {sock}\nunixsocketperm 700\n") as server:
        server.set_user(user, pw)
        if not is_async:
            client = awsrefs_redis.from_url(url, secret=name, resolver=resolver)
            with contextlib.closing(client):
                assert client.acl_whoami() in (user, user.encode())
            return

        async def whoami(**options):
            client = awsrefs_redis.asyncio.from_url(url, secret=name, resolver=resolver, **options)
            try:
                cls = client.connection_pool.connection_class
                assert cls is awsrefs_redis.asyncio.UnixDomainSocketConnection
                assert client.single_connection_client == options.get(
                    "single_connection_client", False
                )
                return await client.acl_whoami()
            finally:
                await client.aclose()

        assert asyncio.run(whoami()) in (user, user.encode())
        # redis-py's from_url option for the client, not the pool, still reaches the client.
        assert asyncio.run(whoami(single_connection_client=True)) in (user, user.encode())


def test_redis_retry_options_still_apply_around_the_wrapper(resolver):
    creds = RotatingCredentials("secretsmanager:x", resolver=resolver)
    conn = awsrefs_redis.Connection(
        host="127.0.0.1", retry=Retry(NoBackoff(), 5), awsrefs_credentials=creds
    )
    assert conn.retry._retries == 5  # redis-py's own policy, read through the wrapper
    copied = copy.deepcopy(conn.retry)
    assert copied._retries == 5
    conn.retry = Retry(NoBackoff(), 2)  # as ConnectionPool.set_retry does
    assert conn.retry._retries == 2
    calls = []

    def refused():
        calls.append(1)
        raise redis.AuthenticationError("invalid username-password pair")

    with pytest.raises(redis.AuthenticationError):
        conn.retry.call_with_retry(refused, lambda error: None)
    assert calls == [1]  # a refused login is not repeated

    def dropped():
        calls.append(2)
        raise redis.ConnectionError("Connection closed by server.")

    with pytest.raises(redis.ConnectionError):
        conn.retry.call_with_retry(dropped, lambda error: None)
    assert calls == [1, 2, 2, 2]  # anything else: redis-py's retries as configured
    with pytest.raises(TypeError):
        awsrefs_redis.Connection(host="127.0.0.1")  # no credentials


# -- the example -------------------------------------------------------------------------------


@pytest.mark.slow  # the example program in a subprocess
def test_example_runs(aws, redis_server):
    user = unique_name("example")
    pw = password("example")
    redis_server.set_user(user, pw)
    aws.put_secret("myapp/prod/redis", secret_value(user, pw))
    env = dict(os.environ, AWS_ENDPOINT_URL=aws.endpoint_url, AWS_REGION=aws.region)
    env.update(REDIS_URL=redis_server.url, REDIS_SECRET="secretsmanager:myapp/prod/redis")
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "redis_rotation.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"logged in as {user}; answer = 42"
    assert_no_secrets(result.stdout + result.stderr, "example output")
