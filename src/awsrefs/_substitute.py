"""The one substitution step: a parsed setting and its references' values give its new value.

``resolve``, ``check`` and ``get`` all go through :func:`substitute`, so a reference used twice
in a template, a missing ``optional:`` part, a malformed reference and a failed one are each
handled in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from awsrefs._grammar import Ref, SecretRef, Template, text_of
from awsrefs._walk import DROP
from awsrefs.backends._base import Miss
from awsrefs.errors import FailureKind, RefSyntaxError

__all__ = ["FAILED", "MISSING_KINDS", "Status", "substitute"]

FAILED: Any = object()  # the setting has no new value: at least one of its references failed
MISSING_KINDS = (FailureKind.NOT_FOUND, FailureKind.NO_SUCH_KEY)


class Status(NamedTuple):
    """How one reference of a setting fared; never holds its value.

    Attributes:
        reference: The reference text (for a malformed one, the offending text).
        miss: Why it failed, or None.
        dropped: An ``optional:`` reference whose target does not exist.
    """

    reference: str
    miss: Miss | None = None
    dropped: bool = False


def substitute(
    item: Ref | Template | RefSyntaxError, values: Mapping[Ref, Any]
) -> tuple[tuple[Status, ...], Any]:
    """The new value of one setting.

    Args:
        item: The parsed setting (a reference, a template, or the error parsing it).
        values: Each of its references to its value, or a ``Miss`` saying why there is none.

    Returns:
        One status per distinct reference, in order of first use, and the new value: the
        value of a whole reference, the rendered text of a template (a missing optional part
        is empty text), ``DROP`` for a missing optional whole reference, or ``FAILED``.
    """
    if isinstance(item, RefSyntaxError):
        return (Status(item.text, Miss(FailureKind.SYNTAX, str(item))),), FAILED
    template = isinstance(item, Template)
    refs = dict.fromkeys(item.refs) if isinstance(item, Template) else (item,)
    statuses: list[Status] = []
    texts: dict[Ref, str] = {}
    failed = False
    for ref in refs:
        value = values[ref]
        if isinstance(value, Miss):
            if ref.optional and value.kind in MISSING_KINDS:
                statuses.append(Status(str(ref), dropped=True))
                texts[ref] = ""
                continue
            statuses.append(Status(str(ref), value))
            failed = True
        elif template:
            text = _as_text(ref, value)
            if isinstance(text, Miss):
                statuses.append(Status(str(ref), text))
                failed = True
            else:
                statuses.append(Status(str(ref)))
                texts[ref] = text
        else:
            statuses.append(Status(str(ref)))
    if failed:
        return tuple(statuses), FAILED
    if isinstance(item, Template):
        return tuple(statuses), item.render(texts)
    return tuple(statuses), DROP if statuses[0].dropped else values[item]


def _as_text(ref: Ref, value: Any) -> str | Miss:
    try:
        return text_of(value)
    except ValueError:
        pass  # the error is dropped here: it must not carry the value up a traceback
    what = f"secret {ref.secret_id!r}" if isinstance(ref, SecretRef) else f"parameter {ref.name!r}"
    return Miss(
        FailureKind.NOT_TEXT,
        f"{what} is binary and not UTF-8 text; use it as a whole value, not inside a template",
    )
