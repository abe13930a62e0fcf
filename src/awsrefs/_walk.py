"""The one walk over settings: strings with their paths, and the rebuilt copy.

Both halves are iterative (no recursion, so no depth limit) and linear in the size of the
settings: the walk reads each distinct container once, however many places hold it (a
YAML alias, a list holding the same list twice), and records every place that holds it; a
container that holds one of its own ancestors is a back edge (a cycle) and is recorded as
such. Each string is listed once, at the first path the walk met it on;
:func:`every_place` lists all the paths to each string when a caller needs them, refusing
past :data:`MAX_PLACES`. The rebuild copies only the containers that lead to a replaced
string, each once, so shared parts stay shared. A back edge into a container that must be
copied cannot be rebuilt faithfully here; :func:`cycles_through` names those for the
caller to report, and a container whose type cannot be rebuilt with new items is left to
the caller to report too (:class:`Rebuilt`).

The walk keeps what it read (which also keeps every container alive, so an ``id()`` names
one object for the whole pass); the rebuild works from that record, so a mapping that
makes new objects on every access is rebuilt as it was walked.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import (
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    MutableSequence,
    MutableSet,
    Sequence,
    Set,
)
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "DROP",
    "MAX_PLACES",
    "BackEdge",
    "PathKey",
    "Rebuilt",
    "TooManyPlacesError",
    "Tree",
    "containers_leading_to",
    "cycles_through",
    "every_place",
    "format_path",
    "rebuild",
    "walk",
]

PathKey = tuple[Hashable, ...]
DROP: Any = object()  # a replacement meaning "this key or item goes away"
_END: Any = object()
_NOT_CONTAINERS = (str, bytes, bytearray, memoryview)

#: The most places :func:`every_place` lists: shared containers (YAML aliases) can make the
#: number of paths grow exponentially with the size of the settings.
MAX_PLACES = 10_000


class TooManyPlacesError(ValueError):
    """Shared containers make more than :data:`MAX_PLACES` places to list."""


class BackEdge(NamedTuple):
    """A container that holds one of its own ancestors: the settings are cyclic here.

    Attributes:
        path: Where the ancestor is held again.
        target: The path of the ancestor.
        target_id: ``id()`` of the ancestor.
    """

    path: PathKey
    target: PathKey
    target_id: int


class Tree:
    """What one walk found.

    Attributes:
        root: The settings walked.
        strings: Every string with the first path it was found on, in document order (a
            string in a container held in several places is listed once).
        string_parents: ``id()`` of the container holding each string (None at the top).
        parents: ``id()`` of each container to the ``id()`` of the containers holding it.
        places: ``id()`` of each container (but the top) to every (container ``id()``, key)
            that holds it, back edges left out; the first is where the walk met it.
        back_edges: Every place where the settings refer back to a container on the path.
        children: ``id()`` of each container to its (key or index, child) pairs as read.
        objects: ``id()`` of each container to the container.
        finished: ``id()`` of each container, in the order the walk left it.
    """

    # A plain class, not a dataclass: each dataclass costs about 1 ms of import time.
    __slots__ = (
        "back_edges",
        "children",
        "finished",
        "objects",
        "parents",
        "places",
        "root",
        "string_parents",
        "strings",
    )

    def __init__(self, root: Any = None) -> None:
        self.root = root
        self.strings: list[tuple[PathKey, str]] = []
        self.string_parents: list[int | None] = []
        self.parents: dict[int, set[int]] = {}
        self.places: dict[int, list[tuple[int, Hashable]]] = {}
        self.back_edges: list[BackEdge] = []
        self.children: dict[int, list[tuple[Hashable, Any]]] = {}
        self.objects: dict[int, Any] = {}
        self.finished: list[int] = []

    def __repr__(self) -> str:  # never the strings: settings may hold values of their own
        return f"Tree(strings={len(self.strings)}, back_edges={len(self.back_edges)})"

    def read(self, obj: Any) -> Iterator[tuple[Hashable, Any]]:
        """The children of container ``obj``: read on the first visit, recorded after."""
        items = self.children.get(id(obj))
        if items is None:
            self.objects[id(obj)] = obj
            if isinstance(obj, Mapping):
                items = self.children[id(obj)] = list(obj.items())
            else:
                items = self.children[id(obj)] = list(enumerate(obj))
        return iter(items)

    def path_of(self, container: int) -> PathKey:
        """The first path the walk met ``container`` on."""
        keys: list[Hashable] = []
        places = self.places.get(container)
        while places:
            container, key = places[0]
            keys.append(key)
            places = self.places.get(container)
        return tuple(reversed(keys))


def _is_container(obj: object) -> bool:
    if isinstance(obj, Mapping):
        return True
    return isinstance(obj, (Sequence, Set)) and not isinstance(obj, _NOT_CONTAINERS)


def walk(obj: Any) -> Tree:
    """Find every string in ``obj`` (nested mappings, sequences and sets) with its path.

    Each distinct container is read once: the work is linear in the number of containers
    and items, however much of the structure is shared.
    """
    tree = Tree(obj)
    if isinstance(obj, str):
        tree.strings.append(((), obj))
        tree.string_parents.append(None)
        return tree
    if not _is_container(obj):
        return tree
    keys: list[Hashable] = []  # path of the container on top of the stack
    depth_of: dict[int, int] = {id(obj): 0}  # containers on the current path
    stack: list[tuple[Any, Iterator[tuple[Hashable, Any]]]] = [(obj, tree.read(obj))]
    while stack:
        parent, children = stack[-1]
        key, child = next(children, (_END, _END))
        if child is _END:
            stack.pop()
            del depth_of[id(parent)]
            tree.finished.append(id(parent))
            if stack:
                keys.pop()
        elif isinstance(child, str):
            tree.strings.append(((*keys, key), child))
            tree.string_parents.append(id(parent))
        elif _is_container(child):
            child_id = id(child)
            tree.parents.setdefault(child_id, set()).add(id(parent))
            depth = depth_of.get(child_id)
            if depth is not None:
                tree.back_edges.append(BackEdge((*keys, key), tuple(keys[:depth]), child_id))
                continue
            seen = child_id in tree.children
            tree.places.setdefault(child_id, []).append((id(parent), key))
            if seen:  # held in another place too: read once, its strings listed once
                continue
            depth_of[child_id] = len(stack)
            keys.append(key)
            stack.append((child, tree.read(child)))
    return tree


def every_place(tree: Tree, string_indexes: Sequence[int]) -> list[tuple[int, PathKey]]:
    """Every (string index, path) of the given strings, in document order.

    A string in a container held in several places (a YAML alias) has a path for each; the
    order is that of a plain tree walk, as if the shared parts were copies. Back edges of
    cycles are not followed.

    Raises:
        TooManyPlacesError: The paths would number more than :data:`MAX_PLACES` (counted first,
            in linear time, so nothing exponential is built).
    """
    counts: dict[int, int] = {}
    for container in reversed(tree.finished):  # every holder comes before what it holds
        places = tree.places.get(container)
        counts[container] = sum(counts[p] for p, _ in places) if places else 1
    total = 0
    for index in string_indexes:
        parent = tree.string_parents[index]
        total += 1 if parent is None else counts[parent]
    if total > MAX_PLACES:
        raise TooManyPlacesError(
            f"shared containers (such as YAML aliases) make {total} places to list, more "
            f"than awsrefs lists ({MAX_PLACES}); hold each part in fewer places"
        )
    if total == len(string_indexes):  # nothing shared: the walk's own paths and order
        return [(index, tree.strings[index][0]) for index in string_indexes]
    needed = containers_leading_to(tree, string_indexes)
    paths: dict[int, list[PathKey]] = {}
    for container in reversed(tree.finished):
        if container in needed:
            places = tree.places.get(container)
            paths[container] = (
                [(*path, key) for p, key in places for path in paths[p]] if places else [()]
            )
    out: list[tuple[int, PathKey]] = []
    for index in string_indexes:
        parent = tree.string_parents[index]
        key = tree.strings[index][0][-1:]
        out.extend((index, (*path, *key)) for path in paths[parent])  # type: ignore[index]
    positions: dict[int, dict[Hashable, int]] = {}

    def document_order(place: tuple[int, PathKey]) -> list[int]:
        container, order = id(tree.root), []
        for key in place[1]:
            children = tree.children.get(container, [])
            if container not in positions:
                positions[container] = {k: i for i, (k, _) in enumerate(children)}
            order.append(positions[container][key])
            container = id(children[order[-1]][1])
        return order

    out.sort(key=document_order)
    return out


def containers_leading_to(tree: Tree, string_indexes: Iterable[int]) -> set[int]:
    """``id()`` of every container from which one of the given strings can be reached."""
    todo = [tree.string_parents[i] for i in string_indexes]
    found: set[int] = set()
    while todo:
        container = todo.pop()
        if container is None or container in found:
            continue
        found.add(container)
        todo.extend(tree.parents.get(container, ()))
    return found


def cycles_through(tree: Tree, changed: set[int]) -> list[BackEdge]:
    """The back edges that point at a container which has to be copied."""
    return [edge for edge in tree.back_edges if edge.target_id in changed]


class Rebuilt(NamedTuple):
    """The rebuilt copy, and the containers whose type could not be rebuilt.

    Attributes:
        value: The copy (``DROP`` when the whole value went away).
        failed: ``id()`` of each container that could not be rebuilt with its new items;
            the copy holds the original there, so it must not be used when this is set.
    """

    value: Any
    failed: list[int]


class _CannotRebuildError(Exception):
    pass


def rebuild(obj: Any, tree: Tree, changed: set[int], replace: Callable[[str], Any]) -> Rebuilt:
    """Copy ``obj`` with each string replaced by ``replace(text)`` (``DROP`` removes it).

    Only containers in ``changed`` are copied, each once (shared parts stay shared); every
    other container is returned as the same object. A ``DROP`` in a tuple (a namedtuple
    too) becomes None, so the positions after it do not move. ``tree`` is the walk of
    ``obj``, and ``changed`` must hold no cycle (see :func:`cycles_through`).
    """
    if isinstance(obj, str):
        return Rebuilt(replace(obj), [])
    if id(obj) not in changed:
        return Rebuilt(obj, [])
    done: dict[int, Any] = {}
    failed: list[int] = []
    # (container, its key in the parent, remaining children, new (key, value) pairs)
    stack: list[tuple[Any, Hashable, Iterator[tuple[Hashable, Any]], list[Any]]] = [
        (obj, None, tree.read(obj), [])
    ]
    active = {id(obj)}
    while True:
        node, node_key, children, items = stack[-1]
        key, child = next(children, (_END, _END))
        if child is _END:
            stack.pop()
            active.discard(id(node))
            try:
                new = _same_container(node, items)
            except _CannotRebuildError:
                failed.append(id(node))
                new = node
            done[id(node)] = new
            if not stack:
                return Rebuilt(new, failed)
            stack[-1][3].append((node_key, new))
            continue
        if isinstance(child, str):
            child = replace(child)
        elif id(child) in changed:
            if id(child) in done:
                child = done[id(child)]
            elif id(child) in active:  # the caller did not rule out cycles
                raise RuntimeError("awsrefs cannot copy a cyclic structure")
            else:
                active.add(id(child))
                stack.append((child, key, tree.read(child), []))
                continue
        if child is DROP and isinstance(node, tuple):
            child = None  # a tuple's positions mean something: keep them
        if child is not DROP:
            items.append((key, child))


def _same_container(obj: Any, items: list[tuple[Hashable, Any]]) -> Any:
    """A container of ``obj``'s own type holding ``items``, or _CannotRebuildError."""
    kind = type(obj)
    if kind is dict:
        return dict(items)
    if kind in (list, tuple, set, frozenset):
        try:
            return kind(value for _, value in items)
        except TypeError:  # a set given an unhashable value (a JSON object)
            raise _CannotRebuildError from None
    if isinstance(obj, Mapping):
        return _same_mapping(obj, items)
    return _same_collection(obj, [value for _, value in items])


def _same_mapping(obj: Mapping[Any, Any], items: list[tuple[Any, Any]]) -> Any:
    def faithful(new: Any) -> bool:
        return (
            type(new) is type(obj)
            and len(new) == len(items)
            and all(key in new and new[key] is value for key, value in items)
        )

    if isinstance(obj, MutableMapping):
        # A copy keeps dict subclasses' state (OrderedDict, defaultdict's factory).
        new = _refilled(obj, lambda new: (new.clear(), new.update(items)))
        if new is not None and faithful(new):
            return new
    try:
        if isinstance(obj, MappingProxyType):
            new = MappingProxyType(dict(items))
        else:
            new = type(obj)(items)  # type: ignore[call-arg]
    except Exception:
        new = None
    if faithful(new):
        return new
    if isinstance(obj, MutableMapping):
        raise _CannotRebuildError
    # A read-only view (config libraries make them) offers only what a dict offers too.
    return dict(items)


def _same_collection(obj: Any, values: list[Any]) -> Any:
    def faithful(new: Any) -> bool:
        if type(new) is not type(obj):
            return False
        if isinstance(obj, Set):  # equal values are one member
            return len(new) <= len(values) and all(value in new for value in values)
        return len(new) == len(values) and all(a is b for a, b in zip(new, values, strict=True))

    if isinstance(obj, tuple) and hasattr(obj, "_make"):  # a namedtuple
        try:
            new = obj._make(values)
        except Exception:
            raise _CannotRebuildError from None
        if faithful(new):
            return new
        raise _CannotRebuildError
    if isinstance(obj, (list, MutableSequence)) and not isinstance(obj, deque):
        new = _refilled(obj, lambda new: (new.clear(), new.extend(values)))
        if new is not None and faithful(new):
            return new
    elif isinstance(obj, (set, MutableSet)):
        new = _refilled(obj, lambda new: (new.clear(), [new.add(value) for value in values]))
        if new is not None and faithful(new):
            return new
    try:
        new = deque(values, obj.maxlen) if isinstance(obj, deque) else type(obj)(values)
    except Exception:
        raise _CannotRebuildError from None
    if not faithful(new):
        raise _CannotRebuildError
    return new


def _refilled(obj: Any, refill: Callable[[Any], object]) -> Any:
    """A shallow copy of mutable ``obj`` refilled with new items, or None when that fails.

    Only when the copy has storage of its own (a dict, list or set subclass): a copy of a
    wrapper such as ``UserList`` shares the wrapped list, and refilling it would change
    the original.
    """
    if not isinstance(obj, (dict, list, set)):
        return None
    try:
        new = copy.copy(obj)
        if new is obj:
            return None
        refill(new)
    except Exception:
        return None
    return new


def format_path(path: PathKey, prefix: str = "") -> str:
    """Format a path of keys and indexes as ``DATABASES.default.PASSWORD`` or ``HOSTS[0]``.

    Args:
        path: Mapping keys and sequence indexes from the top of the settings down.
        prefix: Name of the top (``settings``); without it the first key starts the path.

    Returns:
        Keys that are plain names joined with ``.``, indexes as ``[0]``, and any other key
        as its ``repr`` in brackets (``['a.b']``).
    """
    out: list[str] = [prefix] if prefix else []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif isinstance(part, str) and part and "." not in part:
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out)
