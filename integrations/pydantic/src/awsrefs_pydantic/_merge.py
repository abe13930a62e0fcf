"""Merging the data of settings sources as pydantic-settings does: nested mappings key by key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
