"""Which settings came from a reference, and views of them that show ``<hidden>`` instead.

A *marks* tree mirrors a source's data: ``True`` where a value came from a reference (a
parameter, a secret, a JSON key, a template), ``False`` where it did not, and a dict where
the data holds a mapping. Marks of several sources merge exactly as their data does, so the
merged marks say where each value of the built settings came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

import awsrefs
from awsrefs_pydantic._compat import repr_args
from awsrefs_pydantic._fields import ABSENT, find, input_keys

__all__ = [
    "HIDDEN",
    "MaskedData",
    "all_marked",
    "field_marks",
    "marked_values",
    "mask",
    "reference_marks",
    "union",
]


class _Hidden:
    """Stands for a value that came from a reference wherever settings are shown."""

    def __repr__(self) -> str:
        return "<hidden>"


HIDDEN: Any = _Hidden()


def all_marked(value: Any) -> Any:
    """Marks for ``value`` when all of it came from a reference."""
    if isinstance(value, Mapping):
        return {key: all_marked(item) for key, item in value.items()}
    return True


def reference_marks(raw: Mapping[str, Any], resolved: Mapping[str, Any]) -> dict[str, Any]:
    """Marks for ``resolved``: where ``raw`` (the same data before resolution) had references."""
    out: dict[str, Any] = {}
    for key, value in resolved.items():
        before = raw.get(key, ABSENT)
        if isinstance(before, Mapping) and isinstance(value, Mapping):
            out[key] = reference_marks(before, value)
        elif awsrefs.has_references(before):
            out[key] = all_marked(value)
        else:
            out[key] = False
    return out


def marked_values(value: Any, mark: Any) -> Iterator[Any]:
    """Every value in ``value`` that ``mark`` says came from a reference, and its items."""
    if mark is True:
        yield from _parts(value)
    elif isinstance(mark, Mapping) and isinstance(value, Mapping):
        for key, inner in mark.items():
            if key in value:
                yield from marked_values(value[key], inner)


def _parts(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return
    for item in items:
        yield from _parts(item)


def union(one: Any, other: Any) -> Any:
    """Marks that mark whatever ``one`` or ``other`` marks (for passes of unknown priority)."""
    if one is True or other is True:
        return True
    if isinstance(one, Mapping) and isinstance(other, Mapping):
        return {k: union(one.get(k, False), other.get(k, False)) for k in one.keys() | other.keys()}
    return one if isinstance(one, Mapping) else other


def _any_marked(marks: Any) -> bool:
    if isinstance(marks, Mapping):
        return any(_any_marked(m) for m in marks.values())
    return bool(marks)


def field_marks(
    model: type[BaseModel], marks: Mapping[str, Any], extras: Iterable[str] = ()
) -> dict[str, Any]:
    """The marks of ``model``'s fields and ``extras``, by name, for those with a marked value."""
    out: dict[str, Any] = {}
    named = [(name, input_keys(name, field)) for name, field in model.model_fields.items()]
    for name, keys in [*named, *((extra, [extra]) for extra in extras)]:
        _, mark = find(marks, keys)
        if mark is not ABSENT and _any_marked(mark):
            out[name] = mark
    return out


def mask(value: Any, mark: Any) -> Any:
    """``value`` as it may be shown: :data:`HIDDEN`, or a model with its marked fields hidden."""
    if not _any_marked(mark):
        return value
    if isinstance(mark, Mapping) and isinstance(value, BaseModel):
        return _MaskedModel(value, field_marks(type(value), mark, value.model_extra or ()))
    return HIDDEN  # a list, dict or plain value that holds a referenced value: hidden whole


def masked_args(
    args: Iterable[tuple[str | None, Any]], marks: Mapping[str, Any]
) -> Iterable[tuple[str | None, Any]]:
    """Pydantic's repr arguments with the marked fields' values masked."""
    for name, value in args:
        yield name, (mask(value, marks[name]) if name is not None and name in marks else value)


class _MaskedModel:
    """Shows a nested model as pydantic does, its marked fields hidden."""

    def __init__(self, model: BaseModel, marks: dict[str, Any]) -> None:
        self._model = model
        self._marks = marks

    def __repr__(self) -> str:
        shown = masked_args(repr_args(self._model), self._marks)
        inner = ", ".join(repr(v) if n is None else f"{n}={v!r}" for n, v in shown)
        return f"{type(self._model).__name__}({inner})"


class MaskedData(dict[str, Any]):
    """A source's data whose repr hides what came from a reference.

    pydantic-settings logs each source's data with ``repr`` when ``PYDANTIC_SETTINGS_DEBUG``
    is set; the data stays a plain dict for everything else.
    """

    def __init__(self, data: Mapping[str, Any], marks: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.marks = marks

    def __repr__(self) -> str:
        return repr({k: (HIDDEN if _any_marked(self.marks.get(k)) else v) for k, v in self.items()})
