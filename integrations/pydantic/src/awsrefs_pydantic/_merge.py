"""Merging the data of settings sources as pydantic-settings does: nested mappings key by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["deep_update", "split_overridden"]

_ABSENT: Any = object()


def deep_update(lower: Mapping[str, Any], higher: Mapping[str, Any]) -> dict[str, Any]:
    """``lower`` updated with ``higher``; where both hold a mapping for a key, recursively.

    The result shares no mapping with ``higher`` or ``lower`` that it changed.
    """
    merged = dict(lower)
    for key, value in higher.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = deep_update(below, value)
        else:
            merged[key] = value
    return merged


def split_overridden(
    data: Mapping[str, Any], higher: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` split into what survives merging under ``higher`` and what ``higher`` replaces.

    A value survives where ``higher`` has no such key, where both hold a mapping (merged key
    by key), and where ``higher`` holds a whole ``optional:`` reference (missing, it leaves the
    field to the sources below).
    """
    kept: dict[str, Any] = {}
    replaced: dict[str, Any] = {}
    for key, value in data.items():
        above = higher.get(key, _ABSENT)
        if above is _ABSENT or (isinstance(above, str) and above.startswith("optional:")):
            kept[key] = value
        elif isinstance(above, Mapping) and isinstance(value, Mapping):
            kept[key], inner = split_overridden(value, above)
            if inner:
                replaced[key] = inner
        else:
            replaced[key] = value
    return kept, replaced
