"""RDS and Aurora IAM database authentication: short-lived tokens instead of a password.

An IAM authentication token is a SigV4-presigned URL for the action ``rds-db:connect``,
signed locally with the process's AWS credentials (no AWS call) and valid for 15 minutes.
The database accepts it as the password of a user granted ``rds_iam`` (PostgreSQL) or
identified by ``AWSAuthenticationPlugin`` (MySQL/MariaDB), over TLS only: give the driver
``sslmode=require`` (or ``verify-full`` with the RDS CA bundle) for PostgreSQL, ``ssl`` for
MySQL.

:class:`DbAuthTokens` makes one token per (host, port, user, region), caches it and makes a
new one once it is ``lifetime`` seconds old (10 of its 15 minutes by default), so a token is
never used close to its expiry. :class:`IamCredentials` is the connection side, with the same
``current``/``connect``/``aconnect`` methods as :class:`awsrefs.rotation.RotatingCredentials`,
which the SQLAlchemy creator and the Django backends use for ``iam=True``.

>>> from awsrefs.iam_auth import IamCredentials
>>> creds = IamCredentials("db.abc123.eu-west-1.rds.amazonaws.com", 5432, "app")
>>> # conn = creds.connect(lambda c: psycopg.connect(host=c.host, user=c.username,
>>> #                      password=c.password, sslmode="require"))
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import traceback
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from awsrefs._auth_failures import chain, is_auth_failure
from awsrefs._credentials import Credentials, redact_exception
from awsrefs._resolver import Resolver, default_resolver
from awsrefs.backends import aws
from awsrefs.errors import RefError

__all__ = [
    "DEFAULT_LIFETIME",
    "TOKEN_VALIDITY",
    "DbAuthTokens",
    "IamAuthError",
    "IamCredentials",
    "tokens_for",
]

T = TypeVar("T")

TOKEN_VALIDITY = 900.0
"""Seconds AWS accepts an RDS IAM authentication token after it was signed (15 minutes)."""

DEFAULT_LIFETIME = 600.0
"""Seconds a cached token is handed out before a new one is made (5 minutes before expiry)."""

# <instance>.<id>.<region>.rds.amazonaws.com(.cn), also proxies and cluster endpoints.
_RDS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?$")

# Every DbAuthTokens, so that a forked child gets new locks and clients.
_instances: weakref.WeakSet[DbAuthTokens] = weakref.WeakSet()


class IamAuthError(RefError):
    """No token could be made: no AWS credentials, no region, or botocore refused."""


class _Key(NamedTuple):
    host: str
    port: int
    username: str
    region: str


class _Token(NamedTuple):
    value: str
    made_at: float


class DbAuthTokens:
    """A thread-safe, fork-safe cache of RDS IAM authentication tokens.

    One token per (host, port, user, region), made on first use and again once it is
    ``lifetime`` seconds old or was rejected. Making a token is local signing (botocore's
    ``generate_db_auth_token``), no AWS call; botocore is imported on first use.

    Args:
        resolver: Whose AWS session and region to use (default: the process-wide
            resolver's, looked up at use time). A resolver whose store is not AWS (the
            agent, static values) gives a new botocore session.
        session: A ``boto3.Session`` or ``botocore.session.Session`` to sign with instead.
        region_name: Region to sign for when a call names none and the host is not an RDS
            host name that tells it.
        lifetime: Seconds a token is handed out after it was made; at most
            :data:`TOKEN_VALIDITY`, leave room for the connection to be made.
        clock: A monotonic clock in seconds (tests pass their own).

    Raises:
        ValueError: ``lifetime`` is not in (0, 900].
    """

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        session: Any = None,
        region_name: str | None = None,
        lifetime: float = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < lifetime <= TOKEN_VALIDITY:
            raise ValueError(f"lifetime must be in (0, {TOKEN_VALIDITY:g}] seconds")
        self._resolver = resolver
        self._session = session
        self._region_name = region_name
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[_Key, _Token] = {}
        self._clients: dict[str, Any] = {}
        self._generated = 0
        _instances.add(self)

    @property
    def generated(self) -> int:
        """How many tokens this cache has made (tests and metrics count renewals)."""
        return self._generated

    def __repr__(self) -> str:
        return f"DbAuthTokens(lifetime={self.lifetime!r}, cached={len(self._tokens)})"

    def token(self, host: str, port: int, username: str, *, region: str | None = None) -> str:
        """Return a token for ``username`` at ``host:port``, cached while fresh.

        Args:
            host: The database's host name, as the client connects to it.
            port: Its port.
            username: The database user.
            region: The database's region (default: see :class:`DbAuthTokens`).

        Returns:
            The token, to pass as the password.

        Raises:
            IamAuthError: No token could be made.
        """
        return self.get(host, port, username, region=region)[0]

    def get(
        self,
        host: str,
        port: int,
        username: str,
        *,
        region: str | None = None,
        rejected: str | None = None,
    ) -> tuple[str, bool]:
        """Like :meth:`token`; also says whether the token was made by this call.

        Args:
            host: The database's host name.
            port: Its port.
            username: The database user.
            region: The database's region.
            rejected: A token the database refused: if it is still the cached one, a new
                one is made (threads that fail together cause one).

        Returns:
            The token and True when it was made now (False: from the cache).

        Raises:
            IamAuthError: No token could be made.
        """
        key = _Key(host, int(port), username, self._region_for(host, region))
        # Signing is local and quick: holding the lock makes the refresh single-flight.
        with self._lock:
            cached = self._tokens.get(key)
            now = self._clock()
            if (
                cached is not None
                and now - cached.made_at < self.lifetime
                and cached.value != rejected
            ):
                return cached.value, False
            value = self._generate(key)
            self._generated += 1
            self._tokens[key] = _Token(value, now)
            return value, True

    def clear(self) -> None:
        """Forget every cached token."""
        with self._lock:
            self._tokens.clear()

    # -- internals ---------------------------------------------------------------------

    def _aws(self) -> Any:
        """The AWS backend of the resolver in use, or None."""
        from awsrefs.backends.aws import AwsBackend

        resolver = self._resolver if self._resolver is not None else default_resolver()
        backend = resolver._backend
        return backend if isinstance(backend, AwsBackend) else None

    def _botocore_session(self) -> Any:
        if self._session is None:
            backend = self._aws()
            if backend is not None:
                self._session = backend._botocore_session()
            else:
                import botocore.session

                self._session = botocore.session.get_session()
        return self._session

    def _region_for(self, host: str, region: str | None) -> str:
        if region:
            return region
        if self._region_name:
            return self._region_name
        match = _RDS_HOST.search(host.lower())
        if match:
            return match.group(1)
        backend = self._aws()
        found = backend.default_region() if backend is not None else None
        if not found:
            if os.environ.get("AWS_REGION"):
                return os.environ["AWS_REGION"]
            session = self._botocore_session()
            getter = getattr(session, "get_config_variable", None)
            found = getter("region") if getter else session.region_name
        if not found:
            raise IamAuthError(
                f"no AWS region for the IAM token of {host!r}: pass region=... "
                "(iam={'region': ...}) or set AWS_REGION"
            )
        return str(found)

    def _generate(self, key: _Key) -> str:
        client = self._clients.get(key.region)
        try:
            if client is None:
                session = self._botocore_session()
                make = getattr(session, "create_client", None) or session.client
                client = make("rds", region_name=key.region)
                self._clients[key.region] = client
            # botocore logs the canonical request and the signature at DEBUG: enough to
            # rebuild the token. As an awsrefs call, those records are withheld.
            aws.install()
            with aws.awsrefs_call():
                token: str = client.generate_db_auth_token(
                    DBHostname=key.host, Port=key.port, DBUsername=key.username, Region=key.region
                )
        except Exception as error:  # botocore: NoCredentialsError, NoRegionError...
            raise IamAuthError(
                f"could not sign an IAM authentication token for {key.username!r} at "
                f"{key.host}:{key.port} ({key.region}): {type(error).__name__}: {error}"
            ) from error
        return token

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._clients = {}


_by_resolver: weakref.WeakKeyDictionary[Resolver, DbAuthTokens] = weakref.WeakKeyDictionary()
_by_resolver_lock = threading.Lock()


def tokens_for(resolver: Resolver | None = None) -> DbAuthTokens:
    """The process-wide token cache of ``resolver`` (default: the default resolver).

    The SQLAlchemy creator and the Django backends share it, so a process makes one token
    per database user however many engines or connections it has.
    """
    resolver = resolver if resolver is not None else default_resolver()
    with _by_resolver_lock:
        tokens = _by_resolver.get(resolver)
        if tokens is None:
            tokens = _by_resolver[resolver] = DbAuthTokens(resolver=resolver)
        return tokens


class IamCredentials:
    """Database credentials whose password is an IAM authentication token.

    Drop-in for :class:`awsrefs.rotation.RotatingCredentials` where the database user
    authenticates with IAM: :meth:`connect` hands ``fn`` credentials whose ``password`` is
    the cached token. When the database refuses a cached token (it expired early, the
    instance's clock, the role's credentials changed), a new one is made and tried once; a
    token made for that very try is not retried (a missing ``rds_iam`` grant or
    ``rds-db:connect`` permission fails fast). Tokens are removed from the driver's errors.

    Args:
        host: The database's host name (needed: the token is signed for it).
        port: Its port.
        username: The database user.
        dbname: The database name handed on in the credentials, if any.
        region: The database's region (default: from an RDS host name, else the
            resolver's).
        tokens: The token cache (default: :func:`tokens_for` the resolver).
        resolver: Whose AWS session and region to sign with (default: the default
            resolver, looked up at use time).

    Raises:
        ValueError: No host, user or port.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        *,
        dbname: str | None = None,
        region: str | None = None,
        tokens: DbAuthTokens | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        if not host or not username or not port:
            raise ValueError("IAM authentication needs the database's host, port and user")
        self.host = host
        self.port = int(port)
        self.username = username
        self.dbname = dbname
        self.region = region
        self._tokens = tokens
        self._resolver = resolver

    @property
    def tokens(self) -> DbAuthTokens:
        """The token cache in use."""
        return self._tokens if self._tokens is not None else tokens_for(self._resolver)

    def __repr__(self) -> str:
        return (
            f"IamCredentials(host={self.host!r}, port={self.port!r}, "
            f"username={self.username!r}, region={self.region!r})"
        )

    def current(self) -> Credentials:
        """Return credentials with the cached (or a new) token as the password.

        Raises:
            IamAuthError: No token could be made.
        """
        return self._credentials(None)[0]

    def connect(self, fn: Callable[[Credentials], T]) -> T:
        """Call ``fn(credentials)``; once more with a new token if a cached one is refused.

        Args:
            fn: Opens a connection with the given credentials.

        Returns:
            What ``fn`` returned.

        Raises:
            IamAuthError: No token could be made.
            Exception: The driver's error, tokens removed from it.
        """
        creds, made = self._credentials(None)
        try:
            return fn(creds)
        except Exception as error:
            if made or not is_auth_failure(error):
                _scrub(error, [creds.password])
                del creds  # no token in this frame's locals for a traceback to show
                raise
            rejected = creds.password
        retry = self._credentials(rejected)[0]
        try:
            return fn(retry)
        except Exception as error:
            _scrub(error, [rejected, retry.password])
            del retry, rejected
            raise

    async def aconnect(self, fn: Callable[[Credentials], Awaitable[T]]) -> T:
        """Like :meth:`connect` for an async ``fn``; signing runs in a worker thread.

        Args:
            fn: Coroutine function that opens a connection with the given credentials.

        Returns:
            What ``fn`` returned.
        """
        creds, made = await asyncio.to_thread(self._credentials, None)
        try:
            return await fn(creds)
        except Exception as error:
            if made or not is_auth_failure(error):
                _scrub(error, [creds.password])
                del creds
                raise
            rejected = creds.password
        retry = (await asyncio.to_thread(self._credentials, rejected))[0]
        try:
            return await fn(retry)
        except Exception as error:
            _scrub(error, [rejected, retry.password])
            del retry, rejected
            raise

    def _credentials(self, rejected: str | None) -> tuple[Credentials, bool]:
        token, made = self.tokens.get(
            self.host, self.port, self.username, region=self.region, rejected=rejected
        )
        creds = Credentials(
            username=self.username,
            password=token,
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            stage="IAM",
        )
        return creds, made


def _scrub(error: BaseException, tokens: list[str]) -> None:
    """No token in the error's text and attributes, nor in its finished frames' locals."""
    redact_exception(error, tokens)
    for each in chain(error):
        # Frames still running (connect's own) raise RuntimeError and are skipped.
        traceback.clear_frames(each.__traceback__)


def _after_fork_in_child() -> None:
    global _by_resolver_lock
    _by_resolver_lock = threading.Lock()
    for tokens in list(_instances):
        tokens._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
