"""pydantic-settings sources resolved through awsrefs, against moto over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from awsrefs_pydantic import (
    AwsRefsSettings,
    AwsRefsSettingsError,
    AwsRefsSettingsSource,
    awsrefs_sources,
)
from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    Json,
    SecretBytes,
    SecretStr,
    ValidationError,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

import awsrefs


def _settings_class(resolver, fields: dict[str, tuple[Any, Any]], **config: Any) -> type:
    """A settings class with ``fields`` ({name: (annotation, default)}) using ``resolver``."""
    namespace: dict[str, Any] = {
        "__annotations__": {name: ann for name, (ann, _) in fields.items()},
        "model_config": SettingsConfigDict(**config),
        "awsrefs_resolver": resolver,
    }
    namespace.update({name: default for name, (_, default) in fields.items()})
    return type("AppSettings", (AwsRefsSettings,), namespace)


# -- one batched pass ------------------------------------------------------------------------


def test_thirty_references_from_env_dotenv_and_defaults_take_three_calls(
    aws, resolver, tmp_path, monkeypatch
):
    # 12 parameters (GetParameters takes 10 names: 2 calls) and 18 keys of 3 JSON secrets
    # (BatchGetSecretValue: 1 call). 10 references each in env, .env and field defaults.
    for i in range(12):
        aws.put_parameter(
            f"/app/p{i:02d}", f"param-{i}", type="SecureString" if i % 3 else "String"
        )
    secrets = {
        name: {f"k{j}": (5400 + j if j % 2 else f"{name}-value-{j}") for j in range(6)}
        for name in ("app/db", "app/api", "app/cache")
    }
    for name, value in secrets.items():
        aws.put_secret(name, value)
    refs = [f"ssm:/app/p{i:02d}" for i in range(12)] + [
        f"secretsmanager:{name}:k{j}" for name in secrets for j in range(6)
    ]
    fields: dict[str, tuple[Any, Any]] = {}
    dotenv_lines = []
    for n, ref in enumerate(refs):
        is_int = ref.startswith("secretsmanager:") and int(ref[-1]) % 2 == 1
        annotation = int if is_int else (SecretStr if n % 4 == 0 else str)
        if n % 3 == 0:
            monkeypatch.setenv(f"T30_F{n:02d}", ref)
            fields[f"f{n:02d}"] = (annotation, None)
        elif n % 3 == 1:
            dotenv_lines.append(f"T30_F{n:02d}={ref}")
            fields[f"f{n:02d}"] = (annotation, None)
        else:
            fields[f"f{n:02d}"] = (annotation, ref)
    dotenv = tmp_path / ".env"
    dotenv.write_text("\n".join(dotenv_lines) + "\n")
    settings_cls = _settings_class(resolver, fields, env_prefix="T30_", env_file=dotenv)

    settings = settings_cls()

    assert resolver.stats.calls == {
        "ssm:GetParameters": 2,
        "secretsmanager:BatchGetSecretValue": 1,
    }
    for n, ref in enumerate(refs):
        value = getattr(settings, f"f{n:02d}")
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if ref.startswith("ssm:"):
            assert value == f"param-{int(ref[-2:])}"
        else:
            _, name, key = ref.split(":")
            assert value == secrets[name][key]
            assert type(value) is type(secrets[name][key])  # 5401 stays an int
    # Built again within the TTL: everything comes from the cache.
    resolver.stats.reset()
    settings_cls()
    assert resolver.stats.total_calls == 0


def test_a_default_overridden_by_a_source_is_never_fetched(aws, resolver, monkeypatch):
    aws.put_parameter("/app/host", "from-ssm")
    monkeypatch.setenv("OVR_DB_PASSWORD", "plain-from-env")
    settings_cls = _settings_class(
        resolver,
        {
            "host": (str, "ssm:/app/host"),
            "db_password": (SecretStr, "secretsmanager:app/does-not-exist:password"),
        },
        env_prefix="OVR_",
    )

    settings = settings_cls()

    assert settings.db_password.get_secret_value() == "plain-from-env"
    assert settings.host == "from-ssm"
    assert resolver.stats.calls == {"ssm:GetParameters": 1}


# -- every pydantic-settings source ----------------------------------------------------------


class Database(BaseModel):
    host: str = "localhost"
    port: int = 5432
    password: SecretStr = SecretStr("unset")


def test_init_env_dotenv_and_secrets_dir_sources(aws, resolver, tmp_path, monkeypatch):
    aws.put_secret("app/db", {"host": "db.internal", "port": 6432, "password": "pw-9c2Lx-db"})
    aws.put_parameter("/app/api-key", "ak-Lq93-zz", type="SecureString")
    aws.put_parameter("/app/region", "eu-west-1")
    aws.put_parameter("/app/name", "orders")
    monkeypatch.setenv("SRC_DATABASE__HOST", "secretsmanager:app/db:host")
    monkeypatch.setenv("SRC_DATABASE__PORT", "secretsmanager:app/db:port")
    (tmp_path / ".env").write_text("SRC_API_KEY=ssm:/app/api-key\n")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "SRC_DATABASE").write_text('{"password": "secretsmanager:app/db:password"}')

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(
            env_prefix="SRC_",
            env_nested_delimiter="__",
            env_file=tmp_path / ".env",
            secrets_dir=secrets_dir,
        )
        awsrefs_resolver = resolver
        name: str = "unnamed"
        region: str
        api_key: SecretStr
        database: Database

    settings = Settings(region="ssm:/app/region", name="${ssm:/app/name}-service")

    assert settings.region == "eu-west-1"
    assert settings.name == "orders-service"
    assert settings.api_key.get_secret_value() == "ak-Lq93-zz"
    assert settings.database.host == "db.internal"
    assert settings.database.port == 6432
    assert settings.database.password.get_secret_value() == "pw-9c2Lx-db"
    assert "pw-9c2Lx-db" not in repr(settings)
    # One GetParameters for the three parameters, one GetSecretValue for the one secret.
    assert resolver.stats.calls == {
        "ssm:GetParameters": 1,
        "secretsmanager:GetSecretValue": 1,
    }


def test_field_types_aliases_lists_dicts_and_optional(aws, resolver, monkeypatch):
    aws.put_secret(
        "app/conf",
        {"limits": {"rps": 50, "burst": 80}, "ratio": 0.25, "flag": True, "tls": "tls-Pq7-key"},
    )
    aws.put_secret("app/blob", b"\x00\x01binary-k3y")
    aws.put_parameter("/app/limits-json", '{"rps": 10}')
    for name in ("a", "b", "c"):
        aws.put_parameter(f"/app/hosts/{name}", f"{name}.internal")
    monkeypatch.setenv("TYP_SERVICE_URL", "ssm:/app/hosts/a")
    monkeypatch.setenv("TYP_HOSTS", '["ssm:/app/hosts/b", "ssm:/app/hosts/c"]')
    monkeypatch.setenv("TYP_CACHE_TTL", "optional:ssm:/app/not-there")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="TYP_")
        awsrefs_resolver = resolver
        url: str = Field("unset", validation_alias=AliasChoices("TYP_SERVICE_URL", "url"))
        hosts: list[str] = []
        headers: dict[str, str] = {"x-tls": "secretsmanager:app/conf:tls"}
        limits: Json[dict[str, int]] = "secretsmanager:app/conf:limits"  # a JSON object
        limits_text: Json[dict[str, int]] = "ssm:/app/limits-json"  # JSON text
        ratio: float = "secretsmanager:app/conf:ratio"
        flag: bool = "secretsmanager:app/conf:flag"
        flag_text: str = "secretsmanager:app/conf:ratio"
        blob: SecretBytes = "secretsmanager:app/blob"
        cache_ttl: int = 300
        extra_header: str | None = "optional:secretsmanager:app/conf:missing-key"

    settings = Settings()

    assert settings.url == "a.internal"
    assert settings.hosts == ["b.internal", "c.internal"]
    assert settings.headers == {"x-tls": "tls-Pq7-key"}
    assert settings.limits == {"rps": 50, "burst": 80}
    assert settings.limits_text == {"rps": 10}
    assert settings.ratio == 0.25
    assert settings.flag is True
    assert settings.flag_text == "0.25"
    assert settings.blob.get_secret_value() == b"\x00\x01binary-k3y"
    assert settings.cache_ttl == 300  # the optional reference is missing: default applies
    assert settings.extra_header is None


def test_resolved_text_is_converted_by_the_field_type(aws, resolver, monkeypatch):
    aws.put_parameter("/app/debug", "False")  # text: truthy as a str, False as a bool
    aws.put_parameter("/app/verbose", "off")
    aws.put_parameter("/app/ratio", "0.25")
    aws.put_secret("app/flags", {"enabled": True, "label": "False"})  # JSON types kept
    monkeypatch.setenv("CNV_VERBOSE", "ssm:/app/verbose")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="CNV_")
        awsrefs_resolver = resolver
        debug: bool = "ssm:/app/debug"
        debug_text: str = "ssm:/app/debug"
        verbose: bool | None = None
        ratio: float = "ssm:/app/ratio"
        enabled: bool = "secretsmanager:app/flags:enabled"
        label: bool = "secretsmanager:app/flags:label"
        untyped: Any = "ssm:/app/debug"

    settings = Settings()

    assert settings.debug is False
    assert settings.debug_text == "False"
    assert settings.verbose is False
    assert settings.ratio == 0.25
    assert settings.enabled is True
    assert settings.label is False
    assert settings.untyped == "False"  # no type, no conversion: the text as it is


def test_standalone_wrapper_and_custom_source_order(aws, resolver, monkeypatch):
    aws.put_parameter("/app/x", "from-ssm")
    monkeypatch.setenv("WRP_X", "ssm:/app/x")
    monkeypatch.setenv("WRP_Y", "plain")

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="WRP_")
        x: str
        y: str

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (AwsRefsSettingsSource(settings_cls, env_settings, resolver=resolver),)

    assert Settings().x == "from-ssm"
    wrapped = AwsRefsSettingsSource(Settings, object.__new__(type("Src", (), {})))
    assert repr(wrapped) == "AwsRefsSettingsSource(Src)"


def test_init_kwargs_never_show_in_the_wrapper_repr(resolver, canary):
    class Settings(BaseSettings):
        password: str

    init = InitSettingsSource(Settings, init_kwargs={"password": canary})
    assert canary in repr(init)  # pydantic-settings' own repr shows values
    for source in awsrefs_sources(Settings, init, resolver=resolver):
        assert canary not in repr(source)


# -- errors ----------------------------------------------------------------------------------


def test_every_bad_reference_in_one_settings_error_naming_the_fields(
    aws, resolver, tmp_path, monkeypatch, canary
):
    aws.put_secret("app/db", {"username": "app", "password": canary})
    aws.put_parameter("/app/host", "db.internal")
    monkeypatch.setenv("ERR_DATABASE__PASSWORD", "secretsmanager:app/db:pasword")  # typo
    (tmp_path / ".env").write_text("ERR_HOST=ssm:/app/hots\n")  # typo

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(
            env_prefix="ERR_", env_nested_delimiter="__", env_file=tmp_path / ".env"
        )
        awsrefs_resolver = resolver
        host: str
        port: int = "ssm:app port"  # malformed
        database: Database = Database()
        token: SecretStr = "secretsmanager:app/db:password"  # fine

    with pytest.raises(SettingsError) as caught:
        Settings()

    error = caught.value
    assert isinstance(error, AwsRefsSettingsError)
    assert isinstance(error.__cause__, awsrefs.ResolutionError)
    text = str(error)
    assert text.startswith("3 settings of Settings could not be resolved:")
    assert {(f.path, f.kind) for f in error.failures} == {
        ("database.password", awsrefs.FailureKind.NO_SUCH_KEY),
        ("host", awsrefs.FailureKind.NOT_FOUND),
        ("port", awsrefs.FailureKind.SYNTAX),
    }
    assert "database.password (from EnvSettingsSource): secretsmanager:app/db:pasword" in text
    assert "(it has 2 keys; their names are not shown" in text
    assert "username" not in text
    assert "host (from DotEnvSettingsSource): ssm:/app/hots: not found" in text
    assert "port (from field defaults): ssm:app ...: bad syntax" in text
    for shown in (text, repr(error), str(error.__cause__), repr(error.failures)):
        assert canary not in shown


def test_access_denied_names_the_field_and_the_permission(
    aws, iam_session, request, monkeypatch, canary
):
    aws.put_parameter("/app/host", "db.internal")
    aws.put_secret("app/db", {"password": canary})
    session = iam_session(["ssm:GetParameters"])  # no secretsmanager:GetSecretValue
    request.getfixturevalue("enforced_iam")
    resolver = awsrefs.Resolver(
        session=session, endpoint_url=aws.endpoint_url, region_name=aws.region, max_attempts=1
    )
    monkeypatch.setenv("IAM_DB_PASSWORD", "secretsmanager:app/db:password")

    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(env_prefix="IAM_")
        awsrefs_resolver = resolver
        host: str = "ssm:/app/host"
        db_password: SecretStr

    with pytest.raises(SettingsError) as caught:
        Settings()

    (failure,) = caught.value.failures
    assert failure.path == "db_password"
    assert failure.kind is awsrefs.FailureKind.ACCESS_DENIED
    assert "secretsmanager:GetSecretValue" in failure.reason
    assert "db_password (from EnvSettingsSource)" in str(caught.value)
    assert canary not in str(caught.value)


def test_a_secret_failing_validation_is_not_echoed(aws, resolver, canary):
    aws.put_secret("app/db", {"password": canary})

    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        port: int = "secretsmanager:app/db:password"  # wrong key: text in an int field

    with pytest.raises(ValidationError) as caught:
        Settings()

    assert "port" in str(caught.value)
    assert canary not in str(caught.value)
    assert caught.value.errors()[0]["input"] == "<hidden>"  # see test_validation_errors.py
