"""resolve_settings() on a settings namespace, against moto over HTTP (Django not configured)."""

from __future__ import annotations

import sys

import pytest
from awsrefs_django import (
    REFERENCES_SETTING,
    RESOLVER_SETTING,
    check_settings,
    get_resolver,
    resolve_settings,
)
from django.core.exceptions import ImproperlyConfigured

import awsrefs
from tests.support.canary import assert_no_secrets


@pytest.fixture
def resolver(aws):
    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield resolver
    resolver.close()


def _settings_file(canary: str) -> dict:
    return {
        "DEBUG": False,
        "SECRET_KEY": "secretsmanager:app/django:secret_key",
        "DATABASES": {
            "default": {
                "ENGINE": "awsrefs_django.backends.postgresql",
                "NAME": "app",
                "HOST": "ssm:/app/db-host",
                "PORT": "secretsmanager:app/db:port",
                "OPTIONS": {"secret": "secretsmanager:app/db", "sslmode": "prefer"},
            }
        },
        "CACHES": {"default": {"LOCATION": "redis://:${secretsmanager:app/redis:token}@h:6379"}},
        "STORAGES": {"default": {"OPTIONS": {"bucket_name": "ssm:/app/bucket"}}},
        "ALLOWED_HOSTS": ["ssm:/app/host", "localhost"],
        "SENTRY_DSN": "optional:ssm:/app/sentry-dsn",
        "lowercase_helper": "ssm:/not/a/setting",
    }


def _seed(aws, canary: str) -> None:
    aws.put_secret("app/django", {"secret_key": canary})
    aws.put_secret("app/db", {"username": "app", "password": "pw-db-Lk29-current", "port": 5432})
    aws.put_secret("app/redis", {"token": "tok-redis-Qm18-secret"})
    aws.put_parameter("/app/db-host", "db.internal")
    aws.put_parameter("/app/bucket", "media-bucket")
    aws.put_parameter("/app/host", "app.example.com")


def test_resolves_nested_settings_in_one_batched_pass(aws, resolver, canary):
    _seed(aws, canary)
    settings = _settings_file(canary)
    original_databases = settings["DATABASES"]

    resolve_settings(settings, resolver=resolver)

    assert settings["SECRET_KEY"] == canary
    db = settings["DATABASES"]["default"]
    assert db["HOST"] == "db.internal"
    assert db["PORT"] == 5432  # a JSON number stays a number
    assert db["OPTIONS"] == {"secret": "secretsmanager:app/db", "sslmode": "prefer"}
    assert settings["CACHES"]["default"]["LOCATION"] == "redis://:tok-redis-Qm18-secret@h:6379"
    assert settings["STORAGES"]["default"]["OPTIONS"]["bucket_name"] == "media-bucket"
    assert settings["ALLOWED_HOSTS"] == ["app.example.com", "localhost"]
    # A missing optional reference removes the setting so Django's default applies.
    assert "SENTRY_DSN" not in settings
    assert settings["lowercase_helper"] == "ssm:/not/a/setting"
    # The settings file's own objects are not modified.
    assert original_databases["default"]["HOST"] == "ssm:/app/db-host"
    # One GetParameters (4 names) + one BatchGetSecretValue (3 secrets); nothing else.
    assert dict(resolver.stats.calls) == {
        "ssm:GetParameters": 1,
        "secretsmanager:BatchGetSecretValue": 1,
    }
    kept = settings[REFERENCES_SETTING]
    assert set(kept) == {
        "SECRET_KEY",
        "DATABASES",
        "CACHES",
        "STORAGES",
        "ALLOWED_HOSTS",
        "SENTRY_DSN",
    }
    assert kept["DATABASES"]["default"]["HOST"] == "ssm:/app/db-host"
    assert_no_secrets(repr(kept), "AWSREFS_REFERENCES")


def test_failures_raise_improperly_configured_naming_every_path_and_apply_nothing(
    aws, resolver, canary
):
    aws.put_secret("app/django", {"secret_key": canary})
    aws.put_parameter("/app/host", "app.example.com")
    settings = _settings_file(canary)
    before = {k: v for k, v in settings.items()}

    with pytest.raises(ImproperlyConfigured) as caught:
        resolve_settings(settings, resolver=resolver, defer_errors=False)

    message = str(caught.value)
    for path in (
        "DATABASES.default.HOST",
        "DATABASES.default.PORT",
        "DATABASES.default.OPTIONS.secret",
        "CACHES.default.LOCATION",
        "STORAGES.default.OPTIONS.bucket_name",
    ):
        assert path in message
    assert "SECRET_KEY" not in message
    assert "SENTRY_DSN" not in message  # optional and missing is not a failure
    assert isinstance(caught.value.__cause__, awsrefs.ResolutionError)
    assert settings == before  # nothing half-applied
    assert REFERENCES_SETTING not in settings
    assert_no_secrets(message, "ImproperlyConfigured")


def test_deferred_errors_remove_failed_settings_and_keep_them_for_the_checks(aws, resolver, canary):
    aws.put_secret("app/django", {"secret_key": canary})
    settings = _settings_file(canary)

    resolve_settings(settings, resolver=resolver, defer_errors=True)

    assert settings["SECRET_KEY"] == canary
    assert "DATABASES" not in settings  # Django's default applies; the check reports it
    assert "CACHES" not in settings
    assert settings["DEBUG"] is False
    statuses = {c.path: c.status for c in check_settings(settings, resolver=resolver)}
    assert statuses["SECRET_KEY"] == "OK"
    assert statuses["DATABASES.default.HOST"] == "not found"
    assert statuses["SENTRY_DSN"] == "OK (optional, missing)"


@pytest.mark.parametrize(
    "secret",
    [
        "secretsmanager:app/db:password",
        "secretsmanager:app/db::AWSPENDING",
        "optional:secretsmanager:app/db",
        "ssm:/app/db",
        "not-a-reference",
    ],
)
def test_database_secret_must_be_a_whole_current_secret(resolver, secret):
    settings = {"DATABASES": {"default": {"OPTIONS": {"secret": secret}}}}
    with pytest.raises(ImproperlyConfigured, match=r"DATABASES\.default\.OPTIONS\.secret"):
        resolve_settings(settings, resolver=resolver, defer_errors=False)
    assert resolver.stats.total_calls == 0


def test_check_settings_sees_originals_after_resolution(aws, resolver, canary):
    _seed(aws, canary)
    settings = _settings_file(canary)
    resolve_settings(settings, resolver=resolver)
    calls = resolver.stats.total_calls

    checked = check_settings(settings, resolver=resolver)

    assert {c.path for c in checked} >= {
        "SECRET_KEY",
        "DATABASES.default.HOST",
        "DATABASES.default.OPTIONS.secret",
        "CACHES.default.LOCATION",
        "ALLOWED_HOSTS[0]",
        "SENTRY_DSN",
    }
    assert all(c.ok for c in checked)
    assert resolver.stats.total_calls == calls  # served from the cache
    assert_no_secrets(repr(checked), "check results")


def test_deferred_secret_key_becomes_a_random_key_of_this_process(aws, resolver):
    settings = {"SECRET_KEY": "secretsmanager:app/django:secret_key", "DEBUG": False}

    resolve_settings(settings, resolver=resolver, defer_errors=True)

    # Django refuses to start without SECRET_KEY; the checks must start to report it.
    assert settings["SECRET_KEY"].startswith("awsrefs-unresolved-")
    assert len(settings["SECRET_KEY"]) > 50
    assert settings[REFERENCES_SETTING]["SECRET_KEY"] == "secretsmanager:app/django:secret_key"
    statuses = {c.path: c.status for c in check_settings(settings)}
    assert statuses == {"SECRET_KEY": "not found"}


@pytest.mark.parametrize(
    ("value", "defers"), [("1", True), ("true", True), ("", False), ("0", False)]
)
def test_the_switch_is_the_environment_variable(aws, resolver, monkeypatch, value, defers):
    monkeypatch.setenv("AWSREFS_DEFER_ERRORS", value)
    settings = {"SECRET_KEY": "secretsmanager:app/django:secret_key"}
    if defers:
        resolve_settings(settings, resolver=resolver)
        assert REFERENCES_SETTING in settings
    else:
        with pytest.raises(ImproperlyConfigured, match=r"python manage\.py awsrefs_check"):
            resolve_settings(settings, resolver=resolver)


@pytest.mark.parametrize(
    ("argv", "defers"),
    [
        (["manage.py", "awsrefs_check"], True),
        (["/usr/bin/django-admin", "awsrefs_check", "--settings=mysite.settings"], True),
        (["manage.py", "runserver"], False),
        (["manage.py", "check"], False),
        (["gunicorn", "mysite.wsgi", "awsrefs_check"], False),
        (["manage.py"], False),
    ],
)
def test_awsrefs_check_command_defers_errors_by_itself(aws, resolver, monkeypatch, argv, defers):
    monkeypatch.delenv("AWSREFS_DEFER_ERRORS", raising=False)
    monkeypatch.setattr(sys, "argv", argv)
    settings = {"SECRET_KEY": "secretsmanager:app/django:secret_key"}
    if defers:
        resolve_settings(settings, resolver=resolver)
        assert settings[REFERENCES_SETTING] == {
            "SECRET_KEY": "secretsmanager:app/django:secret_key"
        }
        with pytest.raises(ImproperlyConfigured):  # an explicit False still wins
            resolve_settings(
                dict(settings[REFERENCES_SETTING]), resolver=resolver, defer_errors=False
            )
    else:
        with pytest.raises(ImproperlyConfigured):
            resolve_settings(settings, resolver=resolver)


def test_the_resolver_is_kept_in_settings_not_in_a_module_global(aws, resolver, canary):
    aws.put_secret("app/django", {"secret_key": canary})
    settings = {"SECRET_KEY": "secretsmanager:app/django:secret_key"}

    resolve_settings(settings, resolver=resolver)

    assert settings[RESOLVER_SETTING] is resolver
    assert get_resolver(settings) is resolver
    assert get_resolver({}) is awsrefs.default_resolver()  # nothing else was changed


def test_database_settings_left_empty_are_filled_from_the_secret(aws, resolver):
    aws.put_secret(
        "app/db",
        {"username": "app", "password": "pw-db-Lk29-current", "host": "db.internal", "port": 5432}
        | {"dbname": "shop", "engine": "postgres"},
    )
    options = {"secret": "secretsmanager:app/db"}
    settings = {
        "DATABASES": {
            "default": {"ENGINE": "awsrefs_django.backends.postgresql", "OPTIONS": options},
            "reports": {"NAME": "reports", "HOST": "", "OPTIONS": options},
        }
    }

    resolve_settings(settings, resolver=resolver)

    # As if the user had written them: pytest-django and Django's test runner read them here.
    default, reports = settings["DATABASES"]["default"], settings["DATABASES"]["reports"]
    assert (default["NAME"], default["HOST"], default["PORT"]) == ("shop", "db.internal", 5432)
    assert (reports["NAME"], reports["HOST"], reports["PORT"]) == ("reports", "db.internal", 5432)
    assert default["OPTIONS"]["secret"] == "secretsmanager:app/db"
    assert "USER" not in default
    assert "PASSWORD" not in default


def test_a_database_secret_without_credentials_is_refused_naming_the_setting(aws, resolver):
    aws.put_secret("app/db", {"host": "db.internal"})
    settings = {"DATABASES": {"default": {"OPTIONS": {"secret": "secretsmanager:app/db"}}}}
    before = {"DATABASES": {"default": {"OPTIONS": {"secret": "secretsmanager:app/db"}}}}

    with pytest.raises(
        ImproperlyConfigured, match=r"DATABASES\.default\.OPTIONS\.secret: .*'username'"
    ):
        resolve_settings(settings, resolver=resolver)
    assert settings == before


def test_deferred_a_database_secret_without_credentials_does_not_stop_the_checks(aws, resolver):
    aws.put_secret("app/db", {"host": "db.internal"})
    settings = {"DATABASES": {"default": {"OPTIONS": {"secret": "secretsmanager:app/db"}}}}

    resolve_settings(settings, resolver=resolver, defer_errors=True)

    assert "NAME" not in settings["DATABASES"]["default"]  # the backend reports it on use
