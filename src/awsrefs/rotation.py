"""Database connections that keep working while Secrets Manager rotates their password.

This module is the one implementation of the rotation rule; the SQLAlchemy creator and the
Django backends are thin layers over it. It never imports a database driver: errors are
classified by what they carry (``sqlstate``, ``pgcode``, ``args[0]``, class and module names).

The rule, for a connection built from a Secrets Manager secret:

1. Connect with the cached AWSCURRENT credentials (username and password both come from the
   secret, so alternating-user rotation is followed).
2. On an authentication failure, refresh the secret once for the whole process (threads that
   fail together cause one refresh) and retry with what changed.
3. Still rejected and a rotation is in progress (AWSPENDING holds another version than
   AWSCURRENT): try AWSPENDING; if both are refused, read AWSPENDING once more after a
   jittered pause and retry what is new, or each once more, within a time budget.
   Credentials that worked while AWSCURRENT was rejected are used directly by later
   connections until AWSCURRENT changes or they are refused.
4. No rotation in progress: the driver's original error is raised at once.

The cost is bounded per process, not per thread or per call: one thread tries credentials
nobody has tried since the last look while the others wait for its answer, credentials
refused twice since the last look are not tried again, and Secrets Manager is read again
only when credentials not known to be refused are refused (docs/rotation.md has the numbers).

Other failures (server down, network, timeouts) are never retried here.

>>> from awsrefs.rotation import RotatingCredentials
>>> creds = RotatingCredentials("secretsmanager:myapp/prod/db")
>>> # conn = creds.connect(lambda c: psycopg.connect(host=c.host, user=c.username, ...))
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple, TypeAlias, TypeVar

from awsrefs._auth_failures import AUTH_SQLSTATES, MYSQL_ACCESS_DENIED, is_auth_failure
from awsrefs._credentials import (
    Claim,
    Credentials,
    CredentialsError,
    Probe,
    State,
    redact_exception,
    scrubbed,
    state_for,
)
from awsrefs._grammar import SecretRef, parse
from awsrefs._resolver import Resolver, default_resolver
from awsrefs.errors import FailureKind, RefError, ResolutionError

__all__ = [
    "AUTH_SQLSTATES",
    "MYSQL_ACCESS_DENIED",
    "ConnectionTarget",
    "Credentials",
    "CredentialsError",
    "RotatingCredentials",
    "connection_target",
    "is_auth_failure",
    "redact_exception",
]

T = TypeVar("T")

# Defined in private modules, public here: name them as users import them (tracebacks, pickle).
for _public in (Credentials, CredentialsError):
    _public.__module__ = __name__

log = logging.getLogger("awsrefs.rotation")

# -- where to connect -------------------------------------------------------------------------


class ConnectionTarget(NamedTuple):
    """Where a connection goes: host, port and database name (None: the driver's default)."""

    host: str | None
    port: int | None
    dbname: str | None


def connection_target(
    creds: Credentials,
    *,
    host: str | None = None,
    port: int | None = None,
    dbname: str | None = None,
) -> ConnectionTarget:
    """Combine the application's own host, port and database with the secret's.

    What the application names wins; the secret fills only what it leaves out (None or
    ``""``). An RDS Proxy, a PgBouncer or an SSH tunnel is named in the URL or settings while
    the secret keeps the database instance's own address, and the connection must go through
    the former. The SQLAlchemy integration applies this to the URL; the Django backends apply
    the same rule to ``HOST``, ``PORT`` and ``NAME``.

    Args:
        creds: Credentials read from the secret.
        host: The host the application names, if any.
        port: The port the application names, if any.
        dbname: The database the application names, if any.

    Returns:
        The host, port and database name to connect to.
    """
    return ConnectionTarget(
        host if host not in (None, "") else creds.host,
        port if port is not None else creds.port,
        dbname if dbname not in (None, "") else creds.dbname,
    )


# -- the rule --------------------------------------------------------------------------------

# What the plan asks its driver loop to do next: try credentials, sleep, or run blocking work.
_Step: TypeAlias = "Credentials | float | _Wait | Callable[[], Any]"


@dataclasses.dataclass(frozen=True)
class _Wait:
    """A step: wait until no other thread or task is trying ``creds`` (at most ``timeout``)."""

    state: State
    creds: Credentials
    timeout: float

    def __call__(self) -> None:
        self.state.wait(self.creds, self.timeout)

    async def wait_async(self) -> None:
        # Polled on the event loop, not in a worker thread: the task trying the credentials
        # may itself need the default executor (psycopg resolves host names there).
        deadline = time.monotonic() + self.timeout
        while self.state.testing(self.creds) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


class RotatingCredentials:
    """Credentials from a Secrets Manager secret that follow its rotation.

    Args:
        secret: The secret: ``"secretsmanager:name"``, a bare name or ARN, or a
            :class:`~awsrefs.SecretRef` of the whole secret (no key, stage or version).
        resolver: The resolver that reads and caches the secret (default:
            :func:`awsrefs.default_resolver`, looked up at use time).
        retry_budget: Longest time, in seconds, a connection spends retrying (and
            waiting for another thread's try) while a rotation is in progress.
        min_backoff: Shortest pause, in seconds, before AWSPENDING is read again when
            both stages were refused (the pause is drawn between the two).
        max_backoff: Longest such pause, in seconds.

    Raises:
        ValueError: ``secret`` is not a whole Secrets Manager secret.
    """

    def __init__(
        self,
        secret: str | SecretRef,
        *,
        resolver: Resolver | None = None,
        retry_budget: float = 30.0,
        min_backoff: float = 0.05,
        max_backoff: float = 1.0,
    ) -> None:
        if retry_budget < 0 or min_backoff < 0 or max_backoff < min_backoff:
            raise ValueError("need retry_budget >= 0 and 0 <= min_backoff <= max_backoff")
        self._ref = _secret_ref(secret)
        self._pending_ref = dataclasses.replace(self._ref, stage="AWSPENDING")
        self._resolver = resolver
        self.retry_budget = retry_budget
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff

    @property
    def secret(self) -> SecretRef:
        """The secret these credentials come from."""
        return self._ref

    @property
    def resolver(self) -> Resolver:
        """The resolver in use."""
        return self._resolver if self._resolver is not None else default_resolver()

    def __repr__(self) -> str:
        return f"RotatingCredentials({str(self._ref)!r}, retry_budget={self.retry_budget!r})"

    def current(self) -> Credentials:
        """Return the AWSCURRENT credentials, from the resolver's cache when fresh.

        Raises:
            ResolutionError: The secret could not be read.
            CredentialsError: It does not hold database credentials.
        """
        return self._read(self._ref, "AWSCURRENT", refresh=False, newer_than=None)

    def connect(self, fn: Callable[[Credentials], T]) -> T:
        """Call ``fn(credentials)`` following the rotation rule; return what it returns.

        Args:
            fn: Opens a connection with the given credentials, raising the driver's error
                when it cannot.

        Returns:
            ``fn``'s result for the first credentials that were accepted.

        Raises:
            Exception: The driver's own error: at once for anything but rejected
                credentials, and for rejected credentials when no rotation is in progress
                or the retry budget ran out. Passwords are removed from its message.
        """
        attempt = _Attempt(self._plan())
        while (step := attempt.step) is not None:
            if isinstance(step, Credentials):
                step = None  # so that no credentials stay in this frame if fn's error leaves it
                with attempt:  # accepted: returns; rejected: on with the plan; else: raises here
                    return fn(attempt.trying())
            elif isinstance(step, float):
                time.sleep(step)
                attempt.resume(None)
            else:
                attempt.resume(step())
        raise attempt.give_up()

    async def aconnect(self, fn: Callable[[Credentials], Awaitable[T]]) -> T:
        """Like :meth:`connect` for an async ``fn``; AWS calls run in a worker thread.

        Args:
            fn: Coroutine function that opens a connection with the given credentials.

        Returns:
            What ``fn`` returned for the first credentials that were accepted.
        """
        attempt = _Attempt(self._plan())
        while (step := attempt.step) is not None:
            if isinstance(step, Credentials):
                step = None  # so that no credentials stay in this frame if fn's error leaves it
                with attempt:  # accepted: returns; rejected: on with the plan; else: raises here
                    return await fn(attempt.trying())
            elif isinstance(step, float):
                await asyncio.sleep(step)
                attempt.resume(None)
            elif isinstance(step, _Wait):
                await step.wait_async()
                attempt.resume(None)
            else:
                attempt.resume(await asyncio.to_thread(step))
        raise attempt.give_up()

    # -- internals -------------------------------------------------------------------------

    def _plan(self) -> Generator[_Step, Any, None]:
        """The rule as a sequence of steps, shared by the sync and async drivers.

        Yields credentials to try (resumed with True when accepted, False when rejected),
        seconds to sleep, a wait for another thread's try, or blocking work (resumed with its
        result). Returning without an accepted try means: raise the first driver error.
        """
        state = state_for(self.resolver, self._ref)
        generation = state.generation  # read before choosing, so a newer probe counts as new
        current: Credentials = yield self.current
        creds = state.choose(current)
        if (yield creds):
            state.accepted(creds, None)
            return
        deadline = time.monotonic() + self.retry_budget
        tried = {creds.login}
        probe: Probe = yield functools.partial(self._probe, state, generation, current, creds)
        while True:
            for candidate in probe.candidates():
                if candidate.login in tried:
                    continue
                claim = state.claim(candidate, probe.round)
                while claim is Claim.WAIT:  # another thread is trying them: its answer is ours
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    yield _Wait(state, candidate, remaining)
                    claim = state.claim(candidate, probe.round)
                if claim is Claim.SKIP:
                    continue
                tried.add(candidate.login)
                try:
                    accepted = yield candidate
                except GeneratorExit:  # another error ended the try: let others try them
                    state.release(candidate)
                    raise
                if accepted:
                    state.accepted(candidate, probe)
                    return
                state.rejected(candidate)
            if not probe.rotating or probe.round > 0:
                if probe.rotating:
                    self._warn_stuck(probe)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._warn_stuck(probe)
                return
            # Both refused: AWS may have moved on (a restarted rotation). Look once more,
            # after a pause, then retry what is new (or, if nothing is, each once more).
            yield min(remaining, random.uniform(self.min_backoff, self.max_backoff))  # noqa: S311
            probe = yield functools.partial(self._reprobe, state, probe)
            tried.clear()

    def _warn_stuck(self, probe: Probe) -> None:
        pending = probe.pending
        log.warning(
            "awsrefs: %s: neither AWSCURRENT (version %s) nor AWSPENDING (version %s) was "
            "accepted; raising the driver's error (Secrets Manager is read again when the "
            "cached AWSCURRENT expires or accepted credentials are refused)",
            self._ref,
            probe.current.version_id,
            pending.version_id if pending is not None else None,
        )

    def _probe(
        self, state: State, generation: int, current: Credentials, failed: Credentials
    ) -> Probe:
        """After ``failed`` was refused: read AWSCURRENT and AWSPENDING, unless that is known.

        One look for every thread that failed together (a look newer than the credentials
        they were handed), and none for credentials already refused since the last look:
        asking again would only tell what the process knows.
        """
        with state.probe_lock:
            probe = state.probe
            if probe is not None and (
                probe.generation > generation or state.known_rejected(failed)
            ):
                state.rejected(failed)
                return probe
            try:
                # Strictly newer than the rejected value: an equal fetch time is that value.
                after = math.nextafter(current.fetched_at, math.inf)
                fresh = self._read(self._ref, "AWSCURRENT", refresh=True, newer_than=after)
            except RefError as error:
                log.warning("awsrefs: %s: re-reading AWSCURRENT failed: %s", self._ref, error)
                fresh = current
            # Credentials that had been accepted (or never tried) were refused: the database
            # changed, so what was learnt before this look no longer holds.
            probe = state.adopt(Probe(0, fresh, self._read_pending()), forget=True)
            state.rejected(failed)
            if probe.rotating:
                self._log_rotating(probe)
            return probe

    def _reprobe(self, state: State, probe: Probe) -> Probe:
        """Both stages refused: read AWSPENDING once more (and AWSCURRENT if it changed)."""
        with state.probe_lock:
            latest = state.probe
            if latest is not None and latest.generation > probe.generation:
                return latest  # another thread looked again already
            pending = self._read_pending()
            same = pending.login if pending is not None else None
            if probe.pending is not None and same == probe.pending.login:
                return state.adopt(dataclasses.replace(probe, round=probe.round + 1), forget=False)
            try:
                after = math.nextafter(probe.current.fetched_at, math.inf)
                fresh = self._read(self._ref, "AWSCURRENT", refresh=True, newer_than=after)
            except RefError as error:
                log.warning("awsrefs: %s: re-reading AWSCURRENT failed: %s", self._ref, error)
                fresh = probe.current
            probe = state.adopt(Probe(0, fresh, pending), forget=False)
            if probe.rotating:
                self._log_rotating(probe)
            return probe

    def _log_rotating(self, probe: Probe) -> None:
        pending = probe.pending
        log.info(
            "awsrefs: %s: AWSCURRENT (version %s) was rejected and a rotation is in "
            "progress; trying AWSPENDING (version %s)",
            self._ref,
            probe.current.version_id,
            pending.version_id if pending is not None else None,
        )

    def _read_pending(self) -> Credentials | None:
        try:
            return self._read(self._pending_ref, "AWSPENDING", refresh=True, newer_than=None)
        except ResolutionError as error:
            if not any(f.kind is FailureKind.NOT_FOUND for f in error.failures):
                log.warning("awsrefs: %s: reading AWSPENDING failed: %s", self._ref, error)
        except RefError as error:
            log.warning("awsrefs: %s: ignoring AWSPENDING: %s", self._ref, error)
        return None

    def _read(
        self, ref: SecretRef, stage: str, *, refresh: bool, newer_than: float | None
    ) -> Credentials:
        resolved = self.resolver.lookup(ref, refresh=refresh, newer_than=newer_than)
        return Credentials.from_secret(
            resolved.value,
            secret=self._ref.secret_id,
            version_id=resolved.version,
            stage=stage,
            fetched_at=resolved.fetched_at,
        )


class _Attempt:
    """The bookkeeping of one ``connect`` or ``aconnect`` call around the rule's plan.

    Owns the plan, its next step, the passwords tried (to redact them) and the first
    rejection (raised when the plan gives up). A try runs inside ``with attempt:``, which
    takes an accepted try to the plan, suppresses a rejection (the plan goes on) and lets
    any other error leave the driver's own frame, scrubbed. The drivers raise themselves, so
    no frame of this class is in a traceback; :func:`~awsrefs._credentials.scrubbed` empties what
    held passwords (the list of them, the plan) before.
    """

    __slots__ = ("_first", "_plan", "_tried", "step")

    def __init__(self, plan: Generator[_Step, Any, None]) -> None:
        self._plan = plan
        self._tried: list[str] = []
        self._first: BaseException | None = None
        self.step: _Step | None = next(plan)

    def trying(self) -> Credentials:
        """The credentials of this step, noted as tried."""
        creds = self.step
        assert isinstance(creds, Credentials)
        self._tried.append(creds.password)
        return creds

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool:
        """Record the try's outcome; True (suppress the error) for a rejection."""
        if exc is None:
            self.accepted()
            return False
        if not isinstance(exc, Exception):  # KeyboardInterrupt, cancellation: end the plan
            self.step = None
            self._plan.close()
            return False
        return not self.rejected(exc)

    def accepted(self) -> None:
        """The try succeeded: the plan records it and ends."""
        self.resume(True)

    def rejected(self, exc: Exception) -> bool:
        """The try failed with ``exc``; True: no rejection, re-raise it now (scrubbed)."""
        if not is_auth_failure(exc):
            self.step = None
            scrubbed(exc, self._tried, self._plan)
            return True
        self._first = self._first or exc
        self.resume(False)
        return False

    def resume(self, value: Any) -> None:
        """Send the plan the outcome of its step (None after a sleep); take the next step."""
        try:
            self.step = self._plan.send(value)
        except StopIteration:
            self.step = None

    def give_up(self) -> BaseException:
        """The plan ended without an accepted try: the first rejection, scrubbed, to raise."""
        assert self._first is not None
        return scrubbed(self._first, self._tried, self._plan)


def _secret_ref(secret: str | SecretRef) -> SecretRef:
    if isinstance(secret, SecretRef):
        ref = secret
    else:
        parsed = parse(secret)
        if parsed is None:
            ref = SecretRef(secret)  # a bare name or ARN
        elif isinstance(parsed, SecretRef):
            ref = parsed
        else:
            raise ValueError(f"{secret!r} is not a Secrets Manager secret")
    if ref.key is not None or not ref.is_current or ref.optional:
        raise ValueError(
            f"{str(ref)!r}: rotating credentials need the whole secret at AWSCURRENT "
            f"(like 'secretsmanager:{ref.secret_id}'), without a key, stage, version or optional:"
        )
    return ref
