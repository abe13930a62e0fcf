"""The README's two commands work on a machine with only Python and git: no uv on PATH.

A copy of the working tree (the files a clone would have, plus uncommitted ones) is run with a
PATH that holds only a new virtual environment's ``python3`` and the system directories, so
``./dev`` must install uv itself, make ``.venv`` and run the demo and the tests. The machine
that runs this test usually has uv, which is why the test hides it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
# Variables that point at this checkout's environment or uv: a new machine has none of them.
INHERITED = ["VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "AWSREFS_UV", "PYTHONPATH", "PYTHONHOME"]


def copy_checkout(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    # A git repository, as a clone is (ruff reads .gitignore only inside one).
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_dev_demo_and_test_work_without_uv(tmp_path, postgres_server):
    # postgres_server: the demo needs PostgreSQL (it starts its own); this fails under CI and
    # skips locally when the server packages are missing.
    clone = tmp_path / "clone"
    clone.mkdir()
    copy_checkout(clone)
    python = tmp_path / "python"
    subprocess.run([sys.executable, "-m", "venv", str(python)], check=True, timeout=120)
    path = os.pathsep.join([str(python / "bin"), *(d for d in SYSTEM_DIRS if Path(d).is_dir())])
    assert shutil.which("uv", path=path) is None, f"uv is in a system directory of {path}"
    env = {k: v for k, v in os.environ.items() if k not in INHERITED and not k.startswith("UV_")}
    env["PATH"] = path

    def dev(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["./dev", *args], cwd=clone, env=env, capture_output=True, text=True, timeout=540
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    demo = dev("demo")
    assert "dev: uv not found on PATH; installing uv" in demo.stderr
    assert "9 settings with references resolved in one pass" in demo.stdout
    assert (clone / ".venv" / "bin" / "python").exists()
    uv = clone / ".tmp" / "uv" / "bin" / "uv"
    assert uv.exists()

    # The whole of `./dev test` (lint, types, docs) on one small test module; uv is reused.
    tested = dev(
        "test",
        "-q",
        "-p",
        "no:cacheprovider",
        "--basetemp",
        str(tmp_path / "pytest"),
        "tests/test_testing.py",
    )
    assert "installing uv" not in tested.stderr
    assert "All checks passed!" in tested.stdout
    assert " passed" in tested.stdout.splitlines()[-1]
    assert " failed" not in tested.stdout.splitlines()[-1]
