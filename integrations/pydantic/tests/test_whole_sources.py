"""Whole-prefix sources: every SSM parameter under a path, every key of a JSON secret."""

from __future__ import annotations

import traceback

import pytest
from awsrefs_pydantic import (
    AwsRefsSettings,
    SecretJsonSettingsSource,
    SSMPathSettingsSource,
    awsrefs_sources,
)
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsError

import awsrefs
from tests.support.canary import CANARY, assert_no_secrets, assert_no_secrets_in_frames


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
    # Looks like a reference, but a value from AWS is data: it is kept as it is.
    aws.put_parameter("/myapp/prod/api_token", "secretsmanager:app/api:token")
    for i in range(12):  # not fields: ignored, but listed (16 parameters: 2 pages)
        aws.put_parameter(f"/myapp/prod/other/p{i}", "x")
    aws.put_parameter("/myapp/staging/db_host", "not this one")
    aws.put_secret("app/api", {"token": "tok-Zx81-api"})  # never fetched: named by data only
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
    assert settings.api_token.get_secret_value() == "secretsmanager:app/api:token"
    assert settings.db_user == "app"
    assert settings.max_conn == 20
    assert settings.features == {"beta": True}
    assert settings.admin_email == "a@x.io"
    assert resolver.stats.calls == {
        "ssm:GetParametersByPath": 2,  # 16 parameters, 10 per page
        # The JSON source's secret; the default naming a key of app/main shares that fetch.
        "secretsmanager:GetSecretValue": 1,
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
    awsrefs_values.set("secretsmanager:app/main", {"db_user": "u", "admin_email": "e@x"})

    settings = _with_sources(awsrefs.Resolver(region_name="us-east-1"))()

    assert (settings.db_host, settings.port, settings.db_user) == ("localhost", 5433, "u")
    assert settings.api_token.get_secret_value() == "secretsmanager:app/api:token"
    assert awsrefs_values.stats.calls["ssm:GetParametersByPath"] == 1


@pytest.fixture
def listed_data(aws):
    """Path values that look like references; the canary is kept out of the tests' locals."""
    aws.put_parameter("/svc/data/commit_message", "ssm: bump deps")
    aws.put_parameter("/svc/data/pointer", "secretsmanager:" + CANARY)
    aws.put_parameter("/svc/data/template", "${ssm:/x}" + CANARY)
    aws.put_parameter("/svc/data/port", "${ssm:/x}" + CANARY)


def _path_settings(resolver, port_type):
    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        commit_message: str
        pointer: str
        template: str
        port: port_type = 0

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
                SSMPathSettingsSource(settings_cls, "/svc/data", resolver=resolver),
                resolver=resolver,
            )

    return Settings


def test_path_values_are_data_never_references(resolver, listed_data):
    settings = _path_settings(resolver, str)()

    assert settings.commit_message == "ssm: bump deps"
    assert settings.pointer == "secretsmanager:" + CANARY
    assert settings.template == settings.port == "${ssm:/x}" + CANARY
    assert resolver.stats.calls == {"ssm:GetParametersByPath": 1}  # nothing fetched after
    assert_no_secrets(repr(settings), "repr(settings)")  # hidden like any fetched value


def test_a_path_value_failing_validation_shows_nowhere(resolver, listed_data):
    try:
        _path_settings(resolver, int)()
    except ValidationError as caught:
        error = caught
    else:
        raise AssertionError("no ValidationError")

    assert [(e["loc"], e["input"]) for e in error.errors()] == [(("port",), "<hidden>")]
    for what, text in {
        "str()": str(error),
        "errors()": repr(error.errors(include_input=True, include_context=True)),
        "json()": error.json(),
        "traceback with capture_locals": "".join(
            traceback.TracebackException.from_exception(error, capture_locals=True).format()
        ),
    }.items():
        assert_no_secrets(text, what)
    assert_no_secrets_in_frames(error)
    assert resolver.stats.calls == {"ssm:GetParametersByPath": 1}
