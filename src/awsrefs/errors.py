"""The one error tree of awsrefs.

Every error awsrefs raises is a :class:`RefError`. Messages name the setting path and the
reference, and say what is wrong and what to do; they never contain a resolved value.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Failure",
    "FailureKind",
    "RefError",
    "RefSyntaxError",
    "ResolutionError",
]


class RefError(Exception):
    """Base class of every error raised by awsrefs."""


class RefSyntaxError(RefError, ValueError):
    """A string that starts like a reference but is malformed.

    Attributes:
        text: The reference text (for templates, only the offending ``${...}`` part, so that
            literal text around it, which may hold a password, is never repeated).
        position: 0-based index into the original string where the problem is.
        expected: What the parser expected at that position.
    """

    def __init__(self, text: str, position: int, expected: str, *, offset: int = 0) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        self._offset = offset
        super().__init__(self._message())

    def _message(self) -> str:
        local = self.position - self._offset
        found = repr(self.text[local]) if 0 <= local < len(self.text) else "end of text"
        return (
            f"invalid reference {self.text!r} at position {self.position}: "
            f"expected {self.expected}, found {found}"
        )


class FailureKind(str, enum.Enum):
    """Why one reference could not be resolved."""

    SYNTAX = "bad syntax"
    NOT_FOUND = "not found"
    ACCESS_DENIED = "access denied"
    NO_SUCH_KEY = "no such JSON key"
    NOT_JSON = "not JSON"
    NOT_TEXT = "not text"
    THROTTLED = "throttled"
    NETWORK = "network"
    CONFIGURATION = "configuration"
    OTHER = "error"


@dataclass(frozen=True)
class Failure:
    """One reference that failed, where it was, and why.

    Attributes:
        path: Setting path such as ``DATABASES.default.PASSWORD`` (``""`` for a bare value).
        reference: The reference text as written (never a value).
        kind: The class of failure.
        reason: A sentence saying what is wrong and what to do.
    """

    path: str
    reference: str
    kind: FailureKind
    reason: str

    @property
    def missing(self) -> bool:
        """True when the parameter, secret or JSON key does not exist."""
        return self.kind in (FailureKind.NOT_FOUND, FailureKind.NO_SUCH_KEY)

    def __str__(self) -> str:
        where = self.path or "(value)"
        return f"{where}: {self.reference}: {self.kind.value}: {self.reason}"


class ResolutionError(RefError):
    """Every reference of one resolution pass that could not be resolved.

    Attributes:
        failures: One entry per failed reference, in the order they were found.
    """

    def __init__(self, failures: Iterable[Failure]) -> None:
        self.failures: Sequence[Failure] = tuple(failures)
        super().__init__(self._message())

    def _message(self) -> str:
        count = len(self.failures)
        noun = "reference" if count == 1 else "references"
        lines = [f"{count} {noun} could not be resolved:"]
        lines.extend(f"  - {failure}" for failure in self.failures)
        return "\n".join(lines)
