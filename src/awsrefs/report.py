"""One way to show check results: the ``awsrefs check`` table, for every check command.

``awsrefs check``, ``manage.py awsrefs_check`` and ``flask awsrefs check`` print the same
table, so a reference reads the same wherever it is checked::

    SETTING                 REFERENCE                          STATUS     REASON
    DATABASES.default.HOST  ssm:/myapp/prod/db-host            OK
    STRIPE_KEY              secretsmanager:myapp/prod/stripe:k not found  secret 'myapp/...

    2 references: 1 OK, 1 failed

Only paths, references, statuses and reasons are shown: never a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from awsrefs import Checked
from awsrefs._table import colour_enabled, render_table, terminal_width

__all__ = ["format_checks", "print_checks", "summary"]

HEADERS = ("SETTING", "REFERENCE", "STATUS", "REASON")


def _colour_of(item: Checked) -> str:
    if not item.ok:
        return "red"
    return "green" if item.status == "OK" else "yellow"


def summary(results: Sequence[Checked]) -> str:
    """One line such as ``3 references: 2 OK, 1 failed``."""
    failed = sum(not item.ok for item in results)
    noun = "reference" if len(results) == 1 else "references"
    return f"{len(results)} {noun}: {len(results) - failed} OK, {failed} failed"


def format_checks(
    results: Sequence[Checked], *, colour: bool = False, width: int | None = None
) -> str:
    """The table of ``results`` (no summary line, no trailing newline).

    Args:
        results: What :meth:`awsrefs.Resolver.check` returned (paths as they should read).
        colour: Colour the status column (green OK, yellow optional-missing, red failed).
        width: Cut the reason column so lines fit this width; None keeps lines whole.
    """
    rows = [
        (item.path, item.reference, item.status, item.failure.reason if item.failure else "")
        for item in results
    ]
    return render_table(
        HEADERS, rows, colours=[_colour_of(item) for item in results], colour=colour, width=width
    )


def print_checks(results: Sequence[Checked], stream: TextIO, *, with_summary: bool = True) -> None:
    """Write the table of ``results`` (and the summary line) to ``stream``.

    Colours and cutting to the terminal's width apply only when ``stream`` is a terminal
    (``NO_COLOR`` turns colours off).
    """
    stream.write(
        format_checks(results, colour=colour_enabled(stream), width=terminal_width(stream)) + "\n"
    )
    if with_summary:
        stream.write("\n" + summary(results) + "\n")
