# mypy: disable-error-code="import-untyped"
"""What the PostgreSQL and MySQL backends share: credentials from a secret, per connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from awsrefs.rotation import Credentials, RotatingCredentials
from awsrefs_django._settings import get_resolver

# OPTIONS keys read by these backends, never passed to the driver.
SECRET_OPTION = "secret"
RETRY_BUDGET_OPTION = "retry_budget"
OWN_OPTIONS = (SECRET_OPTION, RETRY_BUDGET_OPTION)
# Settings the secret fills in when they are empty, with the secret's key for each.
FILLABLE = {"NAME": "dbname", "HOST": "host", "PORT": "port"}


class SecretCredentialsMixin:
    """Put a secret's username and password into each new connection, following rotation.

    Mixed into Django's own ``DatabaseWrapper``. ``settings_dict`` is copied and never holds
    the password (``PASSWORD`` and ``USER`` must be empty), so ``connection.settings_dict``
    and Django's debug pages cannot show it.
    """

    settings_dict: dict[str, Any]
    alias: str
    # Driver keyword for each fillable setting (PostgreSQL: dbname; MySQL: database).
    connect_keywords: dict[str, str]

    def __init__(self, settings_dict: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        settings_dict = {**settings_dict, "OPTIONS": dict(settings_dict.get("OPTIONS") or {})}
        super().__init__(settings_dict, *args, **kwargs)  # type: ignore[call-arg]
        alias = self.alias
        options = self.settings_dict["OPTIONS"]
        where = f"DATABASES[{alias!r}]"
        secret = options.get(SECRET_OPTION)
        if not isinstance(secret, str):
            raise ImproperlyConfigured(
                f"{where}: ENGINE {type(self).__module__.rsplit('.', 1)[0]!r} needs "
                "OPTIONS['secret'] = 'secretsmanager:<secret id>' (a JSON secret with "
                "username and password, as the RDS rotation functions store it)"
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
        # Which of NAME/HOST/PORT the settings leave to the secret (explicit settings win).
        self._from_secret = [name for name in FILLABLE if not self.settings_dict.get(name)]
        self._filled = False

    def _fill_from_secret(self) -> None:
        # Django checks NAME/HOST/PORT before connecting (and shows them on debug pages):
        # put the secret's values, which are not secret, in this connection's own copy.
        if self._filled:
            return
        creds = self.awsrefs_credentials.current()
        for name in self._from_secret:
            value = getattr(creds, FILLABLE[name])
            if value is not None:
                self.settings_dict[name] = value
        self._filled = True

    def login_params(self, creds: Credentials) -> dict[str, Any]:
        """Return the driver's keyword arguments that come from ``creds``."""
        params: dict[str, Any] = {"user": creds.username, "password": creds.password}
        for name in self._from_secret:
            value = getattr(creds, FILLABLE[name])
            if value is not None:
                params[self.connect_keywords[name]] = value
        return params

    def get_connection_params(self) -> dict[str, Any]:
        """Django's parameters without the password (added per attempt) or awsrefs options."""
        self._fill_from_secret()
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
