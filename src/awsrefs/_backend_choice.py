"""Which store a resolver reads from: the one passed in, the agent, or AWS.

``Resolver(backend=...)`` is the one way to choose a store. The AWS client options of
:class:`~awsrefs.Resolver` are a shorthand that builds an
:class:`~awsrefs.backends.aws.AwsBackend`; with ``backend=`` they would be ignored, so
they are an error there, as are the options the agent cannot use under
``AWSREFS_BACKEND=agent``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from awsrefs._fetch import Stats
from awsrefs.backends import Backend

__all__ = ["AWS_OPTIONS", "choose_backend"]

# The Resolver keyword arguments that only describe an AWS client, in signature order.
AWS_OPTIONS = (
    "session",
    "region_name",
    "endpoint_url",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
    "retry_mode",
)
# Those the agent backend uses too (its region and its one timeout).
_AGENT_OPTIONS = {"region_name": "region_name", "read_timeout": "timeout"}
_ENV = "AWSREFS_BACKEND"


def choose_backend(
    backend: Backend | None, options: Mapping[str, Any], *, max_workers: int, stats: Stats
) -> Backend:
    """The backend for a resolver; one it builds counts its calls in ``stats``.

    Args:
        backend: The store passed as ``backend=``, or None.
        options: The AWS client options by name; None means not given.
        max_workers: The resolver's parallel calls (the AWS client's connection pool).
        stats: The resolver's counters.

    Raises:
        TypeError: ``backend=`` was given together with AWS client options.
        ValueError: ``AWSREFS_BACKEND`` is unknown, or is ``agent`` with options the agent
            cannot use.
    """
    given = {name: options[name] for name in AWS_OPTIONS if options.get(name) is not None}
    if backend is not None:
        if given:
            raise TypeError(
                f"Resolver(backend=...) was also given {_listed(given)}, which it would "
                "ignore: they describe an AWS client, so pass them to "
                "awsrefs.backends.AwsBackend(...) instead, or leave backend= out"
            )
        return backend
    choice = os.environ.get(_ENV, "").strip().lower()
    if choice == "agent":
        unused = {name: value for name, value in given.items() if name not in _AGENT_OPTIONS}
        if unused:
            raise ValueError(
                f"{_ENV}=agent reads through the local agent, which cannot use "
                f"{_listed(unused)}; leave them out, or unset {_ENV} to call AWS"
            )
        from awsrefs.backends.agent import AgentBackend

        agent = {_AGENT_OPTIONS[name]: value for name, value in given.items()}
        return AgentBackend(**agent, stats=stats)
    if choice not in ("", "aws"):
        raise ValueError(f"{_ENV} must be 'aws' or 'agent' (or unset), not {choice!r}")
    from awsrefs.backends.aws import AwsBackend

    return AwsBackend(**given, max_pool_connections=max_workers, stats=stats)


def _listed(given: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}=" for name in given)
