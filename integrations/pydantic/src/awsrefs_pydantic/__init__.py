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

from awsrefs_pydantic._compat import warn_if_unsupported
from awsrefs_pydantic._errors import AwsRefsSettingsError
from awsrefs_pydantic._settings import AwsRefsSettings
from awsrefs_pydantic._sources import AwsRefsSettingsSource, awsrefs_sources
from awsrefs_pydantic._whole import SecretJsonSettingsSource, SSMPathSettingsSource

__all__ = [
    "AwsRefsSettings",
    "AwsRefsSettingsError",
    "AwsRefsSettingsSource",
    "SSMPathSettingsSource",
    "SecretJsonSettingsSource",
    "awsrefs_sources",
]

warn_if_unsupported()
