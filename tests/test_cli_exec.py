"""``awsrefs exec``: what it resolves, and how it fails when the program cannot start.

The command runs in-process against the moto server (the ``cli`` fixture of
tests/support/cli.py), where the program starts in a child process through a real ``execve``
with what awsrefs would have become: its arguments and environment, and the errors a real
``execve`` gives. That exec keeps awsrefs' process is tested in tests/test_cli.py.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.canary import CANARY, register_secret
from tests.support.cli import CliResult

PASSWORD = "pw-Exec7-current-q4"
NUL_SECRET = "before-nul\0after-nul-secret"

CHILD = textwrap.dedent(
    """
    import json, os
    with open("child.json", "w") as handle:
        json.dump(dict(os.environ), handle)
    """
)


@pytest.fixture
def shop(aws):
    aws.put_parameter("/shop/db-host", "db.internal")
    aws.put_parameter("/shop/api-key", "api-Key-9c1e-exec", type="SecureString")
    aws.put_secret("shop/db", {"password": PASSWORD, "odd": NUL_SECRET})
    aws.put_secret("shop/canary", CANARY)
    aws.put_parameter("/shop/big", "x" * 4000)
    register_secret(NUL_SECRET.split("\0")[1])
    return aws


@pytest.fixture
def exec_(cli, monkeypatch):
    """``exec_(aws, ARGS..., NAME=value...)``: ``awsrefs exec ARGS`` with these variables set."""

    def run(aws, *args: str, **variables: str) -> CliResult:
        split = args.index("--")
        aws_options = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
        with monkeypatch.context() as scoped:  # the variables of this run only
            for name, value in variables.items():
                scoped.setenv(name, value)
            return cli("exec", *args[:split], *aws_options, *args[split:])

    return run


def child_environment(tmp_path: Path) -> dict[str, str]:
    return json.loads((tmp_path / "child.json").read_text())


# -- item 9: only what the user asked for is resolved -------------------------------------------

INHERITED = {
    # What a CI system puts in every job's environment: text that merely looks like references.
    "CI_COMMIT_MESSAGE": "fix ${secretsmanager:shop/canary}",
    "CI_COMMIT_TITLE": "ssm: bump deps",
    "NOT_NAMED": "ssm:/shop/db-host",
    # What the user names.
    "DB_PASSWORD": "secretsmanager:shop/db:password",
    "APP_HOST": "ssm:/shop/db-host",
    "APP_KEY": "ssm:/shop/api-key",
}


def test_exec_resolves_the_env_file_and_named_variables_only(exec_, shop, tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    (tmp_path / "app.env").write_text(
        "FROM_FILE=ssm:/shop/db-host\nAPP_HOST=from-the-file\nOVERRIDE=from-the-file\n"
    )
    result = exec_(
        shop,
        *("--env-file", "app.env", "--var", "DB_PASSWORD", "--var", "APP_*"),
        *("--", sys.executable, "child.py"),
        OVERRIDE="ssm:/shop/db-host",  # not named by --var, but by the file
        **INHERITED,
    )
    assert result.code == 0, result.err
    child = child_environment(tmp_path)
    # Passed through untouched: not resolved, and the malformed one stops nothing.
    assert child["CI_COMMIT_MESSAGE"] == "fix ${secretsmanager:shop/canary}"
    assert child["CI_COMMIT_TITLE"] == "ssm: bump deps"
    assert child["NOT_NAMED"] == "ssm:/shop/db-host"
    # Resolved: the file's variables and the named ones (the environment wins over the file).
    assert child["FROM_FILE"] == "db.internal"
    assert child["DB_PASSWORD"] == PASSWORD
    assert child["APP_HOST"] == "db.internal"
    assert child["APP_KEY"] == "api-Key-9c1e-exec"
    assert child["OVERRIDE"] == "db.internal"
    assert result.out == result.err == ""


def test_exec_all_env_resolves_every_inherited_variable(exec_, shop, tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    named = {k: v for k, v in INHERITED.items() if k != "CI_COMMIT_TITLE"}
    result = exec_(shop, "--all-env", "--", sys.executable, "child.py", **named)
    assert result.code == 0, result.err
    child = child_environment(tmp_path)
    assert child["NOT_NAMED"] == "db.internal"
    assert child["CI_COMMIT_MESSAGE"] == f"fix {CANARY}"  # what the user opted into
    assert child["DB_PASSWORD"] == PASSWORD
    # And a malformed inherited variable stops the program, as it always did with --all-env.
    stopped = exec_(shop, "--all-env", "--", "true", **INHERITED)
    assert stopped.code == 1
    assert "env:CI_COMMIT_TITLE" in stopped.err
    assert "bad syntax" in stopped.err
    assert "true was not started" in stopped.err


def test_exec_without_anything_to_resolve_says_how_to_ask(exec_, shop, tmp_path):
    nothing = exec_(shop, "--", "true", DB_PASSWORD="secretsmanager:shop/db:password")
    assert nothing.code == 2
    assert "nothing to resolve" in nothing.err
    assert "--var NAME" in nothing.err
    assert "--all-env" in nothing.err
    unset = exec_(shop, "--var", "NO_SUCH_VARIABLE_X", "--", "true")
    assert unset.code == 2
    assert "--var NO_SUCH_VARIABLE_X: no such variable in the environment" in unset.err
    # A pattern that matches nothing is no error: it names whatever is there.
    assert exec_(shop, "--var", "NO_SUCH_*", "--", "true").code == 0


# -- item 13: the program cannot start: one line, no value, its own exit code --------------------


def one_line(result: CliResult) -> str:
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err  # no traceback
    assert lines[0].startswith("awsrefs exec: ")
    return lines[0]


def test_exec_refuses_a_value_with_a_nul_character(exec_, shop, tmp_path):
    marker = tmp_path / "started"
    result = exec_(
        shop,
        *("--var", "ODD", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"),
        ODD="secretsmanager:shop/db:odd",
    )
    assert result.code == 65
    line = one_line(result)
    assert "ODD holds a NUL character" in line
    assert "was not started" in line
    assert not marker.exists()
    for part in NUL_SECRET.split("\0"):
        assert part not in result.err


def test_exec_reports_an_environment_too_large_for_the_system(exec_, shop, tmp_path):
    # 40 x 4000 characters: one variable over Linux's 128 KiB limit for a single string.
    (tmp_path / "big.env").write_text("BIG=" + "${ssm:/shop/big}" * 40 + "\n")
    result = exec_(shop, "--env-file", "big.env", "--", "true")
    assert result.code == 71
    line = one_line(result)
    assert "too large for the system" in line
    assert "the largest variable is BIG, 160000 bytes" in line
    assert "xxxxxxxx" not in line


@pytest.mark.parametrize(
    ("program", "code", "message"),
    [
        ("./no-such-program", 127, "command not found: ./no-such-program"),
        ("no-such-program-xyz", 127, "command not found: no-such-program-xyz"),
        ("./not-executable", 126, "permission denied: ./not-executable is not executable"),
        ("./a-directory", 126, "permission denied: ./a-directory is not executable"),
        ("./no-shebang", 125, "cannot run ./no-shebang: not an executable format"),
        ("./garbage", 125, "cannot run ./garbage: not an executable format"),
    ],
)
def test_exec_program_that_cannot_start(exec_, shop, tmp_path, program, code, message):
    (tmp_path / "not-executable").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "no-shebang").write_text("echo hi\n")
    (tmp_path / "no-shebang").chmod(0o755)
    (tmp_path / "garbage").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "garbage").chmod(0o755)
    result = exec_(
        shop,
        *("--var", "DB_PASSWORD", "--", program, "arg"),
        DB_PASSWORD="secretsmanager:shop/db:password",
    )
    assert result.code == code
    assert message in one_line(result)
