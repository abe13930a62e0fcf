"""``AwsRefsSettings``: BaseSettings with every source resolved and referenced values masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import PrivateAttr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

import awsrefs
from awsrefs_pydantic._compat import MaskedReprModel, forget_values
from awsrefs_pydantic._errors import clear_frames, hidden_inputs, redact_values
from awsrefs_pydantic._masking import HIDDEN, field_marks, masked_args, union
from awsrefs_pydantic._pass import Pass, collect_passes
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

    A ``ValidationError`` is raised as a copy with every resolved value ``<hidden>`` (inputs,
    messages, ``ctx``) and no link to the frames that held them; any other error raised while
    building keeps its traceback with the locals of the frames below ``__init__`` cleared.

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
        try:
            with collect_passes() as passes:
                super().__init__(*args, **values)
        except ValidationError as error:
            failed = _without_values(error, passes, __pydantic_self__.model_config)
            if failed is error:
                raise
        except Exception as error:
            # Frames below this one held resolved values (error reporters capture locals),
            # and a validator's message may quote one.
            clear_frames(error)
            _redact(error, passes)
            passes.clear()
            raise
        else:
            __pydantic_self__._awsrefs_mark(passes)
            return
        # Raised outside the handler: no __context__ leads back to pydantic's error, whose
        # frames hold every resolved value; this frame holds none either.
        passes.clear()
        forget_values(__pydantic_self__)
        raise failed

    def _awsrefs_mark(self, passes: list[Pass]) -> None:
        marks: dict[str, Any] = {}
        for made in passes:  # one, unless settings_customise_sources made several: then
            marks = union(marks, made.marks)  # hidden where any of them resolved a value
        extras = self.model_extra or ()  # extra="allow": extras may be resolved
        self._awsrefs_marks = field_marks(type(self), marks, extras)

    def _shown(self, args: Iterable[tuple[str | None, Any]]) -> Iterable[tuple[str | None, Any]]:
        try:
            marks = self._awsrefs_marks
        except AttributeError:  # validation failed: shown in a traceback's locals, say
            return ((name, value if name is None else HIDDEN) for name, value in args)
        return masked_args(args, marks)

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


def _without_values(
    error: ValidationError, passes: list[Pass], config: SettingsConfigDict
) -> ValidationError:
    """``error`` without the resolved values (a function: its locals die with it)."""
    referenced = (value for made in passes for value in made.referenced_values())
    hide_input = bool(config.get("hide_input_in_errors"))
    return hidden_inputs(error, referenced, hide_input=hide_input)


def _redact(error: BaseException, passes: list[Pass]) -> None:
    redact_values(error, (value for made in passes for value in made.referenced_values()))
