"""Settings sources that resolve awsrefs references, all sources of one settings build at once."""

from __future__ import annotations

from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

import awsrefs
from awsrefs_pydantic._compat import share_init_state
from awsrefs_pydantic._masking import MaskedData
from awsrefs_pydantic._pass import Pass, source_name

__all__ = ["AwsRefsSettingsSource", "awsrefs_sources"]


class AwsRefsSettingsSource(PydanticBaseSettingsSource):
    """Wraps one settings source and hands on what it yields with references resolved.

    Made by :func:`awsrefs_sources`, every wrapper of one settings build shares one
    resolution: the first one pydantic-settings calls collects what all the wrapped sources
    yield and resolves every reference in one batched pass. Built directly, a wrapper resolves
    its own source alone.

    What a wrapper yields is a dict whose ``repr()`` shows ``<hidden>`` for every value that
    came from a reference (pydantic-settings logs sources' data that way when
    ``PYDANTIC_SETTINGS_DEBUG`` is set).

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
        _shared: tuple[Pass, int] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        share_init_state(self, source)
        self.source = source
        self._pass, self._index = _shared or (Pass(settings_cls, [source], resolver, False), 0)
        # pydantic-settings keys each source's data by __name__: keep the wrapped one's.
        self.__name__ = source_name(source)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Not used: the wrapped source does the field lookups."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = self._pass.result(self._index)
        return MaskedData(data, self._pass.source_marks[self._index])

    def __repr__(self) -> str:
        # The wrapped source's repr may show values (InitSettingsSource does): name it only.
        return f"{type(self).__name__}({type(self.source).__name__})"


class _ReferenceDefaultsSource(PydanticBaseSettingsSource):
    """Field defaults that are references, resolved: the lowest-priority source."""

    __name__ = "AwsRefsDefaults"

    def __init__(self, settings_cls: type[BaseSettings], shared: Pass) -> None:
        super().__init__(settings_cls)
        self._pass = shared

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return MaskedData(self._pass.defaults_result(), self._pass.defaults_marks)

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
    shared = Pass(settings_cls, sources, resolver, defaults)
    wrapped: list[PydanticBaseSettingsSource] = [
        AwsRefsSettingsSource(settings_cls, source, _shared=(shared, index))
        for index, source in enumerate(sources)
    ]
    if defaults:
        wrapped.append(_ReferenceDefaultsSource(settings_cls, shared))
    return tuple(wrapped)
