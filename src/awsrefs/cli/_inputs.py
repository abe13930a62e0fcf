"""Settings for the command line: .env, JSON, TOML, YAML, the environment, Django settings.

Every string found becomes a :class:`Setting` with a path prefixed by its source.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awsrefs._references import TooManyPlacesError, every_place, format_path, walk

__all__ = ["InputError", "Setting", "load_django_settings", "load_environ", "load_file"]

_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$", "`": "`"}


class InputError(Exception):
    """A file or module could not be read; the message says where and why (exit code 2)."""


@dataclass(frozen=True)
class Setting:
    """One string setting found in an input.

    Attributes:
        path: Where it is, prefixed by its source: ``.env:DB_PASSWORD``,
            ``config.toml:database.password``.
        name: A name usable as an environment variable (``DATABASE__PASSWORD`` for nested).
        text: The setting's text as written.
    """

    path: str
    name: str
    text: str


def _env_name(parts: tuple[Any, ...]) -> str:
    # Nested settings use the usual "__" delimiter (pydantic-settings' env_nested_delimiter).
    return "__".join(re.sub(r"\W", "_", str(p)).upper() for p in parts)


def settings_of(source: str, data: Any) -> list[Setting]:
    """Every string in ``data`` (nested mappings and sequences) as a Setting of ``source``.

    A part held in several places (a YAML alias) gives its settings at each place.

    Raises:
        InputError: Aliases make more places than awsrefs lists (10,000).
    """
    tree = walk(data)
    try:
        places = every_place(tree, range(len(tree.strings)))
    except TooManyPlacesError as error:
        raise InputError(f"{source}: {error}") from None
    return [
        Setting(f"{source}:{format_path(parts)}", _env_name(parts), tree.strings[index][1])
        for index, parts in places
    ]


# -- .env files -------------------------------------------------------------------------------


def parse_env(text: str, source: str) -> list[tuple[str, str]]:
    r"""Parse .env text: ``KEY=value``, ``export KEY=value``, quotes, comments.

    Single quotes are literal; double quotes understand ``\n \t \" \\ \$``; both may span
    lines. Unquoted values end at a `` #`` comment and lose surrounding blanks.

    Raises:
        InputError: A line is not an assignment or a quote is not closed: the message gives
            the line and column and what is wrong, never the line's text (it may be a secret).
    """
    pairs: list[tuple[str, str]] = []
    i, n, line = 0, len(text), 1
    while i < n:
        end = text.find("\n", i)
        end = n if end < 0 else end
        stripped = text[i:end].strip()
        if not stripped or stripped.startswith("#"):
            i, line = end + 1, line + 1
            continue
        start = i + len(text[i:end]) - len(text[i:end].lstrip())
        if text.startswith("export", start) and text[start + 6 : start + 7] in (" ", "\t"):
            start = start + 7
            while start < end and text[start] in " \t":
                start += 1
        match = _ENV_KEY.match(text, start)
        if match is None:
            raise InputError(
                f"{source}:{line}:{start - i + 1}: expected KEY=value: a name starts with a "
                "letter or _ and holds letters, digits, _ and ."
            )
        eq = match.end()
        while eq < end and text[eq] in " \t":
            eq += 1
        if eq >= end or text[eq] != "=":
            # The line is not quoted: it may be a value pasted without its name.
            raise InputError(
                f"{source}:{line}:{eq - i + 1}: expected KEY=value: no = after the name"
            )
        key = match.group()
        j = eq + 1
        while j < end and text[j] in " \t":
            j += 1
        if j < end and text[j] in "'\"":
            value, j, lines = _quoted(text, j, source, line, j - i + 1)
            rest_end = text.find("\n", j)
            rest_end = n if rest_end < 0 else rest_end
            rest = text[j:rest_end].strip()
            if rest and not rest.startswith("#"):
                at = j + len(text[j:rest_end]) - len(text[j:rest_end].lstrip())
                column = at - text.rfind("\n", 0, at)
                raise InputError(
                    f"{source}:{line + lines}:{column}: unexpected text after the closing "
                    f"quote of {key} (a comment needs a # before it)"
                )
            i, line = rest_end + 1, line + lines + 1
        else:
            raw = text[j:end]
            comment = re.search(r"\s#", raw)
            value = (raw[: comment.start()] if comment else raw).strip()
            i, line = end + 1, line + 1
        pairs.append((key, value))
    return pairs


def _quoted(text: str, start: int, source: str, line: int, column: int) -> tuple[str, int, int]:
    """The value of the quoted string at ``start``, the index after it, and newlines inside.

    ``line`` and ``column`` are where ``start`` is, for the error.
    """
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            value = "".join(out)
            return value, i + 1, text.count("\n", start, i)
        if quote == '"' and char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_DOUBLE_QUOTE_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    raise InputError(f"{source}:{line}:{column}: the {quote} quote opened here is never closed")


# -- files --------------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    suffix = path.suffix.lower()
    kinds = {".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}
    if suffix in kinds:
        return kinds[suffix]
    raise InputError(
        f"{path}: cannot tell the format from the name; use .env, .json, .toml, .yaml or .yml"
    )


def load_file(name: str) -> list[Setting]:
    """Read the settings of one file, its format chosen by its name.

    Args:
        name: The path as the user gave it (also the prefix of setting paths).

    Raises:
        InputError: Unreadable, unknown format, or malformed (with the line and column).
    """
    path = Path(name)
    kind = _kind(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{name}: cannot read: {error}") from None
    if kind == "env":
        pairs = parse_env(text, name)
        return [Setting(f"{name}:{key}", key, value) for key, value in pairs]
    return settings_of(name, _load_structured(kind, text, name))


def _load_structured(kind: str, text: str, name: str) -> Any:
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(
                f"{name}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
            ) from None
    if kind == "toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            try:
                import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                raise InputError(
                    f"{name}: reading TOML on Python 3.10 needs tomli: pip install tomli"
                ) from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{name}: invalid TOML: {error}") from None
    try:
        import yaml
    except ImportError:
        raise InputError(f"{name}: reading YAML needs PyYAML: install pyyaml") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "malformed"
        raise InputError(f"{name}: invalid YAML{where}: {problem}") from None


# -- environment and Django ---------------------------------------------------------------------


def load_environ(environ: Mapping[str, str], source: str = "env") -> list[Setting]:
    """The environment variables as settings named ``env:NAME``."""
    return [Setting(f"{source}:{key}", key, value) for key, value in environ.items()]


def load_django_settings(module_name: str) -> list[Setting]:
    """Import a Django settings module and take its UPPERCASE names.

    Django need not be configured; the module is only imported. The current directory is
    importable, as for ``manage.py``.

    Raises:
        InputError: The module cannot be imported (says when Django is what is missing).
    """
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing == "django" or missing.startswith("django."):
            raise InputError(
                f"importing {module_name} needs Django, which is not installed: pip install django"
            ) from None
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise InputError(
                f"no module named {module_name!r}: run from the project directory or set PYTHONPATH"
            ) from None
        raise InputError(f"importing {module_name} failed: {error}") from None
    except Exception as error:
        raise InputError(
            f"importing {module_name} failed: {type(error).__name__}: {error}"
        ) from None
    values = {name: getattr(module, name) for name in dir(module) if name.isupper()}
    # A module ending in awsrefs_django.resolve_settings(globals()) is already resolved; it
    # keeps the settings as written in AWSREFS_REFERENCES, so check those instead.
    originals = values.pop("AWSREFS_REFERENCES", None)
    if isinstance(originals, dict):
        values.update({k: v for k, v in originals.items() if isinstance(k, str)})
    # Containers that resolving the settings could not rebuild fail start-up: say so here.
    from awsrefs._outcome import rebuild_problems

    problems = rebuild_problems(values, module_name)
    if problems:
        raise InputError("; ".join(problem.reason for problem in problems))
    return settings_of(module_name, values)
