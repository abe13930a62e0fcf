# mypy: disable-error-code="import-untyped"
"""``ENGINE = "awsrefs_django.backends.postgresql"``: Django's PostgreSQL backend.

Credentials come from ``OPTIONS["secret"]`` (or, with ``OPTIONS["iam"]``, an RDS IAM
authentication token) at each new connection, with or without Django's native pool.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.backends.postgresql import base, client

from awsrefs.iam_auth import IamCredentials
from awsrefs.rotation import RotatingCredentials
from awsrefs_django.backends._secret import SecretClientMixin, SecretCredentialsMixin

_pool_lock = threading.Lock()


class DatabaseClient(SecretClientMixin, client.DatabaseClient):  # type: ignore[misc]
    """``dbshell`` with the secret's credentials."""


class DatabaseWrapper(SecretCredentialsMixin, base.DatabaseWrapper):  # type: ignore[misc]
    """Django's PostgreSQL ``DatabaseWrapper`` with rotation-proof credentials.

    With ``OPTIONS["pool"]`` (Django 5.1+, psycopg_pool), Django builds the pool once from
    fixed connection parameters; this backend gives the pool a connection class that logs in
    with the secret's current credentials each time the pool opens a connection.
    """

    client_class = DatabaseClient

    @property
    def pool(self) -> Any:
        """Django's pool, whose new connections take credentials from the secret."""
        # Django's own pool is new in 5.1; before that there is none to wrap.
        pool = getattr(super(), "pool", None)
        if pool is not None and not getattr(pool, "_awsrefs_rotating", False):
            with _pool_lock:
                if not getattr(pool, "_awsrefs_rotating", False):
                    # Django creates the pool unopened; this runs before its first getconn().
                    pool.connection_class = _rotating_connection_class(
                        pool.connection_class, self.awsrefs_credentials, self.login_params
                    )
                    pool._awsrefs_rotating = True
        return pool

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        """Connect through the pool (which applies the rule itself) or directly."""
        if self.pool:
            return base.DatabaseWrapper.get_new_connection(self, conn_params)
        return super().get_new_connection(conn_params)


def _rotating_connection_class(
    connection_class: type[Any],
    credentials: RotatingCredentials | IamCredentials,
    login: Any,
) -> type[Any]:
    class AwsRefsPoolConnection(connection_class):  # type: ignore[misc]
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:
            parent = super().connect
            return credentials.connect(lambda creds: parent(conninfo, **{**kwargs, **login(creds)}))

    return AwsRefsPoolConnection
