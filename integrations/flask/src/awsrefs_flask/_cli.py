"""``flask awsrefs check``, and how the extension behaves under the ``flask`` command line."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, ScriptInfo

from awsrefs.report import print_checks
from awsrefs_flask._state import ConfigError, get_state

cli = AppGroup("awsrefs", help="awsrefs: references in app.config.")


@cli.command("check")
def check_command() -> None:
    """List every reference in app.config with its status; never shows values.

    Exits with status 1 when a reference cannot be resolved. Works when references fail:
    the app then loads with its config as written, for this command only.
    """
    state = get_state()
    results = state.resolver.check(dict(state.references))
    if not results:
        click.echo("No references in app.config.")
        return
    print_checks(results, sys.stdout)
    if any(not item.ok for item in results):
        sys.exit(1)


class CommandLineConfigError(click.ClickException):
    """A :class:`ConfigError` met by a ``flask`` command: click prints it as one error."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def loading_for_command_lookup() -> bool:
    """Tell whether the ``flask`` command line is loading the app to look up its commands.

    That is ``flask --help`` and the look-up of a command the app registers
    (``flask awsrefs check``, ``flask db upgrade``...): the app must load for them to be
    found. Built-in commands (``run``, ``shell``, ``routes``) load the app once they run.
    """
    ctx = click.get_current_context(silent=True)
    return (
        ctx is not None
        and ctx.find_object(ScriptInfo) is not None
        and isinstance(ctx.command, FlaskGroup)
    )


def command_line_error(error: ConfigError) -> Exception:
    """The exception to raise for ``error``: one click prints cleanly under a ``flask`` command."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_object(ScriptInfo) is not None:
        return CommandLineConfigError(error)
    return error


def refuse_app_commands(app: Flask, error: ConfigError) -> None:
    """Make every command of ``app.cli`` but ``awsrefs`` stop with ``error`` when invoked.

    They stay listed (``flask --help`` shows them with their help); running one prints the
    error and exits with status 1 instead of running with references unresolved.
    """
    group = app.cli
    original = group.get_command

    def get_command(ctx: click.Context, name: str) -> click.Command | None:
        command = original(ctx, name)
        if command is None or name == cli.name:
            return command
        return _refusing(command, error)

    group.get_command = get_command  # type: ignore[method-assign,assignment]


def _refusing(command: click.Command, error: ConfigError) -> click.Command:
    def refuse(**_: Any) -> None:
        raise CommandLineConfigError(error)

    return click.Command(
        command.name,
        callback=refuse,
        help=command.help,
        short_help=command.get_short_help_str(),
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
