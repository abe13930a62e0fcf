"""What the extension registers on an app, and the error it raises (no CLI, no extension)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

import awsrefs

if TYPE_CHECKING:
    from awsrefs_flask._extension import AwsRefs

EXTENSION_NAME = "awsrefs"


class ConfigError(awsrefs.ResolutionError):
    """References in ``app.config`` that could not be resolved.

    A :class:`awsrefs.ResolutionError` (so ``except awsrefs.RefError`` catches it too) raised
    by :meth:`AwsRefs.init_app`, chained to the resolver's error. ``str(error)`` names the
    app and lists every failed reference with its config key, such as
    ``SQLALCHEMY_ENGINE_OPTIONS.connect_args.password``; it never contains a value.

    Attributes:
        failures: One :class:`awsrefs.Failure` per failed reference.
        app_name: ``app.name`` of the Flask app being configured.
    """

    def __init__(self, failures: Iterable[awsrefs.Failure], *, app_name: str) -> None:
        super().__init__(failures)
        self.app_name = app_name
        count = len(self.failures)
        lines = [
            f"Flask app {app_name!r}: {count} {'reference' if count == 1 else 'references'} "
            "in app.config could not be resolved:",
            *(f"  - {failure}" for failure in self.failures),
            "(`flask awsrefs check` lists every reference and its status.)",
        ]
        self.args = ("\n".join(lines),)


@dataclass(frozen=True)
class AwsRefsState:
    """What :meth:`AwsRefs.init_app` stores in ``app.extensions["awsrefs"]``.

    Attributes:
        extension: The :class:`AwsRefs` instance that was registered.
        resolver: The resolver used for this app (also the one to use in views).
        references: The config entries that held references, as written before they were
            resolved (read-only). ``flask awsrefs check`` reports on these.
        enabled: False when ``AWSREFS_ENABLED`` turned resolution off.
        error: Set when the app was loaded by the ``flask`` command line although references
            failed (the config was left as it was): ``flask awsrefs check`` reports them,
            every other command stops with this error.
    """

    extension: AwsRefs
    resolver: awsrefs.Resolver
    references: Mapping[str, Any]
    enabled: bool
    error: ConfigError | None = None

    def __repr__(self) -> str:  # the references are not values, but keep the repr short
        return (
            f"AwsRefsState(resolver={self.resolver!r}, keys={sorted(self.references)!r}, "
            f"enabled={self.enabled!r}, failed={self.error is not None!r})"
        )


def get_state(app: Flask | None = None) -> AwsRefsState:
    """Return what :meth:`AwsRefs.init_app` registered on ``app`` (default: ``current_app``).

    Raises:
        RuntimeError: ``AwsRefs`` was not initialized on the app.
    """
    app = current_app if app is None else app
    state = app.extensions.get(EXTENSION_NAME)
    if not isinstance(state, AwsRefsState):
        raise RuntimeError(
            "AwsRefs is not initialized on this Flask app; call AwsRefs().init_app(app) first"
        )
    return state


def get_resolver(app: Flask | None = None) -> awsrefs.Resolver:
    """Return the resolver of ``app`` (default: ``current_app``), e.g. for ``get`` in views.

    >>> get_resolver().get("ssm:/myapp/prod/feature-flags")  # doctest: +SKIP
    """
    return get_state(app).resolver
