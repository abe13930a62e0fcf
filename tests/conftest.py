"""Fixtures of the core test directory: the distributions built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import matrix


@pytest.fixture(scope="session")
def uv_cmd() -> list[str]:
    """The uv that ``./dev test`` installed or found (``AWSREFS_UV``), else uv on PATH."""
    uv = matrix.uv_command()
    if uv is None:
        message = "uv not found: run the tests with ./dev test"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return uv


@pytest.fixture(scope="session")
def built_dists(uv_cmd: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the five sdists and wheels built from this checkout (wheels from sdists)."""
    out = tmp_path_factory.mktemp("dist")
    matrix.build(uv_cmd, out)
    return out


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The support matrix's table, when its cells ran (also written to .tmp/matrix.md)."""
    if not matrix.COLLECTED:
        return
    order = [cell.name for cell in matrix.cells(include_middle=True)]
    results = sorted(matrix.COLLECTED, key=lambda r: order.index(r.cell.name))
    text = matrix.table(results)
    terminalreporter.section("support matrix")
    terminalreporter.write(text)
    out = matrix.ROOT / ".tmp" / "matrix.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
