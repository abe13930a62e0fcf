"""The Django app: registers the awsrefs system check."""
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class AwsRefsConfig(AppConfig):  # type: ignore[misc]
    """``awsrefs_django`` in ``INSTALLED_APPS``: ``manage.py awsrefs_check`` and the check."""

    name = "awsrefs_django"
    verbose_name = "awsrefs"

    def ready(self) -> None:
        """Register the checks of :mod:`awsrefs_django.checks`."""
        from awsrefs_django.checks import check_references, check_setting_types

        checks.register(check_references, "awsrefs")
        checks.register(check_setting_types, "awsrefs")
