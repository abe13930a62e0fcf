"""The value a reference names inside a fetched item: the whole value or one JSON key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from awsrefs._cache import Entry
from awsrefs._grammar import Ref, SecretRef, SSMRef
from awsrefs.backends._base import _NOT_JSON, Fetched, Miss
from awsrefs.errors import FailureKind

__all__ = ["NO_VALUE", "extract", "extractor"]

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
    return data[ref.key]


def extractor(ref: Ref) -> Callable[[Fetched], Any]:
    """A quick reader of ``ref``'s value from a fetched item (``NO_VALUE`` when absent).

    For the cached :meth:`~awsrefs.Resolver.get`: no error text, only the value or not.
    """
    if isinstance(ref, SecretRef) and ref.key is not None:
        wanted = ref.key

        def json_key(fetched: Fetched) -> Any:
            data = fetched.json()
            return data.get(wanted, NO_VALUE) if isinstance(data, dict) else NO_VALUE

        return json_key
    return _whole_value


def _whole_value(fetched: Fetched) -> Any:
    return fetched.value
