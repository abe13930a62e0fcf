"""resolve_settings() and check_settings(): references in Django settings."""
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

import awsrefs

REFERENCES_SETTING = "AWSREFS_REFERENCES"
# Commands that must start even when references fail, so they can report them.
_REPORTING_COMMANDS = frozenset({"awsrefs_check", "check"})
_MANAGE_PROGRAMS = frozenset({"manage.py", "django-admin", "django-admin.py", "__main__.py"})

_resolver: awsrefs.Resolver | None = None


def get_resolver() -> awsrefs.Resolver:
    """Return the resolver the Django integration uses.

    It is the one passed to :func:`resolve_settings`, else ``awsrefs.default_resolver()``.
    The database backends and the check command use it too, so the values fetched while
    loading settings (the database secret included) are served from its cache.
    """
    return _resolver if _resolver is not None else awsrefs.default_resolver()


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
        resolver: Resolver to use (default ``awsrefs.default_resolver()``); remembered for the
            database backends and the checks.
        defer_errors: When True, failures do not raise: the settings that failed are removed
            (Django's defaults apply) and kept in ``AWSREFS_REFERENCES`` for the checks to
            report; the others are resolved. By default True only when the process runs
            ``manage.py awsrefs_check`` or ``manage.py check``, so that they can start and
            report every reference.

    Raises:
        ImproperlyConfigured: Listing every setting path that failed and why (never a value),
            chained to the :class:`awsrefs.ResolutionError`.
    """
    global _resolver
    if resolver is not None:
        _resolver = resolver
    names = [name for name in settings if name.isupper() and name != REFERENCES_SETTING]
    original = {name: settings[name] for name in names}
    secrets = database_secrets(original.get("DATABASES"))
    resolver = get_resolver()
    try:
        resolved = resolver.resolve(original)
    except awsrefs.ResolutionError as error:
        if not _defer(defer_errors):
            raise ImproperlyConfigured(
                f"awsrefs: settings could not be resolved (run 'manage.py awsrefs_check' "
                f"for the status of every reference).\n{error}"
            ) from error
        # A check command is starting: it reports the failures. The failed settings are
        # removed (Django's defaults apply, so Django itself can start); the rest resolve
        # from the cache this pass just filled.
        failed = {_setting_name(failure.path) for failure in error.failures}
        resolved = resolver.resolve({n: v for n, v in original.items() if n not in failed})
    for alias, reference in secrets.items():
        if "DATABASES" in resolved:
            resolved["DATABASES"] = _with_secret(resolved["DATABASES"], alias, reference)
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
        resolver: Default: :func:`get_resolver`.

    Returns:
        One entry per reference, with its setting path and status.
    """
    originals = settings.get(REFERENCES_SETTING) or {}
    merged = {
        name: value
        for name, value in settings.items()
        if name.isupper() and name != REFERENCES_SETTING
    }
    merged.update(originals)
    return (resolver or get_resolver()).check(merged)


def _with_secret(databases: Mapping[str, Any], alias: str, reference: str) -> dict[str, Any]:
    # The resolved copy had the whole secret put in; put the reference back, copying each
    # level so that nothing the settings file owns is modified.
    entry = dict(databases[alias])
    entry["OPTIONS"] = {**entry["OPTIONS"], "secret": reference}
    return {**databases, alias: entry}


def _setting_name(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _defer(defer_errors: bool | None) -> bool:
    if defer_errors is not None:
        return defer_errors
    argv = sys.argv
    return (
        len(argv) > 1
        and os.path.basename(argv[0]) in _MANAGE_PROGRAMS
        and argv[1] in _REPORTING_COMMANDS
    )
