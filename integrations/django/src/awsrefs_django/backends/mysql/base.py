# mypy: disable-error-code="import-untyped"
"""``ENGINE = "awsrefs_django.backends.mysql"``: Django's MySQL/MariaDB backend.

Credentials come from ``OPTIONS["secret"]`` (or, with ``OPTIONS["iam"]``, an RDS IAM
authentication token) at each new connection.
Uses mysqlclient when installed, else PyMySQL, for this backend only: ``import MySQLdb``
elsewhere in the process is not redirected to PyMySQL.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from awsrefs_django.backends._secret import SecretClientMixin, SecretCredentialsMixin


def _django_mysql_modules() -> tuple[Any, Any, Any]:
    """Import Django's MySQL backend, over PyMySQL when mysqlclient is not installed.

    Django's backend does ``import MySQLdb`` (and its submodules) while it is imported, and
    never again; PyMySQL answers to that name only for that moment (what
    ``pymysql.install_as_MySQLdb()`` would do for the whole process).
    """
    use_pymysql = importlib.util.find_spec("MySQLdb") is None and bool(
        importlib.util.find_spec("pymysql")
    )
    if not use_pymysql or "django.db.backends.mysql.base" in sys.modules:
        from django.db.backends.mysql import base, client, creation

        return base.DatabaseWrapper, client.DatabaseClient, creation.DatabaseCreation
    import pymysql

    sys.modules["MySQLdb"] = pymysql
    try:
        from django.db.backends.mysql import base, client, creation
    finally:
        for name in [n for n in sys.modules if n == "MySQLdb" or n.startswith("MySQLdb.")]:
            del sys.modules[name]
    return base.DatabaseWrapper, client.DatabaseClient, creation.DatabaseCreation


_DjangoWrapper, _DjangoClient, _DjangoCreation = _django_mysql_modules()


class DatabaseClient(SecretClientMixin, _DjangoClient):  # type: ignore[misc,valid-type]
    """``dbshell`` with the secret's credentials."""


class DatabaseCreation(_DjangoCreation):  # type: ignore[misc,valid-type]
    """Test databases; ``test --parallel`` clones them with the secret's credentials."""

    def _clone_db(self, source_database_name: str, target_database_name: str) -> None:
        # Django pipes mysqldump into mysql, logging in with settings_dict's USER/PASSWORD.
        with self.connection.login_in_settings():
            super()._clone_db(source_database_name, target_database_name)


class DatabaseWrapper(SecretCredentialsMixin, _DjangoWrapper):  # type: ignore[misc,valid-type]
    """Django's MySQL ``DatabaseWrapper`` with rotation-proof credentials."""

    client_class = DatabaseClient
    creation_class = DatabaseCreation
