"""Stores awsrefs reads from, behind one small protocol.

- :class:`~awsrefs.backends.aws.AwsBackend`: SSM and Secrets Manager (the default).
- :class:`~awsrefs.backends.static.StaticBackend`: fixed values, for tests.
"""

from awsrefs.backends._base import Backend, Fetched, Miss, Outcome

__all__ = ["Backend", "Fetched", "Miss", "Outcome"]
