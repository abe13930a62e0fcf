"""awsrefs: settings say where a value lives; awsrefs fetches them all at start-up.

>>> import awsrefs
>>> awsrefs.parse("ssm:/myapp/prod/db-host")
SSMRef(name='/myapp/prod/db-host', selector=None, optional=False)

``import awsrefs`` loads nothing but this file: each public name is imported from its module on
first use, so a process that never touches awsrefs pays nothing for it. Parsing and finding
references never load boto3; the first AWS call does.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing alone would cost more than this package's budget.
# Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    __version__: str  # from the installed distribution's metadata, read on first use

    from awsrefs import backends as backends
    from awsrefs import errors as errors
    from awsrefs import iam as iam
    from awsrefs import iam_auth as iam_auth
    from awsrefs import report as report
    from awsrefs import rotation as rotation
    from awsrefs import testing as testing
    from awsrefs._fetch import Stats
    from awsrefs._grammar import QuotedRef, Ref, SecretRef, SSMRef, Template, parse
    from awsrefs._outcome import Checked, Resolved
    from awsrefs._references import (
        FoundReference,
        find_references,
        format_path,
        has_references,
        is_reference,
    )
    from awsrefs._resolver import Resolver, default_resolver, set_default_resolver
    from awsrefs.errors import Failure, FailureKind, RefError, RefSyntaxError, ResolutionError

    T = TypeVar("T")

__all__ = [
    "Checked",
    "Failure",
    "FailureKind",
    "FoundReference",
    "QuotedRef",
    "Ref",
    "RefError",
    "RefSyntaxError",
    "ResolutionError",
    "Resolved",
    "Resolver",
    "SSMRef",
    "SecretRef",
    "Stats",
    "Template",
    "__version__",
    "default_resolver",
    "find_references",
    "format_path",
    "has_references",
    "is_reference",
    "parse",
    "resolve",
    "set_default_resolver",
]

# Public name -> the module that defines it.
_HOMES = {
    "Checked": "awsrefs._outcome",
    "Failure": "awsrefs.errors",
    "FailureKind": "awsrefs.errors",
    "FoundReference": "awsrefs._references",
    "QuotedRef": "awsrefs._grammar",
    "Ref": "awsrefs._grammar",
    "RefError": "awsrefs.errors",
    "RefSyntaxError": "awsrefs.errors",
    "ResolutionError": "awsrefs.errors",
    "Resolved": "awsrefs._outcome",
    "Resolver": "awsrefs._resolver",
    "SSMRef": "awsrefs._grammar",
    "SecretRef": "awsrefs._grammar",
    "Stats": "awsrefs._fetch",
    "Template": "awsrefs._grammar",
    "default_resolver": "awsrefs._resolver",
    "find_references": "awsrefs._references",
    "format_path": "awsrefs._references",
    "has_references": "awsrefs._references",
    "is_reference": "awsrefs._references",
    "parse": "awsrefs._grammar",
    "set_default_resolver": "awsrefs._resolver",
}
_SUBMODULES = frozenset({"backends", "errors", "iam", "iam_auth", "report", "rotation", "testing"})


def resolve(obj: T, *, path: str = "") -> T:
    """Resolve every reference in ``obj`` with the default resolver.

    See :meth:`Resolver.resolve`.
    """
    from awsrefs._resolver import default_resolver

    return default_resolver().resolve(obj, path=path)


def __getattr__(name: str) -> Any:
    import importlib

    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"awsrefs.{name}")
    elif name == "__version__":
        # One version number, pyproject.toml's: installed metadata, not a copy in the code.
        value = importlib.import_module("importlib.metadata").version("awsrefs")
    else:
        raise AttributeError(f"module 'awsrefs' has no attribute {name!r}")
    globals()[name] = value  # later reads are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
