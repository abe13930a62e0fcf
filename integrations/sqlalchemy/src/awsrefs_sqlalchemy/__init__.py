"""SQLAlchemy engines whose credentials come from Secrets Manager and survive rotation.

>>> import awsrefs_sqlalchemy
>>> engine = awsrefs_sqlalchemy.create_engine(  # doctest: +SKIP
...     "postgresql+psycopg://", secret="secretsmanager:myapp/prod/db", pool_pre_ping=True
... )

The URL names the dialect and driver and may carry query options; user name and password
come from the secret (the JSON the RDS rotation templates store: ``username``, ``password``,
``host``, ``port``, ``dbname``). Host, port and database named in the URL win; the secret's
fill only what the URL leaves out (:func:`awsrefs.rotation.connection_target`, the same rule
as the Django backends' ``HOST``/``PORT``/``NAME``), so a URL can point at an RDS Proxy or a
tunnel, and an RDS-managed master secret (user name and password only) works with a URL that
names the host. The dialect's own ``create_connect_args`` turns them into driver arguments.
Each new connection follows :mod:`awsrefs.rotation`: cached AWSCURRENT, one refresh on
rejected credentials, AWSPENDING while a rotation is in progress.

With ``iam=True`` instead of a secret, the password is an RDS IAM authentication token
(:mod:`awsrefs.iam_auth`) for the user, host and port the URL names: one token per
host/port/user, cached and renewed before it expires, signed locally (no AWS call):

>>> engine = awsrefs_sqlalchemy.create_engine(  # doctest: +SKIP
...     "postgresql+psycopg://app@db.abc123.eu-west-1.rds.amazonaws.com:5432/app?sslmode=require",
...     iam=True,
... )
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError

if TYPE_CHECKING:
    # sqlalchemy.ext.asyncio needs greenlet, an optional dependency since SQLAlchemy 2.1:
    # imported only by the async functions, so sync users do not need it.
    from sqlalchemy.ext.asyncio import AsyncEngine

from awsrefs import Resolver, SecretRef
from awsrefs.iam_auth import DbAuthTokens, IamCredentials
from awsrefs.rotation import Credentials, RotatingCredentials, connection_target

__all__ = [
    "AsyncCreator",
    "Creator",
    "async_creator",
    "create_async_engine",
    "create_engine",
    "creator",
]

DEFAULT_URL = "postgresql+psycopg://"
DEFAULT_ASYNC_URL = "postgresql+asyncpg://"

# The driver's default port when the URL names none: the IAM token is signed for a port.
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
_IAM_KEYS = frozenset({"region", "tokens"})

# Options SQLAlchemy's asyncpg adapter consumes itself; asyncpg.connect() does not take them.
_ADAPTER_ONLY = frozenset({"prepared_statement_cache_size", "prepared_statement_name_func"})


class _Connector:
    """Turns credentials into the driver's connect call for one URL."""

    def __init__(
        self, url: str | URL, *, is_async: bool, connect_args: Mapping[str, Any] | None
    ) -> None:
        self.url = make_url(url)
        if self.url.password is not None:
            raise ArgumentError(
                "the URL must not carry a password: it comes from the secret "
                f"(got {self.url.render_as_string(hide_password=True)!r})"
            )
        dialect_cls = self.url.get_dialect()
        if is_async:
            dialect_cls = dialect_cls.get_async_dialect_cls(self.url)
            if not dialect_cls.is_async:
                raise ArgumentError(f"{self.url.drivername!r} is not an async driver")
        # As create_engine does: the dialect instance gets the imported DB-API module.
        make: Any = dialect_cls
        self.dialect: Dialect = make(dbapi=dialect_cls.import_dbapi())
        self.connect_args = dict(connect_args or {})

    def arguments(self, creds: Credentials) -> tuple[list[Any], dict[str, Any]]:
        # The URL's host, port and database win (an RDS Proxy or a tunnel is named there);
        # the secret fills what the URL leaves out.
        target = connection_target(
            creds, host=self.url.host, port=self.url.port, dbname=self.url.database
        )
        url = self.url.set(
            username=creds.username,
            password=creds.password,
            host=target.host,
            port=target.port,
            database=target.dbname,
        )
        cargs, cparams = self.dialect.create_connect_args(url)
        params = dict(cparams)
        params.update(self.connect_args)
        return list(cargs), params

    def connect(self, creds: Credentials) -> Any:
        cargs, cparams = self.arguments(creds)
        return self.dialect.connect(*cargs, **cparams)

    def async_connect_function(self) -> Callable[..., Awaitable[Any]]:
        # The adapted DB-API module keeps the real driver module as an attribute; an
        # async_creator must return the driver's own connection, which SQLAlchemy adapts.
        dbapi = self.dialect.loaded_dbapi
        if hasattr(dbapi, "asyncpg"):
            connect: Callable[..., Awaitable[Any]] = dbapi.asyncpg.connect
        elif hasattr(dbapi, "psycopg"):
            connect = dbapi.psycopg.AsyncConnection.connect
        elif hasattr(dbapi, "aiomysql"):
            connect = dbapi.aiomysql.connect
        elif hasattr(dbapi, "asyncmy"):
            connect = dbapi.asyncmy.connect
        else:
            raise ArgumentError(
                f"awsrefs_sqlalchemy does not know how to open a {self.url.drivername!r} "
                "connection asynchronously (supported: asyncpg, psycopg, aiomysql, asyncmy)"
            )
        return connect

    async def aconnect(self, creds: Credentials) -> Any:
        cargs, cparams = self.arguments(creds)
        for key in _ADAPTER_ONLY:
            cparams.pop(key, None)
        return await self.async_connect_function()(*cargs, **cparams)


class _BaseCreator:
    """What :class:`Creator` and :class:`AsyncCreator` share: attributes and repr."""

    def __init__(
        self, connector: _Connector, credentials: RotatingCredentials | IamCredentials
    ) -> None:
        self._connector = connector
        self.url = connector.url
        self.credentials = credentials

    def __repr__(self) -> str:
        creds = self.credentials
        source = (
            f"secret={str(creds.secret)!r}"
            if isinstance(creds, RotatingCredentials)
            else "iam=True"
        )
        return f"{type(self).__name__}({self.url.render_as_string()!r}, {source})"


class Creator(_BaseCreator):
    """The ``creator`` callable for ``sqlalchemy.create_engine``; see :func:`creator`.

    Attributes:
        url: The URL naming dialect and driver (without credentials).
        credentials: The rotation-following (or IAM token) credentials in use.
    """

    def __call__(self) -> Any:
        """Open a new DB-API connection with the secret's credentials."""
        return self.credentials.connect(self._connector.connect)


class AsyncCreator(_BaseCreator):
    """The ``async_creator`` for ``create_async_engine``; see :func:`async_creator`.

    Attributes:
        url: The URL naming dialect and driver (without credentials).
        credentials: The rotation-following (or IAM token) credentials in use.
    """

    async def __call__(self) -> Any:
        """Open a new driver connection (asyncpg, psycopg...) with the secret's credentials."""
        return await self.credentials.aconnect(self._connector.aconnect)


def creator(
    secret: str | SecretRef | None = None,
    url: str | URL = DEFAULT_URL,
    *,
    iam: bool | Mapping[str, Any] = False,
    resolver: Resolver | None = None,
    retry_budget: float = 30.0,
    connect_args: Mapping[str, Any] | None = None,
) -> Creator:
    """Return a ``creator`` for ``sqlalchemy.create_engine(url, creator=...)``.

    Args:
        secret: The secret with the credentials: ``"secretsmanager:name"``, a name or ARN.
        url: Dialect and driver (``postgresql+psycopg://``, ``mysql+pymysql://``...), with
            optional host, port, database (which win over the secret's) and query options.
            It must not carry a password.
        iam: Instead of ``secret``: log in with RDS IAM authentication tokens for the
            user, host and port the URL names (port: the driver's default if omitted).
            ``True``, or a mapping with ``"region"`` (default: from an RDS host name, else
            the resolver's) and/or ``"tokens"`` (an :class:`awsrefs.iam_auth.DbAuthTokens`;
            default: the resolver's shared one). Real RDS accepts tokens only over TLS.
        resolver: Reads and caches the secret (default: :func:`awsrefs.default_resolver`).
        retry_budget: Seconds to keep retrying while a rotation is in progress.
        connect_args: Extra driver arguments, as ``create_engine``'s ``connect_args``
            (which SQLAlchemy ignores when a creator is given).

    Returns:
        A callable that opens one DB-API connection per call.

    Raises:
        ArgumentError: Neither or both of ``secret`` and ``iam``, a password in the URL,
            or (with ``iam``) a URL without user or host.
    """
    connector = _Connector(url, is_async=False, connect_args=connect_args)
    return Creator(connector, _credentials(secret, iam, connector.url, resolver, retry_budget))


def async_creator(
    secret: str | SecretRef | None = None,
    url: str | URL = DEFAULT_ASYNC_URL,
    *,
    iam: bool | Mapping[str, Any] = False,
    resolver: Resolver | None = None,
    retry_budget: float = 30.0,
    connect_args: Mapping[str, Any] | None = None,
) -> AsyncCreator:
    """Return an ``async_creator`` for ``create_async_engine(url, async_creator=...)``.

    Secrets Manager calls run in a worker thread, so the event loop is never blocked.
    asyncpg options that SQLAlchemy's adapter consumes (``prepared_statement_cache_size``)
    are not passed to the driver, as with any ``async_creator``.

    Args:
        secret: The secret with the credentials.
        url: Async dialect and driver (``postgresql+asyncpg://``, ``postgresql+psycopg://``,
            ``mysql+aiomysql://``...), with optional defaults as for :func:`creator`.
        iam: Instead of ``secret``: IAM authentication tokens, as for :func:`creator`.
        resolver: Reads and caches the secret (default: :func:`awsrefs.default_resolver`).
        retry_budget: Seconds to keep retrying while a rotation is in progress.
        connect_args: Extra driver arguments.

    Returns:
        A coroutine function that opens one driver connection per call.
    """
    connector = _Connector(url, is_async=True, connect_args=connect_args)
    connector.async_connect_function()  # unsupported drivers fail here, not at first use
    return AsyncCreator(connector, _credentials(secret, iam, connector.url, resolver, retry_budget))


def _credentials(
    secret: str | SecretRef | None,
    iam: bool | Mapping[str, Any],
    url: URL,
    resolver: Resolver | None,
    retry_budget: float,
) -> RotatingCredentials | IamCredentials:
    use_iam = isinstance(iam, Mapping) or bool(iam)
    if (secret is None) != use_iam:
        raise ArgumentError("pass either secret=... or iam=..., exactly one of them")
    if secret is not None:
        return RotatingCredentials(secret, resolver=resolver, retry_budget=retry_budget)
    options: Mapping[str, Any] = iam if isinstance(iam, Mapping) else {}
    unknown = sorted(set(options) - _IAM_KEYS)
    if unknown:
        raise ArgumentError(f"unknown iam option(s) {unknown}; known: {sorted(_IAM_KEYS)}")
    tokens = options.get("tokens")
    if tokens is not None and not isinstance(tokens, DbAuthTokens):
        raise ArgumentError("iam['tokens'] must be an awsrefs.iam_auth.DbAuthTokens")
    port = url.port or _DEFAULT_PORTS.get(url.get_backend_name())
    if not url.username or not url.host or not port:
        raise ArgumentError(
            "iam=... needs the database user, host and port in the URL, like "
            "'postgresql+psycopg://app@db.example.com:5432/app' (the token is signed for them; "
            f"got {url.render_as_string(hide_password=True)!r})"
        )
    return IamCredentials(
        url.host,
        port,
        url.username,
        dbname=url.database,
        region=options.get("region"),
        tokens=tokens,
        resolver=resolver,
    )


def create_engine(
    url: str | URL = DEFAULT_URL,
    *,
    secret: str | SecretRef | None = None,
    iam: bool | Mapping[str, Any] = False,
    resolver: Resolver | None = None,
    retry_budget: float = 30.0,
    connect_args: Mapping[str, Any] | None = None,
    **engine_kwargs: Any,
) -> Engine:
    """``sqlalchemy.create_engine`` with credentials from ``secret`` (see :func:`creator`).

    Args:
        url: Dialect and driver, as for :func:`creator`.
        secret: The secret with the credentials.
        iam: Instead of ``secret``: IAM authentication tokens, as for :func:`creator`.
        resolver: Reads and caches the secret.
        retry_budget: Seconds to keep retrying while a rotation is in progress.
        connect_args: Extra driver arguments.
        **engine_kwargs: Passed on to ``sqlalchemy.create_engine`` (``pool_size``,
            ``pool_recycle``, ``pool_pre_ping``...).

    Returns:
        The engine.
    """
    make = creator(
        secret,
        url,
        iam=iam,
        resolver=resolver,
        retry_budget=retry_budget,
        connect_args=connect_args,
    )
    return sqlalchemy.create_engine(url, creator=make, **engine_kwargs)


def create_async_engine(
    url: str | URL = DEFAULT_ASYNC_URL,
    *,
    secret: str | SecretRef | None = None,
    iam: bool | Mapping[str, Any] = False,
    resolver: Resolver | None = None,
    retry_budget: float = 30.0,
    connect_args: Mapping[str, Any] | None = None,
    **engine_kwargs: Any,
) -> AsyncEngine:
    """``sqlalchemy.ext.asyncio.create_async_engine`` with credentials from ``secret``.

    Args:
        url: Async dialect and driver, as for :func:`async_creator`.
        secret: The secret with the credentials.
        iam: Instead of ``secret``: IAM authentication tokens, as for :func:`creator`.
        resolver: Reads and caches the secret.
        retry_budget: Seconds to keep retrying while a rotation is in progress.
        connect_args: Extra driver arguments.
        **engine_kwargs: Passed on to ``create_async_engine``.

    Returns:
        The async engine.
    """
    make = async_creator(
        secret,
        url,
        iam=iam,
        resolver=resolver,
        retry_budget=retry_budget,
        connect_args=connect_args,
    )
    from sqlalchemy.ext.asyncio import create_async_engine as _sa_create_async_engine

    return _sa_create_async_engine(url, async_creator=make, **engine_kwargs)
