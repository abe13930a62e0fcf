r"""One ``NAME=value`` line that POSIX shells and python-dotenv both read back exactly.

``set -a; . ./file`` (dash, bash) and ``dotenv.dotenv_values`` (python-dotenv 1.x, as
pydantic-settings reads a ``.env``) disagree on almost every escape, so a value is written
only in a form both take literally, or refused:

- single quotes, when the value has no ``'``, no ``\\\\`` pair and no final ``\\`` (python-dotenv
  reads ``\\\\`` and ``\\'`` as escapes inside single quotes; a shell does not);
- otherwise double quotes with ``\\`` and ``"`` escaped (both read ``\\\\`` and ``\\"`` alike), when
  the value has no backquote and every ``$`` is one a shell leaves alone (not followed by a name,
  a digit, ``{``, ``(``, ``[`` or a special parameter);
- never: a NUL (no environment holds one), a carriage return (python-dotenv opens the file
  with universal newlines), ``${...}`` (python-dotenv expands it in every quote style), a
  name that is not a shell variable name, and a ``'`` or ``\\\\`` together with a ``$`` or a
  backquote a shell would expand.
"""

from __future__ import annotations

import re

__all__ = ["UnrepresentableError", "env_line"]

_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# python-dotenv's interpolation pattern (dotenv/variables.py), applied to every value.
_DOTENV_VARIABLE = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")
# A $ that dash or bash expands inside double quotes: anything but these followers
# (checked one by one against both shells) or the end of the value.
_EXPANDED_DOLLAR = re.compile(r"\$(?![ \t\n%&')+,./:;<=>\]^|}~\"\\]|\Z)")


class UnrepresentableError(Exception):
    """The line cannot be written so that both readers agree; the message says why."""


def env_line(name: str, value: str) -> str:
    """``name=value``, quoted so that POSIX shells and python-dotenv both read ``value``.

    Raises:
        UnrepresentableError: No quoting is read back the same by both (the message says why,
            never the value).
    """
    if not _SHELL_NAME.fullmatch(name):
        raise UnrepresentableError(
            "the name is not a shell variable name (letters, digits and _, not first a digit)"
        )
    if "\0" in value:
        raise UnrepresentableError("the value holds a NUL character")
    if "\r" in value:
        raise UnrepresentableError(
            "the value holds a carriage return, which python-dotenv reads as a line end"
        )
    if _DOTENV_VARIABLE.search(value):
        raise UnrepresentableError("the value holds ${...}, which python-dotenv expands")
    if "'" not in value and "\\\\" not in value and not value.endswith("\\"):
        return f"{name}='{value}'"
    if "`" not in value and not _EXPANDED_DOLLAR.search(value):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{name}="{escaped}"'
    raise UnrepresentableError(
        "the value holds a ' or a backslash and also a $ or ` that a shell expands: "
        "no quoting reads back the same in a POSIX shell and python-dotenv"
    )
