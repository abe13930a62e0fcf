"""Batch planning: the fewest backend calls that fetch a set of items.

An :class:`ItemKey` names one fetched item: a parameter (at a selector) or a secret version
in one region. All references that read the same item (several JSON keys of one secret)
share its key, so the item is fetched once. :func:`plan_calls` groups the keys into calls:
parameters by ``parameter_batch_size`` per region, AWSCURRENT secrets by
``secret_batch_size`` per region (one by one where the backend cannot batch), and one call
per secret pinned to a stage or version id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, NamedTuple, TypeVar

from awsrefs._grammar import Ref, SSMRef, split_selector
from awsrefs.backends._base import Backend, Outcome

__all__ = ["Call", "ItemKey", "item_key", "plan_calls"]

T = TypeVar("T")


class ItemKey(NamedTuple):
    """One item a backend fetches; immutable, and hashed as fast as a plain tuple.

    Attributes:
        service: ``"ssm"`` or ``"secretsmanager"``.
        region: The region, or None for the backend's default.
        name: Parameter name (with any ``:selector``) or secret id.
        stage: Secrets only: a staging label other than AWSCURRENT.
        version_id: Secrets only: a version id.
    """

    service: Literal["ssm", "secretsmanager"]
    region: str | None
    name: str
    stage: str | None = None
    version_id: str | None = None

    @property
    def pinned(self) -> bool:
        """A secret read at a stage or version id: fetched on its own."""
        return self.stage is not None or self.version_id is not None

    @property
    def label(self) -> str:
        """How logs name the item (never its value)."""
        if self.service == "ssm":
            return f"ssm:{self.name}"
        stage = f" ({self.stage or self.version_id})" if self.pinned else ""
        return f"secretsmanager:{self.name}{stage}"


def item_key(ref: Ref, region: str | None) -> ItemKey:
    """The item ``ref`` reads in ``region``: references to keys of one secret share it."""
    if isinstance(ref, SSMRef):
        return ItemKey("ssm", region, ref.api_name)
    stage = None if ref.stage == "AWSCURRENT" else ref.stage
    return ItemKey("secretsmanager", region, ref.secret_id, stage, ref.version_id)


Call = Callable[[], dict[ItemKey, Outcome]]


def plan_calls(backend: Backend, keys: Sequence[ItemKey]) -> list[Call]:
    """The calls that fetch ``keys`` from ``backend``; each returns an outcome per key."""
    parameters: dict[str | None, list[str]] = defaultdict(list)
    current: dict[str | None, list[str]] = defaultdict(list)
    calls: list[Call] = []
    for key in keys:
        if key.service == "ssm":
            parameters[key.region].append(key.name)
        elif key.pinned:
            calls.append(_pinned_call(backend, key))
        else:
            current[key.region].append(key.name)
    for region, names in parameters.items():
        for chunk in _parameter_chunks(names, backend.parameter_batch_size):
            calls.append(_parameters_call(backend, region, chunk))
    for region, ids in current.items():
        size = backend.secret_batch_size if backend.can_batch_secrets(region) else 1
        for ids_chunk in _chunks(ids, size):
            calls.append(_secrets_call(backend, region, ids_chunk))
    return calls


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parameter_chunks(names: list[str], size: int) -> Iterator[list[str]]:
    """Chunks of at most ``size`` names, each naming a parameter at most once.

    ``/a:1`` and ``/a:prod`` go to different calls so answers match requests without
    relying on the response's ``Selector``. The fewest calls is max(ceil(n / size),
    repeats of one name); both ways below reach it in linear time.
    """
    by_base: dict[str, list[str]] = defaultdict(list)
    for name in names:
        by_base[split_selector(name)[0]].append(name)
    repeats = max((len(group) for group in by_base.values()), default=0)
    if repeats <= 1:  # the usual case: in order, as tightly as _chunks
        yield from (list(chunk) for chunk in _chunks(names, size))
        return
    # Deal the names, grouped by parameter, round the calls like cards: a group has at most
    # `count` names, so its names land in different calls, and no call gets more than size.
    count = max(-(-len(names) // size), repeats)
    chunks: list[list[str]] = [[] for _ in range(count)]
    position = 0
    for group in by_base.values():
        for name in group:
            chunks[position % count].append(name)
            position += 1
    yield from chunks


def _parameters_call(backend: Backend, region: str | None, names: Sequence[str]) -> Call:
    def run() -> dict[ItemKey, Outcome]:
        got = backend.get_parameters(region, names)
        return {ItemKey("ssm", region, name): got[name] for name in names}

    return run


def _secrets_call(backend: Backend, region: str | None, ids: Sequence[str]) -> Call:
    def run() -> dict[ItemKey, Outcome]:
        got = backend.get_current_secrets(region, ids)
        return {ItemKey("secretsmanager", region, sid): got[sid] for sid in ids}

    return run


def _pinned_call(backend: Backend, key: ItemKey) -> Call:
    def run() -> dict[ItemKey, Outcome]:
        return {key: backend.get_secret(key.region, key.name, key.stage, key.version_id)}

    return run
