"""One version number: the six pyproject.toml files agree, and the code reads the metadata."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

import awsrefs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = [ROOT, *sorted((ROOT / "integrations").glob("*/"))]


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]


def test_the_six_distributions_share_one_version_and_admit_each_other():
    projects = [_project(folder) for folder in PROJECTS if (folder / "pyproject.toml").exists()]
    assert len(projects) == 6
    versions = {p["name"]: p["version"] for p in projects}
    assert len(set(versions.values())) == 1, versions
    version = Version(projects[0]["version"])
    # Every awsrefs / awsrefs-* requirement (the integrations' and the core's extras) admits it.
    requirements = [
        Requirement(text)
        for p in projects
        for text in [
            *p.get("dependencies", []),
            *(r for extra in p.get("optional-dependencies", {}).values() for r in extra),
        ]
    ]
    ours = [r for r in requirements if r.name.startswith("awsrefs")]
    assert ours
    assert all(r.specifier.contains(version) for r in ours), [str(r) for r in ours]


def test_the_code_reads_the_version_from_the_installed_metadata():
    assert awsrefs.__version__ == importlib.metadata.version("awsrefs")
    assert awsrefs.__version__ == _project(ROOT)["version"]
    # Lazily: `import awsrefs` alone does not load importlib.metadata.
    code = "import sys, awsrefs; print('importlib.metadata' in sys.modules, awsrefs.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", awsrefs.__version__], out.stderr
