"""awsrefs: settings say where a value lives; awsrefs fetches them all at start-up.

>>> import awsrefs
>>> awsrefs.parse("ssm:/myapp/prod/db-host")
SSMRef(name='/myapp/prod/db-host', selector=None, optional=False)

``import awsrefs`` does not import boto3; the first AWS call does.
"""

from __future__ import annotations

from typing import Any, TypeVar

from awsrefs._default import default_resolver, set_default_resolver
from awsrefs._grammar import Ref, SecretRef, SSMRef, Template, parse
from awsrefs._references import FoundReference, find_references, has_references, is_reference
from awsrefs._resolver import Resolver
from awsrefs._results import Checked, Resolved
from awsrefs._stats import Stats
from awsrefs._walk import format_path
from awsrefs.errors import Failure, FailureKind, RefError, RefSyntaxError, ResolutionError

__all__ = [
    "Checked",
    "Failure",
    "FailureKind",
    "FoundReference",
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

__version__ = "0.1.0"

T = TypeVar("T")


def resolve(obj: T, *, path: str = "") -> T:
    """Resolve every reference in ``obj`` with the default resolver.

    See :meth:`Resolver.resolve`.
    """
    return default_resolver().resolve(obj, path=path)


def __getattr__(name: str) -> Any:
    # Submodules that are optional at import time, loaded on first use.
    if name in ("iam", "report", "rotation", "testing"):
        import importlib

        return importlib.import_module(f"awsrefs.{name}")
    raise AttributeError(f"module 'awsrefs' has no attribute {name!r}")
