"""redis-py clients that log in with a Secrets Manager secret and survive its rotation.

>>> import awsrefs_redis
>>> r = awsrefs_redis.from_url(  # doctest: +SKIP
...     "rediss://my-cache.xxxxxx.use1.cache.amazonaws.com:6379/0",
...     secret="secretsmanager:myapp/prod/redis",
... )

The secret is the one AWS's ElastiCache user rotation function keeps (``user_arn``,
``username``, ``password``); the URL names the server and database and carries no
credentials. Every new connection logs in (``AUTH username password``, or ``HELLO 3 AUTH``)
with the cached AWSCURRENT credentials and, when the server refuses them (WRONGPASS),
follows :mod:`awsrefs.rotation`: one refresh per process, AWSPENDING while a rotation is in
progress, a bounded number of refused logins and at most three Secrets Manager calls per
process per rotation. redis-py's own ``retry`` never repeats a refused login (it still
retries what it retries otherwise: dropped connections, timeouts).

:func:`cluster_from_url` does the same for ``redis.cluster.RedisCluster``;
:mod:`awsrefs_redis.asyncio` for ``redis.asyncio``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
import redis.cluster
import redis.connection

from awsrefs import Resolver, SecretRef
from awsrefs.rotation import Credentials, RotatingCredentials
from awsrefs_redis._login import (
    CREDENTIALS_KWARG,
    NoAuthRetry,
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
    _Base = redis.connection.AbstractConnection
else:
    _Base = object

# redis-py >= 6 opens a connection in connect_check_health (connect and send_command call it);
# older versions in connect alone. The login wraps whichever opens it: each try of the rule
# gets a fresh socket (redis-py closes it when the server refuses a login).
_SPLIT_CONNECT = hasattr(redis.connection.AbstractConnection, "connect_check_health")


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
        self._awsrefs_retry = value if isinstance(value, NoAuthRetry) else NoAuthRetry(value)

    def connect(self) -> None:
        if _SPLIT_CONNECT:
            super().connect()  # type: ignore[no-untyped-call]  # calls connect_check_health
        else:
            self._awsrefs_login(super().connect)

    def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        self._awsrefs_login(functools.partial(super().connect_check_health, *args, **kwargs))

    def _awsrefs_login(self, open_connection: Callable[[], None]) -> None:
        if getattr(self, "_sock", None) is not None:
            return  # connected already: nothing to log in
        creds = self._awsrefs_credentials

        def attempt(login: Credentials) -> None:
            with logged_in_as(self, login):
                open_connection()

        creds.connect(attempt)


class Connection(_RotatingLogin, redis.connection.Connection):
    """``redis.connection.Connection`` that logs in with rotating Secrets Manager credentials.

    Takes redis-py's arguments plus ``awsrefs_credentials`` (a
    :class:`~awsrefs.rotation.RotatingCredentials`); ``username`` and ``password`` are set
    from the secret on each login.
    """


class SSLConnection(_RotatingLogin, redis.connection.SSLConnection):
    """``redis.connection.SSLConnection`` (``rediss://``) with the rotating login."""


class UnixDomainSocketConnection(_RotatingLogin, redis.connection.UnixDomainSocketConnection):
    """``redis.connection.UnixDomainSocketConnection`` (``unix://``) with the rotating login."""


_CLASSES: dict[str, type[Any]] = {
    "redis": Connection,
    "rediss": SSLConnection,
    "unix": UnixDomainSocketConnection,
}


def connection_class(url: str) -> type[Any]:
    """The connection class for a URL's scheme (``redis``, ``rediss``, ``unix``).

    For building a pool yourself: ``redis.ConnectionPool.from_url(url,
    connection_class=connection_class(url), awsrefs_credentials=RotatingCredentials(...))``.

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
) -> redis.Redis:
    """A ``redis.Redis`` whose connections log in with a secret's rotating credentials.

    Args:
        url: ``redis://host:port/db``, ``rediss://...`` (TLS) or ``unix://path``, without
            user name or password.
        secret: The secret: ``"secretsmanager:name"``, a bare name or ARN, or
            :class:`~awsrefs.rotation.RotatingCredentials` (to share one between clients or
            set its retry budget).
        resolver: The resolver that reads and caches the secret (default:
            :func:`awsrefs.default_resolver`).
        **redis_kwargs: Passed to ``redis.Redis.from_url`` (``decode_responses``, ``retry``,
            ``socket_timeout``, ``max_connections``...).

    Returns:
        The client.

    Raises:
        ValueError: The URL or ``redis_kwargs`` name a user name, password, credential
            provider or connection class, or ``secret`` is not a whole Secrets Manager secret.
    """
    scheme = check_options(url, redis_kwargs)
    creds = rotating(secret, resolver)
    options: dict[str, Any] = {CREDENTIALS_KWARG: creds, **redis_kwargs}
    return redis.Redis.from_url(url, connection_class=_CLASSES[scheme], **options)


def bound_connection_class(url: str, credentials: RotatingCredentials) -> type[Any]:
    """A subclass of :func:`connection_class` that carries ``credentials`` itself.

    For clients that pass only redis-py's own options to their connections, such as
    ``redis.cluster.RedisCluster``.

    Args:
        url: A redis-py URL (its scheme picks the base class).
        credentials: The rotating credentials every connection of the class logs in with.

    Returns:
        The class.
    """
    base = connection_class(url)
    return type(base.__name__, (base,), {"_awsrefs_bound": credentials})


def cluster_from_url(
    url: str,
    secret: str | SecretRef | RotatingCredentials,
    *,
    resolver: Resolver | None = None,
    **redis_kwargs: Any,
) -> redis.cluster.RedisCluster:
    """A ``redis.cluster.RedisCluster`` whose connections log in with rotating credentials.

    Every node's connections follow the rule of :func:`from_url`, with one
    :class:`~awsrefs.rotation.RotatingCredentials` for the whole cluster (ElastiCache
    applies a user's passwords to every node).

    Args:
        url: ``redis://host:port`` or ``rediss://...`` of one node, without user or password.
        secret: As for :func:`from_url`.
        resolver: As for :func:`from_url`.
        **redis_kwargs: Passed to ``RedisCluster.from_url``.

    Returns:
        The cluster client.

    Raises:
        ValueError: As for :func:`from_url`.
    """
    scheme = check_options(url, redis_kwargs)
    bound = bound_connection_class(url, rotating(secret, resolver))
    # RedisCluster lays the URL's options over the keywords, and for rediss:// they name
    # redis-py's own SSLConnection, which would replace ours and log in without the secret.
    # Ours (an SSLConnection for rediss://) does the TLS; RedisCluster gets a redis:// URL.
    if scheme == "rediss":
        url = "redis://" + url.split("://", 1)[1]
    return redis.cluster.RedisCluster.from_url(url, connection_class=bound, **redis_kwargs)
