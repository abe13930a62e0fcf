"""Run the ``awsrefs`` command in-process: ``main(argv)`` with its output captured.

The :func:`cli` fixture returns a :class:`Cli`: ``cli("check", ".env")`` runs the command in the
test's ``tmp_path`` and returns a :class:`CliResult` (exit code, stdout, stderr). What one run
could leave behind for the next is reset around each test: the environment (``NO_COLOR`` set,
``AWS_ENDPOINT_URL`` removed, so a test passes ``--endpoint-url``), ``sys.path`` (``check
--django-settings`` puts the current directory on it), the modules imported from the test's
folder (two tests' ``proj.settings`` are different files), and the process's default resolver
(a settings module calling ``resolve_settings`` makes one). The remembered outages of
:mod:`awsrefs._fetch` are forgotten by the autouse fixture of ``tests.support.unreachable``.

``exec`` would replace the test process, so ``os.execvpe(file, args, env)`` starts the program
in a child process instead (``subprocess``, which looks it up on ``env``'s PATH and raises the
child's exec error, ENOENT, EACCES, ENOEXEC, E2BIG, as ``execvpe`` does): the run's exit code
and output are then the program's after awsrefs' own, as when awsrefs became the program, and
:attr:`CliResult.became` says what it was started with. That exec keeps the process (its pid,
signals) is for the tests running the command in a real process.

The output of every run is checked for registered secrets (``tests.support.canary``), except
for ``resolve --reveal``, whose point is to print them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple, NoReturn

import pytest

from tests.support.canary import assert_no_secrets

__all__ = ["EXEC_TIMEOUT", "Cli", "CliResult", "Exec", "cli"]


class Exec(NamedTuple):
    """What ``awsrefs exec`` became: ``os.execvpe(argv[0], argv, env)``, run in a child."""

    argv: list[str]
    env: dict[str, str]


class CliResult(NamedTuple):
    """One run: ``code, out, err = cli(...)``."""

    code: int
    out: str
    err: str
    became: Exec | None = None  # exec: the program started, whose code and output follow

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.out + self.err


class _Became(BaseException):  # not an Exception: nothing in awsrefs may catch it
    def __init__(self, became: Exec, program: subprocess.CompletedProcess[str]) -> None:
        super().__init__()
        self.became = became
        self.program = program


def _exec_in_a_child(file: str, args: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    program = subprocess.run(
        list(args),
        executable=file,
        env=dict(env),
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=EXEC_TIMEOUT,
        check=False,
    )
    raise _Became(Exec(list(args), dict(env)), program)


class _Terminal(io.StringIO):
    """A stdout that says it is a terminal; its width comes from ``COLUMNS``."""

    def isatty(self) -> bool:
        return True


EXEC_TIMEOUT = 60.0
"""Seconds the program of an ``exec`` may run: a hang guard."""


class Cli:
    """Runs ``awsrefs`` in this process; made by the :func:`cli` fixture."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *argv: str, terminal: bool = False) -> CliResult:
        """Run ``awsrefs ARGV``; ``terminal``: stdout is a terminal (colours, cut lines)."""
        from awsrefs.cli import main

        self._capsys.readouterr()  # only this run's output
        became, program = None, None
        screen = _Terminal() if terminal else None
        saved = sys.stdout
        if screen is not None:
            sys.stdout = screen
        try:
            code = main(list(argv))
        except SystemExit as stop:  # argparse: --help, --version, a bad option
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except _Became as exec_:
            became, program = exec_.became, exec_.program
            code = program.returncode
        finally:
            sys.stdout = saved
        captured = self._capsys.readouterr()
        out = screen.getvalue() if screen is not None else captured.out
        err = captured.err
        if program is not None:  # what the program wrote follows what awsrefs wrote
            out, err = out + program.stdout, err + program.stderr
        result = CliResult(code, out, err, became)
        if not ("resolve" in argv and "--reveal" in argv):
            assert_no_secrets(result.output, f"output of awsrefs {' '.join(argv)}")
        return result


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Cli]:
    """Run ``awsrefs`` in-process in ``tmp_path``, with the process state it touches reset."""
    import awsrefs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the original list is put back
    monkeypatch.setattr(os, "execvpe", _exec_in_a_child)
    modules = set(sys.modules)
    awsrefs.set_default_resolver(None)
    try:
        yield Cli(capsys)
    finally:
        awsrefs.set_default_resolver(None)
        for name in set(sys.modules) - modules:
            where = getattr(sys.modules[name], "__file__", None) or ""
            if Path(where).is_relative_to(tmp_path):
                del sys.modules[name]
