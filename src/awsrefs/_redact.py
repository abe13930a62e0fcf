"""Driver errors without the password: the secret's spellings replaced in the whole chain."""

from __future__ import annotations

import contextlib
import json
import traceback
import urllib.parse
from collections.abc import Generator, Iterable
from typing import Any

from awsrefs._auth_failures import chain

__all__ = ["redact_exception", "scrubbed"]

_REDACTED = "<redacted>"


def _spellings(secret: str) -> list[str]:
    forms = {secret, repr(secret)[1:-1], urllib.parse.quote(secret, safe=""), json.dumps(secret)}
    forms.add(urllib.parse.quote_plus(secret, safe=""))
    forms.discard("")
    return sorted(forms, key=len, reverse=True)


def redact_exception(exc: BaseException, secrets: Iterable[str]) -> BaseException:
    """Remove secret values from an exception's message, in place, and return it.

    Some drivers put their connection parameters (a DSN with the password) into error
    messages. Every exception in the chain (``.orig``, ``__cause__``, ``__context__``) whose
    ``args`` or notes contain one of ``secrets`` (also URL-quoted or escaped) gets them
    replaced by ``<redacted>``; the exception object, its type and attributes stay the same.

    Args:
        exc: The exception to clean.
        secrets: Values that must not appear (passwords).

    Returns:
        ``exc`` itself.
    """
    forms = [form for secret in secrets if secret for form in _spellings(secret)]
    if not forms:
        return exc

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for form in forms:
                value = value.replace(form, _REDACTED)
            return value
        if isinstance(value, bytes):
            for form in forms:
                value = value.replace(form.encode(), _REDACTED.encode())
            return value
        return value

    for error in chain(exc):
        args = tuple(clean(arg) for arg in error.args)
        if args != error.args:
            with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
                error.args = args
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [clean(note) for note in notes]
    return exc


def scrubbed(
    exc: BaseException, tried: list[str], plan: Generator[Any, Any, None]
) -> BaseException:
    """Make the driver error safe to raise: no password in its messages or its frames.

    Error reporters (Sentry, ``traceback`` with locals) capture the locals of every frame in
    a traceback. The frames below ``connect`` (the caller's ``fn``, the driver's own) have
    finished and held the password (arguments, a DSN); their locals are cleared, which keeps
    file and line for the traceback. What ``connect`` itself keeps that held passwords is
    emptied: the list of passwords tried, and the rule's generator (closed).
    """
    redact_exception(exc, tried)
    for error in chain(exc):
        # Frames still running (connect's own) raise RuntimeError and are skipped.
        traceback.clear_frames(error.__traceback__)
    tried.clear()
    plan.close()
    return exc
