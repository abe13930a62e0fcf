# mypy: disable-error-code="import-untyped"
"""An exception reporter filter that hides every value that came from a reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

import awsrefs
from awsrefs_django._settings import REFERENCES_SETTING


class ReferenceExceptionReporterFilter(SafeExceptionReporterFilter):  # type: ignore[misc]
    """Django's filter, plus: settings values resolved from references are masked.

    Django masks settings by name (``PASSWORD``, ``SECRET``, ``KEY``...), which misses a
    token inside ``CACHES["default"]["LOCATION"]`` or a DSN. This filter also masks each value
    that ``resolve_settings`` put in place of a reference or template.

    ``DEFAULT_EXCEPTION_REPORTER_FILTER = "awsrefs_django.debug.ReferenceExceptionReporterFilter"``
    """

    def get_safe_settings(self) -> dict[str, Any]:
        """Return Django's safe settings with resolved references masked."""
        from django.conf import settings

        safe: dict[str, Any] = super().get_safe_settings()
        originals = getattr(settings, REFERENCES_SETTING, None) or {}
        # The settings as written say where each reference was; mask the value shown there.
        for found in awsrefs.find_references(originals):
            name, *keys = found.keys
            if name in safe:
                safe[name] = self._masked(safe[name], originals[name], keys)
        return safe

    def _masked(self, shown: Any, original: Any, keys: Sequence[Any]) -> Any:
        """``shown`` with the value at ``keys`` masked, copied along that path only."""
        if not keys:
            return self.cleansed_substitute
        key, *rest = keys
        if isinstance(shown, Mapping) and isinstance(original, Mapping):
            if key not in shown:  # an optional reference that was missing: nothing shown
                return shown
            return {**shown, key: self._masked(shown[key], original[key], rest)}
        sequences = isinstance(shown, (list, tuple)) and isinstance(original, (list, tuple))
        if sequences and len(shown) == len(original):
            items = list(shown)
            items[key] = self._masked(shown[key], original[key], rest)
            return items if isinstance(shown, list) else tuple(items)
        # An optional item was dropped (positions moved) or a set: hide the container whole.
        return self.cleansed_substitute
