"""``awsrefs check``: every reference and whether it resolves, never a value."""

from __future__ import annotations

import argparse
import json
import sys

from awsrefs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    as_checked,
    gather,
    keyed,
    make_resolver,
)
from awsrefs.cli._common import references as find_settings
from awsrefs.report import print_checks

__all__ = ["COMMAND", "EPILOG", "run"]

EPILOG = """\
examples:
  awsrefs check .env
  awsrefs check config.toml settings.yaml --format json
  awsrefs check --env
  awsrefs check --django-settings mysite.settings
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table")


def run(args: argparse.Namespace) -> int:
    """Print the status of every reference; exit 1 when any fails."""
    settings = find_settings(gather(args))
    results = (
        [as_checked(settings, item) for item in make_resolver(args).check(keyed(settings))]
        if settings
        else []
    )
    failed = sum(not item.ok for item in results)
    if args.format == "json":
        document = {
            "ok": failed == 0,
            "summary": {"references": len(results), "ok": len(results) - failed, "failed": failed},
            "references": [
                {
                    "setting": item.path,
                    "reference": item.reference,
                    "status": item.status,
                    "ok": item.ok,
                    "kind": item.failure.kind.value if item.failure else None,
                    "reason": item.failure.reason if item.failure else "",
                }
                for item in results
            ],
        }
        print(json.dumps(document, indent=2))
    elif not results:
        print("no references found")
    else:
        print_checks(results, sys.stdout)
    return EXIT_FAILED if failed else EXIT_OK


COMMAND = Command(
    name="check",
    help="show every reference and whether it resolves (no values)",
    description="Show every reference and whether it resolves. Never shows values.",
    epilog=EPILOG,
    parents=("inputs", "aws"),
    add_arguments=_add_arguments,
    run=run,
)
