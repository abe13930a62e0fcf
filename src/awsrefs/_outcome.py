"""A pass's outcome: the value each reference names, each setting's new value, what failed.

:func:`extract` reads the value a reference names inside a fetched item (the whole value or
one JSON key); :func:`substitute` is the one substitution step (``resolve``, ``check`` and
``get`` all go through it, so a reference used twice in a template, a missing ``optional:``
part, a malformed reference and a failed one are each handled in one place); :func:`settle`
gathers the new values and the failures of a whole pass; :class:`Resolved` and
:class:`Checked` are what the public methods give back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from awsrefs._fetch import Entry
from awsrefs._grammar import Ref, SecretRef, SSMRef, Template, text_of
from awsrefs._references import (
    DROP,
    BackEdge,
    Scan,
    containers_leading_to,
    cycles_through,
    format_path,
    rebuild,
    scan,
)
from awsrefs.backends import _NOT_JSON, Fetched, Miss
from awsrefs.errors import Failure, FailureKind, RefSyntaxError

__all__ = [
    "FAILED",
    "MISSING_KINDS",
    "NO_VALUE",
    "Checked",
    "Resolved",
    "Settled",
    "Status",
    "checked",
    "cycle_failures",
    "detached",
    "extract",
    "extractor",
    "failure_of",
    "missed",
    "rebuild_failures",
    "rebuild_problems",
    "settle",
    "settle_one",
    "substitute",
]


@dataclass(frozen=True)
class Resolved:
    """One resolved reference with where its value came from.

    Attributes:
        value: The value (text, bytes, or a JSON value for a JSON key).
        version: SSM parameter version or Secrets Manager version id.
        fetched_at: ``time.monotonic()`` when it was fetched from the store.
    """

    value: Any
    version: str | None
    fetched_at: float

    def __repr__(self) -> str:  # never show the value
        return (
            f"Resolved(version={self.version!r}, fetched_at={self.fetched_at:.3f}, value=<hidden>)"
        )


@dataclass(frozen=True)
class Checked:
    """The status of one reference, as ``check`` reports it (never its value).

    Attributes:
        path: Setting path.
        reference: Reference text.
        failure: Why it failed, or None when it resolved (or is optional and missing).
        optional_missing: An ``optional:`` reference whose target does not exist.
    """

    path: str
    reference: str
    failure: Failure | None = None
    optional_missing: bool = False

    @property
    def ok(self) -> bool:
        """True when the reference resolves (or is optional and missing)."""
        return self.failure is None

    @property
    def status(self) -> str:
        """``OK``, ``OK (optional, missing)``, or the failure kind such as ``not found``."""
        if self.failure is not None:
            return self.failure.kind.value
        return "OK (optional, missing)" if self.optional_missing else "OK"


NO_VALUE: Any = object()  # what an extractor gives when the fetched item lacks the key


def extract(ref: Ref, result: Entry | Miss) -> Any:
    """The value ``ref`` names inside a fetched item, or a Miss saying why not."""
    if isinstance(result, Miss):
        return result
    fetched = result.fetched
    if isinstance(ref, SSMRef) or ref.key is None:
        return fetched.value
    data = fetched.json()
    if isinstance(fetched.value, bytes):
        return Miss(
            FailureKind.NOT_JSON, f"secret {ref.secret_id!r} is binary, so it has no JSON keys"
        )
    if data is _NOT_JSON or not isinstance(data, dict):
        return Miss(
            FailureKind.NOT_JSON,
            f"secret {ref.secret_id!r} is not a JSON object, so it has no key {ref.key!r}; "
            f"use 'secretsmanager:{ref.secret_id}' for the whole value",
        )
    if ref.key not in data:
        # Key names are not listed: a secret's keys can be secrets themselves.
        count = len(data)
        has = "no keys" if count == 0 else f"{count} key{'' if count == 1 else 's'}"
        return Miss(
            FailureKind.NO_SUCH_KEY,
            f"secret {ref.secret_id!r} has no JSON key {ref.key!r} (it has {has}; their names "
            "are not shown here, to list them: aws secretsmanager get-secret-value "
            f"--secret-id '{ref.secret_id}' --query SecretString --output text | jq keys)",
        )
    return detached(data[ref.key])


def detached(value: Any) -> Any:
    """``value``, or a deep copy when it is a JSON object or array.

    A secret is parsed once per fetch and every reader of one of its keys reads that parse:
    a caller changing the dict it got would change what every later read returns. Text,
    numbers, booleans and None cannot be changed, so they are handed out as they are.
    """
    if type(value) is not dict and type(value) is not list:
        return value
    # A loop, not recursion: a secret nested as deep as json.loads allows copies too.
    root: Any = {} if type(value) is dict else []
    stack = [(value, root)]
    while stack:
        source, copy = stack.pop()
        pairs = source.items() if type(source) is dict else enumerate(source)
        for key, item in pairs:
            kind = type(item)
            if kind is dict or kind is list:
                new: Any = {} if kind is dict else []
                stack.append((item, new))
                item = new
            if type(copy) is dict:
                copy[key] = item
            else:
                copy.append(item)
    return root


def extractor(ref: Ref) -> Callable[[Fetched], Any]:
    """A quick reader of ``ref``'s value from a fetched item (``NO_VALUE`` when absent).

    For the cached :meth:`~awsrefs.Resolver.get`: no error text, only the value or not. A JSON
    object or array comes back as a new copy on every call (see :func:`detached`).
    """
    if isinstance(ref, SecretRef) and ref.key is not None:
        wanted = ref.key

        def json_key(fetched: Fetched) -> Any:
            data = fetched.json()
            return detached(data.get(wanted, NO_VALUE)) if isinstance(data, dict) else NO_VALUE

        return json_key
    return _whole_value


def _whole_value(fetched: Fetched) -> Any:
    return fetched.value


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


def missed(where: str, ref: Ref, miss: Miss) -> Failure:
    """The failure of ``ref`` at ``where`` for why it was missed."""
    return Failure(where, str(ref), miss.kind, miss.reason)


class Settled:
    """What one pass found: failures and statuses, and the resolved copy."""

    def __init__(self, found: Scan) -> None:
        self.found = found
        self.changed: set[int] = set()
        self.replacements: dict[str, Any] = {}
        self.failures: list[Failure] = []
        self.checked: list[Checked] = []
        self.result: Any = None  # the resolved copy; only meaningful without failures

    def __repr__(self) -> str:  # never show the values
        return f"Settled(failures={len(self.failures)}, replacements=<hidden>)"


def failure_of(where: str, status: Status) -> Failure:
    assert status.miss is not None
    return Failure(where, status.reference, status.miss.kind, status.miss.reason)


def checked(where: str, status: Status) -> Checked:
    found_failure = None if status.miss is None else failure_of(where, status)
    return Checked(where, status.reference, found_failure, optional_missing=status.dropped)


def cycle_failures(edges: list[BackEdge], prefix: str, found: Scan) -> list[Failure]:
    """The failure of each back edge into a container that holds a reference."""
    texts = _reference_texts(found) if edges else {}
    failures = []
    for edge in edges:
        where = format_path(edge.path, prefix)
        target = format_path(edge.target, prefix) or "the top of the settings"
        reason = (
            f"{where or '(value)'} holds {target} again, which contains a reference: awsrefs "
            "does not copy cyclic settings; break the cycle or move the reference out of it"
        )
        reference = _reference_below(found, edge.target_id, texts)
        failures.append(Failure(where, reference, FailureKind.CONFIGURATION, reason))
    return failures


def _reference_texts(found: Scan) -> dict[str, str]:
    """Each setting text found to the first reference in it (for naming a container)."""
    texts: dict[str, str] = {}
    for index, item in found.found:
        refs = item.refs if isinstance(item, Template) else (item,)
        text = found.tree.strings[index][1]
        if refs and text not in texts:
            texts[text] = refs[0].text if isinstance(refs[0], RefSyntaxError) else str(refs[0])
    return texts


def _reference_below(found: Scan, container: int, texts: dict[str, str]) -> str:
    """The nearest reference held in ``container`` or below it."""
    children = found.tree.children
    todo, seen = deque([container]), {container}
    while todo:
        for _, child in children.get(todo.popleft(), ()):
            if isinstance(child, str) and child in texts:
                return texts[child]
            if id(child) in children and id(child) not in seen:
                seen.add(id(child))
                todo.append(id(child))
    return ""


def rebuild_failures(containers: list[int], prefix: str, found: Scan) -> list[Failure]:
    """The failure of each container that holds a reference but cannot be rebuilt."""
    if not containers:
        return []
    texts = _reference_texts(found)
    failures = []
    for container in containers:
        where = format_path(found.tree.path_of(container), prefix)
        kind = type(found.tree.objects[container])
        reason = (
            f"{where or 'the settings'} is a {kind.__module__}.{kind.__qualname__}, which "
            "awsrefs cannot rebuild with the resolved values in it (the type cannot be made "
            "from its items, or not from these values, as a set from a JSON object); use a "
            "dict, list, tuple or namedtuple there, or a type that can be made from its items"
        )
        reference = _reference_below(found, container, texts)
        failures.append(Failure(where, reference, FailureKind.CONFIGURATION, reason))
    return failures


def rebuild_problems(obj: Any, prefix: str = "") -> list[Failure]:
    """The containers of ``obj`` that hold a reference but could not be rebuilt (no fetch).

    Tried with the settings' own text in place of each value, which is how a settings
    loader can report them before anything is resolved.
    """
    found = scan(obj)
    changed = containers_leading_to(found.tree, (i for i, _ in found.found))
    if not changed or cycles_through(found.tree, changed):
        return []  # nothing to copy, or cyclic: resolve and check report that themselves
    return rebuild_failures(rebuild(obj, found.tree, changed, lambda t: t).failed, prefix, found)


def settle(found: Scan, values: Mapping[Ref, Any], prefix: str, *, report: bool) -> Settled:
    """Substitute each setting text found with ``values``; gather failures and statuses.

    Args:
        found: What the walk found.
        values: Each reference's value, or the Miss saying why there is none.
        prefix: Prefix of setting paths.
        report: Also list every reference's status (for ``check``).
    """
    settled = Settled(found)
    by_text: dict[str, tuple[tuple[Status, ...], Any]] = {}
    for index, item in found.found:
        path, text = found.tree.strings[index]
        outcome = by_text.get(text)  # the same text anywhere settles the same way
        if outcome is None:
            outcome = by_text[text] = substitute(item, values)
        statuses, value = outcome
        if value is not FAILED:
            settled.replacements[text] = value
        if report or value is FAILED:
            where = format_path(path, prefix)
            for status in statuses:
                status_checked = checked(where, status)
                if report:
                    settled.checked.append(status_checked)
                if status_checked.failure is not None:
                    settled.failures.append(status_checked.failure)
    settled.changed = containers_leading_to(found.tree, (i for i, _ in found.found))
    structural = cycle_failures(cycles_through(found.tree, settled.changed), prefix, found)
    if not structural and (report or not settled.failures):
        # Rebuilt in check too, so that check reports a container resolve cannot rebuild.
        replacements = settled.replacements
        rebuilt = rebuild(
            found.tree.root, found.tree, settled.changed, lambda t: replacements.get(t, t)
        )
        settled.result = rebuilt.value
        structural = rebuild_failures(rebuilt.failed, prefix, found)
    for failure in structural:
        settled.failures.append(failure)
        if report:
            settled.checked.append(Checked(failure.path, failure.reference, failure))
    return settled


def settle_one(
    item: Ref | Template, values: Mapping[Ref, Any], default: Any, no_default: Any
) -> tuple[Any, list[Failure]]:
    """``get``'s rule: the value of one reference or template, or why not.

    A missing parameter, secret or key gives ``default`` (unless it is ``no_default``); a
    missing ``optional:`` reference gives None, or ``default`` when one is given.
    """
    statuses, value = substitute(item, values)
    if value is FAILED:
        miss = statuses[0].miss
        missing = miss is not None and miss.kind in MISSING_KINDS
        if missing and default is not no_default and isinstance(item, (SSMRef, SecretRef)):
            return default, []
        return None, [failure_of("", s) for s in statuses if s.miss is not None]
    if value is DROP:
        return (None if default is no_default else default), []
    return value, []
