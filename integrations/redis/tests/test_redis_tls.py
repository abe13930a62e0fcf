"""awsrefs_redis over TLS (``rediss://``), the only way ElastiCache RBAC users connect.

A real redis-server listening over TLS only, with a certificate for 127.0.0.1 signed by a
throwaway CA (``redis_tls_server`` in ``tests/support/redis_server.py``), and moto for
Secrets Manager. The rotation is AWS's ElastiCache user rotation function's steps, applied
with ``ACL SETUSER`` on a server that keeps only the new password (the AWSPENDING path).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import traceback

import awsrefs_redis
import awsrefs_redis.asyncio
import pytest
import redis
import redis.asyncio

import awsrefs
from awsrefs.rotation import RotatingCredentials, is_auth_failure
from tests.support.canary import assert_no_secrets, assert_no_secrets_in_frames
from tests.support.databases import unique_name
from tests.support.redis_rotation import error_of, password, retry_options, secret_value


@pytest.fixture
def resolver(aws):
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def seed_user(aws, server, label: str) -> tuple[str, str, str]:
    """A user on the server and its secret: (user, secret name, password)."""
    user = unique_name(label)
    pw = password("old")
    server.set_user(user, pw)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, pw))
    return user, name, pw


def begin_rotation(aws, server, name: str, user: str) -> str:
    """createSecret and setSecret (the server keeps only the new password); kill the user's
    connections. Returns the AWSPENDING version, for finishSecret."""
    new = password("new")
    version = aws.put_secret_value(name, secret_value(user, new), stages=["AWSPENDING"])
    server.set_user(user, new)
    assert server.kill_user(user) >= 1  # the client's connections must log in again
    return version


def test_tls_login_and_rotation(aws, resolver, redis_tls_server):
    server = redis_tls_server
    user, name, _ = seed_user(aws, server, "tls")
    client = awsrefs_redis.from_url(
        server.url,  # rediss://127.0.0.1:PORT/0
        secret=name,
        resolver=resolver,
        ssl_ca_certs=server.ca_file,
        **retry_options(is_async=False),
    )
    with contextlib.closing(client):
        assert client.connection_pool.connection_class is awsrefs_redis.SSLConnection
        assert client.acl_whoami() in (user, user.encode())
        client.set("tls-key", "1")
        before = resolver.stats.total_calls
        version = begin_rotation(aws, server, name, user)
        assert client.get("tls-key") == b"1"  # reconnected over TLS, logged in
        assert resolver.stats.total_calls - before == 2  # AWSCURRENT refreshed, AWSPENDING
        aws.move_stage(name, "AWSCURRENT", to_version=version)  # finishSecret
        client.set("tls-key", "2")
        assert client.get("tls-key") == b"2"
        assert resolver.stats.total_calls - before == 2
        assert client.acl_whoami() in (user, user.encode())


def test_asyncio_tls_login_and_rotation(aws, resolver, redis_tls_server):
    server = redis_tls_server
    user, name, _ = seed_user(aws, server, "atls")
    calls = {}

    async def go() -> None:
        client = awsrefs_redis.asyncio.from_url(
            server.url,
            secret=name,
            resolver=resolver,
            ssl_ca_certs=server.ca_file,
            **retry_options(is_async=True),
        )
        try:
            assert client.connection_pool.connection_class is awsrefs_redis.asyncio.SSLConnection
            assert await client.acl_whoami() in (user, user.encode())
            await client.set("atls-key", "1")
            before = resolver.stats.total_calls
            version = await asyncio.to_thread(begin_rotation, aws, server, name, user)
            assert await client.get("atls-key") == b"1"
            calls["window"] = resolver.stats.total_calls - before
            await asyncio.to_thread(aws.move_stage, name, "AWSCURRENT", to_version=version)
            await client.set("atls-key", "2")
            assert await client.get("atls-key") == b"2"
            calls["after"] = resolver.stats.total_calls - before
        finally:
            await client.aclose()

    asyncio.run(go())
    assert calls == {"window": 2, "after": 2}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "asyncio"])
def test_tls_cluster_follows_a_rotation(aws, resolver, redis_tls_cluster, is_async):
    cluster = redis_tls_cluster
    user, name, _ = seed_user(aws, cluster, "tlsc")
    keys = [f"k{i}" for i in range(30)]  # spread over the three nodes' slots
    creds = RotatingCredentials(f"secretsmanager:{name}", resolver=resolver)
    options = {"secret": creds, "ssl_ca_certs": cluster.ca_file}
    assert cluster.url.startswith("rediss://")
    seen = {}

    async def run_async() -> None:
        client = awsrefs_redis.asyncio.cluster_from_url(cluster.url, **options)
        try:
            for i, key in enumerate(keys):
                await client.set(key, i)
            assert all(
                issubclass(n.connection_class, awsrefs_redis.asyncio.SSLConnection)
                for n in client.get_nodes()
            )
            before = resolver.stats.total_calls
            version = await asyncio.to_thread(begin_rotation, aws, cluster, name, user)
            seen["values"] = [int(await client.get(key)) for key in keys]
            seen["calls"] = resolver.stats.total_calls - before
            await asyncio.to_thread(aws.move_stage, name, "AWSCURRENT", to_version=version)
        finally:
            await client.aclose()

    if is_async:
        asyncio.run(run_async())
    else:
        client = awsrefs_redis.cluster_from_url(cluster.url, **options)
        with contextlib.closing(client):
            for i, key in enumerate(keys):
                client.set(key, i)
            before = resolver.stats.total_calls
            version = begin_rotation(aws, cluster, name, user)
            seen["values"] = [int(client.get(key)) for key in keys]
            seen["calls"] = resolver.stats.total_calls - before
            aws.move_stage(name, "AWSCURRENT", to_version=version)
    assert seen == {"values": list(range(len(keys))), "calls": 2}


def check_certificate_error(error: BaseException, canary: str) -> None:
    assert isinstance(error, redis.ConnectionError)
    assert not is_auth_failure(error)  # not a refused login: no refresh, no AWSPENDING
    # redis-py's message names it; redis-py 5's asyncio client words it "Error 1 connecting
    # to HOST:PORT. 1." and chains the ssl error, which names it.
    chained = error.__cause__ or error.__context__
    assert "certificate verify failed" in f"{error} {chained}".lower()
    for text in (str(error), repr(error), "".join(traceback.format_exception(error))):
        assert canary not in text
        assert_no_secrets(text, "error")
    assert_no_secrets_in_frames(error)
    assert canary not in repr(pickle.loads(pickle.dumps(error)))


def test_untrusted_certificate_fails_clearly_without_the_secret(
    aws, resolver, redis_tls_server, canary
):
    server = redis_tls_server
    user = unique_name("badcert")
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, canary))
    # No ssl_ca_certs: the system's CAs do not know the server's throwaway CA.
    client = awsrefs_redis.from_url(server.url, secret=name, resolver=resolver)
    with contextlib.closing(client):
        error = error_of(client.ping)
    check_certificate_error(error, canary)
    assert resolver.stats.total_calls == 1  # read once


def test_asyncio_untrusted_certificate_fails_clearly_without_the_secret(
    aws, resolver, redis_tls_server, canary
):
    server = redis_tls_server
    user = unique_name("abadcert")
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, canary))

    async def go() -> None:
        client = awsrefs_redis.asyncio.from_url(server.url, secret=name, resolver=resolver)
        try:
            await client.ping()
        finally:
            await client.aclose()

    error = error_of(lambda: asyncio.run(go()))
    check_certificate_error(error, canary)
    assert resolver.stats.total_calls == 1
