"""Settings sources that resolve awsrefs references, all sources of one settings build at once."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic._internal._utils import deep_update
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

import awsrefs
from awsrefs import Failure, ResolutionError, SecretRef
from awsrefs_pydantic._fields import (
    coerce_resolved,
    find,
    reference_defaults,
)

__all__ = [
    "AwsRefsSettings",
    "AwsRefsSettingsError",
    "AwsRefsSettingsSource",
    "SSMPathSettingsSource",
    "SecretJsonSettingsSource",
    "awsrefs_sources",
]

_DEFAULTS = "field defaults"
_LABEL = re.compile(r"^#(\d+|d)(.*)$")


class AwsRefsSettingsError(SettingsError):
    """Settings whose references could not be resolved; a ``pydantic_settings.SettingsError``.

    Raised from the :class:`awsrefs.ResolutionError` it came from (``__cause__``). Lists every
    failed setting with its reference and the reason; never a value.

    Attributes:
        failures: One :class:`awsrefs.Failure` per failed setting; ``path`` is the field path
            (``database.password``), as the settings class names it.
        sources: For each failure, the name of the source the reference came from.
    """

    def __init__(self, settings_name: str, failures: Sequence[tuple[Failure, str]]) -> None:
        self.failures: tuple[Failure, ...] = tuple(f for f, _ in failures)
        self.sources: tuple[str, ...] = tuple(s for _, s in failures)
        count = len(failures)
        noun = "setting" if count == 1 else "settings"
        lines = [f"{count} {noun} of {settings_name} could not be resolved:"]
        for failure, source in failures:
            where = failure.path or "(whole source)"
            lines.append(
                f"  - {where} (from {source}): {failure.reference}: "
                f"{failure.kind.value}: {failure.reason}"
            )
        super().__init__("\n".join(lines))


class SSMPathSettingsSource(EnvSettingsSource):
    """Loads every SSM parameter under a path into fields (GetParametersByPath).

    ``/myapp/prod/db_host`` fills field ``db_host``; with the default nested delimiter ``/``,
    ``/myapp/prod/database/password`` fills ``database.password``. Names match field names (or
    aliases) case-insensitively unless the settings say ``case_sensitive=True``; the settings'
    ``env_prefix`` does not apply (the path is the prefix). Values that are themselves
    references (``secretsmanager:...``) are resolved when the source is wrapped by
    :func:`awsrefs_sources`.

    Args:
        settings_cls: The settings class.
        path: The SSM path, such as ``/myapp/prod`` (trailing ``/`` optional).
        resolver: The resolver whose AWS configuration is used (default:
            ``awsrefs.default_resolver()``).
        recursive: Include sub-paths (needed for nested models).
        nested_delimiter: Separator of nested field names inside parameter names.
        case_sensitive: Match names case-sensitively (default: the settings' setting).
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        path: str,
        *,
        resolver: awsrefs.Resolver | None = None,
        recursive: bool = True,
        nested_delimiter: str | None = "/",
        case_sensitive: bool | None = None,
        _init_state: Any = None,
    ) -> None:
        if not path.startswith("/"):
            raise SettingsError(f"an SSM path starts with '/', got {path!r}")
        self.path = path
        self.recursive = recursive
        self._resolver = resolver
        self._loaded = False
        super().__init__(
            settings_cls,
            case_sensitive=case_sensitive,
            env_prefix="",
            env_nested_delimiter=nested_delimiter,
            env_ignore_empty=False,
            _init_state=_init_state,
        )

    @property
    def reference(self) -> str:
        """The path as it appears in errors (``ssm:/myapp/prod/``)."""
        return f"ssm:{self.path}"

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {}  # listed on first call, so building the source makes no AWS call

    def load(self) -> None:
        """List the path now (the first call does it anyway).

        Raises:
            awsrefs.ResolutionError: The listing failed.
        """
        resolver = self._resolver or awsrefs.default_resolver()
        listed = resolver.parameters_by_path(self.path, recursive=self.recursive)
        prefix = self.path.rstrip("/") + "/"
        found = {name[len(prefix) :]: value for name, value in listed.items()}
        self.env_vars = {
            (k if self.case_sensitive else k.lower()): v for k, v in found.items() if k
        }
        self._loaded = True

    def __call__(self) -> dict[str, Any]:
        if not self._loaded:
            try:
                self.load()
            except ResolutionError as error:
                raise SettingsError(f"{self!r} could not be loaded:\n{error}") from error
        return super().__call__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r})"


class SecretJsonSettingsSource(EnvSettingsSource):
    """Loads the keys of one JSON secret into fields.

    ``{"db_host": "...", "db_port": 5432}`` fills ``db_host`` and ``db_port`` (JSON types
    kept); a JSON object value fills a nested model. Wrapped by :func:`awsrefs_sources`, the
    secret is fetched in the same batched pass as every other reference (and only once when
    other fields name keys of the same secret).

    Args:
        settings_cls: The settings class.
        secret_id: Secret name or ARN.
        stage: Version stage such as ``AWSPREVIOUS`` (default: ``AWSCURRENT``).
        version_id: A version id instead of a stage.
        optional: A missing secret loads nothing instead of failing.
        resolver: Used when the source is not wrapped (default: ``awsrefs.default_resolver()``).
        nested_delimiter: Separator of nested field names inside keys (default: the
            settings' ``env_nested_delimiter``).
        case_sensitive: Match keys case-sensitively (default: the settings' setting).
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        secret_id: str,
        *,
        stage: str | None = None,
        version_id: str | None = None,
        optional: bool = False,
        resolver: awsrefs.Resolver | None = None,
        nested_delimiter: str | None = None,
        case_sensitive: bool | None = None,
        _init_state: Any = None,
    ) -> None:
        self.secret = SecretRef(secret_id, stage=stage, version_id=version_id, optional=optional)
        self._resolver = resolver
        self._loaded = False
        super().__init__(
            settings_cls,
            case_sensitive=case_sensitive,
            env_prefix="",
            env_nested_delimiter=nested_delimiter,
            env_ignore_empty=False,
            _init_state=_init_state,
        )

    @property
    def reference(self) -> str:
        """The secret as a reference (``secretsmanager:myapp/prod/app``)."""
        return str(self.secret)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {}  # filled from the resolved secret on first call

    def load(self, value: Any) -> None:
        """Use ``value`` (the secret's text, or None when optional and missing) as the data.

        Raises:
            SettingsError: The secret is not a JSON object.
        """
        data: Any = {}
        if value is not None:
            try:
                data = json.loads(value) if isinstance(value, (str, bytes)) else value
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise SettingsError(
                    f"{self!r}: secret {self.secret.secret_id!r} is not a JSON object; "
                    "reference it as a whole with a field default instead"
                )
        self.env_vars = {(k if self.case_sensitive else k.lower()): v for k, v in data.items()}
        self._loaded = True

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        # JSON secrets hold objects and lists already decoded; only text needs decoding.
        if not isinstance(value, (str, bytes, bytearray)):
            return value
        return super().decode_complex_value(field_name, field, value)

    def __call__(self) -> dict[str, Any]:
        if not self._loaded:
            resolver = self._resolver or awsrefs.default_resolver()
            try:
                self.load(resolver.get(self.secret))
            except ResolutionError as error:
                raise AwsRefsSettingsError(
                    self.settings_cls.__name__, [(f, repr(self)) for f in error.failures]
                ) from error
        return super().__call__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reference!r})"


class _Pass:
    """One lazy resolution shared by the wrapped sources of one settings build."""

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

    def result(self, index: int) -> dict[str, Any]:
        if self._results is None:
            self._run()
        assert self._results is not None
        return self._results[index]

    def defaults_result(self) -> dict[str, Any]:
        if self._results is None:
            self._run()
        return self._defaults

    def _run(self) -> None:
        resolver = self.resolver or awsrefs.default_resolver()
        names = [_source_name(s) for s in self.sources]
        raw: dict[str, Any] = {}
        listing_failures: list[tuple[Failure, str]] = []
        state: dict[str, Any] = {}
        states: dict[str, dict[str, Any]] = {}
        for index, source in enumerate(self.sources):
            source._set_current_state(state)
            source._set_settings_sources_data(states)
            if isinstance(source, SecretJsonSettingsSource):
                raw[f"#{index}"] = source.reference  # fetched in the batch below
                continue
            if isinstance(source, SSMPathSettingsSource):
                try:
                    source.load()
                except ResolutionError as error:
                    listing_failures.extend((f, names[index]) for f in error.failures)
                    source.env_vars, source._loaded = {}, True  # reported below, with the rest
            data = source()
            raw[f"#{index}"] = data
            states[names[index]] = data
            state = deep_update(data, state)
        speculative = self._has_json_sources()
        if self.defaults:
            raw["#d"] = reference_defaults(self.settings_cls, state, top=True)

        resolved, failures = self._resolve(resolver, raw)
        # Loading JSON secrets can set fields whose defaults were fetched just in case.
        results: list[dict[str, Any]] = []
        for index, source in enumerate(self.sources):
            key = f"#{index}"
            if isinstance(source, SecretJsonSettingsSource):
                source.load(resolved.get(key))
                data = source()
                state = deep_update(state, data)  # lowest priority so far: fill gaps only
                results.append(data)
            else:
                results.append(coerce_resolved(self.settings_cls, raw[key], resolved.get(key, {})))
        if speculative and failures:
            failures = [
                (f, s) for f, s in failures if s != _DEFAULTS or not _field_set(state, f.path)
            ]
        failures = listing_failures + failures
        if failures:
            settings_error = AwsRefsSettingsError(self.settings_cls.__name__, failures)
            raise settings_error from ResolutionError(f for f, _ in failures)
        self._results = results
        raw_defaults = raw.get("#d", {})
        defaults = dict(resolved.get("#d", {}))
        for key in raw_defaults.keys() - defaults.keys():
            # A default that is an optional reference to something missing: unset means None.
            defaults[key] = None
        self._defaults = coerce_resolved(self.settings_cls, raw_defaults, defaults)

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
        source = _DEFAULTS if label == "d" else _source_name(self.sources[int(label)])
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


def _source_name(source: object) -> str:
    return getattr(source, "__name__", None) or type(source).__name__


class AwsRefsSettingsSource(PydanticBaseSettingsSource):
    """Wraps one settings source and hands on what it yields with references resolved.

    Made by :func:`awsrefs_sources`, every wrapper of one settings build shares one
    resolution: the first one pydantic-settings calls collects what all the wrapped sources
    yield and resolves every reference in one batched pass. Built directly, a wrapper resolves
    its own source alone.

    Args:
        settings_cls: The settings class.
        source: The source to wrap (env, dotenv, init kwargs, secrets dir, or any other).
        resolver: The resolver (default: ``awsrefs.default_resolver()`` when resolving).
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        source: PydanticBaseSettingsSource,
        *,
        resolver: awsrefs.Resolver | None = None,
        _shared: tuple[_Pass, int] | None = None,
    ) -> None:
        super().__init__(settings_cls, getattr(source, "_init_state", None))
        self.source = source
        self._pass, self._index = _shared or (_Pass(settings_cls, [source], resolver, False), 0)
        # pydantic-settings keys each source's data by __name__: keep the wrapped one's.
        self.__name__ = _source_name(source)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Not used: the wrapped source does the field lookups."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._pass.result(self._index)

    def __repr__(self) -> str:
        # The wrapped source's repr may show values (InitSettingsSource does): name it only.
        return f"{type(self).__name__}({type(self.source).__name__})"


class _ReferenceDefaultsSource(PydanticBaseSettingsSource):
    """Field defaults that are references, resolved: the lowest-priority source."""

    __name__ = "AwsRefsDefaults"

    def __init__(self, settings_cls: type[BaseSettings], shared: _Pass) -> None:
        super().__init__(settings_cls)
        self._pass = shared

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._pass.defaults_result()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def awsrefs_sources(
    settings_cls: type[BaseSettings],
    *sources: PydanticBaseSettingsSource,
    resolver: awsrefs.Resolver | None = None,
    defaults: bool = True,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Wrap ``sources`` so that every reference they yield is resolved in one batched pass.

    Use it as the return value of ``settings_customise_sources``; the order of ``sources``
    is their priority, as usual::

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return awsrefs_sources(settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings)

    Args:
        settings_cls: The settings class.
        *sources: The sources, highest priority first.
        resolver: The resolver (default: ``awsrefs.default_resolver()`` at resolution time).
        defaults: Also resolve field defaults that are references
            (``password: SecretStr = "secretsmanager:prod/db:password"``), as the lowest
            priority source.

    Returns:
        The wrapped sources (plus one for reference defaults), for pydantic-settings.

    Raises:
        AwsRefsSettingsError: When the settings are built, listing every reference that
            failed (a ``pydantic_settings.SettingsError``).
    """
    shared = _Pass(settings_cls, sources, resolver, defaults)
    wrapped: list[PydanticBaseSettingsSource] = [
        AwsRefsSettingsSource(settings_cls, source, _shared=(shared, index))
        for index, source in enumerate(sources)
    ]
    if defaults:
        wrapped.append(_ReferenceDefaultsSource(settings_cls, shared))
    return tuple(wrapped)


class AwsRefsSettings(BaseSettings):
    """``BaseSettings`` that resolves references from every default source in one pass.

    Init kwargs, the environment, the .env file, the secrets directory and field defaults
    may all hold references.

    Set ``awsrefs_resolver`` on a subclass to use a resolver other than the default one::

        class Settings(AwsRefsSettings):
            awsrefs_resolver = awsrefs.Resolver(region_name="eu-west-1")
            db_password: SecretStr = "secretsmanager:myapp/prod/db:password"
    """

    # A resolved secret that fails validation (a password in an int field) must not be
    # echoed in pydantic's ValidationError, which shows the input value by default.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    awsrefs_resolver: ClassVar[awsrefs.Resolver | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The default sources, wrapped by :func:`awsrefs_sources`."""
        return awsrefs_sources(
            settings_cls,
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            resolver=cls.awsrefs_resolver,
        )
