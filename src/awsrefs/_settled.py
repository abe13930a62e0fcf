"""One pass's outcome: each setting text's new value, and what failed where."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from awsrefs._grammar import Ref, SecretRef, SSMRef, Template
from awsrefs._references import Scan, scan
from awsrefs._results import Checked
from awsrefs._substitute import FAILED, MISSING_KINDS, Status, substitute
from awsrefs._walk import (
    DROP,
    BackEdge,
    containers_leading_to,
    cycles_through,
    format_path,
    rebuild,
)
from awsrefs.backends._base import Miss
from awsrefs.errors import Failure, FailureKind, RefSyntaxError

__all__ = [
    "Settled",
    "checked",
    "cycle_failures",
    "failure_of",
    "missed",
    "rebuild_failures",
    "rebuild_problems",
    "settle",
    "settle_one",
]


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
