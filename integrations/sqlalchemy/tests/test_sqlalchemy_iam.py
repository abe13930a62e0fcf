"""``creator(iam=...)`` against a real PostgreSQL that accepts exactly the expected token.

See tests/support/iam_tokens.py for the stand-in: botocore's signing clock is frozen, the test
computes the token as the creator will and makes it the user's password with ALTER ROLE.
The token cache gets a fake monotonic clock, so renewal is driven by the test, never by
waiting.
"""

from __future__ import annotations

import asyncio
import logging

import awsrefs_sqlalchemy
import pytest
import sqlalchemy
import sqlalchemy.ext.asyncio
from sqlalchemy import text
from sqlalchemy.pool import NullPool

import awsrefs
from awsrefs.iam_auth import DbAuthTokens
from tests.support.canary import assert_no_secrets_in_frames
from tests.support.databases import unique_name
from tests.support.iam_tokens import expected_token, frozen_signing


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def resolver(aws):
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


@pytest.fixture
def iam_user(postgres_server):
    user = unique_name("iam")
    postgres_server.create_user(user, f"pw-not-the-token-{user}")
    return user


@pytest.fixture
def signing():
    with frozen_signing() as clock:
        yield clock


def url_for(server, user: str, driver: str = "psycopg") -> str:
    # Real RDS needs TLS for IAM tokens (?sslmode=require); the throwaway server has none.
    return f"postgresql+{driver}://{user}@{server.host}:{server.port}/{server.database}"


def accept_only(server, user: str, region: str) -> str:
    """Make the token botocore signs now the user's only password; return it."""
    token = expected_token(server.host, server.port, user, region)
    server.set_password(user, token)
    return token


def current_user(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT current_user")).scalar_one()


def failure(engine) -> BaseException:
    """The error of a failed connect (caught here: the test's own frame is not in it)."""
    try:
        current_user(engine)
    except Exception as error:
        return error
    raise AssertionError("the connection was accepted")


def test_connects_with_the_token_and_makes_one_per_user(
    postgres_server, iam_user, resolver, aws, signing
):
    accept_only(postgres_server, iam_user, aws.region)
    clock = FakeClock()
    tokens = DbAuthTokens(resolver=resolver, clock=clock)
    make = awsrefs_sqlalchemy.creator(
        url=url_for(postgres_server, iam_user), iam={"tokens": tokens}, resolver=resolver
    )
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=make, poolclass=NullPool)
    for _ in range(5):  # every connect is a new login (NullPool)
        assert current_user(engine) == iam_user
    # A second engine for the same host/port/user shares the token.
    other = awsrefs_sqlalchemy.create_engine(
        url_for(postgres_server, iam_user), iam={"tokens": tokens}, poolclass=NullPool
    )
    assert current_user(other) == iam_user
    assert tokens.generated == 1
    assert sum(resolver.stats.calls.values()) == 0  # signed locally: no AWS call


def test_token_is_renewed_before_it_expires(postgres_server, iam_user, resolver, aws, signing):
    first = accept_only(postgres_server, iam_user, aws.region)
    clock = FakeClock()
    tokens = DbAuthTokens(resolver=resolver, clock=clock, lifetime=60.0)
    engine = awsrefs_sqlalchemy.create_engine(
        url_for(postgres_server, iam_user), iam={"tokens": tokens}, poolclass=NullPool
    )
    assert current_user(engine) == iam_user
    clock.now += 59.0  # still within its lifetime: reused
    assert current_user(engine) == iam_user
    assert tokens.generated == 1

    signing.advance(60)  # a minute later, botocore signs a different token
    clock.now += 1.0
    second = accept_only(postgres_server, iam_user, aws.region)
    assert second != first
    assert current_user(engine) == iam_user  # only the new token is accepted now
    assert tokens.generated == 2
    assert current_user(engine) == iam_user
    assert tokens.generated == 2


def test_refused_cached_token_is_replaced_once(postgres_server, iam_user, resolver, aws, signing):
    accept_only(postgres_server, iam_user, aws.region)
    tokens = DbAuthTokens(resolver=resolver, clock=FakeClock())
    engine = awsrefs_sqlalchemy.create_engine(
        url_for(postgres_server, iam_user), iam={"tokens": tokens}, poolclass=NullPool
    )
    assert current_user(engine) == iam_user
    signing.advance(1)
    accept_only(postgres_server, iam_user, aws.region)  # the cached token is refused now
    assert current_user(engine) == iam_user
    assert tokens.generated == 2


def test_refused_new_token_fails_fast_and_the_token_never_shows(
    postgres_server, iam_user, resolver, aws, signing, caplog
):
    # The database wants another token than the one signed now (wrong grant, wrong user...).
    accept_only(postgres_server, iam_user, aws.region)
    signing.advance(5)
    refused = expected_token(postgres_server.host, postgres_server.port, iam_user, aws.region)
    tokens = DbAuthTokens(resolver=resolver, clock=FakeClock())
    make = awsrefs_sqlalchemy.creator(
        url=url_for(postgres_server, iam_user), iam={"tokens": tokens}
    )
    engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=make, poolclass=NullPool)
    caplog.set_level(logging.DEBUG)
    error = failure(engine)
    assert isinstance(error, sqlalchemy.exc.OperationalError)
    assert "password authentication failed" in str(error)
    assert tokens.generated == 1  # a token made for the try is not retried
    everything = " ".join([str(error), repr(error.orig), repr(make), repr(tokens), caplog.text])
    assert refused not in everything
    # botocore logs the signature at DEBUG while signing: enough to rebuild the token.
    assert "Calculating signature" in caplog.text
    assert refused.rpartition("X-Amz-Signature=")[2] not in caplog.text
    # psycopg keeps the failed connection on the error, password and conninfo included.
    pgconn = getattr(error.orig, "pgconn", None)
    assert pgconn is None or refused.encode() not in (pgconn.password or b"")
    assert_no_secrets_in_frames(error)  # what Sentry-style reporters capture
    assert "iam=True" in repr(make)


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_async_creator_connects_with_the_token(
    postgres_server, iam_user, resolver, aws, signing, driver
):
    accept_only(postgres_server, iam_user, aws.region)
    tokens = DbAuthTokens(resolver=resolver, clock=FakeClock())
    url = url_for(postgres_server, iam_user, driver)

    async def run() -> list[str]:
        engine = awsrefs_sqlalchemy.create_async_engine(
            url, iam={"tokens": tokens}, poolclass=NullPool
        )
        try:
            users = []
            for _ in range(3):
                async with engine.connect() as conn:
                    users.append((await conn.execute(text("SELECT current_user"))).scalar_one())
            return users
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == [iam_user] * 3
    assert tokens.generated == 1


def test_iam_needs_user_host_and_exactly_one_source():
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="exactly one"):
        awsrefs_sqlalchemy.creator("secretsmanager:db", url="postgresql+psycopg://a@h/x", iam=True)
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="exactly one"):
        awsrefs_sqlalchemy.creator(url="postgresql+psycopg://a@h/x")
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="user, host and port"):
        awsrefs_sqlalchemy.creator(url="postgresql+psycopg:///x", iam=True)
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="unknown iam option"):
        awsrefs_sqlalchemy.creator(url="postgresql+psycopg://a@h/x", iam={"regoin": "x"})
    made = awsrefs_sqlalchemy.creator(url="postgresql+psycopg://a@h/x", iam={"region": "eu-west-1"})
    assert (made.credentials.port, made.credentials.region) == (5432, "eu-west-1")


def test_mysql_driver_connects_with_the_token(mariadb_server, resolver, aws, signing):
    # RDS for MySQL wants the token over TLS through the cleartext plugin; the throwaway
    # MariaDB checks it as a plain password, which is what this stand-in needs.
    user = unique_name("iam")
    mariadb_server.create_user(user, f"pw-not-the-token-{user}")
    accept_only(mariadb_server, user, aws.region)
    tokens = DbAuthTokens(resolver=resolver, clock=FakeClock())
    engine = awsrefs_sqlalchemy.create_engine(
        f"mysql+pymysql://{user}@{mariadb_server.host}:{mariadb_server.port}/"
        f"{mariadb_server.database}",
        iam={"tokens": tokens},
        poolclass=NullPool,
    )
    for _ in range(3):
        with engine.connect() as conn:
            who = conn.execute(text("SELECT CURRENT_USER()")).scalar_one()
            assert who.startswith(f"{user}@")
    assert tokens.generated == 1
