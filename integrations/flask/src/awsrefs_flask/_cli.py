from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from awsrefs_flask._extension import get_state

cli = AppGroup("awsrefs", help="awsrefs: references in app.config.")


@cli.command("check")
def check_command() -> None:
    """List every reference in app.config with its status; never shows values.

    Exits with status 1 when a reference cannot be resolved. Run it with
    AWSREFS_ENABLED = False (FLASK_AWSREFS_ENABLED=false) when broken references stop the
    app from starting.
    """
    state = get_state()
    results = state.resolver.check(dict(state.references))
    if not results:
        click.echo("No references in app.config.")
        return
    status_width = max(len(item.status) for item in results)
    path_width = max(len(item.path) for item in results)
    for item in results:
        click.echo(f"{item.status:<{status_width}}  {item.path:<{path_width}}  {item.reference}")
        if item.failure is not None:
            click.echo(f"{'':<{status_width}}    {item.failure.reason}")
    failed = sum(1 for item in results if not item.ok)
    noun = "reference" if len(results) == 1 else "references"
    click.echo(f"{len(results)} {noun}: {len(results) - failed} OK, {failed} failed")
    if failed:
        sys.exit(1)
