"""Only what pydantic-settings will use is resolved: extras it ignores and values it replaces
are never fetched and never fail (moto over HTTP)."""

from __future__ import annotations

import pytest
from awsrefs_pydantic import AwsRefsSettings, AwsRefsSettingsError
from pydantic import BaseModel, RootModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from awsrefs import ResolutionError


class Database(BaseModel):  # extra="ignore", as every BaseModel by default
    host: str = "localhost"
    password: SecretStr = SecretStr("unset")


@pytest.fixture
def seeded(aws):
    aws.put_secret("app/db", {"host": "db.internal", "password": "pw-Ux71-app-db"})
    # Another team's parameter, readable here: it must still not be read.
    aws.put_parameter("/other-team/token", "tok-other-team-Zp41", type="SecureString")


def test_extras_pydantic_settings_ignores_are_not_resolved(resolver, seeded, tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "APP_DATABASE__HOST=secretsmanager:app/db:host\n"
        "APP_UNRELATED=ssm:/other-team/does-not-exist\n"  # prefixed, not a field
        "OTHER_TEAM_TOKEN=ssm:/other-team/token\n"  # not prefixed, exists
        "OTHER_TEAM_MISSING=ssm:/other-team/does-not-exist\n"
    )
    monkeypatch.setenv("APP_DATABASE__PASSWORD", "secretsmanager:app/db:password")
    # Unrelated environment variables, one under the nested model's prefix.
    monkeypatch.setenv("APP_DATABASE__REPLICA", "ssm:/other-team/does-not-exist")
    monkeypatch.setenv("OTHER_TEAM_URL", "ssm:/other-team/token")
    monkeypatch.setenv("APP_OTHER_TEAM", "ssm:/other-team/does-not-exist")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(
            env_prefix="APP_", env_nested_delimiter="__", env_file=env_file, extra="ignore"
        )
        awsrefs_resolver = resolver
        database: Database
        name: str = "orders"

    settings = Settings(unrelated_kwarg="ssm:/other-team/does-not-exist")

    assert settings.database.host == "db.internal"
    assert settings.database.password.get_secret_value() == "pw-Ux71-app-db"
    # The one secret; no parameter was read at all.
    assert resolver.stats.calls == {"secretsmanager:GetSecretValue": 1}


def test_a_value_a_higher_priority_source_replaces_is_not_resolved(
    resolver, seeded, tmp_path, monkeypatch
):
    env_file = tmp_path / ".env"
    # The developer's .env names parameters that do not exist where the environment wins.
    env_file.write_text(
        "RPL_DATABASE__HOST=ssm:/dev/db-host\n"
        "RPL_DATABASE__PASSWORD=ssm:/dev/db-password\n"
        "RPL_NAME=ssm:/other-team/token\n"
        "RPL_REGION=ssm:/dev/region\n"
    )
    monkeypatch.setenv("RPL_DATABASE__HOST", "secretsmanager:app/db:host")
    monkeypatch.setenv("RPL_DATABASE__PASSWORD", "secretsmanager:app/db:password")
    monkeypatch.setenv("RPL_REGION", "optional:ssm:/app/region")  # missing: the .env applies

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(
            env_prefix="RPL_", env_nested_delimiter="__", env_file=env_file
        )
        awsrefs_resolver = resolver
        database: Database
        name: str
        region: str = "us-east-1"

    with pytest.raises(AwsRefsSettingsError) as caught:  # the .env's region: used, resolved
        Settings(name="orders")
    assert caught.value.failures[0].reference == "ssm:/dev/region"
    assert "/dev/db-" not in str(caught.value)

    resolver.stats.reset()
    monkeypatch.setenv("RPL_REGION", "eu-west-1")
    settings = Settings(name="orders")

    assert settings.name == "orders"
    assert (settings.database.host, settings.region) == ("db.internal", "eu-west-1")
    assert "ssm:GetParameters" not in resolver.stats.calls  # no parameter was read


def test_extras_are_resolved_where_the_settings_keep_them(resolver, seeded, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("ALW_TEAM_TOKEN=ssm:/other-team/token\n")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="ALW_", env_file=env_file, extra="allow")
        awsrefs_resolver = resolver
        name: str = "orders"

    settings = Settings()

    # Keyed "team_token" (2.4 keeps the prefix: "alw_team_token").
    assert list((settings.model_extra or {}).values()) == ["tok-other-team-Zp41"]
    assert "tok-other-team-Zp41" not in repr(settings)
    env_file.write_text("ALW_TEAM_TOKEN=ssm:/other-team/does-not-exist\n")
    with pytest.raises(AwsRefsSettingsError, match="team_token") as caught:
        Settings()
    assert isinstance(caught.value.__cause__, ResolutionError)


def test_extras_refused_by_the_settings_are_refused_unresolved(resolver, seeded, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("FBD_NAME=orders\nFBD_TEAM_TOKEN=ssm:/other-team/token\n")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="FBD_", env_file=env_file, extra="forbid")
        awsrefs_resolver = resolver
        name: str

    with pytest.raises(ValidationError) as caught:  # pydantic's refusal, not a fetch
        Settings()

    (refused,) = caught.value.errors()
    assert refused["type"] == "extra_forbidden"
    assert refused["input"] == "ssm:/other-team/token"  # the reference, as text
    assert resolver.stats.calls == {}


class Replicas(RootModel[dict[str, str]]):  # every key of its mapping is used
    pass


def test_every_key_of_a_root_model_is_used(resolver, seeded, monkeypatch):
    monkeypatch.setenv("RTM_REPLICAS", '{"primary": "secretsmanager:app/db:host"}')

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="RTM_")
        awsrefs_resolver = resolver
        replicas: Replicas

    assert Settings().replicas.root == {"primary": "db.internal"}
