"""Backend configuration errors, found when the connection object is made (no database)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

base = pytest.importorskip("awsrefs_django.backends.postgresql.base")


def _settings(**changes):
    entry = {
        "ENGINE": "awsrefs_django.backends.postgresql",
        "NAME": "app",
        "USER": "",
        "PASSWORD": "",
        "HOST": "db.internal",
        "PORT": 5432,
        "OPTIONS": {"secret": "secretsmanager:app/db"},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TIME_ZONE": None,
        "TEST": {},
    }
    entry.update(changes)
    return entry


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"OPTIONS": {}}, r"needs OPTIONS\['secret'\]"),
        ({"PASSWORD": "awsrefs-canary-5e1f0c9b7d3a46e2b8c4"}, r"\['PASSWORD'\] must be empty"),
        ({"USER": "app"}, r"\['USER'\] must be empty"),
        ({"OPTIONS": {"secret": "secretsmanager:app/db:password"}}, "whole secret"),
    ],
)
def test_misconfiguration_is_refused_with_a_clear_message(changes, message, canary):
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        base.DatabaseWrapper(_settings(**changes), "default")
    assert canary not in str(caught.value)


IAM = {"USER": "app", "OPTIONS": {"iam": True}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({**IAM, "OPTIONS": {"iam": True, "secret": "secretsmanager:app/db"}}, "exclude each"),
        ({**IAM, "PASSWORD": "awsrefs-canary-5e1f0c9b7d3a46e2b8c4"}, r"must be empty with"),
        ({**IAM, "USER": ""}, "needs USER and HOST"),
        ({**IAM, "HOST": ""}, "needs USER and HOST"),
        ({**IAM, "OPTIONS": {"iam": {"regoin": "eu-west-1"}}}, r"unknown: \['regoin'\]"),
    ],
)
def test_iam_misconfiguration_is_refused(changes, message, canary):
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        base.DatabaseWrapper(_settings(**changes), "default")
    assert canary not in str(caught.value)


def test_iam_option_takes_user_host_and_default_port():
    wrapper = base.DatabaseWrapper(
        _settings(USER="app", PORT="", OPTIONS={"iam": {"region": "eu-west-1"}}), "default"
    )
    creds = wrapper.awsrefs_credentials
    assert (creds.host, creds.port, creds.username, creds.region) == (
        "db.internal",
        5432,
        "app",
        "eu-west-1",
    )


def test_settings_dict_is_the_connections_own_copy():
    from django.conf import settings

    settings_dict = _settings()
    wrapper = base.DatabaseWrapper(settings_dict, "default")
    assert not settings.configured  # nothing here configures Django for the whole test run
    assert wrapper.settings_dict is not settings_dict
    assert wrapper.settings_dict["OPTIONS"] is not settings_dict["OPTIONS"]
    assert wrapper.awsrefs_credentials.secret.secret_id == "app/db"


def _rds_secret(aws, **changes):
    value = {"engine": "postgres", "host": "db.internal", "port": 5433, "dbname": "shop"}
    value.update(username="shop_owner", password="pw-backend-config-Xt52", **changes)
    aws.put_secret("app/db", value)


def test_empty_name_host_port_are_filled_from_the_secret_once(aws):
    _rds_secret(aws)
    wrapper = base.DatabaseWrapper(_settings(NAME="", HOST="", PORT=""), "default")
    assert (wrapper.settings_dict["NAME"], wrapper.settings_dict["HOST"]) == ("shop", "db.internal")
    assert wrapper.settings_dict["PORT"] == 5433
    # Only the login comes from the secret at each connection; where to connect is
    # settings_dict's (the test database name Django writes there included).
    assert wrapper.login_params(wrapper.awsrefs_credentials.current()).keys() == {
        "user",
        "password",
    }


def test_settings_win_over_the_secret(aws):
    _rds_secret(aws)
    wrapper = base.DatabaseWrapper(_settings(NAME="reports", HOST="proxy.internal"), "default")
    settings_dict = wrapper.settings_dict
    assert (settings_dict["NAME"], settings_dict["HOST"], settings_dict["PORT"]) == (
        "reports",
        "proxy.internal",
        5432,
    )


def test_maintenance_connection_keeps_no_database(aws):
    # Django's _nodb_cursor() copies settings_dict with NAME None: the server's default
    # database ('postgres'), never the secret's dbname.
    _rds_secret(aws)
    wrapper = base.DatabaseWrapper(_settings(NAME="", HOST="", PORT=""), "default")
    nodb = base.DatabaseWrapper({**wrapper.settings_dict, "NAME": None}, "__no_db__")
    assert nodb.settings_dict["NAME"] is None
    assert nodb.settings_dict["HOST"] == "db.internal"


def test_unreadable_secret_is_reported_with_the_alias(aws):
    options = {"secret": "secretsmanager:app/never-created"}
    with pytest.raises(ImproperlyConfigured, match=r"DATABASES\['default'\]: NAME, HOST, PORT"):
        base.DatabaseWrapper(_settings(NAME="", HOST="", PORT="", OPTIONS=options), "default")
