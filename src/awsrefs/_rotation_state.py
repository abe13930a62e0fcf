"""The rotation rule's process-wide state per resolver and secret.

Every ``RotatingCredentials`` of one resolver and secret shares one :class:`State`: the last
look-up after an authentication failure (:class:`Probe`) and the credentials that connected
while AWSCURRENT was refused. So threads that fail together cause one look-up, and a child
process after ``fork`` gets new locks.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import weakref

from awsrefs._credentials import Credentials
from awsrefs._grammar import SecretRef
from awsrefs._resolver import Resolver

__all__ = ["Probe", "State", "state_for"]


@dataclasses.dataclass(frozen=True)
class Probe:
    """What one look-up after an authentication failure found."""

    generation: int
    taken_at: float
    current: Credentials
    pending: Credentials | None

    @property
    def rotating(self) -> bool:
        pending = self.pending
        return (
            pending is not None
            and pending.version_id != self.current.version_id
            and pending.login != self.current.login
        )

    def candidates(self) -> list[Credentials]:
        pending = self.pending
        return [self.current, pending] if self.rotating and pending is not None else [self.current]


class State:
    """Shared by every RotatingCredentials of one resolver and secret in the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards the fields below; never held during I/O
        self.probe_lock = threading.Lock()  # single-flight look-ups; held during AWS calls
        self.generation = 0
        self.probe: Probe | None = None
        # Credentials that connected while AWSCURRENT (``rejected``) was refused.
        self.preferred: Credentials | None = None
        self.rejected: Credentials | None = None

    def choose(self, current: Credentials) -> Credentials:
        with self.lock:
            rejected, preferred = self.rejected, self.preferred
        if preferred is not None and rejected is not None and rejected.login == current.login:
            return preferred
        return current

    def succeeded(self, creds: Credentials, probe: Probe | None) -> None:
        with self.lock:
            if probe is not None and creds is not probe.current and probe.rotating:
                self.preferred, self.rejected = creds, probe.current
            elif (
                creds.stage == "AWSCURRENT"
                and self.rejected is not None
                and creds.login != self.rejected.login
            ):
                self.preferred = self.rejected = None

    def after_fork(self) -> None:
        self.lock = threading.Lock()
        self.probe_lock = threading.Lock()


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
