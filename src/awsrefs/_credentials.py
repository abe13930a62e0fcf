"""Database credentials: read from a secret, kept out of driver errors, and the rotation state.

:class:`Credentials` are read from a Secrets Manager secret, as the RDS rotation templates
store them. :func:`redact_exception` gives driver errors without the password: the secret's
spellings replaced in the whole chain.

The rotation rule's process-wide state per resolver and secret: every
``RotatingCredentials`` of one resolver and secret shares one :class:`State`: the last look
at Secrets Manager after an authentication failure (:class:`Probe`), what the process learnt
about each set of credentials since (:class:`Verdict`) and the credentials that connected
while AWSCURRENT was refused. So threads that fail together cause one look-up and one test of
each credentials, and a child process after ``fork`` gets new locks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import threading
import traceback
import urllib.parse
import weakref
from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any

from awsrefs._auth_failures import chain
from awsrefs._grammar import SecretRef
from awsrefs._resolver import Resolver
from awsrefs.errors import RefError

__all__ = [
    "MAX_REJECTIONS",
    "Claim",
    "Credentials",
    "CredentialsError",
    "Probe",
    "State",
    "redact_exception",
    "scrubbed",
    "state_for",
]


class CredentialsError(RefError, ValueError):
    """A secret that does not hold database credentials (not JSON, no username or password)."""


class _Extra(Mapping[str, Any]):
    """The secret's other keys: read-only, its values kept out of ``repr``.

    Unlike a ``MappingProxyType`` it can be pickled and deep-copied, so the credentials
    can too (``copy.deepcopy``, ``dataclasses.asdict``, a worker process).
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: <hidden>" for key in self._data) + "}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Extra, (self._data,))


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Database credentials read from one version of a Secrets Manager secret.

    The keys are those of the RDS rotation templates: ``username``, ``password``, ``host``,
    ``port``, ``dbname``, ``engine``; other keys are kept in ``extra``. The repr never shows
    the password or the values of ``extra``, also after ``copy.deepcopy`` or a pickle round
    trip. ``dataclasses.asdict`` gives every field, the password included, as a plain dict:
    it is an export of the values, like reading ``.password``.

    Attributes:
        username: Login name.
        password: Password.
        host: Server host, or None when the secret has none (RDS-managed master secrets).
        port: Server port, or None.
        dbname: Database name, or None.
        engine: ``postgres``, ``mysql``, ``mariadb``... as the secret says, or None.
        version_id: Secrets Manager version id these came from.
        stage: ``AWSCURRENT`` or ``AWSPENDING`` (``IAM``: the password is an IAM token, see
            :mod:`awsrefs.iam_auth`).
        extra: Other top-level keys of the secret (read-only; its repr hides the values).
        fetched_at: ``time.monotonic()`` when the secret version was fetched.
    """

    username: str
    password: str = dataclasses.field(repr=False)
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    engine: str | None = None
    version_id: str | None = None
    stage: str = "AWSCURRENT"
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_Extra, repr=False, compare=False)
    fetched_at: float = dataclasses.field(default=0.0, compare=False)

    def __repr__(self) -> str:
        return (
            f"Credentials(username={self.username!r}, password=<hidden>, host={self.host!r}, "
            f"port={self.port!r}, dbname={self.dbname!r}, engine={self.engine!r}, "
            f"version_id={self.version_id!r}, stage={self.stage!r}, "
            f"extra_keys={sorted(self.extra)!r})"
        )

    @property
    def login(self) -> tuple[str, str, str | None, int | None, str | None]:
        """What a connection attempt depends on; equal logins succeed or fail together."""
        return (self.username, self.password, self.host, self.port, self.dbname)

    @classmethod
    def from_secret(
        cls,
        value: Any,
        *,
        secret: str = "the secret",  # noqa: S107 - a name for messages
        version_id: str | None = None,
        stage: str = "AWSCURRENT",
        fetched_at: float = 0.0,
    ) -> Credentials:
        """Build credentials from a secret's value.

        Args:
            value: The SecretString (JSON text) or an already decoded mapping.
            secret: The secret's name, for error messages.
            version_id: Its version id.
            stage: The staging label it was read by.
            fetched_at: When it was fetched (``time.monotonic()``).

        Raises:
            CredentialsError: Not a JSON object, no ``username``/``password`` text, or a
                ``port`` that is not a number. The message never contains values.
        """
        where = f"secret {secret!r} ({stage}, version {version_id})"
        data = value
        if isinstance(value, (str, bytes)):
            try:
                data = json.loads(value)
            except ValueError:
                data = None
        if not isinstance(data, Mapping):
            raise CredentialsError(
                f"{where} is not a JSON object; database credentials need at least "
                "'username' and 'password' keys (as the RDS rotation templates store them)"
            )
        missing = [k for k in ("username", "password") if not isinstance(data.get(k), str)]
        if missing:
            raise CredentialsError(
                f"{where} has no text value for {', '.join(map(repr, missing))} "
                f"(it has {_count_keys(len(data))}; key names are not shown, as they can be "
                "secrets themselves)"
            )
        port = data.get("port")
        if port is not None:
            if isinstance(port, str) and port.strip().isdigit():
                port = int(port)
            elif not isinstance(port, int) or isinstance(port, bool):
                raise CredentialsError(f"{where} has a 'port' that is not a number")
        known = ("username", "password", "host", "port", "dbname", "engine")
        host, dbname, engine = data.get("host"), data.get("dbname"), data.get("engine")
        return cls(
            username=data["username"],
            password=data["password"],
            host=str(host) if host not in (None, "") else None,
            port=port,
            dbname=str(dbname) if dbname not in (None, "") else None,
            engine=str(engine) if engine not in (None, "") else None,
            version_id=version_id,
            stage=stage,
            extra=_Extra({k: v for k, v in data.items() if k not in known}),
            fetched_at=fetched_at,
        )


def _count_keys(count: int) -> str:
    return "no keys" if count == 0 else f"{count} key" + ("" if count == 1 else "s")


_REDACTED = "<redacted>"


def _spellings(secret: str) -> list[str]:
    forms = {secret, repr(secret)[1:-1], urllib.parse.quote(secret, safe=""), json.dumps(secret)}
    forms.add(urllib.parse.quote_plus(secret, safe=""))
    forms.discard("")
    return sorted(forms, key=len, reverse=True)


def redact_exception(exc: BaseException, secrets: Iterable[str]) -> BaseException:
    """Remove secret values from an exception and what it holds, in place, and return it.

    Some drivers put their connection parameters (a DSN with the password) into error
    messages, or keep them on the error (psycopg's ``pgconn``, a finished connection with the
    password and the whole conninfo). Every exception in the chain (``.orig``, ``__cause__``,
    ``__context__``) is cleaned: text in its ``args``, notes and attributes that contains one
    of ``secrets`` (also URL-quoted or escaped) gets it replaced by ``<redacted>``, in lists,
    tuples, dicts and dataclasses too (a few levels deep, as cleaned copies: what the error
    shares with the application is not changed); an attribute whose value still shows a
    secret in its ``repr`` after that is set to None. The exception object and its type stay
    the same. Tracebacks (the frames' locals) are not touched.

    Args:
        exc: The exception to clean.
        secrets: Values that must not appear (passwords).

    Returns:
        ``exc`` itself.
    """
    forms = [form for secret in secrets if secret for form in _spellings(secret)]
    if not forms:
        return exc
    cleaner = _Cleaner(forms)
    for error in chain(exc):
        args = tuple(cleaner.value(arg, _DEPTH) for arg in error.args)
        if any(a is not b for a, b in zip(args, error.args, strict=True)):
            with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
                error.args = tuple(None if arg is _DROP else arg for arg in args)
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [cleaner.text(note) if isinstance(note, str) else note for note in notes]
        attributes = getattr(error, "__dict__", None)
        for name, value in list(attributes.items() if isinstance(attributes, dict) else ()):
            if name == "__notes__":
                continue
            cleaned = cleaner.value(value, _DEPTH)
            if cleaned is not value:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(error, name, None if cleaned is _DROP else cleaned)
    return exc


# How deep into an error's attributes values are cleaned (psycopg: error._pgconn.info[i].val).
_DEPTH = 4
# A value that shows a secret and cannot be cleaned: the reference to it is dropped.
_DROP: Any = object()


class _Cleaner:
    """Replaces a secret's spellings in text, and in the plain data that holds text."""

    def __init__(self, forms: list[str]) -> None:
        self.forms = forms
        # How the forms look inside the repr of bytes (non-ASCII is escaped there).
        self.shown = sorted(
            {*forms, *(repr(form.encode())[2:-1] for form in forms)}, key=len, reverse=True
        )

    def text(self, value: Any) -> Any:
        if isinstance(value, str):
            for form in self.forms:
                value = value.replace(form, _REDACTED)
        elif isinstance(value, bytes):
            for form in self.forms:
                value = value.replace(form.encode(), _REDACTED.encode())
        return value

    def shows(self, value: Any) -> bool:
        try:
            text = repr(value)
            # psycopg before 3.2 keeps the finished connection as a C object: its repr
            # shows nothing, its ``password`` attribute gives the password.
            held = getattr(value, "password", None)
        except Exception:  # a broken repr (or attribute) shows nothing
            return False
        if isinstance(held, (str, bytes)) and held:
            text += repr(held)
        return any(form in text for form in self.shown)

    def value(self, value: Any, depth: int) -> Any:
        """``value`` cleaned (a new or the same object), or _DROP when it cannot be."""
        if isinstance(value, (str, bytes)):
            return self.text(value)
        if isinstance(value, BaseException) or not self.shows(value):
            return value  # exceptions are cleaned as part of the chain
        cleaned = self._inside(value, depth - 1) if depth > 0 else _DROP
        return _DROP if cleaned is _DROP or self.shows(cleaned) else cleaned

    def _inside(self, value: Any, depth: int) -> Any:
        # New containers and copies, never changes in place: the error may share them with
        # the application (a dict of connect arguments it goes on using).
        if isinstance(value, tuple):
            items = [self.value(item, depth) for item in value]
            if any(item is _DROP for item in items):
                return _DROP
            make = getattr(type(value), "_make", None)  # a named tuple
            return make(items) if make is not None else tuple(items)
        if isinstance(value, list):
            items = [self.value(item, depth) for item in value]
            return _DROP if any(item is _DROP for item in items) else items
        if isinstance(value, dict):
            entries = {key: self.value(item, depth) for key, item in value.items()}
            return _DROP if any(item is _DROP for item in entries.values()) else entries
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Plain data (psycopg's finished connection): a copy with its fields cleaned.
            changes = {}
            for field in dataclasses.fields(value):
                item = getattr(value, field.name, None)
                cleaned = self.value(item, depth)
                if cleaned is not item:
                    if not field.init:
                        return _DROP
                    changes[field.name] = None if cleaned is _DROP else cleaned
            try:
                return dataclasses.replace(value, **changes)
            except (TypeError, ValueError):
                return _DROP
        return _DROP  # any other object: not ours to change


def scrubbed(
    exc: BaseException, tried: list[str], plan: Generator[Any, Any, None]
) -> BaseException:
    """Make the driver error safe to raise: no password in its messages or its frames.

    Error reporters (Sentry, ``traceback`` with locals) capture the locals of every frame in
    a traceback. The frames below ``connect`` (the caller's ``fn``, the driver's own) have
    finished and held the password (arguments, a DSN); their locals are cleared, which keeps
    file and line for the traceback. What ``connect`` itself keeps that held passwords is
    emptied: the list of passwords tried, and the rule's generator (closed).
    """
    redact_exception(exc, tried)
    for error in chain(exc):
        # Frames still running (connect's own) raise RuntimeError and are skipped.
        traceback.clear_frames(error.__traceback__)
    tried.clear()
    plan.close()
    return exc


MAX_REJECTIONS = 2
"""How often the process as a whole lets the rule try credentials the database refused,
per look at Secrets Manager: once before the re-read of AWSPENDING, once after it."""

_Login = tuple[str, str, str | None, int | None, str | None]


@dataclasses.dataclass(frozen=True)
class Probe:
    """What one look at Secrets Manager after an authentication failure found.

    ``round`` is 0 for a look that read AWSCURRENT and AWSPENDING, 1 once AWSPENDING was read
    again and showed the same version (the look's last round of retries).
    """

    generation: int
    current: Credentials
    pending: Credentials | None
    round: int = 0

    @property
    def rotating(self) -> bool:
        pending = self.pending
        return (
            pending is not None
            and pending.version_id != self.current.version_id
            and pending.login != self.current.login
        )

    @property
    def versions(self) -> tuple[_Login, _Login | None]:
        """What identifies the versions this look saw (two looks that agree saw the same)."""
        return self.current.login, self.pending.login if self.pending is not None else None

    def candidates(self) -> list[Credentials]:
        pending = self.pending
        return [self.current, pending] if self.rotating and pending is not None else [self.current]


@dataclasses.dataclass
class Verdict:
    """What the process knows of one set of credentials since the last look."""

    testing: bool = False  # a thread is trying them now; others wait for the outcome
    accepted: bool = False
    rejections: int = 0


class Claim(enum.Enum):
    """What a thread may do with a candidate: try it, wait for another's try, or skip it."""

    TRY = "try"
    WAIT = "wait"
    SKIP = "skip"


class State:
    """Shared by every RotatingCredentials of one resolver and secret in the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards the fields below; never held during I/O
        self.changed = threading.Condition(self.lock)  # a verdict changed
        self.probe_lock = threading.Lock()  # single-flight look-ups; held during AWS calls
        self.generation = 0
        self.probe: Probe | None = None
        self.verdicts: dict[_Login, Verdict] = {}
        # Credentials (AWSPENDING) that connected while the probe's AWSCURRENT was refused.
        self.preferred: Credentials | None = None

    def choose(self, current: Credentials) -> Credentials:
        """The credentials a connection starts with: ``current`` or a preferred AWSPENDING."""
        with self.lock:
            preferred, probe = self.preferred, self.probe
            if preferred is None:
                return current
            if probe is None or current.login != probe.current.login:
                # AWSCURRENT moved on since the look that preferred AWSPENDING: forget it.
                self.preferred = None
                return current
            return preferred

    def known_rejected(self, creds: Credentials) -> bool:
        """Were these credentials refused since the last look (and not accepted since)?"""
        with self.lock:
            verdict = self.verdicts.get(creds.login)
            return verdict is not None and not verdict.accepted and verdict.rejections > 0

    def adopt(self, probe: Probe, *, forget: bool) -> Probe:
        """Make ``probe`` the latest look; ``forget``: drop what was learnt before it."""
        with self.changed:
            self.generation += 1
            probe = dataclasses.replace(probe, generation=self.generation)
            old, self.probe = self.probe, probe
            if forget or old is None or old.versions != probe.versions:
                self.verdicts = {}
                self.changed.notify_all()  # waiters claim again, against the new look
            return probe

    def claim(self, creds: Credentials, round_: int) -> Claim:
        """May this thread try ``creds`` now? Claims the test when nobody knows yet."""
        with self.lock:
            verdict = self.verdicts.get(creds.login)
            if verdict is None:
                self.verdicts[creds.login] = Verdict(testing=True)
                return Claim.TRY
            if verdict.testing:
                return Claim.WAIT
            if verdict.accepted:
                return Claim.TRY
            if verdict.rejections <= round_ and verdict.rejections < MAX_REJECTIONS:
                verdict.testing = True
                return Claim.TRY
            return Claim.SKIP

    def wait(self, creds: Credentials, timeout: float) -> None:
        """Block until no thread is testing ``creds`` any more, or ``timeout`` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: not self._testing(creds), timeout)

    def testing(self, creds: Credentials) -> bool:
        """Is a thread or task trying ``creds`` now?"""
        with self.lock:
            return self._testing(creds)

    def _testing(self, creds: Credentials) -> bool:
        verdict = self.verdicts.get(creds.login)
        return verdict is not None and verdict.testing

    def accepted(self, creds: Credentials, probe: Probe | None) -> None:
        """The database accepted ``creds``."""
        with self.changed:
            verdict = self.verdicts.get(creds.login)
            if verdict is not None:
                verdict.testing, verdict.accepted = False, True
            elif probe is not None:
                self.verdicts[creds.login] = Verdict(accepted=True)
            if creds.stage == "AWSCURRENT":
                self.preferred = None
            elif probe is not None and probe.rotating:
                self.preferred = creds
            self.changed.notify_all()

    def rejected(self, creds: Credentials) -> None:
        """The database refused ``creds``: counted, and no longer preferred."""
        with self.changed:
            verdict = self.verdicts.setdefault(creds.login, Verdict())
            verdict.testing = verdict.accepted = False
            verdict.rejections += 1
            if self.preferred is not None and self.preferred.login == creds.login:
                self.preferred = None
            self.changed.notify_all()

    def release(self, creds: Credentials) -> None:
        """A claimed test ended without an answer (another error): let others try."""
        with self.changed:
            verdict = self.verdicts.get(creds.login)
            if verdict is not None and verdict.testing:
                verdict.testing = False
                if not verdict.accepted and verdict.rejections == 0:
                    del self.verdicts[creds.login]
                self.changed.notify_all()

    def after_fork(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.probe_lock = threading.Lock()
        for verdict in self.verdicts.values():
            verdict.testing = False  # the testing threads do not exist in the child


_states: weakref.WeakKeyDictionary[Resolver, dict[SecretRef, State]] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def state_for(resolver: Resolver, ref: SecretRef) -> State:
    with _states_lock:
        by_ref = _states.setdefault(resolver, {})
        state = by_ref.get(ref)
        if state is None:
            state = by_ref[ref] = State()
        return state


def _after_fork() -> None:
    global _states_lock
    _states_lock = threading.Lock()
    for by_ref in list(_states.values()):
        for state in by_ref.values():
            state.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
