"""System checks: every reference in settings resolves, and typed settings got their type."""
# mypy: disable-error-code="import-untyped"

from __future__ import annotations

from typing import Any

from django.core import checks

from awsrefs_django._settings import REFERENCES_SETTING, check_settings

# Settings Django reads as a bool or an int. A reference gives text (an SSM value is always
# text), and Django takes any non-empty text as true: DEBUG = "False" turns debugging on.
TYPED_SETTINGS: dict[str, type] = {
    "DEBUG": bool,
    "USE_TZ": bool,
    "USE_I18N": bool,
    "APPEND_SLASH": bool,
    "SESSION_COOKIE_SECURE": bool,
    "CSRF_COOKIE_SECURE": bool,
    "SECURE_SSL_REDIRECT": bool,
    "EMAIL_USE_TLS": bool,
    "EMAIL_USE_SSL": bool,
    "SESSION_COOKIE_AGE": int,
    "SECURE_HSTS_SECONDS": int,
    "EMAIL_PORT": int,
}


def settings_mapping() -> dict[str, Any]:
    """Return the UPPERCASE Django settings as a mapping (``AWSREFS_REFERENCES`` included)."""
    from django.conf import settings

    return {name: getattr(settings, name) for name in dir(settings) if name.isupper()}


def check_references(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report each reference in settings that does not resolve as an error ``awsrefs.E001``.

    Values come from the resolver's cache when ``resolve_settings`` fetched them moments ago,
    so the check costs no AWS call on a healthy start-up.
    """
    errors: list[checks.CheckMessage] = []
    for item in check_settings(settings_mapping()):
        if item.failure is None:
            continue
        errors.append(
            checks.Error(
                f"{item.path}: {item.reference}: {item.status}",
                hint=item.failure.reason,
                id="awsrefs.E001",
            )
        )
    return errors


def check_setting_types(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report a bool or int setting that a reference filled with text, as ``awsrefs.E002``.

    Only the settings of :data:`TYPED_SETTINGS` that held a reference are looked at. The
    message names the setting, its reference and the type it got, never the value.
    """
    from django.conf import settings

    references = getattr(settings, REFERENCES_SETTING, None) or {}
    errors: list[checks.CheckMessage] = []
    for name, expected in TYPED_SETTINGS.items():
        if name not in references or not hasattr(settings, name):
            continue
        value = getattr(settings, name)
        if isinstance(value, expected) and (expected is bool or not isinstance(value, bool)):
            continue
        is_bool = expected is bool
        message = (
            f"{name} is a {expected.__name__} setting, but its reference "
            f"{_written(references[name])} gave a {type(value).__name__}"
        )
        convert = f'{name} = {name}.lower() == "true"' if is_bool else f"{name} = int({name})"
        errors.append(
            checks.Error(
                message + (": Django takes any non-empty text as True." if is_bool else "."),
                hint=(
                    "Use a JSON secret key, which keeps its JSON type (true/false, numbers), "
                    f"or convert after resolve_settings(globals()): {convert}"
                ),
                id="awsrefs.E002",
            )
        )
    return errors


def _written(original: Any) -> str:
    # The setting as written: a reference, never a value.
    return repr(original) if isinstance(original, str) else "(in the setting)"
