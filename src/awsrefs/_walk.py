"""The one walk over settings: strings with their paths, and the rebuilt copy.

Both halves are iterative (no recursion, so no depth limit) and know about cycles: the walk
follows each path until it meets a container already on that path (a back edge) and records
it; the rebuild copies only the containers that lead to a replaced string, each once, so
shared parts stay shared. A back edge into a container that must be copied cannot be rebuilt
faithfully here; :func:`cycles_through` names those for the caller to report.

The walk reads each container once and keeps what it read (which also keeps every container
alive, so an ``id()`` names one object for the whole pass); the rebuild works from that
record, so a mapping that makes new objects on every access is rebuilt as it was walked.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence, Set
from typing import Any, NamedTuple

__all__ = [
    "DROP",
    "BackEdge",
    "PathKey",
    "Tree",
    "containers_leading_to",
    "cycles_through",
    "format_path",
    "rebuild",
    "walk",
]

PathKey = tuple[Hashable, ...]
DROP: Any = object()  # a replacement meaning "this key or item goes away"
_END: Any = object()
_NOT_CONTAINERS = (str, bytes, bytearray, memoryview)


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
        strings: Every string with its path, in document order (a string reachable along
            two paths is listed twice).
        string_parents: ``id()`` of the container holding each string (None at the top).
        parents: ``id()`` of each container to the ``id()`` of the containers holding it.
        back_edges: Every place where the settings refer back to a container on the path.
        children: ``id()`` of each container to its (key or index, child) pairs as read.
    """

    # A plain class, not a dataclass: each dataclass costs about 1 ms of import time.
    __slots__ = ("back_edges", "children", "parents", "string_parents", "strings")

    def __init__(self) -> None:
        self.strings: list[tuple[PathKey, str]] = []
        self.string_parents: list[int | None] = []
        self.parents: dict[int, set[int]] = {}
        self.back_edges: list[BackEdge] = []
        self.children: dict[int, list[tuple[Hashable, Any]]] = {}

    def __repr__(self) -> str:  # never the strings: settings may hold values of their own
        return f"Tree(strings={len(self.strings)}, back_edges={len(self.back_edges)})"

    def read(self, obj: Any) -> Iterator[tuple[Hashable, Any]]:
        """The children of container ``obj``: read on the first visit, recorded after."""
        items = self.children.get(id(obj))
        if items is None:
            if isinstance(obj, Mapping):
                items = self.children[id(obj)] = list(obj.items())
            else:
                items = self.children[id(obj)] = list(enumerate(obj))
        return iter(items)


def _is_container(obj: object) -> bool:
    if isinstance(obj, Mapping):
        return True
    return isinstance(obj, (Sequence, Set)) and not isinstance(obj, _NOT_CONTAINERS)


def walk(obj: Any) -> Tree:
    """Find every string in ``obj`` (nested mappings, sequences and sets) with its path."""
    tree = Tree()
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
            depth_of[child_id] = len(stack)
            keys.append(key)
            stack.append((child, tree.read(child)))
    return tree


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


def rebuild(obj: Any, tree: Tree, changed: set[int], replace: Callable[[str], Any]) -> Any:
    """Copy ``obj`` with each string replaced by ``replace(text)`` (``DROP`` removes it).

    Only containers in ``changed`` are copied, each once (shared parts stay shared); every
    other container is returned as the same object. ``tree`` is the walk of ``obj``, and
    ``changed`` must hold no cycle (see :func:`cycles_through`).
    """
    if isinstance(obj, str):
        return replace(obj)
    if id(obj) not in changed:
        return obj
    done: dict[int, Any] = {}
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
            new = _same_container(node, items)
            done[id(node)] = new
            if not stack:
                return new
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
        if child is not DROP:
            items.append((key, child))


def _same_container(obj: Any, items: list[tuple[Hashable, Any]]) -> Any:
    if isinstance(obj, Mapping):
        return _same_mapping(obj, items)
    return _same_sequence(obj, [value for _, value in items])


def _same_mapping(obj: Mapping[Any, Any], items: list[tuple[Any, Any]]) -> Any:
    if isinstance(obj, dict):
        new = copy.copy(obj)  # keeps dict subclasses (OrderedDict, defaultdict) and their state
        new.clear()
        new.update(items)
        return new
    try:
        return type(obj)(items)  # type: ignore[call-arg]
    except TypeError:
        return dict(items)


def _same_sequence(obj: Any, values: list[Any]) -> Any:
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*values)  # a namedtuple
    for kind in (list, tuple, set, frozenset):
        if type(obj) is kind:
            return kind(values)
    try:
        return type(obj)(values)
    except TypeError:
        return list(values)


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
