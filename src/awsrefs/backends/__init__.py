"""Stores awsrefs reads from, behind one small protocol.

Pass one to :class:`~awsrefs.Resolver` as ``backend=``:

- :class:`AwsBackend`: SSM and Secrets Manager (the default, built from the resolver's AWS
  client options when no backend is given).
- :class:`AgentBackend`: through the node-local Secrets Manager Agent or the Lambda
  Parameters and Secrets extension (also chosen by ``AWSREFS_BACKEND=agent``).
- :class:`StaticBackend`: fixed values, for tests.

Each loads on first use, so ``import awsrefs`` never imports botocore or ``http.client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awsrefs.backends._base import Backend, Fetched, Miss, Outcome

if TYPE_CHECKING:
    from awsrefs.backends.agent import AgentBackend
    from awsrefs.backends.aws import AwsBackend
    from awsrefs.backends.static import StaticBackend

__all__ = [
    "AgentBackend",
    "AwsBackend",
    "Backend",
    "Fetched",
    "Miss",
    "Outcome",
    "StaticBackend",
]

_LAZY = {"AgentBackend": "agent", "AwsBackend": "aws", "StaticBackend": "static"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'awsrefs.backends' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"awsrefs.backends.{module}"), name)
