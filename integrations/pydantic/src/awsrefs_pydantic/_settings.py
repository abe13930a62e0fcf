"""``AwsRefsSettings``: BaseSettings with every source resolved and referenced values masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import PrivateAttr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

import awsrefs
from awsrefs_pydantic._compat import MaskedReprModel
from awsrefs_pydantic._masking import field_marks, masked_args, union
from awsrefs_pydantic._pass import collect_passes
from awsrefs_pydantic._sources import awsrefs_sources

__all__ = ["AwsRefsSettings"]


class AwsRefsSettings(BaseSettings, MaskedReprModel):
    """``BaseSettings`` that resolves references from every default source in one pass.

    Init kwargs, the environment, the .env file, the secrets directory and field defaults
    may all hold references.

    ``repr()`` and ``str()`` of the settings (and rich's and devtools' views) show
    ``<hidden>`` for every value that came from a reference, whatever the field's type, and
    for a nested model's fields that did; the attributes hold the real values, and
    ``model_dump()`` returns them (asking for the data is asking for the values).

    Set ``awsrefs_resolver`` on a subclass to use a resolver other than the default one::

        class Settings(AwsRefsSettings):
            awsrefs_resolver = awsrefs.Resolver(region_name="eu-west-1")
            db_password: SecretStr = "secretsmanager:myapp/prod/db:password"
    """

    # A resolved secret that fails validation (a password in an int field) must not be
    # echoed in pydantic's ValidationError, which shows the input value by default.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    awsrefs_resolver: ClassVar[awsrefs.Resolver | None] = None

    _awsrefs_marks: dict[str, Any] = PrivateAttr(default_factory=dict)

    # Named as pydantic names it, so that a setting may be called ``self``.
    def __init__(__pydantic_self__, *args: Any, **values: Any) -> None:  # noqa: N805
        with collect_passes() as passes:
            super().__init__(*args, **values)
        marks: dict[str, Any] = {}
        for made in passes:  # one, unless settings_customise_sources made several: then
            marks = union(marks, made.marks)  # hidden where any of them resolved a value
        extras = __pydantic_self__.model_extra or ()  # extra="allow": extras may be resolved
        __pydantic_self__._awsrefs_marks = field_marks(type(__pydantic_self__), marks, extras)

    def _shown(self, args: Iterable[tuple[str | None, Any]]) -> Iterable[tuple[str | None, Any]]:
        return masked_args(args, self._awsrefs_marks)

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
