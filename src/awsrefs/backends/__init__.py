"""Stores awsrefs reads from, behind one small protocol.

Pass one to :class:`~awsrefs.Resolver` as ``backend=``:

- :class:`AwsBackend`: SSM and Secrets Manager (the default, built from the resolver's AWS
  client options when no backend is given).
- :class:`AgentBackend`: through the node-local Secrets Manager Agent or the Lambda
  Parameters and Secrets extension (also chosen by ``AWSREFS_BACKEND=agent``).
- :class:`StaticBackend`: fixed values, for tests.

Each loads on first use, so ``import awsrefs`` never imports botocore or ``http.client``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from awsrefs.errors import FailureKind

if TYPE_CHECKING:
    from awsrefs.backends.agent import AgentBackend
    from awsrefs.backends.aws import AwsBackend
    from awsrefs.backends.static import StaticBackend

__all__ = [
    "AgentBackend",
    "AwsBackend",
    "Backend",
    "Fetched",
    "Miss",
    "Outcome",
    "StaticBackend",
]


#: The only failure kinds worth calling again or serving a stale value through: the store
#: was busy or unreachable, it did not say no.
TRANSIENT = frozenset({FailureKind.THROTTLED, FailureKind.NETWORK})

_NOT_JSON = object()


class Fetched:
    """One value as a store returned it: a parameter value or one secret version."""

    __slots__ = ("_json", "value", "version")

    def __init__(self, value: str | bytes, version: str | None = None) -> None:
        self.value = value
        self.version = version
        self._json: Any = None

    def json(self) -> Any:
        """The value parsed as JSON, or the ``_NOT_JSON`` marker; parsed once."""
        if self._json is None:
            try:
                import json  # not at import time: ``import awsrefs`` stays light

                self._json = json.loads(self.value) if isinstance(self.value, str) else _NOT_JSON
            except ValueError:
                self._json = _NOT_JSON
        return self._json

    def __repr__(self) -> str:  # never show the value
        return f"Fetched(version={self.version!r}, value=<{len(self.value)} chars hidden>)"


@dataclass(frozen=True)
class Miss:
    """Why a store could not return a value. ``reason`` never contains a value.

    Attributes:
        kind: The class of failure.
        reason: What went wrong and what to do.
        attempts: HTTP requests the failed call made, when the backend knows (the resolver
            adds them up over its retries and states the total in the reason).
    """

    kind: FailureKind
    reason: str
    attempts: int | None = field(default=None, compare=False)

    @property
    def transient(self) -> bool:
        """True for failures worth serving a stale value through (throttling, network, 5xx)."""
        return self.kind in TRANSIENT


Outcome = Fetched | Miss


class Backend(Protocol):
    """A store of parameters and secrets. The resolver plans batches; the backend runs them.

    Every method returns a result for every name or id it was given, in a dict keyed by the
    name or id exactly as passed.
    """

    parameter_batch_size: int
    secret_batch_size: int

    def default_region(self) -> str | None:
        """The region used for references that do not name one."""
        ...

    def get_parameters(self, region: str | None, names: Sequence[str]) -> dict[str, Outcome]:
        """Fetch up to ``parameter_batch_size`` parameters (names may carry ``:selector``)."""
        ...

    def get_current_secrets(
        self, region: str | None, secret_ids: Sequence[str]
    ) -> dict[str, Outcome]:
        """Fetch the AWSCURRENT version of up to ``secret_batch_size`` secrets."""
        ...

    def get_secret(
        self, region: str | None, secret_id: str, stage: str | None, version_id: str | None
    ) -> Outcome:
        """Fetch one secret version by stage or version id."""
        ...

    def can_batch_secrets(self, region: str | None) -> bool:
        """False once batching is known not to work here (for example, it was denied)."""
        ...

    def after_fork(self) -> None:
        """Drop connections and locks inherited from the parent process."""
        ...


_LAZY = {"AgentBackend": "agent", "AwsBackend": "aws", "StaticBackend": "static"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'awsrefs.backends' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"awsrefs.backends.{module}"), name)
