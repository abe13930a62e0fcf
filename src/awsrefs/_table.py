"""Aligned text columns for terminals and logs: the one table printer of awsrefs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import TextIO

__all__ = ["colour_enabled", "render_table", "terminal_width"]

_CODES = {"green": "32", "red": "31", "yellow": "33", "bold": "1"}
_MIN_LAST_COLUMN = 20


def colour_enabled(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal and neither ``NO_COLOR`` nor ``TERM=dumb`` is set."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _paint(text: str, colour: str | None, enabled: bool) -> str:
    if not enabled or colour is None:
        return text
    return f"\033[{_CODES[colour]}m{text}\033[0m"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    colours: Sequence[str | None] = (),
    colour: bool = False,
    width: int | None = None,
    painted_column: int = 2,
) -> str:
    """Aligned columns, one line per row, without a trailing newline.

    Args:
        headers: Column titles (printed in bold when ``colour``).
        rows: Cells, as many per row as ``headers``.
        colours: Per row, the colour of its ``painted_column`` cell (green, red, yellow).
        colour: Use ANSI colours.
        width: Cut the last column so that lines fit this many characters (a terminal's
            width); None leaves lines whole (files, pipes, logs).
        painted_column: Index of the column that carries the row's colour.
    """
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    last = len(headers) - 1
    if width is not None:
        used = sum(widths[:last]) + 2 * last
        widths[last] = min(widths[last], max(width - used, _MIN_LAST_COLUMN))
    lines = [_paint(_line(headers, widths), "bold", colour)]
    for index, row in enumerate(rows):
        cells = list(row)
        if width is not None:
            cells[last] = _truncate(cells[last], widths[last])
        row_colour = colours[index] if index < len(colours) else None
        painted = [
            _paint(cell, row_colour, colour) if i == painted_column else cell
            for i, cell in enumerate(cells)
        ]
        lines.append(_line(painted, widths, [len(c) for c in cells]))
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int], lengths: Sequence[int] = ()) -> str:
    # Padding counts visible characters: a painted cell carries invisible escape codes.
    out = []
    for i, cell in enumerate(cells):
        visible = lengths[i] if lengths else len(cell)
        padding = "" if i == len(cells) - 1 else " " * (widths[i] - visible)
        out.append(cell + padding)
    return "  ".join(out).rstrip()


def terminal_width(stream: TextIO) -> int | None:
    """The terminal's width when ``stream`` is a terminal, else None (keep lines whole)."""
    isatty = getattr(stream, "isatty", None)
    return shutil.get_terminal_size().columns if isatty and isatty() else None
