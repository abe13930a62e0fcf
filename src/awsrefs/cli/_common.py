"""What every ``awsrefs`` command shares: exit codes, inputs, the resolver, failure tables."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal, TextIO

import awsrefs
from awsrefs.cli._inputs import (
    InputError,
    Setting,
    load_django_settings,
    load_environ,
    load_file,
)
from awsrefs.report import print_checks

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "EXIT_VALUE",
    "Command",
    "InputError",
    "ValueUnfitError",
    "as_checked",
    "gather",
    "keyed",
    "make_resolver",
    "print_failures",
    "references",
    "session",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# sysexits' EX_DATAERR: a resolved value cannot be written where it has to go.
EXIT_VALUE = 65
# 128 + SIGPIPE, what a shell reports for a program its pipe's reader stopped early.
EXIT_PIPE = 141


class ValueUnfitError(Exception):
    """A resolved value cannot go where it must (exit code 65).

    The message names the setting and what is wrong with its value, never the value.
    """


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand as its module declares it; ``awsrefs.cli`` builds the parsers from these."""

    name: str
    help: str
    description: str
    epilog: str
    # The shared option groups it takes, in the order its help lists them.
    parents: tuple[Literal["inputs", "aws"], ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    usage: str | None = None  # None: argparse writes it


def gather(args: argparse.Namespace) -> list[Setting]:
    """Every string setting of the FILEs, ``--env`` and ``--django-settings`` inputs."""
    if not (args.files or args.env or args.django_settings):
        raise InputError("nothing to read: give FILEs, --env or --django-settings MODULE")
    settings: list[Setting] = []
    for name in args.files:
        settings.extend(load_file(name))
    if args.env:
        settings.extend(load_environ(os.environ))
    if args.django_settings:
        settings.extend(load_django_settings(args.django_settings))
    return settings


def references(settings: list[Setting]) -> list[Setting]:
    """The settings that hold a reference (malformed ones included, to be reported)."""
    return [s for s in settings if awsrefs.find_references(s.text)]


def session(profile: str | None) -> Any:
    """A botocore session for ``--profile``, or None for the default credential chain."""
    if profile is None:
        return None
    import botocore.exceptions
    import botocore.session

    botocore_session = botocore.session.Session(profile=profile)
    try:
        botocore_session.get_scoped_config()
    except botocore.exceptions.ProfileNotFound:
        raise InputError(f"no AWS profile named {profile!r} in the AWS config files") from None
    return botocore_session


def make_resolver(args: argparse.Namespace) -> awsrefs.Resolver:
    """The resolver the AWS options describe."""
    budget = args.retry_budget
    if budget is None:
        # A check in a terminal or pipeline should answer soon; exec starts an application,
        # which waits through throttling like the application itself would.
        budget = 30.0 if args.command_name == "exec" else 5.0
    if budget < 0:
        raise InputError(f"--retry-budget must be >= 0 seconds, got {budget}")
    return awsrefs.Resolver(
        session=session(args.profile),
        region_name=args.region,
        endpoint_url=args.endpoint_url,
        retry_budget=budget,
    )


def keyed(settings: Sequence[Setting]) -> dict[str, str]:
    """The settings' texts by index: keys without dots map the resolver's paths straight back."""
    return {str(i): s.text for i, s in enumerate(settings)}


def _with_hint(failure: awsrefs.Failure) -> awsrefs.Failure:
    if failure.kind is awsrefs.FailureKind.CONFIGURATION and "region" in failure.reason:
        return dataclasses.replace(failure, reason=failure.reason + " (here: --region)")
    return failure


def as_checked(settings: Sequence[Setting], item: awsrefs.Checked) -> awsrefs.Checked:
    """``item`` with its setting's own path (``.env:DB_PASSWORD``) and the CLI's hints."""
    path = settings[int(item.path)].path if item.path.isdigit() else item.path
    failure = _with_hint(item.failure) if item.failure else None
    return dataclasses.replace(item, path=path, failure=failure)


def print_failures(
    settings: Sequence[Setting], failures: Sequence[awsrefs.Failure], stream: TextIO
) -> None:
    """The check table of ``failures`` (no summary line)."""
    rows = [as_checked(settings, awsrefs.Checked(f.path, f.reference, f)) for f in failures]
    print_checks(rows, stream, with_summary=False)
