"""``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` from one Secrets Manager secret."""

from __future__ import annotations

import dataclasses

from awsrefs import SecretRef, parse

__all__ = ["secret_key_settings"]


def secret_key_settings(reference: str) -> tuple[str, list[str]]:
    """Return references for ``SECRET_KEY`` (AWSCURRENT) and ``SECRET_KEY_FALLBACKS`` (AWSPREVIOUS).

    Django signs sessions, password-reset links and ``django.core.signing`` values with
    ``SECRET_KEY`` and still accepts those signed with a key in ``SECRET_KEY_FALLBACKS``.
    After the secret is rotated, the new AWSCURRENT signs and the old value, now AWSPREVIOUS,
    still verifies what was signed before. The fallback is ``optional:``: a secret that was
    never rotated has no AWSPREVIOUS, and the list is then empty.

    The references are resolved with the rest of the settings by :func:`resolve_settings`::

        SECRET_KEY, SECRET_KEY_FALLBACKS = secret_key_settings(
            "secretsmanager:myapp/django:secret_key"
        )
        ...
        resolve_settings(globals())

    Args:
        reference: The key at AWSCURRENT: ``"secretsmanager:name"`` (a plain-text secret) or
            ``"secretsmanager:name:key"`` (one key of a JSON secret).

    Returns:
        ``(SECRET_KEY reference, [SECRET_KEY_FALLBACKS reference])``.

    Raises:
        ValueError: Not a ``secretsmanager:`` reference at AWSCURRENT (no stage, version id
            or ``optional:``).
    """
    ref = parse(reference)
    if not isinstance(ref, SecretRef) or not ref.is_current or ref.optional:
        raise ValueError(
            f"{reference!r}: SECRET_KEY rotation needs a 'secretsmanager:name[:key]' reference "
            "at AWSCURRENT (without a stage, version id or optional:)"
        )
    previous = dataclasses.replace(ref, stage="AWSPREVIOUS", version_id=None, optional=True)
    return str(dataclasses.replace(ref, stage=None)), [str(previous)]
