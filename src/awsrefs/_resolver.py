from __future__ import annotations

import os
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from awsrefs import _override
from awsrefs._backend_choice import choose_backend
from awsrefs._cache import Cache, Entry
from awsrefs._grammar import Ref, SecretRef, SSMRef, Template, split_selector
from awsrefs._memo import SizedMemo
from awsrefs._references import Parsed, Scan, parse_or_error, scan, validate_arguments
from awsrefs._retry import retry_transient
from awsrefs._stats import Stats, counting_into
from awsrefs._substitute import FAILED, MISSING_KINDS, Status, substitute
from awsrefs._walk import (
    DROP,
    BackEdge,
    containers_leading_to,
    cycles_through,
    format_path,
    rebuild,
)
from awsrefs.backends._base import _NOT_JSON, Backend, Fetched, Miss, Outcome
from awsrefs.errors import Failure, FailureKind, RefSyntaxError, ResolutionError

if TYPE_CHECKING:  # concurrent.futures loads on the first parallel fetch
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = [
    "Checked",
    "Resolved",
    "Resolver",
    "default_resolver",
    "format_path",
    "set_default_resolver",
]

T = TypeVar("T")
ItemKey = tuple[Any, ...]  # (service, region, name...) of one fetched item
FastEntry = tuple[ItemKey, Callable[[Fetched], Any], Entry | None, Any]
_MISSING: Any = object()
# The parse and get() memos keep at most this many characters of setting text each, and
# nothing longer than _MEMO_ITEM_CHARS (a reference is at most about 2,100 characters).
_MEMO_CHARS = 1 << 20
_MEMO_ITEM_CHARS = 4096
_WAIT_SECONDS = 300.0  # upper bound on waiting for another thread's fetch (botocore is bounded)


@dataclass(frozen=True)
class Resolved:
    """One resolved reference with where its value came from.

    Attributes:
        value: The value (text, bytes, or a JSON value for a JSON key).
        version: SSM parameter version or Secrets Manager version id.
        fetched_at: ``time.monotonic()`` when it was fetched from the store.
    """

    value: Any
    version: str | None
    fetched_at: float

    def __repr__(self) -> str:  # never show the value
        return (
            f"Resolved(version={self.version!r}, fetched_at={self.fetched_at:.3f}, value=<hidden>)"
        )


@dataclass(frozen=True)
class Checked:
    """The status of one reference, as ``check`` reports it (never its value).

    Attributes:
        path: Setting path.
        reference: Reference text.
        failure: Why it failed, or None when it resolved (or is optional and missing).
        optional_missing: An ``optional:`` reference whose target does not exist.
    """

    path: str
    reference: str
    failure: Failure | None = None
    optional_missing: bool = False

    @property
    def ok(self) -> bool:
        """True when the reference resolves (or is optional and missing)."""
        return self.failure is None

    @property
    def status(self) -> str:
        """``OK``, ``OK (optional, missing)``, or the failure kind such as ``not found``."""
        if self.failure is not None:
            return self.failure.kind.value
        return "OK (optional, missing)" if self.optional_missing else "OK"


_resolvers: weakref.WeakSet[Resolver] = weakref.WeakSet()


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
            (``connect_timeout`` + ``read_timeout``) plus about 7 s of backoff.
        backend: The store to read from: an :class:`~awsrefs.backends.aws.AwsBackend`,
            :class:`~awsrefs.backends.agent.AgentBackend` or
            :class:`~awsrefs.backends.static.StaticBackend`. Its calls are counted in
            :attr:`stats` too. Without one, the environment variable
            ``AWSREFS_BACKEND=agent`` selects the local caching agent (which takes only
            ``region_name`` and ``read_timeout`` of the AWS client options).

    Raises:
        TypeError: ``backend=`` together with an AWS client option.
        ValueError: A negative ``ttl`` or ``retry_budget``, ``max_workers`` below 1, or an
            ``AWSREFS_BACKEND`` that cannot serve the options given.
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
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds, got {ttl!r}")
        if retry_budget < 0:
            raise ValueError(f"retry_budget must be >= 0 seconds, got {retry_budget!r}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
        self._stats = Stats()
        options = {
            "session": session,
            "region_name": region_name,
            "endpoint_url": endpoint_url,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_attempts": max_attempts,
            "retry_mode": retry_mode,
        }
        backend = choose_backend(backend, options, max_workers=max_workers, stats=self._stats)
        self._backend = backend
        self._retry_budget = retry_budget
        self._region_name = region_name
        self._max_workers = max_workers
        self._cache = Cache(ttl)
        self._parsed: SizedMemo[str, Ref | Template | None] = SizedMemo(
            _MEMO_CHARS, _MEMO_ITEM_CHARS
        )
        # reference -> (item key, value extractor, last entry seen, its extracted value)
        self._fast: SizedMemo[Any, FastEntry] = SizedMemo(_MEMO_CHARS, _MEMO_ITEM_CHARS)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._seen = _override.active  # the testing override this resolver's cache is for
        self._default_region: str | object | None = _MISSING
        _resolvers.add(self)

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
            The resolved copy. A missing ``optional:`` reference removes its mapping key or
            list item (a bare optional string becomes None); in a template it is empty text.

        Raises:
            ResolutionError: Listing every reference that failed, and every place where a
                container holding a reference is cyclic (it cannot be copied faithfully);
                nothing is applied.
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
            order found, then one per cyclic container that holds a reference.

        Raises:
            TypeError: ``obj`` is bytes, or ``path`` is not text.
        """
        validate_arguments(obj, path, "check")
        self._store()
        return self._settle(obj, path, report=True).checked

    def get(self, reference: str | Ref | Template, default: Any = _MISSING) -> Any:
        """Return the value of one reference, from the cache when fresh.

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
        if self._seen is _override.active:
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
                    if value is not _MISSING:
                        self._fast[reference] = (fast[0], fast[1], entry, value)
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
        ref = self._as_ref(reference, "lookup")
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
        result = self._fetch_keys([key], force=refresh, newer_than=newer_than)[key]
        value = _extract(ref, result)
        if isinstance(value, Miss):
            return None, [_failure("", ref, value)]
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
        by_path = getattr(backend, "get_parameters_by_path", None)
        reference = f"ssm:{path}"
        if by_path is None:
            reason = f"{type(backend).__name__} cannot list parameters by path"
            raise ResolutionError([Failure("", reference, FailureKind.CONFIGURATION, reason)])

        def list_path() -> Any:
            return by_path(region or self._region_name, path, recursive=recursive)

        got = counting_into(self._stats, list_path) if backend is self._backend else list_path()
        if isinstance(got, Miss):
            raise ResolutionError([Failure("", reference, got.kind, got.reason)])
        return {name: str(fetched.value) for name, fetched in got.items()}

    def clear_cache(self) -> None:
        """Forget every cached value."""
        self._cache.clear()

    def close(self) -> None:
        """Stop the worker threads (the resolver stays usable and restarts them on demand)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

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
        replacements = settled.replacements
        tree = settled.found.tree
        result = rebuild(obj, tree, settled.changed, lambda text: replacements.get(text, text))
        return [], None if result is DROP else result

    def _settle(self, obj: Any, prefix: str, *, report: bool) -> _Settled:
        """One pass: walk, fetch every reference at once, substitute each setting."""
        found = scan(obj, self._parse)
        refs: dict[Ref, None] = {}
        for _, item in found.found:
            if isinstance(item, Template):
                refs.update(dict.fromkeys(item.refs))
            elif not isinstance(item, RefSyntaxError):
                refs[item] = None
        keys = {ref: self._key(ref) for ref in refs}
        results = self._fetch_keys(list(dict.fromkeys(keys.values()))) if keys else {}
        values = {ref: _extract(ref, results[key]) for ref, key in keys.items()}

        settled = _Settled(found)
        by_text: dict[str, tuple[tuple[Status, ...], Any]] = {}
        for index, item in found.found:
            path, text = found.tree.strings[index]
            outcome = by_text.get(text)  # the same text anywhere settles the same way
            if outcome is None:
                outcome = by_text[text] = substitute(item, values)
            statuses, value = outcome
            if value is not FAILED:
                settled.replacements[text] = value
            if report or value is FAILED:
                where = format_path(path, prefix)
                for status in statuses:
                    checked = _checked(where, status)
                    if report:
                        settled.checked.append(checked)
                    if checked.failure is not None:
                        settled.failures.append(checked.failure)
        settled.changed = containers_leading_to(found.tree, (i for i, _ in found.found))
        for edge in cycles_through(found.tree, settled.changed):
            failure = _cycle_failure(edge, prefix, found)
            settled.failures.append(failure)
            if report:
                settled.checked.append(Checked(failure.path, failure.reference, failure))
        return settled

    def _get(
        self, reference: str | Ref | Template, default: Any, *, refresh: bool
    ) -> tuple[Any, list[Failure]]:
        """The value of one reference, or why not.

        Failures are returned, not raised, so the frame that raises them holds no value.
        """
        self._store()
        item = self._as_ref(reference, "refresh" if refresh else "get")
        if item is None:
            return reference, []
        refs = dict.fromkeys(item.refs) if isinstance(item, Template) else (item,)
        keys = {ref: self._key(ref) for ref in refs}
        results = self._fetch_keys(list(dict.fromkeys(keys.values())), force=refresh)
        statuses, value = substitute(
            item, {ref: _extract(ref, results[key]) for ref, key in keys.items()}
        )
        if value is FAILED:
            miss = statuses[0].miss
            missing = miss is not None and miss.kind in MISSING_KINDS
            if missing and default is not _MISSING and isinstance(item, (SSMRef, SecretRef)):
                return default, []
            failures = [_failure_of("", s) for s in statuses if s.miss is not None]
            return None, failures
        if value is DROP:
            return (None if default is _MISSING else default), []
        if isinstance(item, (SSMRef, SecretRef)) and value is not None:
            self._remember_fast(reference, item, keys[item])
        return value, []

    def _remember_fast(self, reference: str | Ref | Template, ref: Ref, key: ItemKey) -> None:
        extract: Callable[[Fetched], Any] = _whole_value
        if isinstance(ref, SecretRef) and ref.key is not None:
            wanted = ref.key

            def extract(fetched: Fetched) -> Any:
                data = fetched.json()
                return data.get(wanted, _MISSING) if isinstance(data, dict) else _MISSING

        size = len(reference) if isinstance(reference, str) else len(str(ref))
        self._fast.remember(reference, (key, extract, None, None), size)

    def _fetch_keys(
        self, keys: list[ItemKey], *, force: bool = False, newer_than: float | None = None
    ) -> dict[ItemKey, Entry | Miss]:
        results, mine, waiting = self._cache.claim(keys, force=force, newer_than=newer_than)
        self._stats.add_cache(hits=len(results), misses=len(mine) + len(waiting))
        try:
            if mine:
                results.update(self._fetch_claimed(mine))
            for key, future in waiting.items():
                results[key] = future.result(timeout=_WAIT_SECONDS)
        except BaseException:
            del results  # values already at hand must not ride up the traceback
            raise
        return results

    def _fetch_claimed(self, mine: list[ItemKey]) -> dict[ItemKey, Entry | Miss]:
        """Fetch the keys this caller claimed and put the outcomes in the cache."""
        # Retrying only pays when there is nothing to serve meanwhile: with every value
        # cached, a failed refresh serves the old value at once (stale-if-error).
        every_one_cached = all(k in self._cache.entries for k in mine)
        try:
            outcomes = self._fetch(mine, 0.0 if every_one_cached else self._retry_budget)
        except BaseException as error:
            self._cache.abandon(mine, error)
            raise
        results: dict[ItemKey, Entry | Miss] = {}
        for key in mine:
            outcome = outcomes[key]
            result = self._cache.complete(key, outcome, _label(key))
            if isinstance(outcome, Miss) and isinstance(result, Entry):
                self._stats.add_cache(stale=1)
            results[key] = result
        return results

    def _fetch(self, keys: list[ItemKey], retry_budget: float = 0.0) -> dict[ItemKey, Outcome]:
        """Plan the fewest calls for ``keys`` and run them, in parallel when there are several.

        Each call is retried within ``retry_budget`` seconds while it is throttled or fails
        in transit (see ``awsrefs._retry``).
        """
        backend = self._store()
        parameters: dict[str | None, list[str]] = defaultdict(list)
        current: dict[str | None, list[str]] = defaultdict(list)
        tasks: list[Callable[[], dict[ItemKey, Outcome]]] = []
        for key in keys:
            if key[0] == "ssm":
                parameters[key[1]].append(key[2])
            elif key[3] is None and key[4] is None:
                current[key[1]].append(key[2])
            else:
                tasks.append(_pinned_task(backend, key))
        for region, names in parameters.items():
            for chunk in _parameter_chunks(names, backend.parameter_batch_size):
                tasks.append(_parameters_task(backend, region, chunk))
        for region, ids in current.items():
            size = backend.secret_batch_size if backend.can_batch_secrets(region) else 1
            for ids_chunk in _chunks(ids, size):
                tasks.append(_secrets_task(backend, region, ids_chunk))
        if retry_budget > 0:
            tasks = [_retrying(task, retry_budget) for task in tasks]
        if backend is self._backend:  # a backend passed in counts its calls here too
            tasks = [_counted(task, self._stats) for task in tasks]
        if len(tasks) == 1:
            return tasks[0]()
        out: dict[ItemKey, Outcome] = {}
        for part in self._run_parallel(tasks):
            out.update(part)
        return out

    def _run_parallel(self, tasks: list[Callable[[], T]]) -> list[T]:
        with self._lock:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(self._max_workers, "awsrefs")
            executor = self._executor
        futures: list[Future[T]] = [executor.submit(task) for task in tasks]
        return [f.result() for f in futures]

    # -- helpers -------------------------------------------------------------------------

    def _parse(self, text: str) -> Parsed | None:
        try:
            return self._parsed[text]
        except KeyError:
            pass
        result = parse_or_error(text)
        if not isinstance(result, RefSyntaxError):  # errors are rare; each raise gets its own
            self._parsed.remember(text, result, len(text))
        return result

    def _as_ref(self, reference: object, caller: str) -> Ref | Template | None:
        if isinstance(reference, str):
            item = self._parse(reference)
            if isinstance(item, RefSyntaxError):
                raise item
            return item
        if isinstance(reference, (SSMRef, SecretRef, Template)):
            return reference
        hint = "; decode bytes to text first" if isinstance(reference, (bytes, bytearray)) else ""
        raise TypeError(
            f"{caller}() takes reference text (str), an SSMRef, a SecretRef or a Template, "
            f"not {type(reference).__name__}{hint}"
        )

    def _region(self, ref: Ref) -> str | None:
        if ref.region:
            return ref.region
        if self._default_region is _MISSING:
            self._default_region = self._store().default_region()
        return self._default_region  # type: ignore[return-value]

    def _key(self, ref: Ref) -> ItemKey:
        region = self._region(ref)
        if isinstance(ref, SSMRef):
            return ("ssm", region, ref.api_name)
        stage = None if ref.stage == "AWSCURRENT" else ref.stage
        return ("secretsmanager", region, ref.secret_id, stage, ref.version_id)

    def _store(self) -> Backend:
        """The backend to read from now: the testing override's, else this resolver's own.

        When the override changed since the last look, what was cached is dropped first.
        """
        seen = _override.active
        if seen is not self._seen:
            self._seen = seen
            self._cache.clear()
            self._fast.clear()
            self._default_region = _MISSING
        return seen.backend or self._backend

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._executor = None
        self._parsed.after_fork()
        self._fast.after_fork()
        self._cache.after_fork()
        self._stats.after_fork()
        self._backend.after_fork()


def _whole_value(fetched: Fetched) -> Any:
    return fetched.value


def _label(key: ItemKey) -> str:
    assert isinstance(key, tuple)
    if key[0] == "ssm":
        return f"ssm:{key[2]}"
    stage = f" ({key[3] or key[4]})" if key[3] or key[4] else ""
    return f"secretsmanager:{key[2]}{stage}"


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parameter_chunks(names: list[str], size: int) -> Iterator[list[str]]:
    """Chunks of at most ``size`` names, each naming a parameter at most once.

    ``/a:1`` and ``/a:prod`` go to different calls so answers match requests without
    relying on the response's ``Selector``; distinct names pack as tightly as ``_chunks``.
    """
    by_base: dict[str, list[str]] = defaultdict(list)
    for name in names:
        by_base[split_selector(name)[0]].append(name)
    # Most-repeated names first, so first-fit reaches max(ceil(n / size), repeats) calls.
    ordered = sorted(by_base.items(), key=lambda item: -len(item[1]))
    chunks: list[tuple[list[str], set[str]]] = []
    for base, group in ordered:
        for name in group:
            _place(chunks, name, base, size)
    for chunk, _ in chunks:
        yield chunk


def _place(chunks: list[tuple[list[str], set[str]]], name: str, base: str, size: int) -> None:
    for chunk, bases in chunks:
        if len(chunk) < size and base not in bases:
            chunk.append(name)
            bases.add(base)
            return
    chunks.append(([name], {base}))


def _parameters_task(
    backend: Backend, region: str | None, names: Sequence[str]
) -> Callable[[], dict[ItemKey, Outcome]]:
    def run() -> dict[ItemKey, Outcome]:
        got = backend.get_parameters(region, names)
        return {("ssm", region, name): got[name] for name in names}

    return run


def _secrets_task(
    backend: Backend, region: str | None, ids: Sequence[str]
) -> Callable[[], dict[ItemKey, Outcome]]:
    def run() -> dict[ItemKey, Outcome]:
        got = backend.get_current_secrets(region, ids)
        return {("secretsmanager", region, sid, None, None): got[sid] for sid in ids}

    return run


def _retrying(
    task: Callable[[], dict[ItemKey, Outcome]], budget: float
) -> Callable[[], dict[ItemKey, Outcome]]:
    return lambda: retry_transient(task, budget)


def _counted(
    task: Callable[[], dict[ItemKey, Outcome]], stats: Stats
) -> Callable[[], dict[ItemKey, Outcome]]:
    return lambda: counting_into(stats, task)


def _pinned_task(backend: Backend, key: ItemKey) -> Callable[[], dict[ItemKey, Outcome]]:
    assert isinstance(key, tuple)

    def run() -> dict[ItemKey, Outcome]:
        return {key: backend.get_secret(key[1], key[2], key[3], key[4])}

    return run


def _extract(ref: Ref, result: Entry | Miss) -> Any:
    """The value ``ref`` names inside a fetched item, or a Miss saying why not."""
    if isinstance(result, Miss):
        return result
    fetched = result.fetched
    if isinstance(ref, SSMRef) or ref.key is None:
        return fetched.value
    data = fetched.json()
    if isinstance(fetched.value, bytes):
        return Miss(
            FailureKind.NOT_JSON, f"secret {ref.secret_id!r} is binary, so it has no JSON keys"
        )
    if data is _NOT_JSON or not isinstance(data, dict):
        return Miss(
            FailureKind.NOT_JSON,
            f"secret {ref.secret_id!r} is not a JSON object, so it has no key {ref.key!r}; "
            f"use 'secretsmanager:{ref.secret_id}' for the whole value",
        )
    if ref.key not in data:
        names = sorted(map(str, data))
        shown = ", ".join(names[:20]) + (f", ... ({len(names)} keys)" if len(names) > 20 else "")
        return Miss(
            FailureKind.NO_SUCH_KEY,
            f"secret {ref.secret_id!r} has no JSON key {ref.key!r} (keys: {shown or 'none'})",
        )
    return data[ref.key]


def _failure(where: str, ref: Ref, miss: Miss) -> Failure:
    return Failure(where, str(ref), miss.kind, miss.reason)


# -- one pass's outcome ---------------------------------------------------------------------


class _Settled:
    """What one pass found: failures and statuses, and each setting text's new value."""

    def __init__(self, found: Scan) -> None:
        self.found = found
        self.changed: set[int] = set()
        self.replacements: dict[str, Any] = {}
        self.failures: list[Failure] = []
        self.checked: list[Checked] = []

    def __repr__(self) -> str:  # never show the values
        return f"_Settled(failures={len(self.failures)}, replacements=<hidden>)"


def _failure_of(where: str, status: Status) -> Failure:
    assert status.miss is not None
    return Failure(where, status.reference, status.miss.kind, status.miss.reason)


def _checked(where: str, status: Status) -> Checked:
    failure = None if status.miss is None else _failure_of(where, status)
    return Checked(where, status.reference, failure, optional_missing=status.dropped)


def _cycle_failure(edge: BackEdge, prefix: str, found: Scan) -> Failure:
    where = format_path(edge.path, prefix)
    target = format_path(edge.target, prefix) or "the top of the settings"
    depth = len(edge.target)
    reference = ""
    for index, item in found.found:  # name the first reference below the repeated container
        refs = item.refs if isinstance(item, Template) else (item,)
        if found.tree.strings[index][0][:depth] == edge.target and refs:
            reference = refs[0].text if isinstance(refs[0], RefSyntaxError) else str(refs[0])
            break
    reason = (
        f"{where or '(value)'} holds {target} again, which contains a reference: awsrefs "
        "does not copy cyclic settings; break the cycle or move the reference out of it"
    )
    return Failure(where, reference, FailureKind.CONFIGURATION, reason)


# -- the default resolver and fork safety ---------------------------------------------------

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
    _override.after_fork()
    for resolver in list(_resolvers):
        resolver._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
