"""The example project (examples/django_project) run as a user would: manage.py and a request.

Subprocesses, so that Django is configured only there and never in the pytest process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.canary import assert_no_secrets
from tests.support.databases import unique_name

# Slow tier: the example project runs through manage.py in subprocesses.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[3] / "examples" / "django_project"
DRIVER = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.db import connection
from django.test import Client
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter
from awsrefs_django import get_resolver

startup = dict(get_resolver().stats.calls)
response = Client().get("/whoami/")
try:
    raise RuntimeError("boom")
except RuntimeError:
    report = ExceptionReporter(None, *sys.exc_info()).get_traceback_text()
print(json.dumps({
    "status": response.status_code,
    "user": response.json()["user"],
    "startup_calls": startup,
    "calls": dict(get_resolver().stats.calls),
    "settings_dict": repr(connection.settings_dict),
    "django_filter_shows": [
        name for name in ("SECRET_KEY", "SENTRY_DSN")
        if getattr(settings, name) in repr(SafeExceptionReporterFilter().get_safe_settings())
    ],
    "report": report,
    "email_port": settings.EMAIL_PORT,
    "has_feature_flags": hasattr(settings, "FEATURE_FLAGS_URL"),
}))
"""

PARAMETERS = {
    "allowed-host": "app.example.com",
    "time-zone": "Europe/Paris",
    "db-sslmode": "prefer",
    "cache-location": "example-cache",
    "cache-prefix": "ex1",
    "media-root": "/tmp/example-media",
    "email/host": "smtp.example.com",
    "email/from": "app@example.com",
    "email/server": "server@example.com",
    "sentry/project": "42",
}


@pytest.fixture
def project(aws, postgres_server, canary):
    """Seed every reference of the example's settings; returns the database user."""
    user = unique_name("app")
    password = f"pw-{user}-example-Zt44"
    postgres_server.create_user(user, password)
    for name, value in PARAMETERS.items():
        aws.put_parameter(f"/exampleproject/{name}", value)
    aws.put_parameter("/exampleproject/sentry/key", "sentry-key-Ww81-secure", type="SecureString")
    aws.put_secret("exampleproject/django", {"secret_key": canary})
    aws.put_secret(
        "exampleproject/db",
        {
            "engine": "postgres",
            "username": user,
            "password": password,
            "host": postgres_server.host,
            "port": postgres_server.port,
            "dbname": postgres_server.database,
        },
    )
    aws.put_secret(
        "exampleproject/email",
        {"username": "mailer", "password": "mail-pw-Rr62-secret", "port": 587},
    )
    aws.put_secret(
        "exampleproject/stripe",
        {"api_key": "sk-stripe-Tt73-secret", "webhook_secret": "whsec-Uu84-secret"},
    )
    return user


def _run(
    *args: str, code: str | None = None, defer: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "exampleproject.settings"}
    if defer:  # the documented switch that lets the checks start and report
        env["AWSREFS_DEFER_ERRORS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert_no_secrets(result.stdout + result.stderr, "example project output")
    return result


@pytest.mark.postgres
def test_starts_with_three_aws_calls_and_serves_a_request(project, canary):
    result = _run(code=DRIVER)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out["status"] == 200
    assert out["user"] == project
    # 20 references, 12 parameters and 4 secrets: GetParameters takes 10 names, so 2 calls,
    # and one BatchGetSecretValue. The first connection reads the secret from the cache.
    assert out["startup_calls"] == {
        "ssm:GetParameters": 2,
        "secretsmanager:BatchGetSecretValue": 1,
    }
    assert out["calls"] == out["startup_calls"]
    assert out["email_port"] == 587
    assert out["has_feature_flags"] is False  # optional and missing: Django's default
    # Passwords stay out of connection.settings_dict, Django's filter and the error report.
    assert "'PASSWORD': ''" in out["settings_dict"]
    assert_no_secrets(out["settings_dict"], "connection.settings_dict")
    assert "SENTRY_DSN" in out["report"]
    assert_no_secrets(out["report"], "technical 500 report (ReferenceExceptionReporterFilter)")
    # Django's own filter masks by name: SECRET_KEY yes, the key inside SENTRY_DSN no.
    assert out["django_filter_shows"] == ["SENTRY_DSN"]


@pytest.mark.postgres
def test_awsrefs_check_lists_every_reference_ok(project):
    result = _run("awsrefs_check")

    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    statuses = [line for line in lines if line.rstrip().endswith(("OK", "missing)"))]
    assert len(statuses) == 20
    assert any(
        line.startswith("FEATURE_FLAGS_URL") and line.endswith("OK (optional, missing)")
        for line in statuses
    )
    assert any(line.startswith("DATABASES.default.OPTIONS.secret ") for line in statuses)
    assert lines[0].split() == ["SETTING", "REFERENCE", "STATUS", "REASON"]  # awsrefs check's
    assert lines[-1] == "20 references: 20 OK, 0 failed"


def test_awsrefs_check_fails_naming_each_bad_setting(aws, canary):
    aws.put_secret("exampleproject/django", {"secret_key": canary})
    aws.put_parameter("/exampleproject/allowed-host", "app.example.com")

    result = _run("awsrefs_check")  # as docs/django.md shows it: no switch needed

    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if "not found" in line]
    paths = {line.split()[0] for line in failed}
    assert {
        "DATABASES.default.OPTIONS.secret",
        "EMAIL_HOST_PASSWORD",
        "STRIPE_API_KEY",
        "SENTRY_DSN",
        "CACHES.default.LOCATION",
        "TIME_ZONE",
    } <= paths
    assert not any(line.startswith(("SECRET_KEY", "ALLOWED_HOSTS")) for line in failed)
    assert "references could not be resolved" in result.stderr
    assert "Traceback" not in result.stderr


def test_django_check_reports_unresolved_references(aws, canary):
    aws.put_secret("exampleproject/django", {"secret_key": canary})

    result = _run("check", "--deploy", defer=True)

    assert result.returncode != 0
    assert "awsrefs.E001" in result.stderr
    assert "STRIPE_WEBHOOK_SECRET: secretsmanager:exampleproject/stripe:webhook_secret" in (
        result.stderr
    )


def test_other_commands_refuse_to_start_listing_every_bad_path(aws, canary):
    aws.put_secret("exampleproject/django", {"secret_key": canary})

    result = _run("showmigrations")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for path in ("DATABASES.default.OPTIONS.secret", "EMAIL_HOST", "SENTRY_DSN", "TIME_ZONE"):
        assert path in result.stderr
