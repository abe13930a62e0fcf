"""A redis-py client whose login comes from Secrets Manager and survives rotation.

The secret holds what AWS's ElastiCache user rotation function stores::

    {"user_arn": "arn:aws:elasticache:...:user:app", "username": "app", "password": "..."}

Run it with the usual AWS environment (``AWS_REGION``, credentials; ``AWS_ENDPOINT_URL`` for an
emulator) and::

    REDIS_URL=redis://cache.internal:6379/0 REDIS_SECRET=myapp/prod/redis \\
        python examples/redis_rotation.py

The URL names host, port and database only: the user name and password come from the secret.
"""

from __future__ import annotations

import os

import awsrefs_redis


def main() -> None:
    client = awsrefs_redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        secret=os.environ.get("REDIS_SECRET", "secretsmanager:myapp/prod/redis"),
        # Each new connection logs in with the cached secret; a rejected password is
        # refreshed once and AWSPENDING is tried (the rule of awsrefs.rotation).
        decode_responses=True,
    )
    try:
        client.set("example:answer", 6 * 7)
        user = client.execute_command("ACL", "WHOAMI")
        print(f"logged in as {user}; answer = {client.get('example:answer')}")
    finally:
        client.close()


if __name__ == "__main__":
    main()
