# mypy: disable-error-code="import-untyped"
"""``ENGINE = "awsrefs_django.backends.mysql"``: Django's MySQL/MariaDB backend.

Credentials come from ``OPTIONS["secret"]`` at each new connection.
Uses mysqlclient when installed, else PyMySQL (``pymysql.install_as_MySQLdb()``).
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("MySQLdb") is None and importlib.util.find_spec("pymysql"):
    import pymysql

    pymysql.install_as_MySQLdb()

from django.db.backends.mysql import base, client, creation

from awsrefs_django.backends._secret import SecretClientMixin, SecretCredentialsMixin


class DatabaseClient(SecretClientMixin, client.DatabaseClient):  # type: ignore[misc]
    """``dbshell`` with the secret's credentials."""


class DatabaseCreation(creation.DatabaseCreation):  # type: ignore[misc]
    """Test databases; ``test --parallel`` clones them with the secret's credentials."""

    def _clone_db(self, source_database_name: str, target_database_name: str) -> None:
        # Django pipes mysqldump into mysql, logging in with settings_dict's USER/PASSWORD.
        with self.connection.login_in_settings():
            super()._clone_db(source_database_name, target_database_name)


class DatabaseWrapper(SecretCredentialsMixin, base.DatabaseWrapper):  # type: ignore[misc]
    """Django's MySQL ``DatabaseWrapper`` with rotation-proof credentials."""

    client_class = DatabaseClient
    creation_class = DatabaseCreation
