"""The settings error that lists every reference a settings build could not resolve."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_settings import SettingsError

from awsrefs import Failure

__all__ = ["AwsRefsSettingsError", "clear_frames", "hidden_inputs", "redact_values"]


class AwsRefsSettingsError(SettingsError):
    """Settings whose references could not be resolved; a ``pydantic_settings.SettingsError``.

    Raised from the :class:`awsrefs.ResolutionError` it came from (``__cause__``). Lists every
    failed setting with its reference and the reason; never a value.

    Attributes:
        failures: One :class:`awsrefs.Failure` per failed setting; ``path`` is the field path
            (``database.password``), as the settings class names it.
        sources: For each failure, the name of the source the reference came from.
    """

    def __init__(self, settings_name: str, failures: Sequence[tuple[Failure, str]]) -> None:
        self.failures: tuple[Failure, ...] = tuple(f for f, _ in failures)
        self.sources: tuple[str, ...] = tuple(s for _, s in failures)
        count = len(failures)
        noun = "setting" if count == 1 else "settings"
        lines = [f"{count} {noun} of {settings_name} could not be resolved:"]
        for failure, source in failures:
            where = failure.path or "(whole source)"
            lines.append(
                f"  - {where} (from {source}): {failure.reference}: "
                f"{failure.kind.value}: {failure.reason}"
            )
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from message and attributes (pickle, deepcopy, a worker process), not by
        # calling __init__ with the message.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(
    cls: type[AwsRefsSettingsError], args: tuple[Any, ...], state: dict[str, Any]
) -> AwsRefsSettingsError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


_SHOWN = "<hidden>"
_MIN_SEARCHED = 4  # shorter values are not searched for inside messages (they would garble them)


class _Values:
    """The values that came from references, to find in an error's inputs and messages."""

    def __init__(self, values: Iterable[Any]) -> None:
        self.exact: set[Any] = set()
        texts: set[str] = set()
        for value in values:
            if value is None or value == "":
                continue
            if not isinstance(value, (str, bytes, int, float)):
                continue  # a container: its items are listed too
            self.exact.add(value)
            if isinstance(value, bool):
                continue
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            if len(text) >= _MIN_SEARCHED:
                texts.add(text)
        self.texts = sorted(texts, key=len, reverse=True)  # a longer value before its parts

    def __bool__(self) -> bool:
        return bool(self.exact or self.texts)

    def holds(self, value: Any) -> bool:
        """True when ``value`` is such a value or text with one inside."""
        with contextlib.suppress(TypeError):
            if value in self.exact:
                return True
        if isinstance(value, bytes):
            value = value.decode(errors="replace")
        return isinstance(value, str) and any(text in value for text in self.texts)

    def text(self, text: str) -> str:
        """``text`` with every such value replaced by ``<hidden>``."""
        for value in self.texts:
            text = text.replace(value, _SHOWN)
        return text

    def scrub(self, value: Any) -> Any:
        """``value`` (an error's input) with every such value inside replaced by ``<hidden>``."""
        if self.holds(value):
            return _SHOWN
        if isinstance(value, Mapping):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [self.scrub(item) for item in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, BaseModel):  # a model validator's input: hidden if it holds one
            fields = dict(vars(value))
            return _SHOWN if self.scrub(fields) != fields else value
        return value

    def context(self, value: Any) -> Any:
        """A ``ctx`` entry: an exception (a validator's) becomes its message, scrubbed."""
        if isinstance(value, BaseException):
            return self.text(str(value))
        return self.text(value) if isinstance(value, str) else self.scrub(value)


def hidden_inputs(
    error: ValidationError, values: Iterable[Any], *, hide_input: bool
) -> ValidationError:
    """``error`` rebuilt without the values that came from references.

    pydantic's ``ValidationError`` carries each failing input (``errors()``, ``json()``; a
    missing field's input is the whole settings data), and a validator's message may quote
    it. The copy has every such value replaced by ``<hidden>`` in inputs, messages and
    ``ctx`` (a validator's exception becomes its scrubbed message); types and locations
    stay. It holds no traceback and no reference to ``error``.

    Args:
        error: The error pydantic raised.
        values: The values that came from references.
        hide_input: Leave the inputs out of ``str()`` too (``hide_input_in_errors``).

    Returns:
        The copy, or ``error`` itself when ``values`` is empty.
    """
    found = _Values(values)
    if not found:
        return error
    lines = [_line(details, found) for details in error.errors()]
    return ValidationError.from_exception_data(
        error.title, lines, input_type="python", hide_input=hide_input
    )


def _line(details: ErrorDetails, found: _Values) -> InitErrorDetails:
    ctx = {key: found.context(item) for key, item in details.get("ctx", {}).items()}
    message = found.text(details["msg"])
    line = InitErrorDetails(
        type=details["type"], loc=details["loc"], input=found.scrub(details["input"])
    )
    if ctx:
        line["ctx"] = ctx
    # Keep pydantic's own error type (and its documentation URL) where it rebuilds the same
    # message; otherwise (a validator's message, scrubbed) a custom error of the same type.
    with contextlib.suppress(Exception):  # the type needs another context, or is unknown
        probe = ValidationError.from_exception_data("probe", [line]).errors()[0]["msg"]
        if probe == message:
            return line
    line["type"] = PydanticCustomError(details["type"], message, ctx or None)
    return line


def clear_frames(error: BaseException) -> None:
    """Empty the locals of the finished frames in the tracebacks of ``error`` and its chain.

    File and line stay; frames still running (the caller's) are left alone.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        pending += [current.__cause__, current.__context__]


def redact_values(error: BaseException, values: Iterable[Any]) -> None:
    """Replace the values in the messages of ``error`` and its chain by ``<redacted>``.

    For errors pydantic does not turn into a ``ValidationError`` (a validator's ``TypeError``)
    whose message may quote a resolved value. Values shorter than 4 characters are left.
    """
    from awsrefs.rotation import redact_exception  # rarely needed: imported when it is

    redact_exception(error, _Values(values).texts)
