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

from django.db.backends.mysql import base

from awsrefs_django.backends._secret import SecretCredentialsMixin


class DatabaseWrapper(SecretCredentialsMixin, base.DatabaseWrapper):  # type: ignore[misc]
    """Django's MySQL ``DatabaseWrapper`` with rotation-proof credentials."""

    connect_keywords = {"NAME": "database", "HOST": "host", "PORT": "port"}
