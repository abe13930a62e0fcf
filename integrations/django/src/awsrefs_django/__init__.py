"""awsrefs for Django: references in settings, rotation-proof database backends, checks.

Last line of ``settings.py``::

    from awsrefs_django import resolve_settings

    resolve_settings(globals())

Database backends ``awsrefs_django.backends.postgresql`` and ``awsrefs_django.backends.mysql``
take their credentials from ``OPTIONS["secret"]`` (or an RDS IAM authentication token with
``OPTIONS["iam"]``) at each new connection. :func:`secret_key_settings` gives ``SECRET_KEY``
and ``SECRET_KEY_FALLBACKS`` from one secret, so signatures survive its rotation. Add
``"awsrefs_django"`` to ``INSTALLED_APPS`` for ``manage.py awsrefs_check`` and the system checks.
``manage.py awsrefs_check`` starts when references fail, to report them; ``AWSREFS_DEFER_ERRORS=1``
lets ``manage.py check`` do the same.
"""

from __future__ import annotations

from awsrefs_django._secret_key import secret_key_settings
from awsrefs_django._settings import (
    DEFER_ERRORS_ENV,
    REFERENCES_SETTING,
    RESOLVER_SETTING,
    check_settings,
    database_secrets,
    defer_errors_requested,
    get_resolver,
    resolve_settings,
)

__all__ = [
    "DEFER_ERRORS_ENV",
    "REFERENCES_SETTING",
    "RESOLVER_SETTING",
    "check_settings",
    "database_secrets",
    "defer_errors_requested",
    "get_resolver",
    "resolve_settings",
    "secret_key_settings",
]
