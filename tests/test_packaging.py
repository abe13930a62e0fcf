"""What PyPI users get: the six distributions as built, read the way pip and PyPI read them.

The wheels and sdists are built from this checkout (wheels from the sdists, as ``uv build``
and PyPI's tooling do). One test installs ``awsrefs[all]`` from them into a new virtual
environment and uses it; the others read the built files' metadata: the license file, the
classifiers, the summary, the long description PyPI shows, the extras and the version ranges
between the core and the integrations.
"""

from __future__ import annotations

import email.message
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests import matrix

ROOT = matrix.ROOT
DISTRIBUTIONS = matrix.DISTRIBUTIONS
LICENSE = (ROOT / "LICENSE").read_text()


def project_version() -> str:
    """The one version number: the core's pyproject.toml (tests/test_version.py: all five)."""
    return str(matrix.tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


FRAMEWORK = {
    "awsrefs_django": "Framework :: Django :: ",
    "awsrefs_flask": "Framework :: Flask",
    "awsrefs_pydantic": "Framework :: Pydantic :: 2",
    "awsrefs_redis": "Topic :: Database",
    "awsrefs_sqlalchemy": "Topic :: Database",  # SQLAlchemy has no Framework classifier
}
EXTRAS = {
    "awsrefs": {"pydantic", "django", "flask", "sqlalchemy", "redis", "all"},
    "awsrefs_django": {"postgresql", "mysql"},
    "awsrefs_flask": set(),
    "awsrefs_pydantic": set(),
    "awsrefs_redis": {"celery"},
    "awsrefs_sqlalchemy": {"postgresql", "mysql", "asyncpg"},
}
# What belongs to the contributors' README, not to a PyPI page.
CONTRIBUTOR_WORDS = ["./dev", "fresh clone", "example.invalid", "uv run"]


def wheel(dists: Path, name: str) -> Path:
    return next(dists.glob(f"{name}-*.whl"))


def metadata(dists: Path, name: str) -> email.message.Message:
    return matrix.wheel_metadata(wheel(dists, name))


@pytest.mark.slow
def test_wheels_build_and_install_with_extras(built_dists, uv_cmd, tmp_path):
    env = matrix.clean_env()
    assert sorted(p.name.split("-")[0] for p in built_dists.glob("*.whl")) == DISTRIBUTIONS

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*uv_cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result

    venv = tmp_path / "venv"
    run("venv", "-q", "--python", "python3", str(venv))
    python = str(venv / "bin" / "python")
    run(
        "pip", "install", "-q", "--python", python, "--find-links", str(built_dists), "awsrefs[all]"
    )
    code = (
        "import awsrefs, awsrefs.rotation, awsrefs_django, awsrefs_flask, awsrefs_pydantic, "
        "awsrefs_redis, awsrefs_sqlalchemy; print(awsrefs.__version__, awsrefs.parse('ssm:/a/b'))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"{project_version()} ssm:/a/b"
    cli = subprocess.run(
        [str(venv / "bin" / "awsrefs"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == f"awsrefs {project_version()}"
    # py.typed ships with every package, so users' type checkers see the annotations.
    site = next((venv / "lib").glob("python*/site-packages"))
    for name in DISTRIBUTIONS:
        assert (site / name / "py.typed").exists(), name
    # The license file is installed with each distribution.
    for name in DISTRIBUTIONS:
        (dist_info,) = site.glob(f"{name}-*.dist-info")
        assert (dist_info / "licenses" / "LICENSE").read_text() == LICENSE, name


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_wheel_and_sdist_carry_the_license(built_dists, name):
    assert "Apache License" in LICENSE
    assert "Version 2.0, January 2004" in LICENSE
    meta = metadata(built_dists, name)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    with zipfile.ZipFile(wheel(built_dists, name)) as archive:
        (path,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(path).decode() == LICENSE
    (sdist,) = built_dists.glob(f"{name}-*.tar.gz")
    with tarfile.open(sdist) as archive:
        member = archive.getmember(f"{sdist.name.removesuffix('.tar.gz')}/LICENSE")
        assert member.isfile()  # a real file, not a link out of the sdist
        extracted = archive.extractfile(member)
        assert extracted is not None
        assert extracted.read().decode() == LICENSE


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_wheel_classifiers_and_summary(built_dists, name):
    meta = metadata(built_dists, name)
    classifiers = meta.get_all("Classifier") or []
    pythons = matrix.supported_pythons()
    # Every Python from requires-python's lower bound up, and nothing below it.
    lowest = Version(meta["Requires-Python"].removeprefix(">="))
    assert Version(pythons[0]) == lowest
    for version in pythons:
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    assert "Operating System :: OS Independent" in classifiers
    assert "Typing :: Typed" in classifiers
    if name in FRAMEWORK:
        assert any(c.startswith(FRAMEWORK[name]) for c in classifiers), classifiers
    summary = meta["Summary"]
    assert 40 < len(summary) <= 200
    assert "integration for" not in summary
    assert "AWS" in summary or "ssm:" in summary


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_long_description_is_for_users_with_absolute_links(built_dists, name):
    meta = metadata(built_dists, name)
    assert meta["Description-Content-Type"] == "text/markdown"
    description = meta.get_payload()
    assert isinstance(description, str)
    assert description.startswith(f"# {name.replace('_', '-')}\n")
    dist = name.replace("_", "-")
    assert f"pip install {dist}" in description or f'pip install "{dist}[' in description
    assert "```python" in description  # a minimal example
    for word in CONTRIBUTOR_WORDS:
        assert word not in description, word
    links = re.findall(r"\]\(([^)\s]+)", description) + re.findall(
        r"(?:href|src)=[\"']([^\"']+)", description
    )
    for link in links:
        assert link.startswith("https://"), f"relative link {link!r} breaks on PyPI"
    # Project URLs wait for a real address.
    assert not meta.get_all("Project-URL")


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_extras_and_ranges_between_core_and_integrations(built_dists, name):
    meta = metadata(built_dists, name)
    version = Version(meta["Version"])
    assert set(meta.get_all("Provides-Extra") or []) == EXTRAS[name]
    for text in meta.get_all("Requires-Dist") or []:
        requirement = Requirement(text)
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" not in operators, f"{text}: an exact pin forces a release of every package"
        if requirement.name.startswith("awsrefs"):
            # A compatible range: this release and its bug-fix releases, not the next minor.
            assert version in requirement.specifier, text
            assert Version(f"{version.major}.{version.minor}.99") in requirement.specifier, text
            assert Version(f"{version.major}.{version.minor + 1}.0") not in requirement.specifier
        elif requirement.marker is None or "extra" not in str(requirement.marker):
            assert ">=" in operators, f"{text}: no declared lower bound"


def test_integration_license_files_are_copies_of_the_root_one():
    # hatchling packs only files inside each project, so every integration keeps a copy.
    for project in sorted((ROOT / "integrations").iterdir()):
        license_file = project / "LICENSE"
        assert not license_file.is_symlink(), project.name
        assert license_file.read_text() == LICENSE, project.name
