"""Stores awsrefs reads from, behind one small protocol.

- :class:`~awsrefs.backends.aws.AwsBackend`: SSM and Secrets Manager (the default).
- :class:`~awsrefs.backends.static.StaticBackend`: fixed values, for tests.
- :class:`~awsrefs.backends.agent.AgentBackend`: through the node-local Secrets Manager Agent
  or the Lambda Parameters and Secrets extension (``AWSREFS_BACKEND=agent``).
"""

from awsrefs.backends._base import Backend, Fetched, Miss, Outcome

__all__ = ["Backend", "Fetched", "Miss", "Outcome"]
