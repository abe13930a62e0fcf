# mypy: disable-error-code="import-untyped"
"""An exception reporter filter that hides every value that came from a reference."""

from __future__ import annotations

from collections.abc import Mapping
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
        for name, original in originals.items():
            if name in safe:
                safe[name] = self._mask(original, safe[name])
        return safe

    def _mask(self, original: Any, shown: Any) -> Any:
        if isinstance(original, str):
            return self.cleansed_substitute if awsrefs.is_reference(original) else shown
        if isinstance(original, Mapping) and isinstance(shown, Mapping):
            return {k: self._mask(original.get(k), v) for k, v in shown.items()}
        if isinstance(original, (list, tuple)) and isinstance(shown, (list, tuple)):
            if len(original) != len(shown):  # an optional item was dropped: hide them all
                return self.cleansed_substitute
            masked = [self._mask(o, s) for o, s in zip(original, shown, strict=True)]
            return masked if isinstance(shown, list) else tuple(masked)
        return shown
