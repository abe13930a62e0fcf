"""What the sync and asyncio connection classes share: options, the login, retry wrappers."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

from redis.connection import parse_url
from redis.exceptions import AuthenticationError

from awsrefs import Resolver, SecretRef
from awsrefs.rotation import Credentials, RotatingCredentials

__all__ = [
    "CREDENTIALS_KWARG",
    "AsyncNoAuthRetry",
    "NoAuthRetry",
    "check_options",
    "logged_in_as",
    "rotating",
]

T = TypeVar("T")

#: The connection keyword argument that carries the credentials (through the pool's kwargs).
CREDENTIALS_KWARG = "awsrefs_credentials"

_CONFLICTS = ("username", "password", "credential_provider")


def rotating(
    secret: str | SecretRef | RotatingCredentials, resolver: Resolver | None
) -> RotatingCredentials:
    if isinstance(secret, RotatingCredentials):
        if resolver is not None:
            raise ValueError("pass resolver= to RotatingCredentials, not with it")
        return secret
    return RotatingCredentials(secret, resolver=resolver)


def check_options(url: str, options: Mapping[str, Any]) -> str:
    """The URL's scheme; ValueError when the URL or options also name credentials."""
    parsed = parse_url(url)  # type: ignore[no-untyped-call]
    named = sorted(
        {k for k in _CONFLICTS if parsed.get(k) or options.get(k)}
        | ({"connection_class"} if "connection_class" in options else set())
    )
    if named:
        # The message names the options, never their values (the URL can hold a password).
        raise ValueError(
            f"awsrefs_redis: {', '.join(named)} given: the user name and password come from "
            "the secret, and the connection class is awsrefs_redis's own"
        )
    return url.split("://", 1)[0].lower()


@contextlib.contextmanager
def logged_in_as(conn: Any, creds: Credentials) -> Iterator[None]:
    """Hand ``creds`` to redis-py's handshake; no password stays on the connection after it."""
    conn.username, conn.password = creds.username, creds.password
    try:
        yield
    finally:
        conn.password = None


class _RejectedError(Exception):
    """Carries a rejected login past redis-py's retry loop, which would retry it."""

    def __init__(self, error: AuthenticationError) -> None:
        super().__init__()
        self.error = error


class NoAuthRetry:
    """A redis-py ``Retry`` that never retries a rejected login; all else is the wrapped one's.

    The login already followed the rotation rule (bounded tries, at most three Secrets
    Manager calls per rotation); retrying it would only add refused logins. The connection
    that raised it has already disconnected itself (redis-py does so on a handshake error).
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # copy and pickle look attributes up before __init__ ran
            raise AttributeError(name)
        return getattr(self._inner, name)

    def call_with_retry(self, do: Callable[[], T], fail: Any, *args: Any, **kwargs: Any) -> T:
        def once() -> T:
            try:
                return do()
            except AuthenticationError as error:
                raise _RejectedError(error) from None

        try:
            result: T = self._inner.call_with_retry(once, fail, *args, **kwargs)
        except _RejectedError as rejected:
            raise rejected.error from None
        return result


class AsyncNoAuthRetry(NoAuthRetry):
    """:class:`NoAuthRetry` for ``redis.asyncio.retry.Retry``."""

    async def call_with_retry(  # type: ignore[override]
        self, do: Callable[[], Awaitable[T]], fail: Any, *args: Any, **kwargs: Any
    ) -> T:
        async def once() -> T:
            try:
                return await do()
            except AuthenticationError as error:
                raise _RejectedError(error) from None

        try:
            result: T = await self._inner.call_with_retry(once, fail, *args, **kwargs)
        except _RejectedError as rejected:
            raise rejected.error from None
        return result
