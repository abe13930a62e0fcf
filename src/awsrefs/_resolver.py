"""The Resolver: walk, parse, fetch through the cache, substitute, rebuild; and its store.

The parts live next door (see docs/architecture.md): :mod:`awsrefs._references` walks and
parses, :mod:`awsrefs._fetch` makes the fewest parallel calls through its cache, and
:mod:`awsrefs._outcome` reads a value out of an item and gathers a pass's outcome. This module
ties them together behind the public methods, keeps the cached ``get`` path short, and chooses
the store a resolver reads from (:func:`choose_backend`).

``Resolver(backend=...)`` is the one way to choose a store. The AWS client options of
:class:`Resolver` (:data:`AWS_OPTIONS`, the one list of them) are a shorthand that builds an
:class:`~awsrefs.backends.aws.AwsBackend`; with ``backend=`` they would be ignored, so they
are an error there, as are the options the agent cannot use under ``AWSREFS_BACKEND=agent``.

Process-wide state lives here too: the default resolver, the testing override, and what a
forked child resets. The override of ``awsrefs.testing`` is one object, swapped whole. Every
resolver remembers the :data:`active` object it last saw and compares it with the current one
(``is``) before it reads its cache or fetches, so after a swap it drops what it cached from
the store before. The cached ``get`` path does not look: a swap clears each resolver's memo of
recent ``get`` answers (registered with :func:`clear_on_swap`), which sends the next ``get``
through that comparison. Every resolver is registered (held weakly) so that a forked child
drops its threads, locks and connections.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from awsrefs._fetch import Cache, Entry, Fetcher, ItemKey, Stats, item_key
from awsrefs._grammar import Ref, SecretRef, SSMRef, Template
from awsrefs._outcome import (
    NO_VALUE,
    Checked,
    Resolved,
    Settled,
    extract,
    extractor,
    missed,
    settle,
    settle_one,
)
from awsrefs._references import DROP, ParseMemo, SizedMemo, scan, validate_arguments
from awsrefs.backends import Backend, Fetched, Miss
from awsrefs.errors import Failure, ResolutionError

__all__ = [
    "AWS_OPTIONS",
    "Override",
    "Resolver",
    "active",
    "after_fork",
    "choose_backend",
    "clear_on_swap",
    "default_resolver",
    "register",
    "set_default_resolver",
    "swap",
]


T = TypeVar("T")
FastEntry = tuple[ItemKey, Callable[[Fetched], Any], Entry | None, Any]
_MISSING: Any = object()


class Resolver:
    """Finds references in settings and replaces them with values, batched and cached.

    Choose the store with ``backend=`` (see :mod:`awsrefs.backends`); without it, the
    resolver calls AWS through an :class:`~awsrefs.backends.aws.AwsBackend` built from the
    AWS client options below, a shorthand for ``backend=AwsBackend(...)``. They cannot be
    combined with ``backend=`` (a ``TypeError``: they would be ignored).

    Args:
        session: AWS client option: a ``boto3.Session`` or ``botocore.session.Session``
            (default: a new one).
        region_name: AWS client option: region for references that do not name one in an
            ARN (default: the session's).
        endpoint_url: AWS client option: send every AWS call here (an emulator, a proxy).
        ttl: Seconds a fetched value is served from the cache before it is fetched again.
        max_workers: Calls made in parallel during one resolution.
        connect_timeout: AWS client option: seconds to wait for a connection (default 2).
        read_timeout: AWS client option: seconds to wait for a response (default 5).
        max_attempts: AWS client option: attempts per AWS call, retries with jittered
            backoff included (default 4).
        retry_mode: AWS client option: botocore's retry mode, ``"adaptive"`` (the default:
            once throttled, a client also slows its own sending, which halves wasted calls
            in a fleet) or ``"standard"``.
        retry_budget: Seconds during which a call that was throttled or failed in transit
            (after its ``max_attempts``) is made again, with full-jitter backoff, when
            nothing is cached to fall back on. With AWS down a resolution fails after at
            most ``retry_budget`` plus one call's worst case, ``max_attempts`` times
            (``connect_timeout`` + ``read_timeout``) plus about 7 s of backoff. One budget
            per process: for 60 s after calls to an endpoint failed in transit through a
            whole budget, every resolver calls there once with one attempt, until it answers.
        backend: The store to read from: an :class:`~awsrefs.backends.aws.AwsBackend`,
            :class:`~awsrefs.backends.agent.AgentBackend` or
            :class:`~awsrefs.backends.static.StaticBackend`. Its calls are counted in
            :attr:`stats` too. Without one, the environment variable
            ``AWSREFS_BACKEND=agent`` selects the local caching agent (which takes only
            ``region_name`` and ``read_timeout`` of the AWS client options).

    Raises:
        TypeError: ``backend=`` together with an AWS client option.
        ValueError: A negative or NaN ``ttl``, a ``retry_budget`` that is negative, NaN or
            infinite, ``max_workers`` below 1, an ``endpoint_url`` that is not an http(s)
            URL, or an ``AWSREFS_BACKEND`` that cannot serve the options given.
    """

    def __init__(
        self,
        *,
        session: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        ttl: float = 300.0,
        max_workers: int = 16,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
        retry_mode: Literal["adaptive", "standard"] | None = None,
        retry_budget: float = 30.0,
        backend: Backend | None = None,
    ) -> None:
        self._stats = Stats()
        self._cache: Cache[ItemKey] = Cache(ttl)  # each part checks its own arguments
        self._fetcher = Fetcher(self._cache, self._stats, retry_budget, max_workers)
        arguments = locals()
        options = {name: arguments[name] for name in AWS_OPTIONS}  # the one list of them
        backend = choose_backend(backend, options, max_workers=max_workers, stats=self._stats)
        self._backend = backend
        self._region_name = region_name
        self._parse = ParseMemo()
        # reference -> (item key, value extractor, last entry seen, its extracted value)
        self._fast: SizedMemo[Any, FastEntry] = SizedMemo()
        clear_on_swap(self._fast)  # so get() need not check the override itself
        self._seen = active  # the testing override this resolver's cache is for
        self._default_region: str | object | None = _MISSING
        register(self)

    # -- public API ----------------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """AWS calls by operation and cache hits and misses."""
        return self._stats

    @property
    def ttl(self) -> float:
        """Seconds a fetched value is served from the cache."""
        return self._cache.ttl

    def resolve(self, obj: T, *, path: str = "") -> T:
        """Return ``obj`` with every reference replaced by its value.

        Walks nested mappings, sequences and sets (any depth; see :func:`find_references`);
        fetches every reference found in one batched pass; returns the same shape. Parts
        without references are the same objects; a part reached along two paths is copied
        once and stays shared. Values that are neither text nor containers are left alone.

        Args:
            obj: A string or a nested structure of mappings, sequences and sets.
            path: Name of ``obj`` used as the prefix of setting paths in errors.

        Returns:
            The resolved copy, each container of its own type. A missing ``optional:``
            reference removes its mapping key or list item, becomes None in a tuple (and as
            a bare string); in a template it is empty text. JSON objects and arrays from
            secrets are copies, not the cache's own.

        Raises:
            ResolutionError: Listing every reference that failed, and every place where a
                container holding a reference is cyclic or of a type that cannot be rebuilt
                with new items (it cannot be copied faithfully); nothing is applied.
            TypeError: ``obj`` is bytes, or ``path`` is not text.
        """
        validate_arguments(obj, path, "resolve")
        self._store()
        # The values live only in _resolve's frame, which has returned before this raises:
        # a traceback of the error (Sentry, logging with locals) holds none of them.
        failures, result = self._resolve(obj, path)
        if failures:
            raise ResolutionError(failures)
        return result  # type: ignore[no-any-return]

    async def aresolve(self, obj: T, *, path: str = "") -> T:
        """Like :meth:`resolve`, run in a worker thread so the event loop is never blocked."""
        import asyncio  # not at import time: ``import awsrefs`` stays light

        return await asyncio.to_thread(self.resolve, obj, path=path)

    def check(self, obj: Any, *, path: str = "") -> list[Checked]:
        """Report the status of every reference in ``obj`` without raising or revealing values.

        Args:
            obj: A string or a nested structure, as for :meth:`resolve`.
            path: Prefix of setting paths.

        Returns:
            One entry per reference (a template gives one per distinct reference in it), in
            order found, a reference in a shared part once; then one per cyclic container,
            or container that cannot be rebuilt, that holds a reference.

        Raises:
            TypeError: ``obj`` is bytes, or ``path`` is not text.
        """
        validate_arguments(obj, path, "check")
        self._store()
        return self._settle(obj, path, report=True).checked

    def get(self, reference: str | Ref | Template, default: Any = _MISSING) -> Any:
        """Return the value of one reference, from the cache when fresh.

        A JSON object or array (a secret's key holding one) is a new copy on every call:
        changing it changes nothing cached.

        Args:
            reference: Reference text (``"ssm:/a/b"``), a template, or a parsed reference.
                Plain text that is not a reference is returned unchanged.
            default: Returned when the parameter, secret or key does not exist; without it
                a missing target raises (an ``optional:`` one gives None).

        Raises:
            ResolutionError: The reference could not be resolved.
            RefSyntaxError: The text is a malformed reference.
            TypeError: ``reference`` is not text, a parsed reference or a template.
        """
        try:
            fast = self._fast.get(reference)
        except TypeError:  # unhashable: not a reference, the slow path says so
            fast = None
        if fast is not None:
            entry = self._cache.entries.get(fast[0])
            if entry is not None and entry.expires_at > time.monotonic():
                if entry is fast[2]:  # same fetch as last time: value already extracted
                    self._stats.fast_hit()
                    return fast[3]
                value = fast[1](entry.fetched)
                if value is not NO_VALUE:
                    if type(value) is not dict and type(value) is not list:
                        # Kept for the next read; a JSON object or array is copied per read.
                        self._fast.data[reference] = (fast[0], fast[1], entry, value)
                    self._stats.fast_hit()
                    return value
            fast = entry = value = None  # no value stays in this frame if _get fails
        value, failures = self._get(reference, default, refresh=False)
        if failures:
            raise ResolutionError(failures)
        return value

    def refresh(self, reference: str | Ref | Template) -> Any:
        """Fetch ``reference`` again now, bypassing the cache; returns the new value.

        Single-flight: threads refreshing the same item at once cause one AWS call. A
        failed refresh of an item already cached keeps its last good value (and logs a
        warning without it).

        Raises:
            ResolutionError: The reference could not be resolved.
            RefSyntaxError: The text is a malformed reference.
            TypeError: ``reference`` is not text, a parsed reference or a template.
        """
        value, failures = self._get(reference, _MISSING, refresh=True)
        if failures:
            raise ResolutionError(failures)
        return value

    def lookup(
        self, reference: str | Ref, *, refresh: bool = False, newer_than: float | None = None
    ) -> Resolved:
        """Return one reference's value with its version and fetch time.

        Args:
            reference: A parameter or secret reference (not a template).
            refresh: Fetch again even if the cached value is fresh.
            newer_than: With ``refresh``, a cached value fetched after this
                ``time.monotonic()`` instant is returned without a call. Callers that
                found the same value stale together thus cause a single refresh.

        Raises:
            ResolutionError: It could not be resolved.
            TypeError: ``reference`` is not a parameter or secret reference.
        """
        self._store()
        ref = self._parse.item(reference, "lookup")
        if not isinstance(ref, (SSMRef, SecretRef)):
            what = "plain text" if ref is None else "a template"
            raise TypeError(f"lookup() takes a parameter or secret reference, not {what}")
        resolved, failures = self._lookup(ref, refresh, newer_than)
        if failures:
            raise ResolutionError(failures)
        assert resolved is not None
        return resolved

    def _lookup(
        self, ref: Ref, refresh: bool, newer_than: float | None
    ) -> tuple[Resolved | None, list[Failure]]:
        key = self._key(ref)
        result = self._fetch([key], force=refresh, newer_than=newer_than)[key]
        value = extract(ref, result)
        if isinstance(value, Miss):
            return None, [missed("", ref, value)]
        assert isinstance(result, Entry)
        return Resolved(value, result.fetched.version, result.fetched_at), []

    def parameters_by_path(
        self, path: str, *, recursive: bool = True, region: str | None = None
    ) -> dict[str, str]:
        """Every SSM parameter under ``path``, SecureStrings decrypted (GetParametersByPath).

        Not cached: each call lists the path again, one AWS call per page of 10.

        Args:
            path: A hierarchy such as ``/myapp/prod`` (with or without the trailing ``/``).
            recursive: Include parameters in sub-paths (``/myapp/prod/db/host``).
            region: The region to list in (default: the resolver's).

        Returns:
            Full parameter name to value.

        Raises:
            ResolutionError: The listing failed (access denied, throttled, network...).
            ValueError: ``path`` does not start with ``/``.
        """
        if not path.startswith("/"):
            raise ValueError(f"an SSM path starts with '/', got {path!r}")
        backend = self._store()
        region = region or self._region_name
        return self._fetcher.list_path(backend, region, path, recursive, backend is self._backend)

    def clear_cache(self) -> None:
        """Forget every cached value."""
        self._cache.clear()

    def close(self) -> None:
        """Stop the worker threads (the resolver stays usable and restarts them on demand)."""
        self._fetcher.close()

    def __repr__(self) -> str:
        return (
            f"Resolver(region_name={self._region_name!r}, ttl={self.ttl!r}, "
            f"cached={len(self._cache.entries)})"
        )

    # -- resolution ----------------------------------------------------------------------

    def _resolve(self, obj: Any, prefix: str) -> tuple[list[Failure], Any]:
        settled = self._settle(obj, prefix, report=False)
        if settled.failures:
            return settled.failures, None
        return [], None if settled.result is DROP else settled.result

    def _settle(self, obj: Any, prefix: str, *, report: bool) -> Settled:
        """One pass: walk, fetch every reference at once, substitute each setting."""
        found = scan(obj, self._parse)
        keys = {ref: self._key(ref) for ref in found.refs()}
        results = self._fetch(list(dict.fromkeys(keys.values()))) if keys else {}
        values = {ref: extract(ref, results[key]) for ref, key in keys.items()}

        return settle(found, values, prefix, report=report)

    def _get(
        self, reference: str | Ref | Template, default: Any, *, refresh: bool
    ) -> tuple[Any, list[Failure]]:
        """The value of one reference, or why not.

        Failures are returned, not raised, so the frame that raises them holds no value.
        """
        self._store()
        item = self._parse.item(reference, "refresh" if refresh else "get")
        if item is None:
            return reference, []
        refs = dict.fromkeys(item.refs) if isinstance(item, Template) else (item,)
        keys = {ref: self._key(ref) for ref in refs}
        results = self._fetch(list(dict.fromkeys(keys.values())), force=refresh)
        values = {ref: extract(ref, results[key]) for ref, key in keys.items()}
        value, failures = settle_one(item, values, default, _MISSING)
        if isinstance(item, Template) or isinstance(values[item], Miss) or value is None:
            return value, failures
        # Fetched: later gets of this text take the short path in get().
        size = len(reference) if isinstance(reference, str) else len(str(item))
        self._fast.remember(reference, (keys[item], extractor(item), None, None), size)
        return value, failures

    def _fetch(
        self, keys: list[ItemKey], *, force: bool = False, newer_than: float | None = None
    ) -> dict[ItemKey, Entry | Miss]:
        backend = self._store()
        return self._fetcher.fetch(
            keys,
            backend,
            count_here=backend is self._backend,  # a backend passed in counts here too
            force=force,
            newer_than=newer_than,
        )

    # -- helpers -------------------------------------------------------------------------

    def _region(self, ref: Ref) -> str | None:
        if ref.region:
            return ref.region
        if self._default_region is _MISSING:
            self._default_region = self._store().default_region()
        return self._default_region  # type: ignore[return-value]

    def _key(self, ref: Ref) -> ItemKey:
        return item_key(ref, self._region(ref))

    def _store(self) -> Backend:
        """The backend to read from now: the testing override's, else this resolver's own.

        When the override changed since the last look, what was cached is dropped first.
        """
        seen = active
        if seen is not self._seen:
            self._seen = seen
            self._cache.clear()
            self._fast.clear()
            self._default_region = _MISSING
        return seen.backend or self._backend

    def _after_fork(self) -> None:
        self._fetcher.after_fork()
        self._parse.memo.after_fork()
        self._fast.after_fork()
        self._stats.after_fork()
        self._backend.after_fork()


# The Resolver keyword arguments that only describe an AWS client, in signature order.
AWS_OPTIONS = (
    "session",
    "region_name",
    "endpoint_url",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
    "retry_mode",
)
# Those the agent backend uses too (its region and its one timeout).
_AGENT_OPTIONS = {"region_name": "region_name", "read_timeout": "timeout"}
_ENV = "AWSREFS_BACKEND"


def choose_backend(
    backend: Backend | None, options: Mapping[str, Any], *, max_workers: int, stats: Stats
) -> Backend:
    """The backend for a resolver; one it builds counts its calls in ``stats``.

    Args:
        backend: The store passed as ``backend=``, or None.
        options: The AWS client options by name; None means not given.
        max_workers: The resolver's parallel calls (the AWS client's connection pool).
        stats: The resolver's counters.

    Raises:
        TypeError: ``backend=`` was given together with AWS client options.
        ValueError: ``AWSREFS_BACKEND`` is unknown, or is ``agent`` with options the agent
            cannot use.
    """
    given = {name: options[name] for name in AWS_OPTIONS if options.get(name) is not None}
    if backend is not None:
        if given:
            raise TypeError(
                f"Resolver(backend=...) was also given {_listed(given)}, which it would "
                "ignore: they describe an AWS client, so pass them to "
                "awsrefs.backends.AwsBackend(...) instead, or leave backend= out"
            )
        return backend
    choice = os.environ.get(_ENV, "").strip().lower()
    if choice == "agent":
        unused = {name: value for name, value in given.items() if name not in _AGENT_OPTIONS}
        if unused:
            raise ValueError(
                f"{_ENV}=agent reads through the local agent, which cannot use "
                f"{_listed(unused)}; leave them out, or unset {_ENV} to call AWS"
            )
        from awsrefs.backends.agent import AgentBackend

        agent = {_AGENT_OPTIONS[name]: value for name, value in given.items()}
        return AgentBackend(**agent, stats=stats)
    if choice not in ("", "aws"):
        raise ValueError(f"{_ENV} must be 'aws' or 'agent' (or unset), not {choice!r}")
    from awsrefs.backends.aws import AwsBackend

    return AwsBackend(**given, max_pool_connections=max_workers, stats=stats)


def _listed(given: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}=" for name in given)


@dataclass(frozen=True)
class Override:
    """The store every resolver reads from instead of its own.

    Attributes:
        backend: The store, or None: each resolver reads from its own.
    """

    backend: Backend | None = None


active = Override()
_lock = threading.Lock()
_cleared_on_swap: weakref.WeakSet[Any] = weakref.WeakSet()


def clear_on_swap(memo: Any) -> None:
    """Have ``memo.clear()`` called on every swap (the memo is held weakly)."""
    _cleared_on_swap.add(memo)


def swap(backend: Backend | None) -> Backend | None:
    """Make every resolver read from ``backend`` (None: from its own); return the one before."""
    global active
    with _lock:
        previous = active.backend
        active = Override(backend)
        memos = list(_cleared_on_swap)
    for memo in memos:
        memo.clear()
    return previous


def after_fork() -> None:
    """A child process gets a lock of its own."""
    global _lock
    _lock = threading.Lock()


_resolvers: weakref.WeakSet[Resolver] = weakref.WeakSet()


def register(resolver: Resolver) -> None:
    """Have ``resolver`` drop its threads, locks and connections in a forked child."""
    _resolvers.add(resolver)


_default: Resolver | None = None
_default_lock = threading.Lock()


def default_resolver() -> Resolver:
    """The process-wide resolver used by ``awsrefs.resolve`` and the integrations.

    Made on first use with the environment's AWS configuration (``AWS_REGION``,
    ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``...).
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Resolver()
    return _default


def set_default_resolver(resolver: Resolver | None) -> None:
    """Replace the process-wide resolver (None: make a new one on next use)."""
    global _default
    with _default_lock:
        _default = resolver


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    after_fork()
    for resolver in list(_resolvers):
        resolver._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
