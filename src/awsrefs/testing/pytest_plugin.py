"""Pytest plugin registered by awsrefs: the ``awsrefs_values`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from awsrefs.backends.static import StaticBackend
from awsrefs.testing import static_values

__all__ = ["awsrefs_values"]


@pytest.fixture
def awsrefs_values() -> Iterator[StaticBackend]:
    """Serve references from static values for one test; no AWS, no network.

    Example::

        def test_home(awsrefs_values, client):
            awsrefs_values.set("secretsmanager:myapp/db", {"password": "pw"})
            ...
    """
    with static_values() as backend:
        yield backend
