"""Settings of the example app: they say where each secret lives, never the secret itself.

Loaded with ``app.config.from_pyfile``; ``FLASK_*`` environment variables can override any
key (``FLASK_SUPPORT_EMAIL=ssm:/myapp/staging/support-email``).
"""

import awsrefs_sqlalchemy

SECRET_KEY = "secretsmanager:myapp/prod/flask:secret_key"
SUPPORT_EMAIL = "ssm:/myapp/prod/support-email"
SENTRY_DSN = "optional:secretsmanager:myapp/prod/flask:sentry_dsn"

# The driver; host, port, database, user and password come from the secret, as the RDS
# rotation templates store them. Each new connection uses the secret's current value and
# keeps working while Secrets Manager rotates the password.
SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://"
SQLALCHEMY_ENGINE_OPTIONS = {
    "creator": awsrefs_sqlalchemy.creator(
        "secretsmanager:myapp/prod/db", url=SQLALCHEMY_DATABASE_URI
    ),
    "pool_pre_ping": True,
}
