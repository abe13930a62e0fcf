"""Fixtures of the core test directory: the distributions built once per session."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def matrix_runs(
    uv_cmd: list[str], built_dists: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, concurrent.futures.Future[matrix.Result]]]:
    """The support matrix's cells, running two at a time in threads, by cell name."""
    wheels = {p.name.split("-")[0]: p for p in sorted(built_dists.glob("*.whl"))}
    work = tmp_path_factory.mktemp("matrix")
    cells = matrix.cells(include_middle=os.environ.get("AWSREFS_MATRIX") == "all")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        runnable = [cell for cell in cells if matrix.find_python(cell.python)]
        yield {c.name: pool.submit(matrix.run_cell, c, uv_cmd, wheels, work) for c in runnable}


def _needs_matrix(item: pytest.Item) -> bool:
    return "matrix_runs" in getattr(item, "fixturenames", ())


@pytest.fixture(scope="session", autouse=True)
def _matrix_starts_with_the_session(request: pytest.FixtureRequest) -> None:
    """Start the cells at once when a selected test needs them.

    Most of the suite waits on processes, servers and sockets, so the cells' work overlaps it
    instead of following it (the cells took half of a full run when they started with
    their own tests). A failure here is left to the matrix tests, which report it.
    """
    if matrix.uv_command() is None or not any(map(_needs_matrix, request.session.items)):
        return
    with contextlib.suppress(Exception):  # the matrix tests get the same error and report it
        request.getfixturevalue("matrix_runs")


def _runs_in_the_cells(item: pytest.Item) -> bool:
    """A slow test of an integration: the cells run it from the wheels at both ends."""
    integrations = matrix.ROOT / "integrations"
    return item.get_closest_marker("slow") is not None and item.path.is_relative_to(integrations)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The matrix tests run last; the integrations' slow tests run in the cells only.

    By the time the matrix tests run, their cells (started with the session) are done. The
    cells run every test of the integrations, the slow ones included (generated projects,
    rotations under load, a Celery worker), at the lowest and the newest end of the range:
    running the slow ones a third time here, from the source tree with the locked versions
    (which the newest cell is at least as new as), cost a third of a full run on two cores.
    They stay when no cell can run (a Python is missing, no uv) or no matrix test is
    selected (``pytest integrations`` runs them all).
    """
    items.sort(key=_needs_matrix)  # stable: every other test keeps its place
    cells_run = (
        any(map(_needs_matrix, items))
        and matrix.uv_command() is not None
        and all(matrix.find_python(cell.python) for cell in matrix.cells())
    )
    if not cells_run:
        return
    in_cells = [item for item in items if _runs_in_the_cells(item)]
    if in_cells:
        items[:] = [item for item in items if not _runs_in_the_cells(item)]
        config.hook.pytest_deselected(items=in_cells)
        _IN_CELLS.extend(item.nodeid for item in in_cells)


# The integrations' slow tests left to the matrix cells in this run (see above).
_IN_CELLS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The support matrix's table, when its cells ran (also written to .tmp/matrix.md)."""
    if _IN_CELLS:
        terminalreporter.write_line(
            f"{len(_IN_CELLS)} slow tests of the integrations are run by the matrix cells only "
            "(from the built wheels, lowest and newest), not from the source tree"
        )
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
