"""ReferenceExceptionReporterFilter on the settings shapes users write, resolved through moto."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.support.canary import assert_no_secrets

# A settings module's namespace: resolved by resolve_settings, then handed to Django.
CHILD = r"""
import json, os, sys
import django
from django.conf import settings
import awsrefs
from awsrefs_django import resolve_settings

ns = {
    "SECRET_KEY": "secretsmanager:app/django:secret_key",
    "DEBUG": False,
    "CACHES": {"default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "redis://:${secretsmanager:app/redis:token}@h:6379",
        "OPTIONS": {"retry": 3},
    }},
    "ALLOWED_HOSTS": ["ssm:/app/host", "localhost"],
    "ADMINS": (("ops", "ssm:/app/admin-mail"), ("dev", "dev@example.com")),
    "FEATURES": {
        "flag": "optional:ssm:/app/missing", "token": "ssm:/app/feature-token", "on": True
    },
    "ENDPOINTS": ["optional:ssm:/app/missing", "ssm:/app/endpoint", "https://plain.example"],
    "TAGS": {"ssm:/app/tag"},
    "PLAIN": {"level": ["a", ("b", "c")]},
}
resolver = awsrefs.Resolver(region_name="us-east-1", endpoint_url=os.environ["ENDPOINT"])
resolve_settings(ns, resolver=resolver)
settings.configure(**ns)
django.setup()
from awsrefs_django.debug import ReferenceExceptionReporterFilter
safe = ReferenceExceptionReporterFilter().get_safe_settings()
print(repr({k: safe[k] for k in
    ("SECRET_KEY", "CACHES", "ALLOWED_HOSTS", "ADMINS", "FEATURES", "ENDPOINTS", "TAGS", "PLAIN")}))
"""

MASK = "********************"


def test_every_value_from_a_reference_is_masked_and_the_rest_is_shown(aws, canary):
    aws.put_secret("app/django", {"secret_key": canary + "-key"})
    aws.put_secret("app/redis", {"token": canary + "-token"})
    for name in ("host", "admin-mail", "feature-token", "endpoint", "tag"):
        aws.put_parameter(f"/app/{name}", f"{canary}-{name}")
    env = {
        **os.environ,
        "ENDPOINT": aws.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_no_secrets(result.stdout + result.stderr, "safe settings")
    assert canary not in result.stdout
    safe = ast.literal_eval(result.stdout.strip().splitlines()[-1])

    assert safe["SECRET_KEY"] == MASK  # Django masks it by name; so would we
    cache = safe["CACHES"]["default"]
    assert cache["LOCATION"] == MASK  # a template: Django shows it, the filter masks it
    assert cache["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert cache["OPTIONS"] == {"retry": 3}
    assert safe["ALLOWED_HOSTS"] == [MASK, "localhost"]
    assert safe["ADMINS"] == (("ops", MASK), ("dev", "dev@example.com"))
    # The missing optional key is gone; the others keep their places.
    assert safe["FEATURES"] == {"token": MASK, "on": True}
    # A dropped optional item moved the positions: the whole list is hidden.
    assert safe["ENDPOINTS"] == MASK
    assert safe["TAGS"] == MASK  # a set has no positions
    assert safe["PLAIN"] == {"level": ["a", ("b", "c")]}
