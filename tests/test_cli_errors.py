"""CLI errors that must not show a value, and the quiet exit when a pipe's reader goes away."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from awsrefs.cli import main
from tests.support.canary import CANARY

# -- .env syntax errors: file, line, column and what is wrong; never the line --------------------


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        # A secret pasted on a line of its own, or where the name should be.
        (f"A=1\n{CANARY}\n", "2:8", "expected KEY=value: no = after the name"),
        (f"A=1\n  {CANARY} more\n", "2:10", "expected KEY=value: no = after the name"),
        (f"=={CANARY}\n", "1:1", "expected KEY=value: a name starts with a letter or _"),
        (f"export 9{CANARY}=x\n", "1:8", "expected KEY=value: a name starts with a letter or _"),
        (
            f"TOKEN='{CANARY}' {CANARY}\n",
            "1:45",
            "unexpected text after the closing quote of TOKEN",
        ),
        (f'A=1\nTOKEN="{CANARY}\n', "2:7", 'the " quote opened here is never closed'),
        (f"A='x\n{CANARY}' trailing\n", "2:38", "unexpected text after the closing quote of A"),
    ],
)
def test_env_syntax_errors_name_the_place_never_the_text(
    capsys, tmp_path, monkeypatch, text, where, what
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.env").write_text(text)
    for command in (["check", "app.env"], ["resolve", "app.env"], ["policy", "app.env"]):
        assert main(command) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(f"awsrefs {command[0]}: app.env:{where}: {what}")
        assert len(captured.err.splitlines()) == 1
        assert CANARY not in captured.err
        assert CANARY[:8] not in captured.err  # not even a piece of it


def test_exec_env_file_syntax_errors_are_as_careful(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.env").write_text(f"A=1\n{CANARY}\n")
    assert main(["exec", "--env-file", "app.env", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert err == "awsrefs exec: app.env:2:8: expected KEY=value: no = after the name\n"


# -- a reader that stops early: awsrefs ... | head -1 ----------------------------------------------


def many_references(tmp_path, count=6000):
    # One parameter read 6000 times: a single AWS call, and far more output than a pipe holds.
    lines = "".join(f"SETTING_{i}=ssm:/shop/db-host\n" for i in range(count))
    (tmp_path / "many.env").write_text(lines)


@pytest.mark.parametrize("command", ["check many.env", "resolve many.env --format env"])
def test_pipe_into_head_exits_quietly(aws, tmp_path, command):
    aws.put_parameter("/shop/db-host", "db.internal")
    many_references(tmp_path)
    awsrefs = f"{sys.executable} -m awsrefs {command} --endpoint-url {aws.endpoint_url}"
    script = f'set -o pipefail; {awsrefs} 2>err.txt | head -1; echo "status ${{PIPESTATUS[0]}}"'
    env = dict(os.environ, NO_COLOR="1")
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    first, status = result.stdout.splitlines()
    assert first.startswith(("SETTING ", "SETTING_0="))
    assert status == "status 141"
    # Nothing else: no traceback, no "Exception ignored ... BrokenPipeError" at exit.
    assert (tmp_path / "err.txt").read_text() in ("", "values hidden; add --reveal to show them\n")
    assert result.stderr == ""


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_in_process_returns_141(aws, tmp_path, monkeypatch):
    aws.put_parameter("/shop/db-host", "db.internal")
    (tmp_path / "one.env").write_text("A=ssm:/shop/db-host\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["check", "one.env", "--endpoint-url", aws.endpoint_url]) == 141
