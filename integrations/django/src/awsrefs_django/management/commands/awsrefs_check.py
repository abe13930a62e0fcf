"""``manage.py awsrefs_check``: the status of every reference in settings, for deploy pipelines."""
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from awsrefs.report import print_checks
from awsrefs_django._settings import check_settings
from awsrefs_django.checks import settings_mapping


class Command(BaseCommand):  # type: ignore[misc]
    """List every reference with OK / not found / access denied; exit 1 when any fails."""

    help = (
        "List every ssm:/secretsmanager: reference in settings with its status (never its "
        "value). Exits non-zero when any reference does not resolve. Settings load for this "
        "command even when references fail, so that it can report them."
    )
    # The system checks would resolve the same references again; this command is the check.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the check and print the table ``awsrefs check`` prints."""
        results = check_settings(settings_mapping())
        if not results:
            self.stdout.write("No references found in settings.")
            return
        print_checks(results, self.stdout)
        failed = sum(not item.ok for item in results)
        if failed:
            raise CommandError(f"{failed} of {len(results)} references could not be resolved.")
