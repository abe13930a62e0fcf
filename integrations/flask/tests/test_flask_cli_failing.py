"""The ``flask`` command line when references fail: the check reports, the rest stop cleanly.

A real ``flask`` process (subprocess) loads an app factory whose config holds references
that do not exist in AWS (the moto server, reached over HTTP). No ``AWSREFS_ENABLED=false``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.canary import assert_no_secrets

# Slow tier: each test runs the flask command of a project in a subprocess.
pytestmark = pytest.mark.slow

APP = """
from flask import Flask

from awsrefs_flask import AwsRefs


def create_app():
    app = Flask("brokenapp")
    app.config["SECRET_KEY"] = "secretsmanager:brokenapp/flask:secret_key"
    app.config["SUPPORT_EMAIL"] = "ssm:/brokenapp/support-email"
    AwsRefs(app)

    @app.cli.command("seed")
    def seed():
        \"\"\"Put demo rows in the database.\"\"\"
        print("seeded for", app.config["SUPPORT_EMAIL"])

    @app.get("/")
    def index():
        return "hello"

    return app
"""
HEADLINE = "Error: Flask app 'brokenapp': 2 references in app.config could not be resolved:"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "brokenapp.py").write_text(textwrap.dedent(APP).lstrip())
    return tmp_path


def _flask(app_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env["PYTHONPATH"] = str(app_dir)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "brokenapp", *args],
        cwd=app_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert_no_secrets(result.stdout + result.stderr, f"flask {' '.join(args)}")
    return result


def test_check_lists_every_failure(aws, app_dir):
    result = _flask(app_dir, "awsrefs", "check")

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    starts = [row[:4] for row in rows]
    assert ["SECRET_KEY", "secretsmanager:brokenapp/flask:secret_key", "not", "found"] in starts
    assert ["SUPPORT_EMAIL", "ssm:/brokenapp/support-email", "not", "found"] in starts
    assert rows[-1] == ["2", "references:", "0", "OK,", "2", "failed"]


def test_help_lists_the_commands(aws, app_dir):
    result = _flask(app_dir, "--help")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "awsrefs" in result.stdout
    assert "Put demo rows in the database." in result.stdout


@pytest.mark.parametrize("command", [["routes"], ["shell"], ["seed"], ["run", "--port", "0"]])
def test_other_commands_stop_with_one_clear_error(aws, app_dir, command):
    result = _flask(app_dir, *command)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(HEADLINE), result.stderr
    assert "  - SECRET_KEY: secretsmanager:brokenapp/flask:secret_key: not found" in result.stderr
    assert "  - SUPPORT_EMAIL: ssm:/brokenapp/support-email: not found" in result.stderr
    assert "`flask awsrefs check` lists every reference" in result.stderr
    assert "seeded for" not in result.stdout


def test_commands_run_when_references_resolve(aws, app_dir, canary):
    aws.put_secret("brokenapp/flask", {"secret_key": canary})
    aws.put_parameter("/brokenapp/support-email", "help@example.com")

    result = _flask(app_dir, "seed")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "seeded for help@example.com"
