"""The FastAPI example, served by TestClient with its settings resolved from moto."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import awsrefs

SENTRY_KEY = "f00dfeed-sentry-Kx71"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fastapi_app.py"


@pytest.fixture
def example(aws, monkeypatch, tmp_path):
    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    awsrefs.set_default_resolver(resolver)
    monkeypatch.chdir(tmp_path)  # the app reads ./.env
    spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    try:
        yield module, resolver
    finally:
        awsrefs.set_default_resolver(None)
        resolver.close()


def _seed(aws, canary):
    aws.put_parameter("/shop/prod/db-host", "db.prod.internal")
    aws.put_parameter("/shop/prod/sentry-key", SENTRY_KEY, type="SecureString")
    aws.put_secret("shop/prod/db", {"username": "shop", "password": canary, "port": 5432})
    aws.put_secret("shop/prod/stripe", {"secret_key": "sk_live_Lq83hd"})


def test_health_endpoint_with_references_resolved(aws, example, canary):
    module, resolver = example
    _seed(aws, canary)

    with TestClient(module.app) as client:
        response = client.get("/health")
        again = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "app": "shop",
        "database": "postgresql://shop@db.prod.internal:5432/shop",
        "payments": "configured",
        "sentry_host": "o1.ingest.example.io",
        "feature_flags": [],
    }
    assert again.json() == response.json()
    settings = module.get_settings()
    assert settings.database.password.get_secret_value() == canary
    assert settings.sentry_dsn.get_secret_value() == f"https://{SENTRY_KEY}@o1.ingest.example.io/42"
    shown = repr(settings)
    assert canary not in shown
    assert SENTRY_KEY not in shown
    assert "sentry_dsn=<hidden>" in shown
    assert "app_name='shop'" in shown
    # 3 parameters in one GetParameters, 2 secrets in one BatchGetSecretValue; once.
    assert resolver.stats.calls == {
        "ssm:GetParameters": 1,
        "secretsmanager:BatchGetSecretValue": 1,
    }


def test_env_file_points_a_field_elsewhere(aws, example, canary, tmp_path):
    module, _ = example
    _seed(aws, canary)
    aws.put_parameter("/shop/staging/db-host", "db.staging.internal")
    aws.put_parameter("/shop/prod/feature-flags", "beta,dark-mode")
    (tmp_path / ".env").write_text("SHOP_DATABASE__HOST=ssm:/shop/staging/db-host\n")

    with TestClient(module.app) as client:
        body = client.get("/health").json()

    assert body["database"] == "postgresql://shop@db.staging.internal:5432/shop"
    assert body["feature_flags"] == ["beta", "dark-mode"]
