"""pydantic-settings integration: references in settings sources and field defaults.

>>> from pydantic import SecretStr
>>> from awsrefs_pydantic import AwsRefsSettings
>>> class Settings(AwsRefsSettings):
...     db_host: str = "ssm:/myapp/prod/db-host"
...     db_password: SecretStr = "secretsmanager:myapp/prod/db:password"

Every reference the sources yield (init kwargs, environment, .env file, secrets directory,
any other source) and every reference default is resolved in one batched pass when the
settings are built.
"""

from awsrefs_pydantic._sources import (
    AwsRefsSettings,
    AwsRefsSettingsError,
    AwsRefsSettingsSource,
    SecretJsonSettingsSource,
    SSMPathSettingsSource,
    awsrefs_sources,
)

__all__ = [
    "AwsRefsSettings",
    "AwsRefsSettingsError",
    "AwsRefsSettingsSource",
    "SSMPathSettingsSource",
    "SecretJsonSettingsSource",
    "awsrefs_sources",
]
