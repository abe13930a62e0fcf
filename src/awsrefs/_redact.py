"""Driver errors without the password: the secret's spellings replaced in the whole chain."""

from __future__ import annotations

import contextlib
import dataclasses
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
    """Remove secret values from an exception and what it holds, in place, and return it.

    Some drivers put their connection parameters (a DSN with the password) into error
    messages, or keep them on the error (psycopg's ``pgconn``, a finished connection with the
    password and the whole conninfo). Every exception in the chain (``.orig``, ``__cause__``,
    ``__context__``) is cleaned: text in its ``args``, notes and attributes that contains one
    of ``secrets`` (also URL-quoted or escaped) gets it replaced by ``<redacted>``, in lists,
    tuples, dicts and dataclasses too (a few levels deep, as cleaned copies: what the error
    shares with the application is not changed); an attribute whose value still shows a
    secret in its ``repr`` after that is set to None. The exception object and its type stay
    the same. Tracebacks (the frames' locals) are not touched.

    Args:
        exc: The exception to clean.
        secrets: Values that must not appear (passwords).

    Returns:
        ``exc`` itself.
    """
    forms = [form for secret in secrets if secret for form in _spellings(secret)]
    if not forms:
        return exc
    cleaner = _Cleaner(forms)
    for error in chain(exc):
        args = tuple(cleaner.value(arg, _DEPTH) for arg in error.args)
        if any(a is not b for a, b in zip(args, error.args, strict=True)):
            with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
                error.args = tuple(None if arg is _DROP else arg for arg in args)
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [cleaner.text(note) if isinstance(note, str) else note for note in notes]
        attributes = getattr(error, "__dict__", None)
        for name, value in list(attributes.items() if isinstance(attributes, dict) else ()):
            if name == "__notes__":
                continue
            cleaned = cleaner.value(value, _DEPTH)
            if cleaned is not value:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(error, name, None if cleaned is _DROP else cleaned)
    return exc


# How deep into an error's attributes values are cleaned (psycopg: error._pgconn.info[i].val).
_DEPTH = 4
# A value that shows a secret and cannot be cleaned: the reference to it is dropped.
_DROP: Any = object()


class _Cleaner:
    """Replaces a secret's spellings in text, and in the plain data that holds text."""

    def __init__(self, forms: list[str]) -> None:
        self.forms = forms
        # How the forms look inside the repr of bytes (non-ASCII is escaped there).
        self.shown = sorted(
            {*forms, *(repr(form.encode())[2:-1] for form in forms)}, key=len, reverse=True
        )

    def text(self, value: Any) -> Any:
        if isinstance(value, str):
            for form in self.forms:
                value = value.replace(form, _REDACTED)
        elif isinstance(value, bytes):
            for form in self.forms:
                value = value.replace(form.encode(), _REDACTED.encode())
        return value

    def shows(self, value: Any) -> bool:
        try:
            text = repr(value)
        except Exception:  # a broken repr shows nothing
            return False
        return any(form in text for form in self.shown)

    def value(self, value: Any, depth: int) -> Any:
        """``value`` cleaned (a new or the same object), or _DROP when it cannot be."""
        if isinstance(value, (str, bytes)):
            return self.text(value)
        if isinstance(value, BaseException) or not self.shows(value):
            return value  # exceptions are cleaned as part of the chain
        cleaned = self._inside(value, depth - 1) if depth > 0 else _DROP
        return _DROP if cleaned is _DROP or self.shows(cleaned) else cleaned

    def _inside(self, value: Any, depth: int) -> Any:
        # New containers and copies, never changes in place: the error may share them with
        # the application (a dict of connect arguments it goes on using).
        if isinstance(value, tuple):
            items = [self.value(item, depth) for item in value]
            if any(item is _DROP for item in items):
                return _DROP
            make = getattr(type(value), "_make", None)  # a named tuple
            return make(items) if make is not None else tuple(items)
        if isinstance(value, list):
            items = [self.value(item, depth) for item in value]
            return _DROP if any(item is _DROP for item in items) else items
        if isinstance(value, dict):
            entries = {key: self.value(item, depth) for key, item in value.items()}
            return _DROP if any(item is _DROP for item in entries.values()) else entries
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Plain data (psycopg's finished connection): a copy with its fields cleaned.
            changes = {}
            for field in dataclasses.fields(value):
                item = getattr(value, field.name, None)
                cleaned = self.value(item, depth)
                if cleaned is not item:
                    if not field.init:
                        return _DROP
                    changes[field.name] = None if cleaned is _DROP else cleaned
            try:
                return dataclasses.replace(value, **changes)
            except (TypeError, ValueError):
                return _DROP
        return _DROP  # any other object: not ours to change


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
