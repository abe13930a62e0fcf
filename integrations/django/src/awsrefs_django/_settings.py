"""resolve_settings() and check_settings(): references in Django settings."""
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

import awsrefs
from awsrefs.rotation import Credentials, CredentialsError

REFERENCES_SETTING = "AWSREFS_REFERENCES"
RESOLVER_SETTING = "AWSREFS_RESOLVER"
DEFER_ERRORS_ENV = "AWSREFS_DEFER_ERRORS"
# The command that reports failing references: it must start when they fail.
CHECK_COMMAND = "awsrefs_check"
_TRUE = frozenset({"1", "true", "yes", "on"})
# Settings the database secret fills in when they are empty, with the secret's key for each.
FILLABLE = {"NAME": "dbname", "HOST": "host", "PORT": "port"}


def empty_fillable(entry: Mapping[str, Any]) -> list[str]:
    """Return which of ``NAME``, ``HOST``, ``PORT`` a ``DATABASES`` entry leaves to the secret.

    Left out or ``""`` is empty. ``NAME = None`` is not: it is Django's own "no database"
    (the maintenance connection of ``_nodb_cursor()``), never the secret's ``dbname``.
    """
    empty = []
    for name in FILLABLE:
        value = entry.get(name, "")
        if (value is None and name != "NAME") or (isinstance(value, str) and value == ""):
            empty.append(name)
    return empty


def fill_from_credentials(entry: MutableMapping[str, Any], creds: Credentials) -> None:
    """Put the secret's ``dbname``, ``host``, ``port`` where ``entry`` leaves them empty."""
    for name in empty_fillable(entry):
        value = getattr(creds, FILLABLE[name])
        if value is not None:
            entry[name] = value if name == "PORT" else str(value)


def get_resolver(settings: Mapping[str, Any] | None = None) -> awsrefs.Resolver:
    """Return the resolver the Django integration uses.

    It is the one passed to :func:`resolve_settings`, which keeps it in the setting
    ``AWSREFS_RESOLVER``, else ``awsrefs.default_resolver()``. The database backends and the
    checks use it too, so the values fetched while loading settings (the database secret
    included) are served from its cache.

    Args:
        settings: A settings mapping to look in; by default Django's settings (when they are
            configured).
    """
    if settings is not None:
        found = settings.get(RESOLVER_SETTING)
    else:
        from django.conf import settings as django_settings

        try:
            found = getattr(django_settings, RESOLVER_SETTING, None)
        except ImproperlyConfigured:  # Django is not configured: nothing to look in
            found = None
    return found if isinstance(found, awsrefs.Resolver) else awsrefs.default_resolver()


def defer_errors_requested() -> bool:
    """Tell whether ``AWSREFS_DEFER_ERRORS`` asks :func:`resolve_settings` to defer failures.

    Set it (``1``, ``true``, ``yes``) for a process that must start even when references
    fail so that it can report them: ``AWSREFS_DEFER_ERRORS=1 python manage.py check``.
    (``manage.py awsrefs_check`` does not need it.)
    """
    return os.environ.get(DEFER_ERRORS_ENV, "").strip().lower() in _TRUE


def running_check_command() -> bool:
    """Tell whether this process is ``manage.py awsrefs_check`` (or ``django-admin ...``).

    Django's command line takes the command name as the first argument, so ``sys.argv[1]``
    names the command before settings are imported. That command reports failing
    references itself, so :func:`resolve_settings` defers errors for it.
    """
    return len(sys.argv) > 1 and sys.argv[1] == CHECK_COMMAND


def resolve_settings(
    settings: MutableMapping[str, Any],
    *,
    resolver: awsrefs.Resolver | None = None,
    defer_errors: bool | None = None,
) -> None:
    """Resolve every reference in the UPPERCASE settings, in place, in one batched pass.

    Call it as the last line of ``settings.py``: ``resolve_settings(globals())``.

    Every UPPERCASE name is walked (nested ``DATABASES``, ``CACHES``, ``STORAGES``, lists,
    ``${...}`` templates inside URLs) and all references are fetched together. Nothing is
    changed unless every reference resolves. A missing ``optional:`` reference removes its
    key, list item or whole setting, so Django's default applies.

    ``DATABASES[alias]["OPTIONS"]["secret"]`` is the one exception: it is fetched in the same
    pass (so a missing secret fails at start-up, and the backend's first connection is served
    from the cache) but stays a reference in the settings, because the awsrefs database
    backends read it again at each new connection to follow rotation.

    The original values of the settings that held references are kept in the setting
    ``AWSREFS_REFERENCES`` for ``manage.py awsrefs_check`` and the system check.

    Args:
        settings: The settings module's namespace, ``globals()``.
        resolver: Resolver to use (default ``awsrefs.default_resolver()``); kept in the setting
            ``AWSREFS_RESOLVER`` for the database backends and the checks.
        defer_errors: When True, failures do not raise: the settings that failed are removed
            (Django's defaults apply; a failed ``SECRET_KEY`` becomes a random key of this
            process only, so Django can start) and kept in ``AWSREFS_REFERENCES`` for the
            checks to report; the others are resolved. Never use it for a process that serves
            requests. By default True only for ``manage.py awsrefs_check`` (the command's
            name is the first command-line argument) and when the environment variable
            ``AWSREFS_DEFER_ERRORS`` is set (``1``, ``true``, ``yes``), the switch for
            ``manage.py check`` and other commands.

    Raises:
        ImproperlyConfigured: Listing every setting path that failed and why (never a value),
            chained to the :class:`awsrefs.ResolutionError`.
    """
    names = [
        name
        for name in settings
        if name.isupper() and name not in (REFERENCES_SETTING, RESOLVER_SETTING)
    ]
    original = {name: settings[name] for name in names}
    database_refs = database_secrets(original.get("DATABASES"))
    chosen = resolver
    resolver = resolver or get_resolver(settings)
    if defer_errors is None:
        defer_errors = defer_errors_requested() or running_check_command()
    defer = defer_errors
    try:
        resolved = resolver.resolve(original)
    except awsrefs.ResolutionError as error:
        if not defer:
            raise ImproperlyConfigured(
                f"awsrefs: settings could not be resolved; nothing was changed.\n{error}\n"
                "For the status of every reference: python manage.py awsrefs_check"
            ) from error
        # A check is starting (explicitly asked for): it reports the failures. The failed
        # settings are removed (Django's defaults apply, so Django itself can start); the
        # rest resolve from the cache this pass just filled.
        failed = {_setting_name(failure.path) for failure in error.failures}
        resolved = resolver.resolve({n: v for n, v in original.items() if n not in failed})
        if "SECRET_KEY" in failed:
            # Django refuses to start without one; this one is random and dies with the process.
            resolved["SECRET_KEY"] = "awsrefs-unresolved-" + secrets.token_urlsafe(40)
    for alias, reference in database_refs.items():
        if "DATABASES" in resolved:
            resolved["DATABASES"] = _with_secret(
                resolved["DATABASES"], alias, reference, strict=not defer
            )
    changed = {
        name: value
        for name, value in original.items()
        if name not in resolved or resolved[name] is not value
    }
    for name in changed:
        if name in resolved:
            settings[name] = resolved[name]
        else:
            del settings[name]
    settings[REFERENCES_SETTING] = changed
    if chosen is not None:
        settings[RESOLVER_SETTING] = chosen


def database_secrets(databases: Any) -> dict[str, str]:
    """Return ``{alias: reference}`` for every ``DATABASES[alias]["OPTIONS"]["secret"]``.

    Raises:
        ImproperlyConfigured: A secret option that is not a whole-secret ``secretsmanager:``
            reference of the current version.
    """
    found: dict[str, str] = {}
    if not isinstance(databases, Mapping):
        return found
    problems = []
    for alias, entry in databases.items():
        options = entry.get("OPTIONS") if isinstance(entry, Mapping) else None
        if not isinstance(options, Mapping) or "secret" not in options:
            continue
        text = options["secret"]
        where = f"DATABASES.{alias}.OPTIONS.secret"
        try:
            ref = awsrefs.parse(text) if isinstance(text, str) else None
        except awsrefs.RefSyntaxError as error:
            problems.append(f"{where}: {error}")
            continue
        if (
            not isinstance(ref, awsrefs.SecretRef)
            or ref.key is not None
            or ref.optional
            or not ref.is_current
        ):
            problems.append(
                f"{where}: must be a 'secretsmanager:<secret id>' reference to a whole secret "
                "(no JSON key, stage, version or optional:), got "
                + (repr(text) if isinstance(text, str) and ref is not None else "something else")
            )
            continue
        found[str(alias)] = text
    if problems:
        raise ImproperlyConfigured("awsrefs: " + "\n".join(problems))
    return found


def check_settings(
    settings: Mapping[str, Any], *, resolver: awsrefs.Resolver | None = None
) -> list[awsrefs.Checked]:
    """Check every reference in a settings mapping; never raises for a bad one, never shows values.

    Settings that :func:`resolve_settings` replaced are checked in their original form
    (kept in ``AWSREFS_REFERENCES``).

    Args:
        settings: UPPERCASE names to values, such as ``{n: getattr(django_settings, n)...}``.
        resolver: Default: :func:`get_resolver` of ``settings``.

    Returns:
        One entry per reference, with its setting path and status.
    """
    originals = settings.get(REFERENCES_SETTING) or {}
    merged = {
        name: value
        for name, value in settings.items()
        if name.isupper() and name not in (REFERENCES_SETTING, RESOLVER_SETTING)
    }
    merged.update(originals)
    return (resolver or get_resolver(settings)).check(merged)


def _with_secret(
    databases: Mapping[str, Any], alias: str, reference: str, *, strict: bool
) -> dict[str, Any]:
    # The resolved copy had the whole secret put in; put the reference back, copying each
    # level so that nothing the settings file owns is modified. NAME/HOST/PORT left empty
    # take the secret's values here already, so that settings.DATABASES says where the
    # database is (pytest-django and others read it there).
    entry = dict(databases[alias])
    value = entry["OPTIONS"]["secret"]
    entry["OPTIONS"] = {**entry["OPTIONS"], "secret": reference}
    if empty_fillable(entry):
        try:
            creds = Credentials.from_secret(value, secret=reference)
        except CredentialsError as error:
            if strict:
                where = f"DATABASES.{alias}.OPTIONS.secret"
                raise ImproperlyConfigured(f"awsrefs: {where}: {error}") from error
            # A check is starting: the backend says the same when a connection is made.
        else:
            fill_from_credentials(entry, creds)
    return {**databases, alias: entry}


def _setting_name(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]
