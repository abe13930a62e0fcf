"""Everything that depends on private or release-specific pydantic / pydantic-settings API.

Batching all sources of one settings build means running the wrapped sources ahead of
pydantic-settings, so they must be handed the state pydantic-settings would hand them (its
private ``_set_current_state`` / ``_set_settings_sources_data``), and a wrapper should share
its source's ``_init_state`` (2.5+: warnings about incomplete fields come once per build).
Masking values in ``repr()`` overrides pydantic's undocumented ``__repr_args__``
(:class:`MaskedReprModel`, :func:`repr_args`); emptying a model whose validation failed
writes its ``__pydantic_extra__`` slot (:func:`forget_values`). One public pydantic property
is missing from the oldest pydantic that pydantic-settings 2.4 allows (2.7):
:func:`factory_takes_data`.
Nothing else in this package touches private pydantic or pydantic-settings API.

The code below was read against pydantic-settings 2.4.0 and 2.16.3; the tests pass with
2.4.0 (pydantic 2.7.0 and 2.14), 2.5.2, 2.15.0 and 2.16.3. :data:`SUPPORTED` is the range
the package declares (``pydantic-settings>=2.4,<2.17``).
A later minor release may rename what is used here: check it, then widen the range.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from typing import Any

import pydantic_settings
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

__all__ = [
    "SUPPORTED",
    "MaskedReprModel",
    "UnsupportedVersionWarning",
    "factory_takes_data",
    "forget_values",
    "hand_state",
    "installed_version",
    "repr_args",
    "share_init_state",
    "supported",
    "unsupported_message",
]

SUPPORTED: tuple[tuple[int, int], tuple[int, int]] = ((2, 4), (2, 17))
"""The (major, minor) range known here: lowest included, highest excluded."""


class UnsupportedVersionWarning(RuntimeWarning):
    """The installed pydantic-settings is outside the range this package was checked with."""


def installed_version() -> tuple[int, int]:
    """The installed pydantic-settings' (major, minor)."""
    match = re.match(r"(\d+)\.(\d+)", pydantic_settings.__version__)
    if match is None:  # not expected: every release has a numeric version
        return (0, 0)
    return int(match.group(1)), int(match.group(2))


def supported(version: tuple[int, int] | None = None) -> bool:
    """True when ``version`` (default: the installed one) is within :data:`SUPPORTED`."""
    low, high = SUPPORTED
    return low <= (version or installed_version()) < high


def unsupported_message() -> str:
    """What to tell a user whose pydantic-settings is outside :data:`SUPPORTED`."""
    (lo_major, lo_minor), (hi_major, hi_minor) = SUPPORTED
    return (
        f"awsrefs-pydantic supports pydantic-settings>={lo_major}.{lo_minor},"
        f"<{hi_major}.{hi_minor}; {pydantic_settings.__version__} is installed. It relies on "
        "private pydantic-settings API (see awsrefs_pydantic/_compat.py) that may have changed: "
        "install a supported release, or check _compat.py against this one and widen SUPPORTED."
    )


def warn_if_unsupported() -> None:
    """Warn once, at import, when the installed pydantic-settings is outside the range."""
    if not supported():
        warnings.warn(unsupported_message(), UnsupportedVersionWarning, stacklevel=3)


def hand_state(source: object, state: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
    """Give ``source`` what pydantic-settings gives each source before calling it.

    ``state`` is the data of the higher-priority sources merged so far, ``states`` each of
    those sources' own data by name: what the source's public ``current_state`` and
    ``settings_sources_data`` then return.
    """
    if isinstance(source, PydanticBaseSettingsSource):
        source._set_current_state(state)
        source._set_settings_sources_data(states)


def share_init_state(wrapper: PydanticBaseSettingsSource, source: object) -> None:
    """Let ``wrapper`` share ``source``'s per-build init state (2.5+; 2.4 has none)."""
    init_state = getattr(source, "_init_state", None)
    if init_state is not None:
        wrapper._init_state = init_state  # type: ignore[attr-defined,unused-ignore]


def repr_args(model: BaseModel) -> Iterable[tuple[str | None, Any]]:
    """Pydantic's ``(name, value)`` pairs behind ``repr()``, ``str()``, rich and devtools.

    ``__repr_args__`` is the hook all four share (pydantic 2.x), not documented API.
    """
    return model.__repr_args__()


class MaskedReprModel(BaseModel):
    """A model whose ``repr()``, ``str()``, rich and devtools views go through :meth:`_shown`."""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return self._shown(super().__repr_args__())

    def _shown(self, args: Iterable[tuple[str | None, Any]]) -> Iterable[tuple[str | None, Any]]:
        """The ``(name, value)`` pairs to show; a subclass masks values here."""
        return args


def factory_takes_data(field: FieldInfo) -> bool:
    """True when ``field``'s default factory takes the validated data (pydantic 2.10+).

    pydantic-settings 2.4 allows pydantic 2.7, whose ``FieldInfo`` has no such property:
    there a default factory never takes arguments.
    """
    return bool(getattr(field, "default_factory_takes_validated_data", False))


def forget_values(model: BaseModel) -> None:
    """Drop the values a model whose validation failed may hold (a model validator saw them).

    pydantic keeps field values in the instance ``__dict__`` and extras in the
    ``__pydantic_extra__`` slot (2.x).
    """
    vars(model).clear()
    object.__setattr__(model, "__pydantic_extra__", None)
