"""``awsrefs resolve --format env``: what POSIX shells and python-dotenv both read back exactly.

The command runs in-process (``main(argv)``) against the moto server; the readers are the real
ones: ``dotenv.dotenv_values`` (python-dotenv, as pydantic-settings reads a ``.env``) and
dash and bash sourcing the file (``set -a; . ./file``) in a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import dotenv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awsrefs.cli import main
from awsrefs.cli._envline import UnrepresentableError, env_line
from awsrefs.cli._inputs import parse_env
from tests.support.canary import register_secret

SHELLS = [shell for shell in ("dash", "bash") if shutil.which(shell)]

# Every one of these is written so that both readers get it back.
WRITABLE = {
    "SINGLE_QUOTE": "it's",
    "QUOTES": 'it\'s a "quoted" word',
    "SAFE_DOLLARS": "it's $ 5, or 10$; 50%$/month: $",
    "BACKSLASHES": "a\\b\\\\c\\",
    "WINDOWS_PATH": "C:\\Users\\it's",
    "NEWLINES": "line one\nline two $x ${ never closed",
    "HASH": "a #not-a-comment",
    "LEADING_HASH": "#start",
    "SPACES": "  padded  ",
    "SHELL_SYNTAX": "$(rm -rf /) `id` ; & | < > * ? [ ] ~ ! $HOME",
    "DOUBLE_QUOTED": '"$HOME"',
    "ESCAPES": "\\n \\t \\x41 \\u0041 \\'",
    "QUOTE_ESCAPES": "it's \\n \\\\ \\\"",
    "UNICODE": "pässwörd ✓ 密码",
    "TAB": "a\tb",
    "JSONISH": '{"a": "b\'c"}',
}

# None of these is: the command must refuse rather than write what one reader misreads.
UNWRITABLE = {
    "QUOTE_AND_VARIABLE": ("it's $HOME here", "a ' or a backslash and also a $ or `"),
    "QUOTE_AND_DIGIT": ("it's $5-off", "a ' or a backslash and also a $ or `"),
    "QUOTE_AND_BACKQUOTE": ("it's `id` here", "a ' or a backslash and also a $ or `"),
    "PAIR_AND_VARIABLE": ("a\\\\b $x here", "a ' or a backslash and also a $ or `"),
    "BRACES": ("pre${b}post", "${...}, which python-dotenv expands"),
    "BRACES_DEFAULT": ("${X:-fallback}", "${...}, which python-dotenv expands"),
    "CARRIAGE_RETURN": ("first\r\nsecond", "a carriage return"),
    "NUL": ("before\0after", "a NUL character"),
}


def resolve_env(aws, capsys, *files: str) -> tuple[int, str, str]:
    aws_options = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    code = main(["resolve", *files, "--reveal", "--format", "env", *aws_options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def shell_reads(path: Path, names: list[str], shell: str) -> dict[str, str]:
    """What ``shell`` sees in each variable after ``set -a; . path``."""
    if not names:
        return {}
    script = f'set -a; . "{path}"; printf "%s\\0" ' + " ".join(f'"${n}"' for n in names)
    result = subprocess.run(
        [shell, "-c", script], capture_output=True, timeout=60, check=True, cwd=path.parent
    )
    return dict(zip(names, result.stdout.decode().split("\0")[:-1], strict=True))


def assert_read_back(path: Path, expected: dict[str, str]) -> None:
    assert dotenv.dotenv_values(path) == expected
    assert dict(parse_env(path.read_text(), path.name)) == expected  # exec --env-file's reader
    for shell in SHELLS:
        assert shell_reads(path, list(expected), shell) == expected, shell


def test_env_format_round_trips_through_dotenv_and_shells(aws, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    aws.put_secret("nasty/values", {name.lower(): value for name, value in WRITABLE.items()})
    (tmp_path / ".env").write_text(
        "".join(f"{name}=secretsmanager:nasty/values:{name.lower()}\n" for name in WRITABLE)
    )
    code, out, err = resolve_env(aws, capsys, ".env")
    assert code == 0, err
    path = tmp_path / "resolved.env"
    path.write_text(out)
    assert_read_back(path, WRITABLE)
    assert SHELLS  # at least one real shell took part


@pytest.mark.parametrize("name", list(UNWRITABLE))
def test_env_format_refuses_what_a_reader_would_misread(aws, capsys, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    value, reason = UNWRITABLE[name]
    register_secret(value)
    aws.put_secret("nasty/one", {"value": value, "fine": "db.internal"})
    (tmp_path / ".env").write_text(
        f"FINE=secretsmanager:nasty/one:fine\n{name}=secretsmanager:nasty/one:value\n"
    )
    code, out, err = resolve_env(aws, capsys, ".env")
    assert code == 65
    assert out == ""  # nothing at all, not the lines before the one that failed
    assert err.startswith(f"awsrefs resolve: .env:{name}: cannot be written with --format env")
    assert reason in err
    assert "use --format json" in err
    assert len(err.splitlines()) == 1
    for part in value.replace("\r", "\0").split("\0"):
        assert len(part) < 6 or part not in err


def test_env_format_refuses_names_a_shell_cannot_assign(aws, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    aws.put_parameter("/app/host", "db.internal")
    (tmp_path / "app.env").write_text("dotted.name=ssm:/app/host\n")
    code, out, err = resolve_env(aws, capsys, "app.env")
    assert (code, out) == (65, "")
    assert "app.env:dotted.name: cannot be written with --format env: the name" in err


# -- the quoting on its own, against generated values ---------------------------------------------

NASTY = st.text(alphabet="'\"$\\`{}#:-=\n\r\t aZ_9(é!\0", max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(NASTY, min_size=1, max_size=12))
def test_every_written_value_reads_back_and_only_true_conflicts_are_refused(values):
    written: dict[str, str] = {}
    lines = []
    for index, value in enumerate(values):
        name = f"V{index}"
        try:
            lines.append(env_line(name, value))
        except UnrepresentableError:
            # Refused only for a character or pair one of the readers cannot take literally.
            assert (
                {"'", "\0", "\r", "`"} & set(value)
                or "\\\\" in value
                or value.endswith("\\")
                or "${" in value
            ), value
            continue
        written[name] = value
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "values.env"
        path.write_text("".join(line + "\n" for line in lines))
        assert_read_back(path, written)
