"""Fail any test that lets a secret value reach its output.

A module-level registry holds every value that must never be shown: the fixed
:data:`CANARY` string, every secret and SecureString the ``aws`` fixture seeds, and whatever
a test passes to :func:`register_secret`. After each test phase (setup, call, teardown) a
``pytest_runtest_makereport`` wrapper searches that phase's captured stdout, stderr and log
and the failure text for each registered value, also in its escaped spellings (``repr``,
JSON, URL-quoted, base64). A hit turns the report into a failure that names the leaked
secret by registry index and length and says where it was found; every captured section and
the failure text are redacted first, so the report that announces a leak does not repeat it.

Values shorter than :data:`MIN_SECRET_LENGTH` characters are ignored: a short string shows
up in ordinary output by chance. Tests should therefore seed long, distinctive secrets, such
as ``"pw-7Hq2-rotation-current"``, never ``"secret"`` or ``"pw"``.

Output the check cannot see: anything printed with ``-s`` (capture off) and live logging
(``log_cli``), which go straight to the terminal.

Logging below WARNING is off by default, so a leak into a DEBUG record would go unseen. The
:func:`debug_logs` fixture turns the root logger and botocore's, boto3's and urllib3's loggers
to DEBUG for one test, records every record any thread emits, and fails the test if one of
them (message, arguments rendered, exception text) holds a registered secret. Run the whole
suite that way with ``--canary-debug-logs`` (or ``AWSREFS_CANARY_DEBUG_LOGS=1``); there,
botocore's records of calls awsrefs did not make (the tests' own seeding clients, which send
the secrets they seed) are dropped, everything else is checked.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import urllib.parse
from collections.abc import Generator, Iterator

import pytest

CANARY = "awsrefs-canary-5e1f0c9b7d3a46e2b8c4"
"""Always registered; seed it wherever a test wants to prove a value stays hidden."""

MIN_SECRET_LENGTH = 6
"""Registered values shorter than this are ignored, to avoid false alarms."""

_lock = threading.Lock()
_secrets: list[str] = [CANARY]
# Searchable spellings of each registered value, same order as _secrets.
_forms: list[tuple[str, ...]] = []


def _spellings(value: str, raw: bytes | None) -> tuple[str, ...]:
    """Every way ``value`` is likely to be written out: as is and escaped."""
    forms = {
        value,
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        base64.b64encode(raw if raw is not None else value.encode()).decode(),
    }
    if raw is not None:
        forms.add(repr(raw)[2:-1])
    # Long forms first, so redaction replaces a whole escaped spelling, not a piece of it.
    return tuple(sorted((f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True))


_forms.append(_spellings(CANARY, None))


def register_secret(value: str | bytes) -> None:
    """Register a value that must never appear in test output.

    Args:
        value: The secret. Bytes that are not UTF-8 are registered by their ``repr`` and
            base64 spellings. Values shorter than :data:`MIN_SECRET_LENGTH` are ignored.
    """
    if isinstance(value, bytes):
        raw: bytes | None = value
        text = value.decode("utf-8", errors="backslashreplace")
    else:
        raw, text = None, value
    if len(text) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if text in _secrets:
            return
        _secrets.append(text)
        _forms.append(_spellings(text, raw))


def secret_values() -> tuple[str, ...]:
    """Return every registered value, :data:`CANARY` first."""
    with _lock:
        return tuple(_secrets)


def find_leaks(text: str) -> list[int]:
    """Return the registry indexes of the secrets that appear in ``text``, in any spelling."""
    with _lock:
        forms = list(_forms)
    return [index for index, spellings in enumerate(forms) if any(f in text for f in spellings)]


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``<secret #index>``."""
    with _lock:
        forms = list(_forms)
    for index, spellings in enumerate(forms):
        for form in spellings:
            if form in text:
                text = text.replace(form, f"<secret #{index}>")
    return text


def describe(index: int) -> str:
    """Name a registered secret without showing it: ``secret #3 (24 chars)``."""
    with _lock:
        length = len(_secrets[index])
    return f"secret #{index} ({length} chars)"


def assert_no_secrets(text: str, what: str = "text") -> None:
    """Fail the current test if ``text`` contains a registered secret, naming it by index only.

    Args:
        text: What to check, such as ``str(error)`` or ``repr(resolver)``.
        what: A label for the failure message.
    """
    leaks = find_leaks(text)
    if leaks:
        pytest.fail(f"{what} contains {', '.join(describe(i) for i in leaks)}", pytrace=False)


_RENDER_DEPTH = 4
_RENDER_ITEMS = 200


def _render(value: object, depth: int = _RENDER_DEPTH) -> str:
    """A local as error reporters show it: strings and bytes whole, containers expanded a few
    levels deep (as Sentry and ``traceback`` with locals do), anything else by its ``repr``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return repr(raw) + "\n" + raw.decode("utf-8", errors="backslashreplace")
    if depth > 0 and isinstance(value, dict):
        items = list(value.items())[:_RENDER_ITEMS]
        return (
            "{"
            + ", ".join(f"{_render(k, depth - 1)}: {_render(v, depth - 1)}" for k, v in items)
            + "}"
        )
    if depth > 0 and isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_render(v, depth - 1) for v in list(value)[:_RENDER_ITEMS]) + "]"
    try:
        return repr(value)
    except Exception as error:  # a broken repr shows nothing
        return f"<repr failed: {type(error).__name__}>"


def _exceptions(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception chained to it (cause, context, exception groups)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        for inner in (error.__cause__, error.__context__):
            if inner is not None:
                stack.append(inner)
        group = getattr(error, "exceptions", None)  # an ExceptionGroup (Python 3.11+)
        if isinstance(group, tuple):
            stack.extend(e for e in group if isinstance(e, BaseException))


def traceback_locals(exc: BaseException) -> list[tuple[str, str, str]]:
    """Every local of every frame in the tracebacks of ``exc`` and its chained exceptions.

    Returns:
        ``(function name, local name, rendered value)`` for each local, rendered the way error
        reporters capture locals (see :func:`_render`).
    """
    found: list[tuple[str, str, str]] = []
    for error in _exceptions(exc):
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in frame.f_locals.items():
                found.append((frame.f_code.co_name, name, _render(value)))
            tb = tb.tb_next
    return found


def assert_no_secrets_in_frames(exc: BaseException, what: str = "exception") -> None:
    """Fail if a frame in the traceback of ``exc`` (or of one chained to it) holds a secret.

    This is what Sentry, ``traceback.TracebackException(capture_locals=True)`` and similar
    reporters would capture. The failure names the function and the local, never the value.

    Args:
        exc: The exception as the caller received it.
        what: A label for the failure message.
    """
    hits = []
    for function, name, text in traceback_locals(exc):
        leaks = find_leaks(text)
        if leaks:
            hits.append(f"{function}(): {name} holds {', '.join(describe(i) for i in leaks)}")
    if hits:
        pytest.fail(
            f"a frame of the {what}'s traceback holds a secret: " + "; ".join(hits), pytrace=False
        )


def _longrepr_text(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (path, lineno, reason)
        return "\n".join(str(part) for part in longrepr)
    return str(longrepr)


def _check(report: pytest.TestReport) -> None:
    places: dict[int, list[str]] = {}
    # Sections accumulate over phases: report a leak in the phase that produced it, once...
    for title, content in report.sections:
        if title.endswith(f" {report.when}"):
            for index in find_leaks(content):
                places.setdefault(index, []).append(title.lower())
    # ...but redact all of them, since any report's sections may be shown (-rA, junitxml).
    report.sections = [
        (title, redact(content) if find_leaks(content) else content)
        for title, content in report.sections
    ]
    original = _longrepr_text(report)
    for index in find_leaks(original):
        places.setdefault(index, []).append("failure text")
    if not places:
        return

    found = "; ".join(f"{describe(i)} in {', '.join(where)}" for i, where in places.items())
    message = f"awsrefs canary: a registered secret leaked into test output: {found}"
    if original:
        message += "\n\nOriginal report, redacted:\n" + redact(original)
    report.outcome = "failed"
    report.longrepr = message
    if hasattr(report, "wasxfail"):  # an expected failure must not hide a leak
        del report.wasxfail


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a report whose output or failure text holds a registered secret into a failure."""
    report = yield
    _check(report)
    return report


DEBUG_LOGGERS = ("", "botocore", "boto3", "urllib3", "awsrefs")
"""Loggers :func:`debug_logs` turns to DEBUG (``""`` is the root logger)."""


class LogRecords(logging.Handler):
    """Every log record emitted while installed on the root logger, formatted on arrival."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # Format now: a record's arguments may change or go away after the call.
        # Handler.handle holds self.lock around emit, so threads append one at a time.
        self.lines.append(self.format(record))
        self.records.append(record)

    def text(self, logger: str | None = None) -> str:
        """Every formatted record (with exception text), or only ``logger`` and its children."""
        if logger is None:
            return "\n".join(self.lines)
        prefix = logger + "."
        return "\n".join(
            line
            for record, line in zip(self.records, self.lines, strict=True)
            if record.name == logger or record.name.startswith(prefix)
        )


@contextlib.contextmanager
def recording_debug_logs() -> Iterator[LogRecords]:
    """Turn :data:`DEBUG_LOGGERS` to DEBUG and record every record until the block ends."""
    handler = LogRecords()
    loggers = [logging.getLogger(name) for name in DEBUG_LOGGERS]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    root = logging.getLogger()
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


@pytest.fixture
def debug_logs() -> Iterator[LogRecords]:
    """DEBUG logging on (root, botocore, boto3, urllib3, awsrefs); a secret in a record fails."""
    with recording_debug_logs() as records:
        yield records
    assert_no_secrets(records.text(), "a log record at DEBUG")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--canary-debug-logs``: every test runs with :func:`debug_logs` checks."""
    parser.addoption(
        "--canary-debug-logs",
        action="store_true",
        default=False,
        help="run every test with DEBUG logging on and fail on a secret in any log record",
    )


class _OnlyAwsrefsCalls(logging.Filter):
    """Drops botocore's records of calls awsrefs did not make (the tests' seeding clients).

    Seeding a secret sends it in a request that botocore logs at DEBUG; that is the test's
    own client, not awsrefs, and would fail every test that seeds under the suite-wide check.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from awsrefs.backends.aws import in_awsrefs_call

        return in_awsrefs_call()


@pytest.fixture(autouse=True)
def _canary_debug_logs_everywhere(request: pytest.FixtureRequest) -> Iterator[None]:
    wanted = request.config.getoption("--canary-debug-logs", default=False) or (
        os.environ.get("AWSREFS_CANARY_DEBUG_LOGS") == "1"
    )
    if not wanted or "debug_logs" in request.fixturenames:
        yield
        return
    from awsrefs.backends.aws import GUARDED_LOGGERS

    only_awsrefs = _OnlyAwsrefsCalls()
    loggers = [logging.getLogger(name) for name in (*GUARDED_LOGGERS, "botocore.auth")]
    for logger in loggers:
        logger.addFilter(only_awsrefs)
    try:
        request.getfixturevalue("debug_logs")
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(only_awsrefs)


@pytest.fixture
def canary() -> str:
    """The always-registered canary secret, for tests that seed it and prove it stays hidden."""
    return CANARY


__all__ = [
    "CANARY",
    "DEBUG_LOGGERS",
    "MIN_SECRET_LENGTH",
    "LogRecords",
    "assert_no_secrets",
    "assert_no_secrets_in_frames",
    "canary",
    "debug_logs",
    "describe",
    "find_leaks",
    "recording_debug_logs",
    "redact",
    "register_secret",
    "secret_values",
    "traceback_locals",
]
