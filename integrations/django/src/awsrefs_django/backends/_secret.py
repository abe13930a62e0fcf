# mypy: disable-error-code="import-untyped"
"""What the PostgreSQL and MySQL backends share: credentials from a secret (or an IAM token)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from awsrefs import RefError
from awsrefs.iam_auth import DbAuthTokens, IamCredentials
from awsrefs.rotation import Credentials, RotatingCredentials
from awsrefs_django._settings import empty_fillable, fill_from_credentials, get_resolver

# OPTIONS keys read by these backends, never passed to the driver.
SECRET_OPTION = "secret"
RETRY_BUDGET_OPTION = "retry_budget"
IAM_OPTION = "iam"
OWN_OPTIONS = (SECRET_OPTION, RETRY_BUDGET_OPTION, IAM_OPTION)
_IAM_KEYS = frozenset({"region", "tokens"})
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


class SecretCredentialsMixin:
    """Put a secret's username and password into each new connection, following rotation.

    Mixed into Django's own ``DatabaseWrapper``. ``settings_dict`` is copied and never holds
    the password (``PASSWORD`` and ``USER`` must be empty), so ``connection.settings_dict``
    and Django's debug pages cannot show it.

    With ``OPTIONS["iam"]`` instead (``True`` or ``{"region": ...}``), the password is an RDS
    IAM authentication token (:mod:`awsrefs.iam_auth`) for ``USER`` at ``HOST``/``PORT``,
    cached per host/port/user and renewed before it expires.
    """

    settings_dict: dict[str, Any]
    alias: str
    vendor: str
    awsrefs_credentials: RotatingCredentials | IamCredentials

    def __init__(self, settings_dict: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        settings_dict = {**settings_dict, "OPTIONS": dict(settings_dict.get("OPTIONS") or {})}
        super().__init__(settings_dict, *args, **kwargs)  # type: ignore[call-arg]
        alias = self.alias
        options = self.settings_dict["OPTIONS"]
        where = f"DATABASES[{alias!r}]"
        secret = options.get(SECRET_OPTION)
        iam = options.get(IAM_OPTION)
        if isinstance(iam, Mapping) or iam:
            self._use_iam(where, iam, secret)
            return
        if not isinstance(secret, str):
            raise ImproperlyConfigured(
                f"{where}: ENGINE {type(self).__module__.rsplit('.', 1)[0]!r} needs "
                "OPTIONS['secret'] = 'secretsmanager:<secret id>' (a JSON secret with "
                "username and password, as the RDS rotation functions store it), or "
                "OPTIONS['iam'] = True with USER, HOST and PORT (RDS IAM authentication)"
            )
        for key in ("USER", "PASSWORD"):
            if self.settings_dict.get(key):
                raise ImproperlyConfigured(
                    f"{where}['{key}'] must be empty: the user name and password come from "
                    "OPTIONS['secret'] at each new connection"
                )
        budget = options.get(RETRY_BUDGET_OPTION, 30.0)
        try:
            self.awsrefs_credentials = RotatingCredentials(
                secret, resolver=get_resolver(), retry_budget=float(budget)
            )
        except ValueError as error:
            raise ImproperlyConfigured(f"{where}['OPTIONS']: {error}") from error
        self._fill_from_secret(where)

    def _use_iam(self, where: str, iam: Any, secret: Any) -> None:
        settings = self.settings_dict
        if secret is not None:
            raise ImproperlyConfigured(
                f"{where}['OPTIONS']: 'secret' and 'iam' exclude each other: the password is "
                "either the secret's or an IAM authentication token"
            )
        if settings.get("PASSWORD"):
            raise ImproperlyConfigured(
                f"{where}['PASSWORD'] must be empty with OPTIONS['iam']: the password is an "
                "IAM authentication token made at each new connection"
            )
        options: Mapping[str, Any] = iam if isinstance(iam, Mapping) else {}
        unknown = sorted(set(options) - _IAM_KEYS)
        tokens = options.get("tokens")
        if unknown or not (tokens is None or isinstance(tokens, DbAuthTokens)):
            raise ImproperlyConfigured(
                f"{where}['OPTIONS']['iam']: True or a dict with 'region' (and 'tokens', an "
                "awsrefs.iam_auth.DbAuthTokens)" + (f"; unknown: {unknown}" if unknown else "")
            )
        port = settings.get("PORT") or _DEFAULT_PORTS.get(self.vendor)
        if not settings.get("USER") or not settings.get("HOST") or not port:
            raise ImproperlyConfigured(
                f"{where}: OPTIONS['iam'] needs USER and HOST (and PORT, default the "
                "engine's): the IAM authentication token is signed for them"
            )
        self.awsrefs_credentials = IamCredentials(
            str(settings["HOST"]),
            int(port),
            str(settings["USER"]),
            region=options.get("region"),
            tokens=tokens,
            resolver=get_resolver(),
        )

    def _fill_from_secret(self, where: str) -> None:
        # NAME/HOST/PORT left empty take the secret's dbname/host/port, once, in this
        # connection's own settings_dict. From then on settings_dict is the only source of
        # them, as in Django's own backends: Django changes NAME there for the test database,
        # its clones and the maintenance connection (NAME None: no database), and each new
        # connection must go where Django says. Only USER and PASSWORD come from the secret
        # at each connection.
        empty = empty_fillable(self.settings_dict)
        if not empty:
            return
        try:
            creds = self.awsrefs_credentials.current()
        except RefError as error:
            raise ImproperlyConfigured(
                f"{where}: {', '.join(empty)} left to OPTIONS['secret'], which could not be "
                f"read: {error}"
            ) from error
        fill_from_credentials(self.settings_dict, creds)

    @contextlib.contextmanager
    def login_in_settings(self) -> Iterator[None]:
        """Put the secret's user name and password in ``settings_dict`` for the block.

        For the Django code that hands ``settings_dict`` to a client program (``dbshell``;
        the MySQL test-database clone runs ``mysqldump | mysql``): Django passes the password
        to it in the environment (``PGPASSWORD``, ``MYSQL_PWD``), never on the command line.
        """
        creds = self.awsrefs_credentials.current()
        saved = self.settings_dict
        self.settings_dict = {**saved, "USER": creds.username, "PASSWORD": creds.password}
        try:
            yield
        finally:
            self.settings_dict = saved

    def login_params(self, creds: Credentials) -> dict[str, Any]:
        """Return the driver's keyword arguments that come from ``creds``: user and password."""
        return {"user": creds.username, "password": creds.password}

    def get_connection_params(self) -> dict[str, Any]:
        """Django's parameters without the password (added per attempt) or awsrefs options."""
        params: dict[str, Any] = super().get_connection_params()  # type: ignore[misc]
        for key in OWN_OPTIONS:
            params.pop(key, None)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        """Connect with the secret's credentials, following the rotation rule."""
        parent: Callable[[dict[str, Any]], Any] = super().get_new_connection  # type: ignore[misc]
        return self.awsrefs_credentials.connect(
            lambda creds: parent({**conn_params, **self.login_params(creds)})
        )


class SecretClientMixin:
    """``manage.py dbshell`` logs in with the secret's current credentials."""

    connection: Any

    def runshell(self, parameters: list[str]) -> None:
        """Run the database's shell program as Django does, with the secret's login."""
        with self.connection.login_in_settings():
            super().runshell(parameters)  # type: ignore[misc]
