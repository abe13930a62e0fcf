"""The one error tree of awsrefs.

Every error awsrefs raises is a :class:`RefError`. Messages name the setting path and the
reference, and say what is wrong and what to do; they never contain a resolved value.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Failure",
    "FailureKind",
    "RefError",
    "RefSyntaxError",
    "ResolutionError",
]


class RefError(Exception):
    """Base class of every error raised by awsrefs.

    Every awsrefs error survives ``pickle`` and ``copy.deepcopy`` with the same message and
    attributes (a worker process of ``multiprocessing`` or ``concurrent.futures`` hands it
    to its parent unchanged): it is rebuilt from its message and attributes, not by calling
    ``__init__`` again with the message.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls type(self)(*self.args), which a subclass whose
        # __init__ takes other arguments cannot take (a hang in multiprocessing, or the
        # message re-read as a list of failures).
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[RefError], args: tuple[Any, ...], state: dict[str, Any]) -> RefError:
    """Unpickle an awsrefs error: its message and attributes, without running ``__init__``."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


# How much of a malformed reference an error shows at most (a 1 MB name gives a short error).
_SHOWN_MAX = 200
_SHOWN_HEAD = 120
_SHOWN_TAIL = 60
_CUT = "..."


class RefSyntaxError(RefError, ValueError):
    """A string that starts like a reference but is malformed.

    The error shows the reference only up to the offending character, never what follows it
    (a value such as ``ssm:/db?password=...`` or an unclosed ``${`` would otherwise repeat
    the text after it), and for a template only the ``${...}`` part, never the text around
    it. At most about 200 characters are shown; ``...`` marks what was left out.

    Attributes:
        text: The part shown, as described above (also used as the reference in failures).
        position: 0-based index into the original value where the problem is.
        offset: Where the reference starts in the original value (0 unless in a template);
            the message counts its position from there, so it points into the part shown.
        expected: What the parser expected at that position.
    """

    def __init__(
        self, text: str, position: int, expected: str, *, offset: int = 0, unclosed: bool = False
    ) -> None:
        local = position - offset
        self.position = position
        self.offset = offset
        self.expected = expected
        self._local = local
        self._found = repr(text[local]) if 0 <= local < len(text) else "end of text"
        self._unclosed = unclosed
        self.text = _shown(text, local, unclosed)
        super().__init__(self._message())

    def _message(self) -> str:
        if self._unclosed:
            return (
                f"invalid reference {self.text!r}: expected {self.expected}, found the end "
                "of the value (the text after the opening is not shown)"
            )
        return (
            f"invalid reference {self.text!r} at position {self._local}: "
            f"expected {self.expected}, found {self._found}"
        )


def _shown(fragment: str, local: int, unclosed: bool) -> str:
    """The fragment up to and including the offending character, capped in length."""
    end = len(fragment) if unclosed else min(max(local, 0) + 1, len(fragment))
    shown = fragment[:end]
    if len(shown) > _SHOWN_MAX:
        shown = fragment[:_SHOWN_HEAD] + _CUT + fragment[end - _SHOWN_TAIL : end]
    if end < len(fragment) or unclosed:
        shown += _CUT
    return shown


class FailureKind(str, enum.Enum):
    """Why one reference could not be resolved.

    Only ``THROTTLED`` and ``NETWORK`` (throttling, connection failures, timeouts, HTTP 5xx)
    are transient: retried within the resolver's retry budget and, when a value is cached,
    answered with that value. Every other kind is an answer and is reported at once.
    ``CREDENTIALS`` means AWS did not accept (or the SDK found no) credentials;
    ``INVALID`` that AWS rejected the request itself (a ``ValidationException``);
    ``OTHER`` an error awsrefs does not know, never taken as transient.
    """

    SYNTAX = "bad syntax"
    NOT_FOUND = "not found"
    ACCESS_DENIED = "access denied"
    CREDENTIALS = "credentials rejected"
    NO_SUCH_KEY = "no such JSON key"
    NOT_JSON = "not JSON"
    NOT_TEXT = "not text"
    THROTTLED = "throttled"
    NETWORK = "network"
    CONFIGURATION = "configuration"
    INVALID = "invalid request"
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
