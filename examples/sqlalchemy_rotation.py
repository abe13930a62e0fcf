"""A SQLAlchemy engine whose credentials come from Secrets Manager and survive rotation.

The secret holds the JSON the RDS rotation templates store::

    {"engine": "postgres", "host": "...", "port": 5432, "username": "app",
     "password": "...", "dbname": "orders"}

Run it with the usual AWS environment (``AWS_REGION``, credentials; ``AWS_ENDPOINT_URL`` for an
emulator) and::

    DB_SECRET=myapp/prod/db python examples/sqlalchemy_rotation.py

``DATABASE_URL`` picks dialect and driver (default ``postgresql+psycopg://``); a host, port or
database it names wins over the secret's (an RDS Proxy, a tunnel; or a secret that holds only a
user name and password).
"""

from __future__ import annotations

import os

import awsrefs_sqlalchemy
from sqlalchemy import text


def main() -> None:
    engine = awsrefs_sqlalchemy.create_engine(
        os.environ.get("DATABASE_URL", "postgresql+psycopg://"),
        secret=os.environ.get("DB_SECRET", "secretsmanager:myapp/prod/db"),
        # Each new connection reads the cached secret; during a rotation a rejected
        # password is refreshed once and AWSPENDING is tried.
        pool_pre_ping=True,
        pool_recycle=3600,
    )
    try:
        with engine.connect() as conn:
            user = conn.execute(text("SELECT current_user")).scalar_one()
            total = conn.execute(text("SELECT 6 * 7")).scalar_one()
        print(f"connected as {user}; 6 * 7 = {total}")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
