"""The Flask extension: what it registers on an app, the error it raises, and ``flask awsrefs``.

One module, so that the extension, its state and its command line need no import circle:
:class:`AwsRefs` resolves ``app.config`` and stores an :class:`AwsRefsState` in
``app.extensions["awsrefs"]``; ``flask awsrefs check`` reads it back, and the ``flask``
command line sees a :class:`ConfigError` as one click error.
"""

from __future__ import annotations

import logging
import sys
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, SupportsIndex, cast

import click
from flask import Config, Flask, current_app
from flask.cli import AppGroup, FlaskGroup, ScriptInfo

import awsrefs
from awsrefs.report import print_checks

__all__ = ["AwsRefs", "AwsRefsState", "ConfigError", "cli", "get_resolver", "get_state"]


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


cli = AppGroup("awsrefs", help="awsrefs: references in app.config.")


@cli.command("check")
def check_command() -> None:
    """List every reference in app.config with its status; never shows values.

    Exits with status 1 when a reference cannot be resolved. Works when references fail:
    the app then loads with its config as written, for this command only.
    """
    state = get_state()
    results = state.resolver.check(dict(state.references))
    if not results:
        click.echo("No references in app.config.")
        return
    print_checks(results, sys.stdout)
    if any(not item.ok for item in results):
        sys.exit(1)


class CommandLineConfigError(click.ClickException):
    """A :class:`ConfigError` met by a ``flask`` command: click prints it as one error."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def loading_for_command_lookup() -> bool:
    """Tell whether the ``flask`` command line is loading the app to look up its commands.

    That is ``flask --help`` and the look-up of a command the app registers
    (``flask awsrefs check``, ``flask db upgrade``...): the app must load for them to be
    found. Built-in commands (``run``, ``shell``, ``routes``) load the app once they run.
    """
    ctx = click.get_current_context(silent=True)
    return (
        ctx is not None
        and ctx.find_object(ScriptInfo) is not None
        and isinstance(ctx.command, FlaskGroup)
    )


def command_line_error(error: ConfigError) -> Exception:
    """The exception to raise for ``error``: one click prints cleanly under a ``flask`` command."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_object(ScriptInfo) is not None:
        return CommandLineConfigError(error)
    return error


def refuse_app_commands(app: Flask, error: ConfigError) -> None:
    """Make every command of ``app.cli`` but ``awsrefs`` stop with ``error`` when invoked.

    They stay listed (``flask --help`` shows them with their help); running one prints the
    error and exits with status 1 instead of running with references unresolved.
    """
    group = app.cli
    original = group.get_command

    def get_command(ctx: click.Context, name: str) -> click.Command | None:
        command = original(ctx, name)
        if command is None or name == cli.name:
            return command
        return _refusing(command, error)

    group.get_command = get_command  # type: ignore[method-assign,assignment]


def _refusing(command: click.Command, error: ConfigError) -> click.Command:
    def refuse(**_: Any) -> None:
        raise CommandLineConfigError(error)

    return click.Command(
        command.name,
        callback=refuse,
        help=command.help,
        short_help=command.get_short_help_str(),
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


logger = logging.getLogger("awsrefs_flask")

OPTION_PREFIX = "AWSREFS_"
HIDDEN = "<resolved by awsrefs, hidden>"
# Config keys Flask reads as a bool or an int; a reference gives text ("False" is true).
TYPED_KEYS: dict[str, str] = {
    "DEBUG": "bool",
    "TESTING": "bool",
    "PROPAGATE_EXCEPTIONS": "bool",
    "SESSION_COOKIE_SECURE": "bool",
    "SESSION_COOKIE_HTTPONLY": "bool",
    "MAX_CONTENT_LENGTH": "int",
    "PERMANENT_SESSION_LIFETIME": "int",
    "SEND_FILE_MAX_AGE_DEFAULT": "int",
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class AwsRefs:
    """Resolves ``ssm:`` and ``secretsmanager:`` references in a Flask app's config.

    Load the config first (``from_object``, ``from_pyfile``, ``from_prefixed_env``...), then
    call :meth:`init_app`, before the extensions that read the config (Flask-SQLAlchemy)::

        refs = AwsRefs()

        def create_app():
            app = Flask(__name__)
            app.config.from_pyfile("settings.py")
            app.config.from_prefixed_env()
            refs.init_app(app)
            db.init_app(app)
            return app

    Args:
        app: Initialize this app at once (the single-app pattern).
        resolver: The :class:`awsrefs.Resolver` to use. By default the process-wide
            :func:`awsrefs.default_resolver`, or a new resolver when ``AWSREFS_REGION``,
            ``AWSREFS_ENDPOINT_URL`` or ``AWSREFS_TTL`` is set.
    """

    def __init__(
        self, app: Flask | None = None, *, resolver: awsrefs.Resolver | None = None
    ) -> None:
        self._resolver = resolver
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f"AwsRefs(resolver={self._resolver!r})"

    def init_app(self, app: Flask) -> None:
        """Resolve every reference in ``app.config`` and register the extension on ``app``.

        All references are fetched in one batched pass. A missing ``optional:`` reference
        removes its config key (or list item). On any error ``app.config`` is left exactly
        as it was. Changes made to the config after this call are not resolved.

        These ``app.config`` keys are read (and never resolved themselves):

        - ``AWSREFS_ENABLED``: False to leave the config alone (default True).
        - ``AWSREFS_REGION``: region of references that do not name one in an ARN.
        - ``AWSREFS_ENDPOINT_URL``: send AWS calls here (an emulator, a VPC endpoint).
        - ``AWSREFS_TTL``: seconds a value is cached for later ``get`` calls (default 300).
        - ``AWSREFS_KEYS``: resolve only these top-level keys (default: all).
        - ``AWSREFS_SKIP_KEYS``: never resolve these top-level keys.

        Args:
            app: The Flask application.

        Raises:
            RuntimeError: An ``AwsRefs`` instance is already registered on ``app``.
            ValueError: An ``AWSREFS_*`` option is invalid, or set together with
                ``resolver=``.
            ConfigError: References could not be resolved; lists each config key. Under the
                ``flask`` command line, while it looks for a command (``flask --help``,
                ``flask awsrefs check``, the app's own commands), the app loads instead with
                the config left as it was: ``flask awsrefs check`` reports every failure and
                every other command stops with this error (printed by click as
                ``Error: ...``, exit status 1, no traceback).
        """
        if EXTENSION_NAME in app.extensions:
            raise RuntimeError(
                "An 'AwsRefs' instance is already registered on this Flask app; its config "
                "has been resolved once. Use that instance instead."
            )
        config = app.config
        enabled = _as_bool(config, "AWSREFS_ENABLED", default=True)
        resolver = self._make_resolver(config)
        keys = _selected_keys(config)
        references = {key: config[key] for key in keys if awsrefs.has_references(config[key])}

        failed: ConfigError | None = None
        if enabled and references:
            try:
                resolved = resolver.resolve(references)
            except awsrefs.ResolutionError as error:
                failed = ConfigError(error.failures, app_name=app.name)
                failed.__cause__ = error
                if not loading_for_command_lookup():
                    raise command_line_error(failed) from error
            else:
                # Nothing above changed the config; now apply everything at once.
                for key in references:
                    if key in resolved:
                        config[key] = resolved[key]
                    else:
                        del config[key]  # an optional reference whose target does not exist
                hide_resolved_values(config, references)
                _warn_text_in_typed_keys(config, references, app.name)
                logger.debug(
                    "resolved references in %d config keys of %r", len(references), app.name
                )

        app.extensions[EXTENSION_NAME] = AwsRefsState(
            extension=self,
            resolver=resolver,
            references=types.MappingProxyType(references),
            enabled=enabled,
            error=failed,
        )
        app.cli.add_command(cli)
        if failed is not None:
            refuse_app_commands(app, failed)

    def _make_resolver(self, config: Mapping[str, Any]) -> awsrefs.Resolver:
        region = _as_text(config, "AWSREFS_REGION")
        endpoint_url = _as_text(config, "AWSREFS_ENDPOINT_URL")
        ttl = _as_seconds(config, "AWSREFS_TTL")
        given = [
            name
            for name, value in (
                ("AWSREFS_REGION", region),
                ("AWSREFS_ENDPOINT_URL", endpoint_url),
                ("AWSREFS_TTL", ttl),
            )
            if value is not None
        ]
        if self._resolver is not None:
            if given:
                raise ValueError(
                    f"AwsRefs(resolver=...) was given, so {', '.join(given)} would be "
                    "ignored; configure that resolver instead, or leave resolver= out"
                )
            return self._resolver
        if not given:
            return awsrefs.default_resolver()
        return awsrefs.Resolver(
            region_name=region,
            endpoint_url=endpoint_url,
            ttl=300.0 if ttl is None else ttl,
        )


def _selected_keys(config: Mapping[str, Any]) -> list[str]:
    only = _as_names(config, "AWSREFS_KEYS")
    skip = set(_as_names(config, "AWSREFS_SKIP_KEYS") or ())
    if only is not None:
        unknown = [name for name in only if name not in config]
        if unknown:
            # Most likely a typo; resolving nothing for it silently would hide that.
            raise ValueError(f"AWSREFS_KEYS names keys that are not in app.config: {unknown}")
        candidates: Iterable[Any] = only
    else:
        candidates = list(config)
    return [
        key
        for key in candidates
        if isinstance(key, str) and not key.startswith(OPTION_PREFIX) and key not in skip
    ]


def _as_bool(config: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # FLASK_AWSREFS_ENABLED=0 loads as int
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{name} must be True or False, got {value!r}")


def _as_text(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _as_seconds(config: Mapping[str, Any], name: str) -> float | None:
    value = config.get(name)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not seconds >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")
    return seconds


def _as_names(config: Mapping[str, Any], name: str) -> list[str] | None:
    value = config.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (Sequence, Set)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError(f"{name} must be a list of config keys or a comma-separated string")


class _ValuesHidden:
    """Mixed into the app's config class: ``repr`` and ``str`` hide the resolved values."""

    _awsrefs_resolved: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        hidden = self._awsrefs_resolved
        items = ", ".join(
            f"{key!r}: {HIDDEN if key in hidden else repr(value)}"
            for key, value in dict.items(cast("dict[str, Any]", self))
        )
        return f"<{type(self).__name__} {{{items}}}>"

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        # The class is made at run time, so pickle could not find it by name: rebuild from
        # the app's own config class, hiding again (copy and deepcopy go through here too).
        original = next(c for c in type(self).__mro__ if not issubclass(c, _ValuesHidden))
        return (_rebuild_hidden, (original, dict(cast("dict[str, Any]", self)), vars(self)))


def _rebuild_hidden(cls: type[Config], items: dict[str, Any], state: dict[str, Any]) -> Config:
    config = cls.__new__(cls)
    dict.update(config, items)
    vars(config).update(state)
    hide_resolved_values(config, state.get("_awsrefs_resolved", ()))
    return config


_HIDING_CLASSES: dict[type, type] = {}


def hide_resolved_values(config: Config, keys: Iterable[str]) -> None:
    """Make ``repr(config)`` and ``str(config)`` show ``keys`` as hidden; reads are unchanged.

    ``config[key]`` still returns the value; only the text of the whole config (a debugger,
    a log line, ``{{ config }}`` in a template) no longer shows it. The config's class
    becomes a subclass of its own class with that ``__repr__`` (same name, still a
    ``flask.Config``).
    """
    cls = type(config)
    if not issubclass(cls, _ValuesHidden):
        hiding = _HIDING_CLASSES.get(cls)
        if hiding is None:
            namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
            hiding = type(cls.__name__, (_ValuesHidden, cls), namespace)
            _HIDING_CLASSES[cls] = hiding
        try:
            config.__class__ = hiding
        except TypeError:  # a config class with another memory layout (__slots__)
            logger.warning("awsrefs could not hide resolved values in repr(app.config)")
            return
    config._awsrefs_resolved = frozenset(  # type: ignore[attr-defined]
        {*getattr(config, "_awsrefs_resolved", ()), *keys}
    )


def _warn_text_in_typed_keys(config: Mapping[str, Any], keys: Iterable[str], app: str) -> None:
    for key in keys:
        kind = TYPED_KEYS.get(key)
        if kind is not None and isinstance(config.get(key), (str, bytes)):
            warnings.warn(
                f"Flask app {app!r}: {key} is a {kind} setting, but its reference gave text"
                + (" (Flask takes any non-empty text as True)" if kind == "bool" else "")
                + "; use a JSON secret key, which keeps its JSON type, or convert it after "
                "init_app (see the Types section of the awsrefs Flask docs)",
                RuntimeWarning,
                stacklevel=3,
            )
