"""``awsrefs exec``: resolve the variables asked for, then become the program."""

from __future__ import annotations

import argparse
import errno
import fnmatch
import os
import re
import sys

from awsrefs.cli._common import EXIT_FAILED, Command, InputError, ValueUnfitError
from awsrefs.cli._common import references as find_settings
from awsrefs.cli._inputs import Setting, parse_env
from awsrefs.cli._resolve import as_text, resolve_settings

__all__ = [
    "COMMAND",
    "EPILOG",
    "EXIT_NOT_EXECUTABLE",
    "EXIT_NOT_FOUND",
    "EXIT_NOT_PROGRAM",
    "EXIT_TOO_BIG",
    "USAGE",
    "run",
]

# Shell conventions for the program itself: found but not runnable, not found.
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
# Our own, next to them: a file that is executable but not a program (ENOEXEC).
EXIT_NOT_PROGRAM = 125
# sysexits' EX_OSERR: the system refused arguments and environment this large (E2BIG).
EXIT_TOO_BIG = 71

USAGE = (
    "awsrefs exec [-h] [--env-file F] [--var NAME] [--all-env] [AWS options] -- COMMAND [ARG ...]"
)
EPILOG = """\
examples:
  awsrefs exec --env-file .env -- celery -A proj worker
  awsrefs exec --var DB_PASSWORD --var 'APP_*' -- gunicorn app:app
  awsrefs exec --all-env -- gunicorn app:app

Only what you name is resolved: every variable of the --env-file files and the inherited
variables named by --var (or all of them with --all-env); any other inherited variable is
passed on as it is. The program replaces awsrefs (same process id, its signals and exit code).
Variables already in the environment win over the env files. If a reference fails, the
program is not started and the exit code is 1.

exit codes when COMMAND does not start: 1 a reference failed, 2 usage or input error,
  65 a value holds a NUL character (or binary, not UTF-8), 71 arguments and environment too
  large, 125 not an executable format, 126 not executable, 127 command not found
"""

_PATTERN = re.compile(r"[A-Za-z0-9_.*?\[\]!-]+")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env-file",
        action="append",
        default=[],
        metavar="F",
        help="add these variables and resolve their references (repeatable)",
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME",
        help="resolve this inherited variable; a pattern such as 'APP_*' names several "
        "(repeatable)",
    )
    parser.add_argument(
        "--all-env",
        action="store_true",
        help="resolve every inherited variable (what exec did in awsrefs 0.1.0)",
    )
    # main() fills it in from what follows "--"; argparse never sees COMMAND.
    parser.set_defaults(command=[])


def _read_env_file(name: str) -> list[tuple[str, str]]:
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{name}: cannot read: {error}") from None
    return parse_env(text, name)


def _chosen(args: argparse.Namespace, environment: dict[str, str]) -> list[Setting]:
    """The settings to resolve: the env files' variables and the ones --var / --all-env name.

    Fills ``environment`` with the files' variables the real environment does not set.
    """
    if not (args.env_file or args.var or args.all_env):
        raise InputError(
            "nothing to resolve: give --env-file F, name variables with --var NAME, or "
            "resolve every inherited variable with --all-env (what exec did in 0.1.0)"
        )
    for pattern in args.var:
        if not _PATTERN.fullmatch(pattern):
            raise InputError(f"--var takes a name or a pattern such as 'APP_*', not {pattern!r}")
    inherited = set(environment)
    sources: dict[str, str] = {}  # name -> where it comes from, as the failure table shows it
    for name in args.env_file:
        for key, value in _read_env_file(name):
            if key in inherited:
                # The real environment wins, as with docker compose; its value is resolved
                # all the same, since the file names this variable.
                sources.setdefault(key, "env")
            elif key not in environment:  # else an earlier file set it
                environment[key] = value
                sources[key] = name
    for pattern in args.var:
        matches = [key for key in inherited if fnmatch.fnmatchcase(key, pattern)]
        if not matches and not any(c in pattern for c in "*?["):
            if pattern not in environment:
                raise InputError(f"--var {pattern}: no such variable in the environment")
            matches = [pattern]
        for key in matches:
            sources.setdefault(key, "env")
    if args.all_env:
        for key in inherited:
            sources.setdefault(key, "env")
    # The environment's order, so failures are listed as the variables are.
    return [Setting(f"{sources[k]}:{k}", k, v) for k, v in environment.items() if k in sources]


def _started_fails(program: str, error: OSError, environment: dict[str, str]) -> int:
    """Print why ``program`` did not start (one line, never a value); the exit code."""
    code = error.errno
    if code in (errno.ENOENT, errno.ENOTDIR):
        message, status = f"command not found: {program}", EXIT_NOT_FOUND
    elif code in (errno.EACCES, errno.EPERM, errno.EISDIR):
        message, status = f"permission denied: {program} is not executable", EXIT_NOT_EXECUTABLE
    elif code == errno.ENOEXEC:
        message = (
            f"cannot run {program}: not an executable format "
            "(a script needs a #! line; a binary may be built for another system)"
        )
        status = EXIT_NOT_PROGRAM
    elif code == errno.E2BIG:
        largest = max(environment, key=lambda k: len(environment[k]), default="")
        size = len(os.fsencode(environment.get(largest, "")))
        message = (
            f"cannot run {program}: its arguments and environment are too large for the "
            f"system (the largest variable is {largest}, {size} bytes)"
        )
        status = EXIT_TOO_BIG
    else:
        message = f"cannot run {program}: {error.strerror}"
        status = EXIT_NOT_EXECUTABLE
    print(f"awsrefs exec: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    """Start ``args.command`` with resolved values in its environment (never returns on success)."""
    command: list[str] = args.command
    if not command:
        raise InputError("no command: awsrefs exec [--env-file F] [--var NAME] -- COMMAND ...")
    if any("\0" in part for part in command):
        raise InputError("COMMAND holds a NUL character")
    environment = dict(os.environ)
    found = find_settings(_chosen(args, environment))
    if found:
        values = resolve_settings(args, found, sys.stderr)
        if values is None:
            print(f"awsrefs exec: {command[0]} was not started", file=sys.stderr)
            return EXIT_FAILED
        for index, setting in enumerate(found):
            if str(index) in values:
                environment[setting.name] = as_text(values[str(index)], setting.path)
            else:  # an optional reference whose target does not exist: unset
                del environment[setting.name]
    for key, value in environment.items():
        if "\0" in value:
            raise ValueUnfitError(
                f"{key} holds a NUL character, which no environment can carry; "
                f"{command[0]} was not started"
            )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, environment)  # noqa: S606 - that is the point
    except OSError as error:
        return _started_fails(command[0], error, environment)


COMMAND = Command(
    name="exec",
    help="run a program with the references of the variables you name resolved",
    description="Resolve the env files' and the named variables' references, then become COMMAND.",
    epilog=EPILOG,
    parents=("aws",),
    add_arguments=_add_arguments,
    run=run,
    usage=USAGE,
)
