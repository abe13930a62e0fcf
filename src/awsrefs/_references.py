"""Finding references in settings: the one walk every entry point shares, and its public face.

The walk over settings gives strings with their paths, and the rebuilt copy. Both halves are
iterative (no recursion, so no depth limit) and linear in the size of the settings: the walk
reads each distinct container once, however many places hold it (a YAML alias, a list
holding the same list twice), and records every place that holds it; a container that holds
one of its own ancestors is a back edge (a cycle) and is recorded as such. Each string is
listed once, at the first path the walk met it on; :func:`every_place` lists all the paths to
each string when a caller needs them, refusing past :data:`MAX_PLACES`. The rebuild copies
only the containers that lead to a replaced string, each once, so shared parts stay shared. A
back edge into a container that must be copied cannot be rebuilt faithfully here;
:func:`cycles_through` names those for the caller to report, and a container whose type
cannot be rebuilt with new items is left to
the caller to report too (:class:`Rebuilt`).

The walk keeps what it read (which also keeps every container alive, so an ``id()`` names
one object for the whole pass); the rebuild works from that record, so a mapping that
makes new objects on every access is rebuilt as it was walked. Parsed strings are remembered
in a :class:`SizedMemo`, bounded by the size of what it holds, not by its number of entries.
"""

from __future__ import annotations

import copy
import threading
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
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar

from awsrefs._grammar import Ref, SecretRef, SSMRef, Template, parse
from awsrefs.errors import RefSyntaxError

__all__ = [
    "DROP",
    "MAX_PLACES",
    "MEMO_CHARS",
    "MEMO_ITEM_CHARS",
    "BackEdge",
    "FoundReference",
    "ParseMemo",
    "Parsed",
    "PathKey",
    "Rebuilt",
    "Scan",
    "SizedMemo",
    "TooManyPlacesError",
    "Tree",
    "containers_leading_to",
    "cycles_through",
    "every_place",
    "find_references",
    "format_path",
    "has_references",
    "is_reference",
    "parse_or_error",
    "rebuild",
    "scan",
    "validate_arguments",
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


@dataclass(eq=False, repr=False, slots=True)
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

    root: Any = None
    strings: list[tuple[PathKey, str]] = field(default_factory=list)
    string_parents: list[int | None] = field(default_factory=list)
    parents: dict[int, set[int]] = field(default_factory=dict)
    places: dict[int, list[tuple[int, Hashable]]] = field(default_factory=dict)
    back_edges: list[BackEdge] = field(default_factory=list)
    children: dict[int, list[tuple[Hashable, Any]]] = field(default_factory=dict)
    objects: dict[int, Any] = field(default_factory=dict)
    finished: list[int] = field(default_factory=list)

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


K = TypeVar("K")
V = TypeVar("V")

# The resolver's memos keep at most this many characters of setting text each, and nothing
# longer than MEMO_ITEM_CHARS (a reference is at most about 2,100 characters).
MEMO_CHARS = 1 << 20
MEMO_ITEM_CHARS = 4096


class SizedMemo(Generic[K, V]):
    """A dict that bounds what it keeps: read it through :attr:`data` or :attr:`get`.

    :meth:`remember` skips an item larger than ``max_item`` and forgets everything when the
    sizes remembered would pass ``max_total``, so the memo never keeps more than about
    ``max_total`` characters of keys however many distinct ones it is given.

    Not a dict subclass: ``get`` on a subclass costs a method look-up through the class on
    every call, a tenth of a cached ``Resolver.get``.

    Args:
        max_total: Sum of the sizes kept at most.
        max_item: Size of the largest item worth keeping.

    Attributes:
        data: The items, a plain dict (never replaced, so a bound ``data.get`` stays valid).
        get: ``data.get``.
    """

    def __init__(self, max_total: int = MEMO_CHARS, max_item: int = MEMO_ITEM_CHARS) -> None:
        self.data: dict[K, V] = {}
        self.get = self.data.get
        self.max_total = max_total
        self.max_item = max_item
        self.total = 0
        self._lock = threading.Lock()

    def remember(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` for ``key`` unless it is too large; ``size`` is usually ``len(key)``."""
        if size > self.max_item:
            return
        with self._lock:
            if key not in self.data:
                if self.total + size > self.max_total:
                    self.data.clear()
                    self.total = 0
                self.total += size
            self.data[key] = value

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self.data.clear()
            self.total = 0

    def after_fork(self) -> None:
        """Re-create the lock in a child process."""
        self._lock = threading.Lock()


Parsed = Ref | Template | RefSyntaxError
_BINARY = (bytes, bytearray, memoryview)


@dataclass(frozen=True)
class FoundReference:
    """One reference found in settings (never a value).

    Attributes:
        path: Setting path such as ``DATABASES.default.PASSWORD`` (``""`` for a bare value).
        keys: The same path as mapping keys and sequence indexes.
        reference: The parsed reference, or None when the text is malformed.
        error: Why the text is malformed, or None.
    """

    path: str
    keys: PathKey
    reference: Ref | None
    error: RefSyntaxError | None = None

    @property
    def text(self) -> str:
        """The reference as text (a malformed one up to its offending character, then ``...``)."""
        if self.error is not None:
            return self.error.text
        return str(self.reference)


class Scan(NamedTuple):
    """Every string of some settings that is not plain text, parsed.

    Attributes:
        tree: What the walk found.
        found: Index into ``tree.strings`` and the parsed setting, for each string that is
            a reference, a template, an escaped literal or a malformed reference.
    """

    tree: Tree
    found: list[tuple[int, Parsed]]

    def refs(self) -> dict[Ref, None]:
        """Every distinct reference found (in templates too), in order: the items to fetch."""
        refs: dict[Ref, None] = {}
        for _, item in self.found:
            if isinstance(item, Template):
                refs.update(dict.fromkeys(item.refs))
            elif not isinstance(item, RefSyntaxError):
                refs[item] = None
        return refs


def parse_or_error(text: str) -> Parsed | None:
    """:func:`awsrefs.parse`, returning a syntax error instead of raising it."""
    try:
        return parse(text)
    except RefSyntaxError as error:
        return error.with_traceback(None)  # its frames held the setting's text


class ParseMemo:
    """Setting text to its parsed form, remembered: settings are parsed once per resolver.

    Syntax errors are not remembered: they are rare, and each raise gets its own.
    """

    def __init__(self) -> None:
        self.memo: SizedMemo[str, Ref | Template | None] = SizedMemo()

    def __call__(self, text: str) -> Parsed | None:
        """:func:`parse_or_error`, from the memo when ``text`` was seen."""
        try:
            return self.memo.data[text]
        except KeyError:
            pass
        result = parse_or_error(text)
        if not isinstance(result, RefSyntaxError):
            self.memo.remember(text, result, len(text))
        return result

    def item(self, reference: object, caller: str) -> Ref | Template | None:
        """What one reference argument of ``caller`` (``get``, ``lookup``...) names.

        Raises:
            RefSyntaxError: The text is a malformed reference.
            TypeError: ``reference`` is not text, a parsed reference or a template.
        """
        if isinstance(reference, str):
            item = self(reference)
            if isinstance(item, RefSyntaxError):
                raise item
            return item
        if isinstance(reference, (SSMRef, SecretRef, Template)):
            return reference
        hint = "; decode bytes to text first" if isinstance(reference, (bytes, bytearray)) else ""
        raise TypeError(
            f"{caller}() takes reference text (str), an SSMRef, a SecretRef or a Template, "
            f"not {type(reference).__name__}{hint}"
        )


def scan(obj: Any, parse_text: Callable[[str], Parsed | None] = parse_or_error) -> Scan:
    """Walk ``obj`` once and parse each string found (``parse_text`` may memoise)."""
    tree = walk(obj)
    found: list[tuple[int, Parsed]] = []
    for index, (_, text) in enumerate(tree.strings):
        item = parse_text(text)
        if item is not None:
            found.append((index, item))
    return Scan(tree, found)


def validate_arguments(obj: Any, prefix: Any, caller: str, prefix_name: str = "path") -> None:
    """Raise TypeError for arguments no entry point can take: binary settings, a path not str.

    Args:
        obj: The settings given.
        prefix: The path prefix given.
        caller: The entry point's name, for the message.
        prefix_name: The name of its prefix argument.

    Raises:
        TypeError: Saying what was given and what is accepted.
    """
    if isinstance(obj, _BINARY):
        raise TypeError(
            f"{caller}() takes settings as text (str) or a mapping, sequence or set of them, "
            f"not {type(obj).__name__}; decode reference text before passing it"
        )
    if not isinstance(prefix, str):
        given = type(prefix).__name__
        raise TypeError(f"{caller}() takes {prefix_name} as text (str), not {given}")


def find_references(tree: Any, *, prefix: str = "") -> list[FoundReference]:
    """Every reference in some settings, with its setting path, without fetching anything.

    The walk is the one :meth:`Resolver.resolve` uses: nested mappings, sequences and sets,
    any depth, cycles followed once. A container held in several places (a YAML alias) is
    read once, and its references are listed at each place, in document order (10,000
    places at most). A template gives one entry per distinct reference in it; a string that
    starts like a reference but is malformed gives one entry with ``error`` set, so a check
    command can report it; escaped literals and plain text give none.

    >>> [(f.path, f.text) for f in find_references({"DB": ["ssm:/db/host", "x"]})]
    [('DB[0]', 'ssm:/db/host')]

    Args:
        tree: A string or a nested structure of mappings, sequences and sets.
        prefix: Name of ``tree``, put in front of every path (``settings`` gives
            ``settings.DB[0]``).

    Returns:
        The references in the order found.

    Raises:
        TypeError: ``tree`` is bytes or ``prefix`` is not text.
        ValueError: Shared containers would make more than 10,000 places to list.
    """
    validate_arguments(tree, prefix, "find_references", "prefix")
    found = scan(tree)
    out: list[FoundReference] = []
    items = dict(found.found)
    for index, keys in every_place(found.tree, list(items)):
        item = items[index]
        path = format_path(keys, prefix)
        if isinstance(item, RefSyntaxError):
            out.append(FoundReference(path, keys, None, item))
        else:
            refs = dict.fromkeys(item.refs) if isinstance(item, Template) else (item,)
            out.extend(FoundReference(path, keys, ref) for ref in refs)
    return out


def is_reference(text: object) -> bool:
    """True when awsrefs would change or reject ``text``; False for plain text and non-text.

    That is a reference (``ssm:/a``, ``optional:secretsmanager:b:key``), a template with at
    least one ``${...}`` reference, an escape (``literal:ssm:...`` resolves to the text after
    ``literal:``, ``$${ssm:...}`` to ``${ssm:...}``), or text that starts like a reference
    but is malformed (resolving it raises). Integrations use it to tell which settings to
    hand to the resolver.

    >>> is_reference("ssm:/db/host"), is_reference("https://${ssm:/h}/"), is_reference("x")
    (True, True, False)

    Args:
        text: Any setting value.

    Returns:
        Whether ``text`` is a string that :meth:`Resolver.resolve` would change or reject.
    """
    return isinstance(text, str) and parse_or_error(text) is not None


def has_references(tree: Any) -> bool:
    """True when :meth:`Resolver.resolve` would change or reject something in ``tree``.

    The tree form of :func:`is_reference`: some string in ``tree`` (nested mappings,
    sequences and sets, any depth, cycles followed once) is a reference, a template with a
    reference, an escape or a malformed reference. Integrations use it to pick the settings
    to hand to the resolver.

    >>> has_references({"DB": ["x", "ssm:/db/host"]}), has_references({"DB": ["x"]})
    (True, False)

    Args:
        tree: Any setting value: text, or a nested structure of mappings, sequences and sets.
    """
    if isinstance(tree, str):
        return is_reference(tree)
    if isinstance(tree, _BINARY):
        return False
    return bool(scan(tree).found)
