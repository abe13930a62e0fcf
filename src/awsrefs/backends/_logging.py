"""Keep fetched values out of botocore's DEBUG logging.

botocore logs every response body at DEBUG (``botocore.parsers``: "Response body"), so with
the root logger at DEBUG, or after ``boto3.set_stream_logger("")``, each ``Value`` and
``SecretString`` awsrefs fetches would reach the log handlers. Redaction happens where each
record is made, before any filter or handler sees it, whoever configured the handlers, so no
handler (stream, file, Sentry, ``set_stream_logger``...) ever receives the body:

- a log record factory (:func:`logging.setLogRecordFactory`, chained to the one in place)
  redacts the records of every ``botocore``, ``boto3`` and ``urllib3`` logger, also of those
  created after :func:`install` (botocore and urllib3 create some lazily, on first use);
- the same redaction sits as a :class:`logging.Filter` on the guarded loggers that exist at
  install time, in case a later ``setLogRecordFactory`` replaces the factory without chaining.

The filter touches only records emitted while awsrefs' own AWS call runs:
:func:`awsrefs_call` marks that call in a :mod:`contextvars` variable around the botocore
method. botocore logs synchronously in the thread making the call, so the mark holds in
the resolver's worker threads too, and other boto3 clients of the process, even while an
awsrefs call runs in another thread, log their bodies as before. After a fork the child's
mark starts cleared.

During an awsrefs call, on every ``botocore``, ``boto3`` and ``urllib3`` logger:

- ``botocore.parsers`` records keep their message text and lose their arguments and
  exception (headers, body, parse errors quoting the body): ``Response body:
  <withheld by awsrefs>``; so do ``botocore.auth`` records (the canonical request and the
  signature, from which a presigned RDS IAM token can be rebuilt);
- records of the other loggers keep their message and plain arguments (operation
  models, numbers, URLs); arguments that are bytes, mappings, sequences or response objects
  (request and response dicts, bodies, headers) become ``<withheld by awsrefs>``, and
  exception details become their type name.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from typing import Any

__all__ = ["GUARDED_LOGGERS", "WITHHELD", "awsrefs_call", "in_awsrefs_call", "install"]

#: Loggers that can carry request or response content of a botocore call.
GUARDED_LOGGERS = (
    "botocore.parsers",
    "botocore.auth",
    "botocore.endpoint",
    "botocore.response",
    "botocore.handlers",
    "botocore.httpsession",
    "botocore.awsrequest",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.retries.standard",
    "botocore.utils",
    "urllib3.connectionpool",
)
_BODY_LOGGER = "botocore.parsers"
# Loggers whose every argument is withheld: response bodies, signing material.
_WITHHOLD_ALL = frozenset({_BODY_LOGGER, "botocore.auth"})

_in_call: contextvars.ContextVar[bool] = contextvars.ContextVar("awsrefs_in_call", default=False)
_installed = False
_install_lock = threading.Lock()


_WITHHELD_TEXT = "<withheld by awsrefs>"
# A printf-style conversion as logging formats messages with (not "%%").
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")


class _Withheld:
    """Stands in for a withheld log argument, in ``%s`` and ``%r`` alike."""

    __slots__ = ()

    def __repr__(self) -> str:
        return _WITHHELD_TEXT

    __str__ = __repr__


WITHHELD: Any = _Withheld()
_CONTAINERS = (bytes, bytearray, memoryview, Mapping, Sequence, Set)


def _may_hold_content(arg: object) -> bool:
    """Bodies, headers, parameter dicts and response objects; not names or numbers."""
    if isinstance(arg, str):
        return False
    return isinstance(arg, _CONTAINERS) or "Response" in type(arg).__name__


def in_awsrefs_call() -> bool:
    """True while the current thread runs one of awsrefs' AWS calls."""
    return _in_call.get()


@contextlib.contextmanager
def awsrefs_call() -> Iterator[None]:
    """Mark the code inside as an awsrefs AWS call, so the guarded loggers redact it."""
    token = _in_call.set(True)
    try:
        yield
    finally:
        _in_call.reset(token)


class _RedactFilter(logging.Filter):
    """Rewrites, in place, the records of an awsrefs call that may carry content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _in_call.get():
            return True
        if record.name in _WITHHOLD_ALL or isinstance(record.args, Mapping):
            record.msg = _PLACEHOLDER.sub(_WITHHELD_TEXT, str(record.msg))
            record.args = ()
        elif record.args:
            record.args = tuple(WITHHELD if _may_hold_content(a) else a for a in record.args)
        if record.exc_info or record.exc_text:
            kind = record.exc_info[1] if record.exc_info else None
            name = type(kind).__name__ if kind is not None else "an exception"
            record.msg = f"{record.msg} ({name}; details withheld by awsrefs)"
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True


_filter = _RedactFilter()
# Top-level names of the loggers whose records are redacted (and their children).
_GUARDED_ROOTS = frozenset({"botocore", "boto3", "urllib3"})


def _redacting_factory(
    previous: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """A log record factory that redacts, during an awsrefs call, what ``previous`` makes."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _in_call.get() and record.name.partition(".")[0] in _GUARDED_ROOTS:
            _filter.filter(record)  # idempotent: the loggers' filters may run it again
        return record

    return factory


def install() -> None:
    """Redact every guarded logger's records during awsrefs calls (once per process).

    Installs the record factory (chained to the current one) and the filter on the guarded
    loggers that exist by now; idempotent.
    """
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        # The named ones, and every other botocore/urllib3 logger that exists by now (botocore
        # is imported before the first client is made): a body logged from a new place in a
        # later botocore release still passes the per-argument rule.
        known = [
            name
            for name in list(logging.Logger.manager.loggerDict)
            if name.startswith(("botocore.", "urllib3.", "boto3."))
        ]
        for name in (*GUARDED_LOGGERS, *known):
            logger = logging.getLogger(name)
            if _filter not in logger.filters:
                logger.addFilter(_filter)
        logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
        _installed = True


def _clear_in_child() -> None:
    # A fork from inside a call (a botocore hook, say) must not leave the child redacting
    # its own, unrelated calls.
    _in_call.set(False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_clear_in_child)
