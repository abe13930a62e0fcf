"""Finding references in settings: the walk every entry point shares, and its public face."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from awsrefs._grammar import Ref, SecretRef, SSMRef, Template, parse
from awsrefs._memo import SizedMemo
from awsrefs._walk import PathKey, Tree, every_place, format_path, walk
from awsrefs.errors import RefSyntaxError

__all__ = [
    "FoundReference",
    "ParseMemo",
    "Parsed",
    "Scan",
    "find_references",
    "has_references",
    "is_reference",
    "parse_or_error",
    "scan",
    "validate_arguments",
]

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
