"""Values that came from a reference never show in the settings' repr() or str()."""

from __future__ import annotations

import logging

import pytest
from awsrefs_pydantic import (
    AwsRefsSettings,
    SecretJsonSettingsSource,
    SSMPathSettingsSource,
    awsrefs_sources,
)
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

SECURE = "pw-SecureString-Kq83-canary-ssm"
SECRET = "tok-SecretsManager-Vb27-canary-sm"
PORT = 7391846  # a JSON number in the secret, shown nowhere


@pytest.fixture
def seeded(aws, canary):
    aws.put_parameter("/app/api-key", SECURE, type="SecureString")  # registered as a canary
    aws.put_parameter("/app/region", "eu-west-1")
    aws.put_secret("app/main", {"token": SECRET, "port": PORT, "password": canary})
    return canary


class Database(BaseModel):
    host: str = "localhost"
    password: str = "secretsmanager:app/main:password"


def _shown(settings) -> list[str]:
    text = [repr(settings), str(settings), f"{settings}", f"{settings!r}"]
    print(*text, sep="\n")  # the canary check reads captured output too
    return text


def _init_then(resolver, make_source):
    """A ``settings_customise_sources``: init kwargs, then ``make_source(settings_cls)``."""

    def customise(cls, settings_cls, init_settings, **_):
        source = make_source(settings_cls)
        return awsrefs_sources(settings_cls, init_settings, source, resolver=resolver)

    return classmethod(customise)


def test_referenced_values_are_hidden_whatever_the_field_type(resolver, seeded, monkeypatch):
    canary = seeded
    monkeypatch.setenv("MSK_API_KEY", "ssm:/app/api-key")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="MSK_")
        awsrefs_resolver = resolver
        name: str = "orders"
        api_key: str  # a SecureString, through the environment
        token: str = "secretsmanager:app/main:token"
        port: int = "secretsmanager:app/main:port"  # a JSON key: an int
        database: Database = Database()  # password from a secret, host plain
        dsn: str = "https://${secretsmanager:app/main:token}@o1.example.io/42"  # a template
        region: str = "ssm:/app/region"

    settings = Settings(region="us-west-2")  # a plain init kwarg beats the reference default

    # The attributes hold the real values.
    assert settings.api_key == SECURE
    assert settings.token == SECRET
    assert settings.port == PORT
    assert settings.database.password == canary
    assert settings.dsn == f"https://{SECRET}@o1.example.io/42"
    for text in _shown(settings):
        for value in (SECURE, SECRET, str(PORT), canary):
            assert value not in text
        assert "name='orders'" in text
        assert "region='us-west-2'" in text
        for field in ("api_key", "token", "port", "dsn"):
            assert f"{field}=<hidden>" in text
        assert "database=Database(host='localhost', password=<hidden>)" in text
    # rich (and devtools) read the same pairs as repr().
    rich_view = repr(list(settings.__rich_repr__()))
    assert "('token', <hidden>)" in rich_view
    assert SECRET not in rich_view
    # Asking for the data is asking for the values: model_dump() returns them.
    dumped = settings.model_dump()
    assert dumped["token"] == SECRET
    assert dumped["database"]["password"] == canary


def test_values_from_a_json_secret_source_are_hidden(resolver, seeded):
    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        token: str = "unset"
        port: int = 1
        name: str = "orders"

        settings_customise_sources = _init_then(
            resolver, lambda cls: SecretJsonSettingsSource(cls, "app/main")
        )

    settings = Settings()

    assert (settings.token, settings.port) == (SECRET, PORT)
    for text in _shown(settings):
        assert "token=<hidden>" in text
        assert "port=<hidden>" in text
        assert "name='orders'" in text
        assert SECRET not in text


def test_values_listed_under_an_ssm_path_are_hidden(aws, resolver, seeded):
    aws.put_parameter("/svc/prod/api_key", SECURE, type="SecureString")
    aws.put_parameter("/svc/prod/database/host", "db.internal")  # a String: hidden too

    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        api_key: str
        database: Database  # host from the path, password from its default's reference
        name: str = "orders"

        settings_customise_sources = _init_then(
            resolver, lambda cls: SSMPathSettingsSource(cls, "/svc/prod")
        )

    settings = Settings()

    assert (settings.api_key, settings.database.host) == (SECURE, "db.internal")
    assert settings.database.password == seeded
    for text in _shown(settings):
        assert "api_key=<hidden>" in text
        assert "database=Database(host=<hidden>, password=<hidden>)" in text
        assert "name='orders'" in text
        assert SECURE not in text


def test_sources_wrapped_in_two_passes_are_both_hidden(resolver, seeded, monkeypatch):
    monkeypatch.setenv("TWO_TOKEN", "secretsmanager:app/main:token")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="TWO_")
        token: str
        api_key: str
        name: str = "orders"

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, **_):
            return (
                *awsrefs_sources(settings_cls, init_settings, resolver=resolver, defaults=False),
                *awsrefs_sources(settings_cls, env_settings, resolver=resolver),
            )

    settings = Settings(api_key="ssm:/app/api-key")

    assert (settings.token, settings.api_key) == (SECRET, SECURE)
    for text in _shown(settings):
        assert "token=<hidden>" in text
        assert "api_key=<hidden>" in text
        assert "name='orders'" in text


def test_a_plain_value_overriding_a_reference_is_shown(resolver, seeded, monkeypatch):
    monkeypatch.setenv("OVR_DATABASE__PASSWORD", "plain-env-password")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="OVR_", env_nested_delimiter="__")
        awsrefs_resolver = resolver
        database: Database = Database()

    settings = Settings()

    assert settings.database.password == "plain-env-password"
    assert "database=Database(host='localhost', password='plain-env-password')" in repr(settings)


def test_pydantic_settings_debug_log_hides_referenced_values(resolver, seeded, monkeypatch, caplog):
    canary = seeded
    monkeypatch.setenv("PYDANTIC_SETTINGS_DEBUG", "1")
    monkeypatch.setenv("DBG_API_KEY", "ssm:/app/api-key")
    caplog.set_level(logging.DEBUG, logger="pydantic_settings")  # botocore logs bodies

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="DBG_")
        awsrefs_resolver = resolver
        api_key: SecretStr
        password: SecretStr = "secretsmanager:app/main:password"

    settings = Settings()

    assert settings.password.get_secret_value() == canary
    # Releases that log each source's data (2.15+) log it masked; older ones log nothing.
    for value in (SECURE, canary):
        assert value not in caplog.text
    if "Resolving settings" in caplog.text:
        assert "'api_key': <hidden>" in caplog.text
