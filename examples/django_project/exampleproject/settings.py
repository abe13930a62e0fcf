"""Settings of the awsrefs example project: 20 references, no secret in the file.

Every ``ssm:`` / ``secretsmanager:`` string below is fetched at start-up by the last line,
all together: two GetParameters calls (12 parameters, 10 per call) and one
BatchGetSecretValue call (4 secrets), made in parallel.
"""

from pathlib import Path

from awsrefs_django import resolve_settings

BASE_DIR = Path(__file__).resolve().parent.parent
ssm = "ssm:/exampleproject"  # lowercase: not a setting, so not resolved itself

SECRET_KEY = "secretsmanager:exampleproject/django:secret_key"
DEBUG = False
ALLOWED_HOSTS = [f"{ssm}/allowed-host", "testserver"]
CSRF_TRUSTED_ORIGINS = [f"https://${{url:{ssm}/allowed-host}}"]  # a template: https://<host>
TIME_ZONE = f"{ssm}/time-zone"
USE_TZ = True

INSTALLED_APPS = ["awsrefs_django"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "exampleproject.urls"
# Error pages and reports mask every value that came from a reference, not only *PASSWORD*.
DEFAULT_EXCEPTION_REPORTER_FILTER = "awsrefs_django.debug.ReferenceExceptionReporterFilter"

# Username, password, host, port and database name all come from the secret (the format of
# the RDS rotation functions), read again at each new connection so rotation is followed.
DATABASES = {
    "default": {
        "ENGINE": "awsrefs_django.backends.postgresql",
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            "secret": "secretsmanager:exampleproject/db",
            "sslmode": f"{ssm}/db-sslmode",
        },
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": f"{ssm}/cache-location",
        "KEY_PREFIX": f"{ssm}/cache-prefix",
    }
}

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": f"{ssm}/media-root"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_HOST = f"{ssm}/email/host"
EMAIL_PORT = "secretsmanager:exampleproject/email:port"  # a JSON number stays an int
EMAIL_HOST_USER = "secretsmanager:exampleproject/email:username"
EMAIL_HOST_PASSWORD = "secretsmanager:exampleproject/email:password"
DEFAULT_FROM_EMAIL = f"{ssm}/email/from"
SERVER_EMAIL = f"{ssm}/email/server"

STRIPE_API_KEY = "secretsmanager:exampleproject/stripe:api_key"
STRIPE_WEBHOOK_SECRET = "secretsmanager:exampleproject/stripe:webhook_secret"
SENTRY_DSN = f"https://${{url:{ssm}/sentry/key}}@o1.ingest.example.io/${{url:{ssm}/sentry/project}}"
# Optional: when the parameter does not exist the setting is removed.
FEATURE_FLAGS_URL = f"optional:{ssm}/feature-flags-url"

resolve_settings(globals())
