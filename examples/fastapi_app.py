"""A FastAPI service whose settings say where their values live.

Run it against AWS (or an emulator via ``AWS_ENDPOINT_URL``) with any ASGI server::

    AWS_REGION=eu-west-1 uvicorn examples.fastapi_app:app

Values can also come from the environment or a ``.env`` file, as references or as plain
values: ``SHOP_DATABASE__HOST=ssm:/shop/staging/db-host`` points one field elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from awsrefs_pydantic import AwsRefsSettings
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Database(BaseModel):
    host: str = Field("ssm:/shop/prod/db-host")
    port: int = Field("secretsmanager:shop/prod/db:port")  # a JSON number: stays an int
    name: str = "shop"
    username: str = Field("secretsmanager:shop/prod/db:username")
    password: SecretStr = Field("secretsmanager:shop/prod/db:password")


class Settings(AwsRefsSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOP_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    app_name: str = "shop"
    database: Database = Field(default_factory=Database)
    stripe_key: SecretStr = Field("secretsmanager:shop/prod/stripe:secret_key")
    # A template with a key in it: a secret too. Every value that came from a reference
    # shows as <hidden> in repr(settings); SecretStr hides it wherever it goes on its own.
    sentry_dsn: SecretStr = Field(
        "https://${url:ssm:/shop/prod/sentry-key}@o1.ingest.example.io/42"
    )
    # A missing optional parameter leaves the field unset (None): no feature flags.
    feature_flags: str | None = "optional:ssm:/shop/prod/feature-flags"


@lru_cache
def get_settings() -> Settings:
    # Built once per process: every reference above is fetched in one batched pass.
    return Settings()


app = FastAPI(title="shop")


@app.get("/health")
def health(settings: Annotated[Settings, Depends(get_settings)]) -> dict[str, Any]:
    db = settings.database
    return {
        "app": settings.app_name,
        "database": f"postgresql://{db.username}@{db.host}:{db.port}/{db.name}",
        "payments": "configured" if settings.stripe_key.get_secret_value() else "missing",
        "sentry_host": settings.sentry_dsn.get_secret_value().split("@", 1)[1].split("/", 1)[0],
        "feature_flags": (settings.feature_flags or "").split(",")
        if settings.feature_flags
        else [],
    }
