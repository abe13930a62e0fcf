"""The settings error that lists every reference a settings build could not resolve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_settings import SettingsError

from awsrefs import Failure

__all__ = ["AwsRefsSettingsError"]


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
