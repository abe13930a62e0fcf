"""The rotation rule's process-wide state per resolver and secret.

Every ``RotatingCredentials`` of one resolver and secret shares one :class:`State`: the last
look at Secrets Manager after an authentication failure (:class:`Probe`), what the process
learnt about each set of credentials since (:class:`Verdict`) and the credentials that
connected while AWSCURRENT was refused. So threads that fail together cause one look-up and
one test of each credentials, and a child process after ``fork`` gets new locks.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import threading
import weakref

from awsrefs._credentials import Credentials
from awsrefs._grammar import SecretRef
from awsrefs._resolver import Resolver

__all__ = ["MAX_REJECTIONS", "Claim", "Probe", "State", "state_for"]

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
