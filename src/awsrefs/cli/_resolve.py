"""``awsrefs resolve``: the settings that hold references, with their values (masked)."""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any, TextIO

import awsrefs
from awsrefs._table import colour_enabled, render_table, terminal_width
from awsrefs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    ValueUnfitError,
    gather,
    keyed,
    make_resolver,
    print_failures,
)
from awsrefs.cli._common import references as find_settings
from awsrefs.cli._envline import UnrepresentableError, env_line
from awsrefs.cli._inputs import Setting

__all__ = ["COMMAND", "EPILOG", "as_text", "resolve_settings", "run"]

EPILOG = """\
examples:
  awsrefs resolve .env                   values hidden: <hidden, 24 chars>
  awsrefs resolve .env --reveal --format env > resolved.env
  awsrefs resolve config.toml --reveal --format json
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "env", "json"), default="table")
    parser.add_argument("--reveal", action="store_true", help="show the values themselves")


def as_text(value: Any, where: str) -> str:
    """A resolved value as environment text (JSON values as JSON, bytes as UTF-8).

    Raises:
        ValueUnfitError: A binary secret that is not UTF-8 (``where`` names the setting).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueUnfitError(
                f"{where}: a binary secret that is not UTF-8 text cannot be put in an environment"
            ) from None
    return json.dumps(value)


def _masked(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<hidden, {len(value)} bytes>"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"<hidden, {len(text)} chars>"


def _references_of(text: str) -> str:
    try:
        item = awsrefs.parse(text)
    except awsrefs.RefSyntaxError as error:
        return error.text
    if isinstance(item, awsrefs.Template):
        return " ".join(str(ref) for ref in item.refs)
    return str(item)


def resolve_settings(
    args: argparse.Namespace, settings: list[Setting], stream: TextIO
) -> dict[str, Any] | None:
    """The resolved values by setting index, or None after printing what failed."""
    try:
        values: dict[str, Any] = make_resolver(args).resolve(keyed(settings))
    except awsrefs.ResolutionError as error:
        print_failures(settings, error.failures, stream)
        return None
    return values


def run(args: argparse.Namespace) -> int:
    """Print the resolved settings (values masked unless ``--reveal``)."""
    settings = find_settings(gather(args))
    values = resolve_settings(args, settings, sys.stderr) if settings else {}
    if values is None:
        return EXIT_FAILED
    rows: list[tuple[Setting, Any]] = []
    for index, setting in enumerate(settings):
        if str(index) in values:
            rows.append((setting, values[str(index)]))
    shown = [(s, v if args.reveal else _masked(v)) for s, v in rows]
    if args.format == "json":
        out = []
        for setting, value in shown:
            entry: dict[str, Any] = {"setting": setting.path, "name": setting.name}
            if isinstance(value, bytes):
                entry["value"] = base64.b64encode(value).decode("ascii")
                entry["encoding"] = "base64"
            else:
                entry["value"] = value
            out.append(entry)
        print(json.dumps(out, indent=2))
    elif args.format == "env":
        lines = []
        for setting, value in shown:  # every line first: nothing is printed when one fails
            try:
                lines.append(env_line(setting.name, as_text(value, setting.path)))
            except UnrepresentableError as error:
                raise ValueUnfitError(
                    f"{setting.path}: cannot be written with --format env: {error}; "
                    "use --format json"
                ) from None
        if lines:
            print("\n".join(lines))
    elif not shown:
        print("no references found")
    else:
        table = render_table(
            ("SETTING", "REFERENCE", "VALUE"),
            [(s.path, _references_of(s.text), as_text(v, s.path)) for s, v in shown],
            colour=colour_enabled(sys.stdout),
            width=terminal_width(sys.stdout),
        )
        print(table)
    if not args.reveal and shown:
        print("values hidden; add --reveal to show them", file=sys.stderr)
    return EXIT_OK


COMMAND = Command(
    name="resolve",
    help="print the resolved values (hidden unless --reveal)",
    description="Print the settings that hold references with their values.",
    epilog=EPILOG,
    parents=("inputs", "aws"),
    add_arguments=_add_arguments,
    run=run,
)
