"""The value a reference names inside a fetched item: the whole value or one JSON key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from awsrefs._cache import Entry
from awsrefs._grammar import Ref, SecretRef, SSMRef
from awsrefs.backends._base import _NOT_JSON, Fetched, Miss
from awsrefs.errors import FailureKind

__all__ = ["NO_VALUE", "detached", "extract", "extractor"]

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
