"""One resolution pass over every wrapped source of one settings build."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

import awsrefs
from awsrefs import Failure, ResolutionError
from awsrefs_pydantic._compat import hand_state
from awsrefs_pydantic._errors import AwsRefsSettingsError
from awsrefs_pydantic._fields import coerce_resolved, find, reference_defaults, split_unused
from awsrefs_pydantic._masking import all_marked, marked_values, reference_marks
from awsrefs_pydantic._merge import deep_update, split_overridden
from awsrefs_pydantic._whole import SecretJsonSettingsSource, SSMPathSettingsSource

__all__ = ["Pass", "collect_passes", "source_name"]

DEFAULTS = "field defaults"
_LABEL = re.compile(r"^#(\d+|d)(.*)$")
_collector: ContextVar[list[Pass] | None] = ContextVar("awsrefs_pydantic_passes", default=None)


@contextmanager
def collect_passes() -> Iterator[list[Pass]]:
    """Collect the passes made while the block runs (one settings build), in this context."""
    passes: list[Pass] = []
    token = _collector.set(passes)
    try:
        yield passes
    finally:
        _collector.reset(token)


def source_name(source: object) -> str:
    """The name pydantic-settings keys a source's data by."""
    return getattr(source, "__name__", None) or type(source).__name__


class Pass:
    """One lazy resolution shared by the wrapped sources of one settings build.

    Args:
        settings_cls: The settings class.
        sources: The wrapped sources, highest priority first.
        resolver: The resolver (default: ``awsrefs.default_resolver()`` when run).
        defaults: Also resolve the field defaults that are references.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        sources: Sequence[PydanticBaseSettingsSource],
        resolver: awsrefs.Resolver | None,
        defaults: bool,
    ) -> None:
        self.settings_cls = settings_cls
        self.sources = list(sources)
        self.resolver = resolver
        self.defaults = defaults
        self._results: list[dict[str, Any]] | None = None
        self._defaults: dict[str, Any] = {}
        self.source_marks: list[dict[str, Any]] = []
        self.defaults_marks: dict[str, Any] = {}
        collector = _collector.get()
        if collector is not None:
            collector.append(self)

    def result(self, index: int) -> dict[str, Any]:
        """What source ``index`` yields, references resolved (resolving all on first use)."""
        if self._results is None:
            self._run()
        assert self._results is not None
        return self._results[index]

    def defaults_result(self) -> dict[str, Any]:
        """The reference defaults of the fields no source set, resolved."""
        if self._results is None:
            self._run()
        return self._defaults

    def referenced_values(self) -> Iterator[Any]:
        """Every value this pass resolved that a source or default yields, with its items."""
        yielded = [*zip(self._results or [], self.source_marks, strict=False)]
        for data, marks in [*yielded, (self._defaults, self.defaults_marks)]:
            yield from marked_values(data, marks)

    @property
    def marks(self) -> dict[str, Any]:
        """Where each value of the merged data came from a reference (see ``_masking``)."""
        merged: dict[str, Any] = dict(self.defaults_marks)
        for marks in reversed(self.source_marks):
            merged = deep_update(merged, marks)
        return merged

    def _run(self) -> None:
        resolver = self.resolver or awsrefs.default_resolver()
        names = [source_name(s) for s in self.sources]
        raw: dict[str, Any] = {}
        listing_failures: list[tuple[Failure, str]] = []
        state: dict[str, Any] = {}
        states: dict[str, dict[str, Any]] = {}
        left: dict[int, dict[str, Any]] = {}  # per source, what is not resolved
        listed: dict[int, dict[str, Any]] = {}  # per path source, its values as listed
        for index, source in enumerate(self.sources):
            hand_state(source, state, states)
            if isinstance(source, SecretJsonSettingsSource):
                raw[f"#{index}"] = source.reference  # fetched in the batch below
                continue
            if isinstance(source, SSMPathSettingsSource):
                try:
                    source.load()
                except ResolutionError as error:
                    listing_failures.extend((f, names[index]) for f in error.failures)
                    source.use({})  # reported below, with the rest
                # Values fetched from AWS are data, never references: not resolved, not parsed.
                listed[index] = data = source()
                states[names[index]] = data
                state = deep_update(data, state)
                continue
            data = source()
            # Only what pydantic-settings will use is resolved: an extra it ignores, or a value
            # a higher-priority source replaces, is left as it is (never fetched, never failing).
            used, unused = split_unused(self.settings_cls, data)
            used, replaced = split_overridden(used, state)
            raw[f"#{index}"] = used
            left[index] = deep_update(unused, replaced)
            states[names[index]] = data
            state = deep_update(data, state)  # what came before has the higher priority
        speculative = self._has_json_sources()
        if self.defaults:
            raw["#d"] = reference_defaults(self.settings_cls, state, top=True)

        resolved, failures = self._resolve(resolver, raw)
        # Loading JSON secrets can set fields whose defaults were fetched just in case.
        results: list[dict[str, Any]] = []
        marks: list[dict[str, Any]] = []
        for index, source in enumerate(self.sources):
            key = f"#{index}"
            if isinstance(source, SecretJsonSettingsSource):
                source.load(resolved.get(key))
                data = source()
                state = deep_update(data, state)  # lowest priority so far: fill gaps only
                results.append(data)
                marks.append(all_marked(data))
            elif index in listed:  # every value listed was fetched: hidden like the rest
                results.append(listed[index])
                marks.append(all_marked(listed[index]))
            else:
                done = resolved.get(key, {})
                data = coerce_resolved(self.settings_cls, raw[key], done)
                data = deep_update(data, left[index]) if left[index] else data
                marks.append(reference_marks(raw[key], done))
                results.append(data)
        if speculative and failures:
            failures = [
                (f, s) for f, s in failures if s != DEFAULTS or not _field_set(state, f.path)
            ]
        failures = listing_failures + failures
        if failures:
            settings_error = AwsRefsSettingsError(self.settings_cls.__name__, failures)
            raise settings_error from ResolutionError(f for f, _ in failures)
        self._results = results
        self.source_marks = marks
        raw_defaults = raw.get("#d", {})
        defaults = dict(resolved.get("#d", {}))
        for key in raw_defaults.keys() - defaults.keys():
            # A default that is an optional reference to something missing: unset means None.
            defaults[key] = None
        self._defaults = coerce_resolved(self.settings_cls, raw_defaults, defaults)
        self.defaults_marks = reference_marks(raw_defaults, self._defaults)

    def _resolve(
        self, resolver: awsrefs.Resolver, raw: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[Failure, str]]]:
        """Resolve everything in one pass; failures come back with field paths and sources."""
        try:
            return resolver.resolve(raw), []
        except ResolutionError as error:
            labelled = [self._relabel(f) for f in error.failures]
        failures = [(f, s) for f, s, _ in labelled]
        if self._has_json_sources():
            # Keep going: a failed default may be overridden by a JSON secret's keys. What
            # resolved is cached, so resolving the rest again makes no AWS call.
            try:
                return resolver.resolve(_without(raw, labelled)), failures
            except ResolutionError:
                return {}, failures
        return {}, failures

    def _relabel(self, failure: Failure) -> tuple[Failure, str, str]:
        """The failure with the field path, the source's name, and the entry's label."""
        match = _LABEL.match(failure.path)
        if match is None:  # not expected: every entry is labelled
            return failure, "?", ""
        label, rest = match.groups()
        source = DEFAULTS if label == "d" else source_name(self.sources[int(label)])
        path = rest[1:] if rest.startswith(".") else rest
        failure = Failure(path, failure.reference, failure.kind, failure.reason)
        return failure, source, f"#{label}"

    def _has_json_sources(self) -> bool:
        return any(isinstance(s, SecretJsonSettingsSource) for s in self.sources)


def _without(raw: dict[str, Any], failures: list[tuple[Failure, str, str]]) -> dict[str, Any]:
    """``raw`` without what failed: a failed default's field, a failed source's whole data."""
    out = dict(raw)
    defaults = dict(out.get("#d", {}))
    for failure, _, label in failures:
        if label == "#d":
            defaults.pop(re.split(r"[.\[]", failure.path, maxsplit=1)[0], None)
        else:
            out[label] = {}
    out["#d"] = defaults
    return out


def _field_set(state: Mapping[str, Any], path: str) -> bool:
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    return find(state, [top])[0] is not None
