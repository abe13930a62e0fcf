"""``awsrefs exec``: resolve the environment's references, then become the program."""

from __future__ import annotations

import argparse
import os
import sys

from awsrefs._inputs import Setting, load_environ, parse_env
from awsrefs.cli._common import EXIT_FAILED, Command, InputError
from awsrefs.cli._common import references as find_settings
from awsrefs.cli._resolve import as_text, resolve_settings

__all__ = ["COMMAND", "EPILOG", "USAGE", "run"]

USAGE = "awsrefs exec [-h] [--env-file F] [AWS options] -- COMMAND [ARG ...]"
EPILOG = """\
examples:
  awsrefs exec -- gunicorn app:app
  awsrefs exec --env-file .env -- celery -A proj worker

References in the environment and the env files are resolved; the program replaces awsrefs
(same process id, its signals and exit code). Variables already in the environment win over
the env files. If a reference fails, the program is not started and the exit code is 1.
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env-file", action="append", default=[], metavar="F", help="add these variables"
    )
    # main() fills it in from what follows "--"; argparse never sees COMMAND.
    parser.set_defaults(command=[])


def run(args: argparse.Namespace) -> int:
    """Start ``args.command`` with resolved values in its environment (never returns on success)."""
    command: list[str] = args.command
    if not command:
        raise InputError("no command: awsrefs exec [--env-file F] -- COMMAND [ARG ...]")
    environment = dict(os.environ)
    settings = load_environ(os.environ)
    for name in args.env_file:
        try:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{name}: cannot read: {error}") from None
        for key, value in parse_env(text, name):
            if key not in environment:  # the real environment wins, as with docker compose
                environment[key] = value
                settings.append(Setting(f"{name}:{key}", key, value))
    found = find_settings(settings)
    if found:
        values = resolve_settings(args, found, sys.stderr)
        if values is None:
            print(f"awsrefs exec: {command[0]} was not started", file=sys.stderr)
            return EXIT_FAILED
        for index, setting in enumerate(found):
            if str(index) in values:
                environment[setting.name] = as_text(values[str(index)])
            else:  # an optional reference whose target does not exist: unset
                del environment[setting.name]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, environment)  # noqa: S606 - that is the point
    except FileNotFoundError:
        print(f"awsrefs exec: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"awsrefs exec: permission denied: {command[0]}", file=sys.stderr)
        return 126


COMMAND = Command(
    name="exec",
    help="run a program with the references in its environment resolved",
    description="Resolve the environment's references, then become COMMAND.",
    epilog=EPILOG,
    parents=("aws",),
    add_arguments=_add_arguments,
    run=run,
    usage=USAGE,
)
