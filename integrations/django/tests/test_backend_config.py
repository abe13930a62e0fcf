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
        "HOST": "",
        "PORT": "",
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


def test_settings_dict_is_the_connections_own_copy():
    from django.conf import settings

    settings_dict = _settings()
    wrapper = base.DatabaseWrapper(settings_dict, "default")
    assert not settings.configured  # nothing here configures Django for the whole test run
    assert wrapper.settings_dict is not settings_dict
    assert wrapper.settings_dict["OPTIONS"] is not settings_dict["OPTIONS"]
    assert wrapper.awsrefs_credentials.secret.secret_id == "app/db"
