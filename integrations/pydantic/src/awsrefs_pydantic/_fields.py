"""What the settings model says about its fields: input keys, reference defaults, coercions."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import AliasChoices, AliasPath, BaseModel, Json, RootModel, SecretStr
from pydantic.fields import FieldInfo

import awsrefs
from awsrefs_pydantic._compat import factory_takes_data

ABSENT: Any = object()


def field_keys(name: str, field: FieldInfo) -> list[str]:
    """Every top-level key validation may read ``field`` from.

    Its aliases, its alias paths' first keys and its name (kept whatever ``populate_by_name``
    says: taking a key for read when it is not is the safe side).
    """
    keys = input_keys(name, field)
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    keys.extend(str(c.path[0]) for c in choices if isinstance(c, AliasPath) and c.path)
    return keys


def split_unused(
    model: type[BaseModel], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` split into what validating ``model`` may read and what it never reads.

    A key that names no field is an extra: read only when the model says ``extra="allow"``;
    ignored (``"ignore"``) or refused (``"forbid"``), its value is never used. A mapping for a
    nested model's field is split by the nested model's own rules. Keys match fields
    case-insensitively, so that a key is never wrongly taken for unused.
    """
    if model.model_config.get("extra") == "allow" or issubclass(model, RootModel):
        return dict(data), {}  # a root model's mapping is its value: every key is used
    fields = {
        key.lower(): field
        for name, field in model.model_fields.items()
        for key in field_keys(name, field)
    }
    used: dict[str, Any] = {}
    unused: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key.lower()) if isinstance(key, str) else None
        if field is None:
            unused[key] = value
            continue
        inner = model_type(field.annotation)
        if inner is not None and isinstance(value, Mapping):
            used[key], inner_unused = split_unused(inner, value)
            if inner_unused:
                unused[key] = inner_unused
        else:
            used[key] = value
    return used, unused


def input_keys(name: str, field: FieldInfo) -> list[str]:
    """The keys a source may use for ``field``: its string aliases first, then its name."""
    keys: list[str] = []
    alias = field.validation_alias
    if isinstance(alias, str):
        keys.append(alias)
    elif isinstance(alias, AliasChoices):
        keys.extend(c for c in alias.choices if isinstance(c, str))
        keys.extend(
            str(c.path[0]) for c in alias.choices if isinstance(c, AliasPath) and len(c.path) == 1
        )
    if isinstance(field.alias, str) and field.alias not in keys:
        keys.append(field.alias)
    if name not in keys:
        keys.append(name)
    return [str(k) for k in keys]


def find(data: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, Any]:
    """The key and value ``data`` holds for one of ``keys`` (case-insensitively), or ABSENT."""
    for key in keys:
        if key in data:
            return key, data[key]
    lowered = {k.lower(): k for k in data if isinstance(k, str)}
    for key in keys:
        if key.lower() in lowered:
            found = lowered[key.lower()]
            return found, data[found]
    return None, ABSENT


def model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``Model``, ``Model | None``), else None."""
    annotation = _strip_annotated(annotation)
    # On Python 3.10 ``list[str]`` passes ``isinstance(..., type)`` but not ``issubclass``.
    if (
        isinstance(annotation, type)
        and not isinstance(annotation, types.GenericAlias)
        and issubclass(annotation, BaseModel)
    ):
        return annotation
    if _is_union(annotation):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(models) == 1:
            return model_type(models[0])
    return None


def reference_defaults(
    model: type[BaseModel], given: Mapping[str, Any] | None, *, top: bool
) -> dict[str, Any]:
    """Field defaults that are references, for the fields ``given`` does not set.

    A model-typed field that ``given`` sets as a mapping gets its own missing fields' reference
    defaults, recursively. A model instance given as a default is included whole when it holds
    a reference. At the top level, a field set to an ``optional:`` reference also gets its
    default (used when that reference is missing).
    """
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        keys = input_keys(name, field)
        _, present = find(given, keys) if given is not None else (None, ABSENT)
        emit = keys[0]
        if present is ABSENT or (
            top and isinstance(present, str) and present.startswith("optional:")
        ):
            default = field.default
            if field.default_factory is not None and not factory_takes_data(field):
                default = field.default_factory()  # type: ignore[call-arg]
            if isinstance(default, BaseModel):
                plain = plain_model(default)
                if awsrefs.has_references(plain):
                    out[emit] = plain
            elif awsrefs.has_references(default):
                out[emit] = default
            continue
        inner = model_type(field.annotation)
        if inner is not None and isinstance(present, Mapping):
            sub = reference_defaults(inner, present, top=False)
            if sub:
                out[emit] = sub
    return out


def plain_model(instance: BaseModel) -> dict[str, Any]:
    """A model instance as input data (keyed as its fields accept), references kept as text."""
    out: dict[str, Any] = {}
    for name, field in type(instance).model_fields.items():
        value = getattr(instance, name)
        if isinstance(value, BaseModel):
            value = plain_model(value)
        elif isinstance(value, SecretStr):
            value = value.get_secret_value()
        out[input_keys(name, field)[0]] = value
    return out


def coerce_resolved(model: type[BaseModel], raw: Any, resolved: Any) -> Any:
    """Adjust values that references produced to what the field accepts.

    A JSON value (a dict, a number) from a secret's key goes into a ``Json[...]`` field as JSON
    text, and a number into a ``str``/``SecretStr`` field as its text. Values that did not come
    from a reference are left exactly as the source gave them.
    """
    if not isinstance(resolved, Mapping) or resolved is raw:
        return resolved
    raw_map: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    out = dict(resolved)
    for name, field in model.model_fields.items():
        key, value = find(resolved, input_keys(name, field))
        if key is None:
            continue
        before = raw_map.get(key, ABSENT)
        if value is before:
            continue
        inner = model_type(field.annotation)
        if _is_json(field):
            if not isinstance(value, (str, bytes, bytearray)):
                out[key] = json.dumps(value)
        elif _is_text(field.annotation) and isinstance(value, (int, float)):
            out[key] = json.dumps(value)
        elif inner is not None:
            out[key] = coerce_resolved(inner, before, value)
    return out


def _is_json(field: FieldInfo) -> bool:
    if any(isinstance(m, Json) for m in field.metadata):  # type: ignore[misc]
        return True
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, Json) for m in typing.get_args(annotation)[1:])  # type: ignore[misc]
    return False


def _is_text(annotation: Any) -> bool:
    annotation = _strip_annotated(annotation)
    if annotation in (str, SecretStr):
        return True
    if _is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_text(args[0])
    return False


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin is typing.Union or origin is types.UnionType
