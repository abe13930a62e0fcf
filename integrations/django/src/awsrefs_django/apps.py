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
        """Register :func:`awsrefs_django.checks.check_references`."""
        from awsrefs_django.checks import check_references

        checks.register(check_references, "awsrefs")
