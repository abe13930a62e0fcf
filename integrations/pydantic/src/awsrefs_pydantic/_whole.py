"""Sources whose data is one whole AWS item: every parameter under an SSM path, a JSON secret."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsError

import awsrefs
from awsrefs import ResolutionError, SecretRef
from awsrefs_pydantic._errors import AwsRefsSettingsError

__all__ = ["SSMPathSettingsSource", "SecretJsonSettingsSource", "WholeItemSource"]


class WholeItemSource(EnvSettingsSource):
    """Base of the sources whose data is one AWS item's keys, matched to fields like env vars.

    Building one makes no AWS call: the item is loaded on the first call, or, when the
    source is wrapped by :func:`awsrefs_pydantic.awsrefs_sources`, by the wrapping pass.

    Args:
        settings_cls: The settings class.
        resolver: The resolver used when the source loads its item itself (default:
            ``awsrefs.default_resolver()``).
        nested_delimiter: Separator of nested field names inside keys.
        case_sensitive: Match keys case-sensitively (default: the settings' setting).
    """

    # Positional (the subclasses pass their options straight through, one line each); the three
    # options have distinct types, so a swap is a type error.
    def __init__(
        self,
        settings_cls: type[BaseSettings],
        resolver: awsrefs.Resolver | None,
        nested_delimiter: str | None,
        case_sensitive: bool | None,
    ) -> None:
        self._resolver = resolver
        self._loaded = False
        super().__init__(
            settings_cls,
            case_sensitive=case_sensitive,
            env_prefix="",
            env_nested_delimiter=nested_delimiter,
            env_ignore_empty=False,
        )
        self.env_vars = {}  # the environment is not this source's data

    @property
    def reference(self) -> str:
        """The item as it appears in errors."""
        raise NotImplementedError

    @property
    def resolver(self) -> awsrefs.Resolver:
        """The resolver this source loads its item with when it loads it itself."""
        return self._resolver or awsrefs.default_resolver()

    def use(self, data: Mapping[str, Any]) -> None:
        """Take ``data`` (key to value) as the item's content; keys are matched to fields."""
        self.env_vars = {(k if self.case_sensitive else k.lower()): v for k, v in data.items()}
        self._loaded = True

    def load_alone(self) -> None:
        """Load the item with :attr:`resolver` (on the first call when not wrapped).

        Raises:
            SettingsError: The item could not be loaded.
        """
        raise NotImplementedError

    def __call__(self) -> dict[str, Any]:
        if not self._loaded:
            self.load_alone()
        return super().__call__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reference!r})"


class SSMPathSettingsSource(WholeItemSource):
    """Loads every SSM parameter under a path into fields (GetParametersByPath).

    ``/myapp/prod/db_host`` fills field ``db_host``; with the default nested delimiter ``/``,
    ``/myapp/prod/database/password`` fills ``database.password``. Names match field names (or
    aliases) case-insensitively unless the settings say ``case_sensitive=True``; the settings'
    ``env_prefix`` does not apply (the path is the prefix). Values are data, passed on as
    they are: one that looks like a reference (``secretsmanager:...``) is never resolved.

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
    ) -> None:
        if not path.startswith("/"):
            raise SettingsError(f"an SSM path starts with '/', got {path!r}")
        self.path = path
        self.recursive = recursive
        super().__init__(settings_cls, resolver, nested_delimiter, case_sensitive)

    @property
    def reference(self) -> str:
        """The path as it appears in errors (``ssm:/myapp/prod/``)."""
        return f"ssm:{self.path}"

    def load(self) -> None:
        """List the path now (the first call does it anyway).

        Raises:
            awsrefs.ResolutionError: The listing failed.
        """
        listed = self.resolver.parameters_by_path(self.path, recursive=self.recursive)
        prefix = self.path.rstrip("/") + "/"
        found = {name[len(prefix) :]: value for name, value in listed.items()}
        self.use({key: value for key, value in found.items() if key})

    def load_alone(self) -> None:
        """List the path; a failure is a ``SettingsError`` chained to the ``ResolutionError``."""
        try:
            self.load()
        except ResolutionError as error:
            raise SettingsError(f"{self!r} could not be loaded:\n{error}") from error

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r})"


class SecretJsonSettingsSource(WholeItemSource):
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
    ) -> None:
        self.secret = SecretRef(secret_id, stage=stage, version_id=version_id, optional=optional)
        super().__init__(settings_cls, resolver, nested_delimiter, case_sensitive)

    @property
    def reference(self) -> str:
        """The secret as a reference (``secretsmanager:myapp/prod/app``)."""
        return str(self.secret)

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
        self.use(data)

    def load_alone(self) -> None:
        """Fetch the secret; a failure is an :class:`AwsRefsSettingsError`."""
        try:
            self.load(self.resolver.get(self.secret))
        except ResolutionError as error:
            raise AwsRefsSettingsError(
                self.settings_cls.__name__, [(f, repr(self)) for f in error.failures]
            ) from error

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        """Decode JSON text; objects and lists of a JSON secret are decoded already."""
        if not isinstance(value, (str, bytes, bytearray)):
            return value
        return super().decode_complex_value(field_name, field, value)
