"""The five distributions build, and `pip install "awsrefs[all]"` works from the wheels.

The docs tell users to `pip install awsrefs` / `"awsrefs[django]"`...; this installs exactly
that from freshly built wheels into a new virtual environment and uses it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = [
    "awsrefs",
    "awsrefs_django",
    "awsrefs_flask",
    "awsrefs_pydantic",
    "awsrefs_sqlalchemy",
]


def uv_command() -> list[str]:
    configured = os.environ.get("AWSREFS_UV")
    if configured:
        return shlex.split(configured)
    found = shutil.which("uv")
    if found:
        return [found]
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("uv not found: run the tests with ./dev test")
    pytest.skip("uv not found: run the tests with ./dev test")


@pytest.mark.slow
def test_wheels_build_and_install_with_extras(tmp_path):
    uv = uv_command()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    dist = tmp_path / "dist"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*uv, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result

    run("build", "--all-packages", "-q", "-o", str(dist))
    wheels = sorted(p.name.split("-")[0] for p in dist.glob("*.whl"))
    assert wheels == DISTRIBUTIONS
    venv = tmp_path / "venv"
    run("venv", "-q", "--python", "python3", str(venv))
    python = str(venv / "bin" / "python")
    run("pip", "install", "-q", "--python", python, "--find-links", str(dist), "awsrefs[all]")
    code = (
        "import awsrefs, awsrefs.rotation, awsrefs_django, awsrefs_flask, awsrefs_pydantic, "
        "awsrefs_sqlalchemy; print(awsrefs.__version__, awsrefs.parse('ssm:/a/b'))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0.1.0 ssm:/a/b"
    cli = subprocess.run(
        [str(venv / "bin" / "awsrefs"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0, cli.stderr
    assert "0.1.0" in cli.stdout
    # py.typed ships with every package, so users' type checkers see the annotations.
    site = next((venv / "lib").glob("python*/site-packages"))
    for name in DISTRIBUTIONS:
        assert (site / name / "py.typed").exists(), name
