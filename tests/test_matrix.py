"""The support matrix: the integrations' tests against the built wheels at both ends.

See ``tests/matrix.py`` for the cells. The cells start with the session (``tests/conftest.py``)
and run two at a time beside the rest of the suite; these tests run last, each waiting for
its own cell. The table is printed in
pytest's closing summary and written to ``.tmp/matrix.md``.
"""

from __future__ import annotations

import concurrent.futures
import os
import re

import pytest
from packaging.version import Version

from tests import matrix

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CELLS = matrix.cells(include_middle=os.environ.get("AWSREFS_MATRIX") == "all")
IN_CI = os.environ.get("CI", "").lower() == "true"


def locked_versions() -> dict[str, Version]:
    lock = tomllib.loads((matrix.ROOT / "uv.lock").read_text())
    return {p["name"]: Version(p["version"]) for p in lock["package"] if "version" in p}


def cell_result(cell: matrix.Cell, runs: dict[str, concurrent.futures.Future[matrix.Result]]):
    if cell.name not in runs:
        message = (
            f"Python {cell.python} not found (PATH, pyenv, /usr/bin): the matrix needs the "
            f"oldest and the newest supported Python; install it (pyenv install {cell.python})"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = runs[cell.name].result()
    if result not in matrix.COLLECTED:
        matrix.COLLECTED.append(result)
    assert not result.error, result.error
    return result


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS, ids=[cell.name for cell in CELLS])
def test_cell_installs_the_versions_it_stands_for(cell, matrix_runs):
    result = cell_result(cell, matrix_runs)
    installed = {name: Version(version) for name, version in result.versions.items()}
    if cell.lowest:
        # Exactly the lower bounds the wheels declare, so the metadata's claim is what is tested.
        assert result.pins
        for name, _, version in (pin.partition("==") for pin in result.pins):
            assert installed[name] == Version(version), (name, installed[name], version)
    else:
        # The newest releases: at least what the lock file (kept current) holds.
        locked = locked_versions()
        for name in ("boto3", "flask", "pydantic-settings", "sqlalchemy", "psycopg"):
            assert installed[name] >= locked[name], (name, installed[name], locked[name])
        if Version(cell.python) >= Version("3.12"):
            assert installed["django"] >= Version("6.0")  # Django 6 needs Python 3.12+


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("cell", "suite"),
    [(cell, suite) for cell in CELLS for suite in matrix.SUITES],
    ids=[f"{cell.name}-{suite}" for cell in CELLS for suite in matrix.SUITES],
)
def test_integration_passes_from_the_wheels_in_a_fresh_venv(cell, suite, matrix_runs):
    result = cell_result(cell, matrix_runs)
    outcomes = result.suites.get(suite)
    assert outcomes, f"no test of {suite} ran:\n{result.output}"
    failed = "\n".join(result.failed.get(suite, []))
    assert not outcomes["failed"], f"{suite} in {cell.name}:\n{failed}\n(see {matrix.LOGS})"
    assert outcomes["passed"] > 0
    if IN_CI:  # the servers are there under CI: nothing may be skipped
        assert not outcomes["skipped"], result.output


@pytest.mark.slow  # builds the five wheels
def test_lowest_pins_are_the_declared_lower_bounds(built_dists):
    wheels = {p.name.split("-")[0]: p for p in sorted(built_dists.glob("*.whl"))}
    pins = dict(pin.split("==") for pin in matrix.lowest_pins(wheels))
    assert set(pins) == set(matrix.PINNED)
    for project in ["pyproject.toml", *sorted(matrix.ROOT.glob("integrations/*/pyproject.toml"))]:
        text = (matrix.ROOT / project).read_text()
        for name, version in pins.items():
            for declared in re.findall(rf'"{name}(?:\[[^\]]*\])?>=([\d.]+)', text, re.I):
                assert Version(declared) <= Version(version), (project, name, declared)


def test_oldest_and_newest_python_are_the_classifiers_ends():
    versions = matrix.supported_pythons()
    assert versions[0] == "3.10"
    assert [c.python for c in CELLS[:2]] == [versions[0], versions[-1]]
    assert [c.lowest for c in CELLS[:2]] == [True, False]


def test_cells_run_every_integration_test_directory():
    # The full run leaves the integrations' slow tests to the cells (tests/conftest.py): the
    # cells must run every integration's tests, with no marker filter.
    on_disk = {
        str(path.relative_to(matrix.ROOT)) for path in matrix.ROOT.glob("integrations/*/tests")
    }
    assert on_disk == set(matrix.TEST_PATHS)


def test_cells_get_the_environment_the_session_started_with(monkeypatch):
    # Cells run beside tests that change os.environ for a while: none of that reaches them.
    monkeypatch.setenv("AWSREFS_BACKEND", "set-by-a-test")
    monkeypatch.setenv("PATH", "/set-by-a-test")
    env = matrix.clean_env(EXTRA="1")
    # As the session started (a developer's shell may export AWSREFS_BACKEND itself).
    assert env.get("AWSREFS_BACKEND") == matrix._START_ENV.get("AWSREFS_BACKEND")
    assert env["PATH"] == matrix._START_ENV["PATH"]
    assert env["EXTRA"] == "1"
