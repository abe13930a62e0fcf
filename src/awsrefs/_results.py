"""What resolving one reference gives back: its value with provenance, or its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awsrefs.errors import Failure

__all__ = ["Checked", "Resolved"]


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
