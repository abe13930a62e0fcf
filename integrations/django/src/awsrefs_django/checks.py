"""System check: every reference in settings resolves (``manage.py check``)."""
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

from typing import Any

from django.core import checks

from awsrefs_django._settings import check_settings


def settings_mapping() -> dict[str, Any]:
    """Return the UPPERCASE Django settings as a mapping (``AWSREFS_REFERENCES`` included)."""
    from django.conf import settings

    return {name: getattr(settings, name) for name in dir(settings) if name.isupper()}


def check_references(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report each reference in settings that does not resolve as an error ``awsrefs.E001``.

    Values come from the resolver's cache when ``resolve_settings`` fetched them moments ago,
    so the check costs no AWS call on a healthy start-up.
    """
    errors: list[checks.CheckMessage] = []
    for item in check_settings(settings_mapping()):
        if item.failure is None:
            continue
        errors.append(
            checks.Error(
                f"{item.path}: {item.reference}: {item.status}",
                hint=item.failure.reason,
                id="awsrefs.E001",
            )
        )
    return errors
