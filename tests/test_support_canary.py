"""The canary check: a test whose output shows a registered secret fails, without showing it."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.support.canary import (
    CANARY,
    MIN_SECRET_LENGTH,
    assert_no_secrets,
    assert_no_secrets_in_frames,
    find_leaks,
    redact,
    register_secret,
    secret_values,
    traceback_locals,
)

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]

# Inner tests, run in a separate pytest process with only the canary plugin loaded.
INNER_TESTS = r"""
import json
import logging
import sys

import pytest

from tests.support.canary import CANARY, register_secret

ESCAPED = 'pw"quoted\\back-slash-7Gx'  # json.dumps escapes both " and \


def test_prints():
    print("the value is", CANARY)


def test_logs():
    logging.getLogger("app").warning("token=%s", CANARY)


def test_writes_stderr():
    sys.stderr.write(CANARY + "\n")


def test_raises_with_it():
    raise RuntimeError("could not use " + CANARY)


def test_prints_json_escaped():
    register_secret(ESCAPED)
    print(json.dumps({"password": ESCAPED}))


def test_prints_registered_bytes():
    register_secret(b"raw-bytes-\xff-secret")
    print(repr(b"raw-bytes-\xff-secret"))


@pytest.mark.xfail(reason="an expected failure must not hide a leak")
def test_expected_to_fail_but_leaks():
    print(CANARY)
    raise AssertionError


@pytest.fixture
def leaks_on_teardown():
    yield
    print(CANARY)


def test_leaks_in_teardown(leaks_on_teardown):
    pass


def test_clean():
    print("nothing secret here")
    logging.getLogger("app").warning("a harmless warning")


def test_short_values_are_ignored():
    register_secret("pw")
    print("pw is printed")


def test_canary_fixture(canary):
    assert canary == CANARY
"""

LEAKS = {
    "test_prints": "captured stdout call",
    "test_logs": "captured log call",
    "test_writes_stderr": "captured stderr call",
    "test_raises_with_it": "failure text",
    "test_prints_json_escaped": "captured stdout call",
    "test_prints_registered_bytes": "captured stdout call",
    "test_expected_to_fail_but_leaks": "captured stdout call",
}


@pytest.fixture(scope="module")
def inner_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], str]:
    """Run INNER_TESTS once; return (terminal output, {test: failure message}, junit xml)."""
    # pytester is function-scoped; one subprocess for the whole module keeps this fast.
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("inner")
    (where / "test_inner.py").write_text(INNER_TESTS)
    junit = where / "junit.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.canary",
            "-p",
            "no:cacheprovider",
            "-rA",
            f"--junitxml={junit}",
            "-o",
            "junit_logging=all",
            f"--rootdir={where}",
            str(where / "test_inner.py"),
        ],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    messages: dict[str, str] = {}
    xml = junit.read_text()
    for case in ET.fromstring(xml).iter("testcase"):
        for problem in (*case.iter("failure"), *case.iter("error")):
            messages[case.get("name", "")] = problem.get("message", "") + (problem.text or "")
    return done.stdout + done.stderr, messages, xml


@pytest.mark.slow  # a pytest run in a subprocess
def test_each_leak_fails_and_names_where(inner_run: tuple[str, dict[str, str], str]) -> None:
    _, messages, _ = inner_run
    for test, where in LEAKS.items():
        assert test in messages, f"{test} should have failed"
        assert "a registered secret leaked into test output" in messages[test]
        assert where in messages[test], (test, where)
    assert (
        f"secret #0 ({len(CANARY)} chars)" in messages["test_prints"]
    )  # CANARY is always secret #0


@pytest.mark.slow  # a pytest run in a subprocess
def test_a_teardown_leak_is_an_error(inner_run: tuple[str, dict[str, str], str]) -> None:
    _, messages, xml = inner_run
    assert "captured stdout teardown" in messages["test_leaks_in_teardown"]
    assert '<error message="failed on teardown' in xml


@pytest.mark.slow  # a pytest run in a subprocess
def test_tests_that_do_not_leak_pass(inner_run: tuple[str, dict[str, str], str]) -> None:
    output, messages, _ = inner_run
    for test in ("test_clean", "test_short_values_are_ignored", "test_canary_fixture"):
        assert test not in messages
        assert f"PASSED test_inner.py::{test}" in output
    # test_leaks_in_teardown passes its call and errors in teardown.
    assert "7 failed, 4 passed, 1 error" in output


@pytest.mark.slow  # a pytest run in a subprocess
def test_nothing_the_run_writes_contains_a_secret(
    inner_run: tuple[str, dict[str, str], str],
) -> None:
    output, messages, xml = inner_run
    escaped = 'pw"quoted\\back-slash-7Gx'
    # -rA and junit_logging=all show every captured section of every test, redacted.
    assert "<secret #0>" in output
    for text in (output, xml, *messages.values()):
        assert CANARY not in text
        assert escaped not in text
        assert json.dumps(escaped)[1:-1] not in text
        assert "raw-bytes-\\xff-secret" not in text


@pytest.mark.slow  # a pytest run in a subprocess
def test_a_leak_through_pytester(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check through pytester's own runner."""
    pytester.makepyfile(
        test_one="""
        from tests.support.canary import CANARY

        def test_prints():
            print(CANARY)
        """
    )
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    result = pytester.runpytest_subprocess("-p", "tests.support.canary", timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*registered secret leaked*secret #0*captured stdout call*"])
    assert CANARY not in result.stdout.str() + result.stderr.str()


@pytest.mark.slow  # a pytest run in a subprocess
def test_debug_logs_fails_on_a_secret_in_a_debug_record(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``debug_logs`` sees DEBUG records, which the captured-log check never gets by default."""
    pytester.makepyfile(
        test_one="""
        import logging
        from tests.support.canary import CANARY

        def test_leaks_at_debug(debug_logs):
            logging.getLogger("botocore.parsers").debug("Response body: %r", CANARY.encode())

        def test_quiet_at_debug(debug_logs):
            logging.getLogger("botocore.parsers").debug("Response body: %r", b"{}")
            assert "Response body" in debug_logs.text("botocore")

        def test_leak_unseen_without_debug():
            logging.getLogger("app.db").debug("connecting with %s", CANARY)

        def test_foreign_aws_client_ignored_suite_wide():
            # Outside an awsrefs call: the test's own (seeding) client, dropped suite-wide.
            logging.getLogger("botocore.endpoint").debug("request body %r", CANARY)
        """
    )
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    result = pytester.runpytest_subprocess("-p", "tests.support.canary", timeout=120)
    # Both checks fire: the captured log (root now at DEBUG) and the fixture's own record check.
    result.assert_outcomes(passed=3, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_leaks_at_debug*", "*a log record at DEBUG contains*"])
    assert CANARY not in result.stdout.str() + result.stderr.str()
    # --canary-debug-logs puts every test under the check: the third one now leaks too.
    result = pytester.runpytest_subprocess(
        "-p", "tests.support.canary", "--canary-debug-logs", timeout=120
    )
    result.assert_outcomes(passed=2, failed=2, errors=2)


# --- frame locals ----------------------------------------------------------------------------


def _raise_holding(value: object) -> BaseException:
    def inner(held: object) -> None:
        nested = {"kwargs": [("password", held)]}  # noqa: F841 - a local the check must see
        raise RuntimeError("no value in the message")

    try:
        try:
            raise KeyError("first")
        except KeyError:
            inner(value)
    except RuntimeError as error:
        return error
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "value",
    [CANARY, CANARY.encode(), {"nested": [CANARY]}, b"\x00bin-secret-\xff-canary-4f1a"],
)
def test_frames_holding_a_secret_fail_the_check(value: object) -> None:
    if isinstance(value, bytes):
        register_secret(value)
    error = _raise_holding(value)
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_no_secrets_in_frames(error)
    message = str(failed.value)
    assert "inner(): held holds secret #" in message
    assert "inner(): nested holds secret #" in message
    assert CANARY not in message


def test_frames_check_follows_chained_exceptions() -> None:
    try:
        try:
            secret = CANARY  # noqa: F841 - held in the frame of the context
            raise ValueError("context")
        except ValueError:
            raise RuntimeError("outer") from None
    except RuntimeError as error:
        caught = error
    # "from None" hides the context from tracebacks, not from reporters that walk it.
    assert caught.__context__ is not None
    names = {name for _, name, _ in traceback_locals(caught.__context__)}
    assert "secret" in names
    with pytest.raises(pytest.fail.Exception):
        assert_no_secrets_in_frames(caught)


def test_frames_without_secrets_pass() -> None:
    assert_no_secrets_in_frames(_raise_holding("nothing-secret-here"))


# --- the registry, in process ---------------------------------------------------------------


def test_canary_is_always_registered_first() -> None:
    assert secret_values()[0] == CANARY
    assert CANARY.startswith("awsrefs-canary-")


def test_short_values_are_not_registered() -> None:
    register_secret("x" * (MIN_SECRET_LENGTH - 1))
    assert "x" * (MIN_SECRET_LENGTH - 1) not in secret_values()


def test_find_leaks_sees_escaped_spellings() -> None:
    secret = "pw with space/and\\slash-Ud40"
    register_secret(secret)
    index = secret_values().index(secret)
    for spelling in (
        secret,
        repr(secret),
        json.dumps({"p": secret}),
        "postgresql://app:pw%20with%20space%2Fand%5Cslash-Ud40@db/x",
    ):
        assert index in find_leaks(f"before {spelling} after")
    assert find_leaks("nothing here") == []


def test_redact_replaces_every_spelling() -> None:
    secret = 'quote"d-secret-Hn91'
    register_secret(secret)
    index = secret_values().index(secret)
    text = redact(f"{secret} and {json.dumps(secret)}")
    assert secret not in text
    assert "quote" not in text
    assert text.count(f"<secret #{index}>") == 2


def test_assert_no_secrets_names_the_secret_by_index_only() -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_no_secrets(f"error: {CANARY}", "exception text")
    assert str(failed.value) == f"exception text contains secret #0 ({len(CANARY)} chars)"
    assert_no_secrets("clean text")
