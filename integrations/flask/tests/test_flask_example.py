"""The example app (examples/flask_app): served by the Flask test client through a rotation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import awsrefs
from tests.support.canary import assert_no_secrets
from tests.support.databases import unique_name

# Slow tier: the example app runs through the flask command in subprocesses.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
PASSWORDS = ("pw-flask-example-6Nv1-first", "pw-flask-example-6Nv2-second")


@pytest.fixture
def default_resolver(aws):
    """The example uses the default resolver; give this test a fresh one (moto was reset)."""
    made = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    awsrefs.set_default_resolver(made)
    yield made
    awsrefs.set_default_resolver(None)
    made.close()


def db_secret(server, user, password):
    """The secret as the RDS rotation templates store it."""
    return {
        "engine": "postgres",
        "username": user,
        "password": password,
        "host": server.host,
        "port": server.port,
        "dbname": server.database,
    }


def seed(aws, canary, db_value):
    aws.put_secret("myapp/prod/flask", {"secret_key": canary})
    aws.put_parameter("/myapp/prod/support-email", "help@example.com")
    aws.put_secret("myapp/prod/db", db_value)


@pytest.mark.postgres
def test_requests_keep_working_through_a_rotation(aws, canary, postgres_server, default_resolver):
    from examples.flask_app.app import create_app, db

    user = unique_name("flask")
    postgres_server.create_user(user, PASSWORDS[0])
    seed(aws, canary, db_secret(postgres_server, user, PASSWORDS[0]))
    app = create_app()
    assert app.config["SECRET_KEY"] == canary
    assert "SENTRY_DSN" not in app.config  # optional and not set in the secret
    # Start-up reads the config's one parameter and one secret; the database secret is read
    # by the creator when the first connection is made.
    assert default_resolver.stats.calls == Counter(
        {"ssm:GetParameters": 1, "secretsmanager:GetSecretValue": 1}
    )
    client = app.test_client()
    statuses: list[int] = []

    def serve(count: int) -> None:
        for _ in range(count):
            response = client.get("/")
            statuses.append(response.status_code)
            assert response.get_json() == {"database_user": user, "support": "help@example.com"}
            # New connections for every request, as after pool recycling or a worker restart:
            # each one goes through the creator and the rotation rule.
            with app.app_context():
                db.engine.dispose()

    serve(5)
    # createSecret: a new version labelled AWSPENDING.
    pending = aws.put_secret_value(
        "myapp/prod/db", db_secret(postgres_server, user, PASSWORDS[1]), stages=["AWSPENDING"]
    )
    serve(5)
    calls_before = default_resolver.stats.total_calls
    # setSecret: the database wants the new password; AWSCURRENT still has the old one.
    postgres_server.set_password(user, PASSWORDS[1])
    serve(5)
    # The cached password was refused, so the creator went back to Secrets Manager.
    assert default_resolver.stats.total_calls > calls_before
    # finishSecret: AWSCURRENT moves to the new version (the resolver still caches the old).
    aws.move_stage("myapp/prod/db", "AWSCURRENT", to_version=pending)
    serve(5)

    assert statuses == [200] * 20
    # 20 new connections, not 20 reads: the Flask secret, the database secret at the first
    # connection, then AWSCURRENT refreshed once and AWSPENDING read once in the rotation.
    assert default_resolver.stats.calls["secretsmanager:GetSecretValue"] <= 4


def test_flask_awsrefs_check_command(aws, canary):
    """The real ``flask`` command line, in a subprocess, against the moto server."""
    seed(aws, canary, {"username": "app", "password": canary, "host": "127.0.0.1"})
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "FLASK_SUPPORT_EMAIL": "ssm:/myapp/prod/missing-email",
    }

    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "examples.flask_app.app", "awsrefs", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["SECRET_KEY", "secretsmanager:myapp/prod/flask:secret_key", "OK"] in rows
    assert ["SUPPORT_EMAIL", "ssm:/myapp/prod/missing-email", "not", "found"] in [
        row[:4] for row in rows
    ]
    assert rows[-1] == ["3", "references:", "2", "OK,", "1", "failed"]
    assert_no_secrets(output, "flask awsrefs check output")
