"""Whole-prefix sources: every SSM parameter under a path, every key of a JSON secret."""

from __future__ import annotations

import pytest
from awsrefs_pydantic import SecretJsonSettingsSource, SSMPathSettingsSource, awsrefs_sources
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

import awsrefs


class Database(BaseModel):
    host: str = "localhost"
    password: SecretStr = SecretStr("unset")


def _with_sources(resolver, path="/myapp/prod/", secret_id="app/main", **secret_options):
    class Settings(BaseSettings):
        db_host: str
        port: int
        database: Database = Database()
        api_token: SecretStr
        db_user: str = "ssm:/not/set/anywhere"  # overridden by the JSON secret
        max_conn: int = 5
        features: dict[str, bool] = {}
        admin_email: str = "secretsmanager:app/main:admin_email"

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return awsrefs_sources(
                settings_cls,
                init_settings,
                env_settings,
                SSMPathSettingsSource(settings_cls, path, resolver=resolver),
                SecretJsonSettingsSource(
                    settings_cls, secret_id, resolver=resolver, **secret_options
                ),
                resolver=resolver,
            )

    return Settings


def _seed(aws):
    aws.put_parameter("/myapp/prod/db_host", "db.internal")
    aws.put_parameter("/myapp/prod/port", "6432")
    aws.put_parameter("/myapp/prod/database/password", "pw-path-Hq82", type="SecureString")
    aws.put_parameter("/myapp/prod/api_token", "secretsmanager:app/api:token")  # a pointer
    for i in range(12):  # not fields: ignored, but listed (16 parameters: 2 pages)
        aws.put_parameter(f"/myapp/prod/other/p{i}", "x")
    aws.put_parameter("/myapp/staging/db_host", "not this one")
    aws.put_secret("app/api", {"token": "tok-Zx81-api"})
    aws.put_secret(
        "app/main",
        {"db_user": "app", "max_conn": 20, "features": {"beta": True}, "admin_email": "a@x.io"},
    )


def test_path_and_json_secret_sources_in_one_pass(aws, resolver):
    _seed(aws)

    settings = _with_sources(resolver)()

    assert settings.db_host == "db.internal"
    assert settings.port == 6432
    assert settings.database.password.get_secret_value() == "pw-path-Hq82"
    assert settings.database.host == "localhost"
    assert settings.api_token.get_secret_value() == "tok-Zx81-api"
    assert settings.db_user == "app"
    assert settings.max_conn == 20
    assert settings.features == {"beta": True}
    assert settings.admin_email == "a@x.io"
    assert resolver.stats.calls == {
        "ssm:GetParametersByPath": 2,  # 16 parameters, 10 per page
        # Both secrets (the JSON source's and the path's pointer) in one batch; the default
        # naming a key of app/main shares that fetch.
        "secretsmanager:BatchGetSecretValue": 1,
        # The db_user default was fetched before the JSON secret showed it was not needed.
        "ssm:GetParameters": 1,
    }


def test_failures_of_both_sources_in_one_error(aws, resolver):
    aws.put_parameter("/myapp/prod/port", "6432")

    with pytest.raises(SettingsError) as caught:
        _with_sources(resolver, path="/myapp/prod", secret_id="app/absent")()

    text = str(caught.value)
    assert "(whole source) (from SecretJsonSettingsSource): secretsmanager:app/absent" in text
    assert "admin_email (from field defaults)" in text


def test_optional_json_secret_and_standalone_sources(aws, resolver):
    aws.put_parameter("/svc/name", "orders")
    aws.put_secret("svc/conf", {"name": "from-secret", "workers": 4})

    class Settings(BaseSettings):
        name: str = "default"
        workers: int = 1

    path_source = SSMPathSettingsSource(Settings, "/svc", resolver=resolver)
    assert repr(path_source) == "SSMPathSettingsSource(path='/svc')"
    assert path_source() == {"name": "orders"}
    secret_source = SecretJsonSettingsSource(Settings, "svc/conf", resolver=resolver)
    assert secret_source() == {"name": "from-secret", "workers": 4}
    missing = SecretJsonSettingsSource(Settings, "svc/none", optional=True, resolver=resolver)
    assert missing() == {}
    with pytest.raises(SettingsError, match="svc/none"):
        SecretJsonSettingsSource(Settings, "svc/none", resolver=resolver)()


def test_a_secret_that_is_not_a_json_object(aws, resolver):
    aws.put_secret("svc/plain", "just-text-Kd81")

    class Settings(BaseSettings):
        name: str = "default"

    with pytest.raises(SettingsError, match="not a JSON object") as caught:
        SecretJsonSettingsSource(Settings, "svc/plain", resolver=resolver)()
    assert "just-text-Kd81" not in str(caught.value)


def test_listing_denied_is_reported_with_the_rest(aws, iam_session, request):
    aws.put_parameter("/myapp/prod/db_host", "db.internal")
    aws.put_secret("app/main", {"db_user": "app"})
    session = iam_session(["secretsmanager:GetSecretValue"])
    request.getfixturevalue("enforced_iam")
    resolver = awsrefs.Resolver(
        session=session, endpoint_url=aws.endpoint_url, region_name=aws.region, max_attempts=1
    )

    with pytest.raises(SettingsError) as caught:
        _with_sources(resolver)()

    failures = dict(zip(caught.value.sources, caught.value.failures, strict=True))
    listing = failures["SSMPathSettingsSource"]
    assert listing.reference == "ssm:/myapp/prod/"
    assert listing.kind is awsrefs.FailureKind.ACCESS_DENIED
    assert "ssm:GetParametersByPath" in listing.reason


def test_static_values_serve_every_source_without_aws(awsrefs_values):
    awsrefs_values.set("ssm:/myapp/prod/db_host", "localhost")
    awsrefs_values.set("ssm:/myapp/prod/port", "5433")
    awsrefs_values.set("ssm:/myapp/prod/api_token", "secretsmanager:app/api:token")
    awsrefs_values.set("secretsmanager:app/api", {"token": "static-token"})
    awsrefs_values.set("secretsmanager:app/main", {"db_user": "u", "admin_email": "e@x"})

    settings = _with_sources(awsrefs.Resolver(region_name="us-east-1"))()

    assert (settings.db_host, settings.port, settings.db_user) == ("localhost", 5433, "u")
    assert settings.api_token.get_secret_value() == "static-token"
    assert awsrefs_values.stats.calls["ssm:GetParametersByPath"] == 1
