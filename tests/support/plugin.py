"""Pytest plugin with the fixtures every test suite of the workspace shares.

Loaded with ``-p tests.support.plugin`` (see pyproject.toml), so core tests and integration
tests reach the same real parts: a moto server over HTTP, throwaway PostgreSQL, MariaDB and
redis servers, a fault-injecting proxy, the canary check that fails a test leaking a secret,
and the ``cli`` fixture running the ``awsrefs`` command in-process.
"""

pytest_plugins = [
    "tests.support.aws",
    "tests.support.databases",
    "tests.support.redis_server",
    "tests.support.canary",
    "tests.support.unreachable",
    "tests.support.cli",
]
