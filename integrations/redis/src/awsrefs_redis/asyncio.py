"""``redis.asyncio`` clients that log in with a Secrets Manager secret and survive its rotation.

>>> import awsrefs_redis.asyncio
>>> r = awsrefs_redis.asyncio.from_url(  # doctest: +SKIP
...     "redis://localhost:6379/0", secret="secretsmanager:myapp/prod/redis"
... )

The same rule as :func:`awsrefs_redis.from_url`; Secrets Manager is read in a worker thread,
never on the event loop. :func:`cluster_from_url` does the same for
``redis.asyncio.cluster.RedisCluster``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection

from awsrefs import Resolver, SecretRef
from awsrefs.rotation import Credentials, RotatingCredentials
from awsrefs_redis._compat import set_cluster_connection_class
from awsrefs_redis._login import (
    CREDENTIALS_KWARG,
    AsyncNoAuthRetry,
    check_options,
    logged_in_as,
    rotating,
)

__all__ = [
    "Connection",
    "SSLConnection",
    "UnixDomainSocketConnection",
    "bound_connection_class",
    "cluster_from_url",
    "connection_class",
    "from_url",
]

if TYPE_CHECKING:
    _Base = redis.asyncio.connection.AbstractConnection
else:
    _Base = object

_SPLIT_CONNECT = hasattr(redis.asyncio.connection.AbstractConnection, "connect_check_health")


class _RotatingLogin(_Base):
    """Logs in with the secret's credentials, following the rotation rule."""

    #: Credentials of a class made by :func:`bound_connection_class` (cluster clients pass
    #: only redis-py's own options to their nodes' connections).
    _awsrefs_bound: RotatingCredentials | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        creds = kwargs.pop(CREDENTIALS_KWARG, self._awsrefs_bound)
        if not isinstance(creds, RotatingCredentials):
            raise TypeError(f"{CREDENTIALS_KWARG} must be RotatingCredentials")
        self._awsrefs_credentials = creds
        super().__init__(*args, **kwargs)

    @property
    def retry(self) -> Any:
        """redis-py's retry policy of this connection; it never retries a refused login."""
        return self._awsrefs_retry

    @retry.setter
    def retry(self, value: Any) -> None:
        wrapped = isinstance(value, AsyncNoAuthRetry)
        self._awsrefs_retry = value if wrapped else AsyncNoAuthRetry(value)

    async def connect(self) -> None:
        if _SPLIT_CONNECT:
            await super().connect()  # type: ignore[no-untyped-call]  # awaits connect_check_health
        else:
            await self._awsrefs_login(super().connect)

    async def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        await self._awsrefs_login(functools.partial(super().connect_check_health, *args, **kwargs))

    async def _awsrefs_login(self, open_connection: Callable[[], Awaitable[None]]) -> None:
        if self.is_connected:
            return  # connected already: nothing to log in

        async def attempt(login: Credentials) -> None:
            with logged_in_as(self, login):
                await open_connection()

        await self._awsrefs_credentials.aconnect(attempt)


class Connection(_RotatingLogin, redis.asyncio.connection.Connection):
    """``redis.asyncio.connection.Connection`` with the rotating login.

    Takes redis-py's arguments plus ``awsrefs_credentials`` (a
    :class:`~awsrefs.rotation.RotatingCredentials`).
    """


class SSLConnection(_RotatingLogin, redis.asyncio.connection.SSLConnection):
    """``redis.asyncio.connection.SSLConnection`` (``rediss://``) with the rotating login."""


class UnixDomainSocketConnection(
    _RotatingLogin, redis.asyncio.connection.UnixDomainSocketConnection
):
    """``redis.asyncio.connection.UnixDomainSocketConnection`` with the rotating login."""


_CLASSES: dict[str, type[Any]] = {
    "redis": Connection,
    "rediss": SSLConnection,
    "unix": UnixDomainSocketConnection,
}


def connection_class(url: str) -> type[Any]:
    """The asyncio connection class for a URL's scheme (``redis``, ``rediss``, ``unix``).

    Args:
        url: A redis-py URL.

    Returns:
        :class:`Connection`, :class:`SSLConnection` or :class:`UnixDomainSocketConnection`.
    """
    return _CLASSES[url.split("://", 1)[0].lower()]


def from_url(
    url: str,
    secret: str | SecretRef | RotatingCredentials,
    *,
    resolver: Resolver | None = None,
    **redis_kwargs: Any,
) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` whose connections log in with a secret's rotating credentials.

    Args:
        url: ``redis://host:port/db``, ``rediss://...`` (TLS) or ``unix://path``, without
            user name or password.
        secret: The secret: ``"secretsmanager:name"``, a bare name or ARN, or
            :class:`~awsrefs.rotation.RotatingCredentials`.
        resolver: The resolver that reads and caches the secret (default:
            :func:`awsrefs.default_resolver`).
        **redis_kwargs: Passed to ``redis.asyncio.Redis.from_url``.

    Returns:
        The client.

    Raises:
        ValueError: The URL or ``redis_kwargs`` name a user name, password, credential
            provider or connection class, or ``secret`` is not a whole Secrets Manager secret.
    """
    scheme = check_options(url, redis_kwargs)
    creds = rotating(secret, resolver)
    single = bool(redis_kwargs.pop("single_connection_client", False))
    # The pool is built here as redis-py's ConnectionPool.from_url builds it (the URL's options
    # win over the keywords) but always with our class: redis-py 5.0's asyncio from_url let
    # the URL's scheme replace it (its own SSLConnection for rediss://, which cannot log in).
    options: dict[str, Any] = {
        **redis_kwargs,
        **redis.asyncio.connection.parse_url(url),
        "connection_class": _CLASSES[scheme],
        CREDENTIALS_KWARG: creds,
    }
    pool = redis.asyncio.ConnectionPool(**options)
    client = redis.asyncio.Redis(connection_pool=pool, single_connection_client=single)
    client.auto_close_connection_pool = True  # the client owns its pool, as from_url's does
    return client


def bound_connection_class(url: str, credentials: RotatingCredentials) -> type[Any]:
    """A subclass of :func:`connection_class` that carries ``credentials`` itself.

    Args:
        url: A redis-py URL (its scheme picks the base class).
        credentials: The rotating credentials every connection of the class logs in with.

    Returns:
        The class.
    """
    return _bound(connection_class(url), credentials)


def _bound(base: type[Any], credentials: RotatingCredentials) -> type[Any]:
    return type(base.__name__, (base,), {"_awsrefs_bound": credentials})


def cluster_from_url(
    url: str,
    secret: str | SecretRef | RotatingCredentials,
    *,
    resolver: Resolver | None = None,
    **redis_kwargs: Any,
) -> redis.asyncio.cluster.RedisCluster:
    """A ``redis.asyncio.cluster.RedisCluster`` whose connections log in with rotating credentials.

    The asyncio twin of :func:`awsrefs_redis.cluster_from_url`: every node's connections follow
    the rule of :func:`from_url`, with one :class:`~awsrefs.rotation.RotatingCredentials` for
    the whole cluster.

    Args:
        url: ``redis://host:port`` or ``rediss://...`` of one node, without user or password.
        secret: As for :func:`from_url`.
        resolver: As for :func:`from_url`.
        **redis_kwargs: Passed to ``RedisCluster.from_url`` (``ssl_ca_certs``, ``retry``...).

    Returns:
        The cluster client.

    Raises:
        ValueError: As for :func:`from_url`.
    """
    check_options(url, redis_kwargs)
    creds = rotating(secret, resolver)
    client = redis.asyncio.cluster.RedisCluster.from_url(url, **redis_kwargs)
    plain, tls = redis.asyncio.connection.Connection, redis.asyncio.connection.SSLConnection
    # RedisCluster picks its class from ssl= (rediss:// sets it): ours follows the same pick.
    set_cluster_connection_class(
        client, {plain: _bound(Connection, creds), tls: _bound(SSLConnection, creds)}
    )
    return client
