"""Celery with a Redis broker and result backend whose logins follow a secret's rotation.

>>> from celery import Celery
>>> import awsrefs_redis.celery
>>> app = Celery("tasks")
>>> awsrefs_redis.celery.configure(  # doctest: +SKIP
...     app,
...     secret="secretsmanager:myapp/prod/redis",
...     broker_url="redis://my-cache:6379/0",
...     result_backend_url="redis://my-cache:6379/1",
... )

The broker (kombu's redis transport) and the result backend (Celery's ``RedisBackend``) open
their connections with :class:`awsrefs_redis.Connection` (``SSLConnection`` for TLS), so every
new connection logs in with the secret's credentials by the rule of :func:`awsrefs_redis.from_url`.
Both share one :class:`~awsrefs.rotation.RotatingCredentials` per process and secret.

Without :func:`configure`, the same settings by hand::

    broker_url = "redis://my-cache:6379/0"
    broker_transport = "awsrefs_redis.celery:Transport"
    broker_transport_options = {"awsrefs_secret": "secretsmanager:myapp/prod/redis"}
    result_backend = "awsrefs_redis.celery:RedisBackend+redis://my-cache:6379/1"
    result_backend_transport_options = {"awsrefs_secret": "secretsmanager:myapp/prod/redis"}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import redis
from celery import Celery
from celery.backends.redis import RedisBackend as _CeleryRedisBackend
from kombu.transport import redis as _kombu_redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from awsrefs import Resolver, SecretRef
from awsrefs.rotation import RotatingCredentials
from awsrefs_redis import Connection, SSLConnection, _RotatingLogin
from awsrefs_redis._login import CREDENTIALS_KWARG, rotating

__all__ = ["OPTION", "RETRIES", "Channel", "RedisBackend", "Transport", "configure", "credentials"]

OPTION = "awsrefs_secret"
"""The key of ``broker_transport_options`` and ``result_backend_transport_options`` that names
the secret (a string, a :class:`~awsrefs.SecretRef` or ``RotatingCredentials``)."""

RETRIES = 3
"""How often a command whose pooled connection the server dropped is sent again, on a new
connection (which logs in with the secret's current credentials)."""

_shared: dict[str, RotatingCredentials] = {}
_shared_lock = threading.Lock()

# Celery's and kombu's redis classes, and the ones that log in with the secret instead.
_ROTATING: dict[type[Any], type[Any]] = {
    redis.Connection: Connection,
    redis.SSLConnection: SSLConnection,
}


def credentials(
    secret: str | SecretRef | RotatingCredentials, resolver: Resolver | None = None
) -> RotatingCredentials:
    """The process's one :class:`~awsrefs.rotation.RotatingCredentials` for ``secret``.

    The broker and the result backend of a process share it, so a rotation costs the process
    at most three Secrets Manager calls, not three per connection pool.

    Args:
        secret: ``"secretsmanager:name"``, a bare name or ARN, a :class:`~awsrefs.SecretRef`,
            or ``RotatingCredentials`` (returned as it is).
        resolver: The resolver of a new ``RotatingCredentials`` (default:
            :func:`awsrefs.default_resolver`).

    Returns:
        The shared credentials.
    """
    if isinstance(secret, RotatingCredentials):
        return rotating(secret, resolver)
    key = f"{secret}|{id(resolver)}"
    with _shared_lock:
        if key not in _shared:
            _shared[key] = rotating(secret, resolver)
        return _shared[key]


def _from_options(options: Mapping[str, Any] | None, where: str) -> RotatingCredentials:
    secret = (options or {}).get(OPTION)
    if secret is None:
        raise ValueError(f"awsrefs_redis.celery: {where} has no {OPTION!r}")
    return credentials(secret)


def _check(params: dict[str, Any], where: str) -> None:
    """Refuse credentials from elsewhere; swap redis-py's connection class for ours."""
    named = sorted(k for k in ("username", "password", "credential_provider") if params.get(k))
    if named:
        # Names only: the URL's password never appears in the message.
        raise ValueError(
            f"awsrefs_redis.celery: {where} names {', '.join(named)}: the user name and "
            "password come from the secret"
        )
    params.pop("username", None)
    params.pop("password", None)
    params.pop("credential_provider", None)
    cls = params.get("connection_class", redis.Connection)
    cls = _ROTATING.get(cls, cls)
    if not issubclass(cls, _RotatingLogin):
        raise ValueError(
            f"awsrefs_redis.celery: {where}: only redis:// and rediss:// are supported "
            f"(not {cls.__name__})"
        )
    params["connection_class"] = cls


def _retry_dropped(params: dict[str, Any]) -> None:
    """Send a command again when the server dropped its pooled connection.

    kombu and Celery build their own ``ConnectionPool``, whose connections get redis-py's
    default of no retry, where ``redis.Redis()`` retries: a command sent on a pooled
    connection the server has just dropped fails at once. On the worker that is the
    ``QoS.append`` pipeline that records a message it has just taken with BRPOP as unacked
    (the message is then in neither the queue nor ``unacked``: lost), an ack, or a task's
    own command through ``app.backend.client``. The retry sends it on a new connection,
    which logs in with the current credentials; every command involved is idempotent except
    a publish (LPUSH), which may then be delivered twice: at least once, as Celery promises.
    """
    params.setdefault("retry", Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES))


class Channel(_kombu_redis.Channel):
    """kombu's redis ``Channel`` whose connections log in with the secret's credentials."""

    connection_class = Connection
    connection_class_ssl = SSLConnection

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        _check(params, "the broker URL")
        if not asynchronous:
            # The event loop's BRPOP and LISTEN connections stay kombu's: a dropped one
            # restarts the consumer, which is how Celery recovers from a lost broker.
            _retry_dropped(params)
        params[CREDENTIALS_KWARG] = _from_options(
            self.connection.client.transport_options, "broker_transport_options"
        )
        return params


class Transport(_kombu_redis.Transport):
    """kombu's redis transport with :class:`Channel`: ``broker_transport`` names it."""

    Channel = Channel


class RedisBackend(_CeleryRedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend whose connections log in with the secret's credentials."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check(self.connparams, "the result backend URL")
        _retry_dropped(self.connparams)
        self.connparams[CREDENTIALS_KWARG] = _from_options(
            self.app.conf.get("result_backend_transport_options"),
            "result_backend_transport_options",
        )


def configure(
    app: Celery,
    secret: str | SecretRef | RotatingCredentials,
    *,
    broker_url: str,
    result_backend_url: str | None = None,
    resolver: Resolver | None = None,
) -> None:
    """Point ``app``'s broker (and result backend) at Redis, logging in with ``secret``.

    Sets ``broker_url``, ``broker_transport``, ``result_backend`` and the ``awsrefs_secret``
    entry of both transport options; other settings are left as they are.

    Args:
        app: The Celery application (before it connects).
        secret: As for :func:`awsrefs_redis.from_url`.
        broker_url: ``redis://host:port/db`` or ``rediss://...``, without user or password.
        result_backend_url: The same for results; ``None`` leaves ``result_backend`` alone.
        resolver: The resolver that reads and caches the secret (default:
            :func:`awsrefs.default_resolver`).
    """
    creds = credentials(secret, resolver)
    app.conf.broker_url = broker_url
    app.conf.broker_transport = f"{__name__}:Transport"
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        OPTION: creds,
    }
    if result_backend_url is not None:
        app.conf.result_backend = f"{__name__}:RedisBackend+{result_backend_url}"
        app.conf.result_backend_transport_options = {
            **(app.conf.result_backend_transport_options or {}),
            OPTION: creds,
        }
