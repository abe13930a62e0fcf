"""The checks of ./dev test, ./dev quick and the pre-commit hooks are the same commands."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _case(name: str) -> str:
    """The body of one ``case`` branch of ./dev."""
    script = (ROOT / "dev").read_text()
    match = re.search(rf"^  {name}\)\n(.*?);;", script, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group(1)


def _checks(body: str) -> list[str]:
    return re.findall(r"uv run --no-sync ((?:ruff|mypy)[^\n]*)", body)


def test_quick_runs_the_same_checks_as_test_and_only_the_tests_not_marked_slow():
    checks = _checks(_case("test"))
    assert checks == ["ruff check .", "ruff format --check .", "mypy"]
    assert _checks(_case("quick")) == checks
    assert 'pytest -m "not slow"' in _case("quick")


def test_pre_commit_hooks_run_the_same_checks_from_the_project_venv():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(hook["language"] == "system" and not hook["pass_filenames"] for hook in hooks)
    entries = [hook["entry"].removeprefix(".venv/bin/") for hook in hooks]
    assert entries == _checks(_case("test"))
