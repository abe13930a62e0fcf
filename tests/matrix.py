"""The support matrix: the integrations' tests at both ends of the supported range.

Each cell is a fresh virtual environment made with one of the machine's Pythons, into which the
wheels built from this checkout are installed as a user would install them (``awsrefs[all]``
and the database driver extras), with the frameworks either at the lowest versions the wheels'
metadata declares or at the newest releases. The integrations' test suites then run against
those installed wheels (not the source tree) through moto's server and the real databases.

The cells:

* ``lowest``: the oldest supported Python (from the classifiers) with every framework, driver
  and boto3 pinned to the lower bound its ``Requires-Dist`` declares (read from the built
  wheels, so the metadata is what is tested);
* ``newest``: the newest supported Python with the newest releases of everything;
* ``middle-3.X``: each Python in between with the newest releases (``--all`` only; the main
  test run already covers the Python of ``.venv`` with the locked versions).

Run by ``tests/test_matrix.py`` (part of ``./dev test``) and by ``./dev matrix [--all]``, which
prints the table. Pythons are looked for on PATH, under pyenv (``$PYENV_ROOT/versions``) and
in ``/usr/local/bin`` and ``/usr/bin``.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import email.parser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = [
    "awsrefs",
    "awsrefs_django",
    "awsrefs_flask",
    "awsrefs_pydantic",
    "awsrefs_redis",
    "awsrefs_sqlalchemy",
]
# What a user installs: every integration, with every database driver extra.
INSTALL = {
    "awsrefs": "all",
    "awsrefs_django": "postgresql,mysql",
    "awsrefs_redis": "celery",
    "awsrefs_sqlalchemy": "postgresql,mysql,asyncpg",
}
# Pinned to their declared lower bound in the ``lowest`` cell.
PINNED = [
    "boto3",
    "django",
    "flask",
    "pydantic",
    "pydantic-settings",
    "sqlalchemy",
    "redis",
    "celery",
    "kombu",
    "psycopg",
    "pymysql",
    "asyncpg",
]
# Only what the integrations' tests and tests/support import; their own newest releases.
TEST_TOOLS = [
    "pytest>=8",
    "moto[server,ssm,secretsmanager]>=5.1",
    "flask-sqlalchemy>=3.1",
    "fastapi>=0.110",
    "httpx>=0.27",
    "psycopg2-binary>=2.9",  # the SQLAlchemy tests also run postgresql+psycopg2://
    "pytest-django>=4.8",  # the generated Django project runs its tests with it too
]
# The versions shown in the table: the pinned ones, Flask's Werkzeug and the test tools.
SHOWN = [*PINNED, "werkzeug", "moto", "pytest"]
SUITES = ["django", "flask", "pydantic", "redis", "sqlalchemy"]
TEST_PATHS = [f"integrations/{name}/tests" for name in SUITES]
# The whole pytest output of each cell (the table and the test failures show only its end).
LOGS = ROOT / ".tmp" / "matrix-logs"
INSTALL_TIMEOUT = 600.0
# Hang guards, not measures: a cell runs beside the rest of the suite, on a busy machine too.
TEST_TIMEOUT = 2400.0


# The results of the cells run in this process (tests/conftest.py prints them at the end).
COLLECTED: list[Result] = []


class MatrixError(Exception):
    """A cell could not be set up (interpreter, build or install); the message says why."""


def uv_command() -> list[str] | None:
    """The uv that ``./dev`` uses (``AWSREFS_UV``), else the one on PATH."""
    configured = os.environ.get("AWSREFS_UV")
    if configured:
        return shlex.split(configured)
    found = shutil.which("uv")
    return [found] if found else None


# The environment as the process started. The cells run in threads beside the rest of the
# test session, whose tests change os.environ for a while (monkeypatch: AWSREFS_BACKEND=agent,
# AWS_ENDPOINT_URL...): a cell must not start its processes with one test's environment.
_START_ENV = dict(os.environ)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment this process started with, without the project's virtual environment."""
    env = {
        k: v for k, v in _START_ENV.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(extra)
    return env


def run(
    command: list[str], *, timeout: float, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise MatrixError(
            f"{shlex.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result


def build(uv: list[str], out: Path) -> dict[str, Path]:
    """Build the six sdists and wheels (wheels from the sdists) into ``out``; wheel by name."""
    run(
        [*uv, "build", "--all-packages", "-q", "-o", str(out)],
        cwd=ROOT,
        env=clean_env(),
        timeout=300,
    )
    return {path.name.split("-")[0]: path for path in sorted(out.glob("*.whl"))}


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.HeaderParser().parsestr(archive.read(name).decode())


def supported_pythons() -> list[str]:
    """The ``3.X`` versions the core's classifiers list, oldest first."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    return sorted(found, key=lambda v: tuple(map(int, v.split("."))))


def find_python(version: str) -> Path | None:
    """An interpreter of ``version`` (``"3.12"``) on this machine, or None."""
    candidates: list[Path] = []
    on_path = shutil.which(f"python{version}", path=_START_ENV.get("PATH"))
    if on_path:
        candidates.append(Path(on_path))
    pyenv = Path(_START_ENV.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    patches = sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    candidates += [
        p for p in patches if re.fullmatch(rf"{re.escape(version)}\.\d+", p.parents[1].name)
    ]
    candidates += [Path(d) / f"python{version}" for d in ("/usr/local/bin", "/usr/bin")]
    for candidate in candidates:
        if not candidate.exists():
            continue
        try:
            out = subprocess.run(
                [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                env=clean_env(),
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return candidate
    return None


def lowest_pins(wheels: dict[str, Path]) -> list[str]:
    """``name==X`` for each of PINNED, X the highest ``>=`` bound any installed wheel declares."""
    bounds: dict[str, str] = {}
    for dist, wheel in wheels.items():
        extras = set(INSTALL.get(dist, "").split(","))
        for text in wheel_metadata(wheel).get_all("Requires-Dist") or []:
            requirement = Requirement(text)
            name = requirement.name.lower().replace("_", "-")
            if name not in PINNED:
                continue
            marker = requirement.marker
            if marker and not any(marker.evaluate({"extra": extra}) for extra in extras):
                continue
            for spec in requirement.specifier:
                if spec.operator == ">=":
                    current = bounds.get(name)
                    version = spec.version
                    if current is None or _key(version) > _key(current):
                        bounds[name] = version
    missing = sorted(set(PINNED) - set(bounds))
    if missing:
        raise MatrixError(f"no lower bound declared for {', '.join(missing)}")
    return [f"{name}=={bounds[name]}" for name in PINNED]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


@dataclasses.dataclass(frozen=True)
class Cell:
    name: str
    python: str  # "3.10"
    lowest: bool


@dataclasses.dataclass
class Result:
    cell: Cell
    interpreter: str = ""
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    # Per integration ("django"...): outcome -> count, and the ids of the failed tests.
    suites: dict[str, collections.Counter[str]] = dataclasses.field(default_factory=dict)
    failed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    returncode: int | None = None
    pins: list[str] = dataclasses.field(default_factory=list)
    output: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error and self.counts.get("passed", 0) > 0


def cells(include_middle: bool = False) -> list[Cell]:
    versions = supported_pythons()
    chosen = [Cell("lowest", versions[0], lowest=True), Cell("newest", versions[-1], lowest=False)]
    if include_middle:
        chosen += [Cell(f"middle-{v}", v, lowest=False) for v in versions[1:-1]]
    return chosen


def run_cell(cell: Cell, uv: list[str], wheels: dict[str, Path], work: Path) -> Result:
    """Make the cell's venv, install the wheels, run the integrations' tests; never raises."""
    result = Result(cell)
    started = time.monotonic()
    try:
        python = find_python(cell.python)
        if python is None:
            raise MatrixError(f"Python {cell.python} not found (PATH, pyenv, /usr/bin)")
        result.interpreter = str(python)
        venv = work / cell.name
        run([*uv, "venv", "-q", "--python", str(python), str(venv)], env=clean_env(), timeout=120)
        venv_python = venv / "bin" / "python"
        requirements = [
            f"{wheel.name.split('-')[0].replace('_', '-')}"
            + (f"[{INSTALL[dist]}]" if dist in INSTALL else "")
            + f" @ {wheel.as_uri()}"
            for dist, wheel in wheels.items()
        ]
        if cell.lowest:
            result.pins = lowest_pins(wheels)
            requirements += result.pins
        run(
            [*uv, "pip", "install", "-q", "--python", str(venv_python), *requirements, *TEST_TOOLS],
            env=clean_env(),
            timeout=INSTALL_TIMEOUT,
        )
        versions_code = (
            "import json, importlib.metadata as m, awsrefs, awsrefs_django\n"
            f"names = {SHOWN!r}\n"
            "v = {}\n"
            "for n in names:\n"
            "    try: v[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "v['awsrefs-location'] = awsrefs.__file__\n"
            "print(json.dumps(v))"
        )
        out = run([str(venv_python), "-c", versions_code], cwd=work, env=clean_env(), timeout=60)
        result.versions = json.loads(out.stdout)
        location = result.versions.pop("awsrefs-location")
        if not location.startswith(str(venv)):
            raise MatrixError(f"awsrefs imported from {location}, not from the cell's venv")
        env = clean_env(PATH=f"{venv / 'bin'}{os.pathsep}{_START_ENV.get('PATH', '')}")
        tests = subprocess.run(
            [
                str(venv_python),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--basetemp",
                str(work / f"{cell.name}-pytest"),
                f"--junitxml={work / f'{cell.name}.xml'}",
                *TEST_PATHS,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TEST_TIMEOUT,
        )
        result.returncode = tests.returncode
        LOGS.mkdir(parents=True, exist_ok=True)
        (LOGS / f"{cell.name}.log").write_text(tests.stdout + tests.stderr)
        result.output = tests.stdout[-6000:] + tests.stderr[-3000:]
        result.counts = summary_counts(tests.stdout)
        result.suites, result.failed = suite_outcomes(work / f"{cell.name}.xml")
    except (MatrixError, subprocess.TimeoutExpired, OSError) as error:
        result.error = str(error)
    result.seconds = time.monotonic() - started
    return result


def summary_counts(output: str) -> dict[str, int]:
    """The counts of pytest's closing line (``3 passed, 1 skipped in 2.0s``)."""
    lines = [line for line in output.splitlines() if re.search(r" in [\d.]+s", line)]
    if not lines:
        return {}
    return {
        word: int(n)
        for n, word in re.findall(
            r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", lines[-1]
        )
    }


def suite_outcomes(
    junit: Path,
) -> tuple[dict[str, collections.Counter[str]], dict[str, list[str]]]:
    """Outcome counts and failed test ids per integration, from pytest's JUnit XML report."""
    suites: dict[str, collections.Counter[str]] = {s: collections.Counter() for s in SUITES}
    failed: dict[str, list[str]] = {s: [] for s in SUITES}
    if not junit.exists():
        return suites, failed
    for case in ElementTree.parse(junit).iter("testcase"):
        parts = case.get("classname", "").split(".")
        suite = parts[1] if len(parts) > 2 and parts[0] == "integrations" else "other"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        suites.setdefault(suite, collections.Counter())[outcome] += 1
        if outcome == "failed":
            failed.setdefault(suite, []).append(f"{case.get('classname')}::{case.get('name')}")
    return suites, failed


def run_matrix(
    chosen: list[Cell], uv: list[str], wheels: dict[str, Path], work: Path
) -> list[Result]:
    """All cells, two at a time (the machine has two cores), in the order given."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run_cell, cell, uv, wheels, work) for cell in chosen]
        return [future.result() for future in futures]


def table(results: list[Result]) -> str:
    """A Markdown table: one row per cell."""
    header = "| cell | Python | versions installed | tests | time |\n|---|---|---|---|---|\n"
    rows = []
    for r in results:
        python = Path(r.interpreter).name if r.interpreter else r.cell.python
        version = f"{r.cell.python} ({python})" if r.interpreter else f"{r.cell.python} (not found)"
        installed = ", ".join(f"{k} {v}" for k, v in r.versions.items())
        tests = ", ".join(f"{n} {w}" for w, n in r.counts.items()) or (
            r.error.splitlines()[0] if r.error else "no tests"
        )
        broken = [f"{suite}: {len(ids)} failed" for suite, ids in r.failed.items() if ids]
        if broken:
            tests += f" ({'; '.join(broken)})"
        rows.append(f"| {r.cell.name} | {version} | {installed} | {tests} | {r.seconds:.0f} s |")
    return header + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--all", action="store_true", help="also the Pythons between the oldest and the newest"
    )
    parser.add_argument(
        "--cell", action="append", help="only this cell (lowest, newest, middle-3.X)"
    )
    args = parser.parse_args(argv)
    uv = uv_command()
    if uv is None:
        print("uv not found: run ./dev matrix", file=sys.stderr)
        return 2
    chosen = [
        c
        for c in cells(include_middle=args.all or bool(args.cell))
        if not args.cell or c.name in args.cell
    ]
    (ROOT / ".tmp").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="matrix-", dir=ROOT / ".tmp") as tmp:
        work = Path(tmp)
        wheels = build(uv, work / "dist")
        results = run_matrix(chosen, uv, wheels, work)
    print(table(results))
    for r in results:
        if not r.ok:
            print(f"--- {r.cell.name} failed ---\n{r.error or r.output}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
