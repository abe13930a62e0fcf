"""The shared AWS fixture: moto over HTTP, the seeder, and the corrections of moto's gaps."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.secretsmanager.models import SecretsManagerBackend, secretsmanager_backends
from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends

from tests.support.aws import (
    BATCH_GET_SECRET_VALUE_MAX_IDS,
    DEFAULT_ACCOUNT_ID,
    AwsSeeder,
    MotoServer,
    moto_corrections,
    reset_moto,
)
from tests.support.canary import secret_values

OTHER_ACCOUNT = "111111111111"


def _rotate(aws: AwsSeeder, name: str) -> tuple[str, str]:
    """Seed a secret, add a pending version and promote it, as rotation does."""
    aws.put_secret(name, "pw-old-Zr81-current")
    old = next(v for v, s in aws.versions(name).items() if "AWSCURRENT" in s)
    new = aws.put_secret_value(name, "pw-new-Zr82-pending", stages=["AWSPENDING"])
    aws.move_stage(name, "AWSCURRENT", to_version=new)
    return old, new


# --- the server and the environment ---------------------------------------------------------


def test_server_listens_on_loopback_with_fake_credentials(moto_server: MotoServer) -> None:
    url = urllib.parse.urlsplit(moto_server.endpoint_url)
    assert url.hostname == "127.0.0.1"
    assert (url.port or 0) > 0
    assert moto_server.region == "us-east-1"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "AWS_PROFILE" not in os.environ
    credentials = boto3.session.Session().get_credentials()
    assert credentials is not None
    assert credentials.access_key == "testing"
    # A client built without endpoint_url reaches moto, not AWS.
    assert boto3.client("ssm").meta.endpoint_url == moto_server.endpoint_url


def test_moto_server_is_frozen(moto_server: MotoServer) -> None:
    with pytest.raises(AttributeError):
        moto_server.endpoint_url = "http://example.invalid"  # type: ignore[misc]


def test_reset_drops_everything_seeded(aws: AwsSeeder) -> None:
    aws.put_parameter("/reset/me", "value")
    aws.put_secret("reset/me", "a-secret-to-forget")
    aws.put_parameter("/reset/theirs", "value", account_id=OTHER_ACCOUNT, region="eu-west-1")
    reset_moto(aws.endpoint_url)
    with pytest.raises(ClientError):
        aws.client("ssm", "eu-west-1", account_id=OTHER_ACCOUNT).get_parameter(Name="/reset/theirs")
    with pytest.raises(ClientError) as missing_parameter:
        aws.client("ssm").get_parameter(Name="/reset/me")
    assert missing_parameter.value.response["Error"]["Code"] == "ParameterNotFound"
    with pytest.raises(ClientError) as missing_secret:
        aws.client("secretsmanager").get_secret_value(SecretId="reset/me")
    assert missing_secret.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --- seeding ---------------------------------------------------------------------------------


def test_put_parameter_versions_labels_and_secure_strings(aws: AwsSeeder) -> None:
    assert aws.put_parameter("/app/host", "db-1.internal") == 1
    assert aws.put_parameter("/app/host", "db-2.internal", labels=["prod"]) == 2
    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name="/app/host:prod")["Parameter"]["Value"] == "db-2.internal"
    assert ssm.get_parameter(Name="/app/host:1")["Parameter"]["Value"] == "db-1.internal"

    aws.put_parameter("/app/key", "ssm-secure-Lm93-value", type="SecureString")
    secure = ssm.get_parameter(Name="/app/key", WithDecryption=True)["Parameter"]
    assert (secure["Type"], secure["Value"]) == ("SecureString", "ssm-secure-Lm93-value")
    assert "ssm-secure-Lm93-value" in secret_values()
    assert "db-1.internal" not in secret_values()  # a plain String is not a secret

    aws.put_parameter("/eu/only", "eu-value", region="eu-west-1")
    eu = aws.client("ssm", "eu-west-1").get_parameter(Name="/eu/only")["Parameter"]
    assert eu["ARN"] == aws.parameter_arn("/eu/only", "eu-west-1")


def test_parameter_arn_format(aws: AwsSeeder) -> None:
    assert aws.parameter_arn("/a/b") == "arn:aws:ssm:us-east-1:123456789012:parameter/a/b"
    assert aws.parameter_arn("abc") == "arn:aws:ssm:us-east-1:123456789012:parameter/abc"
    assert aws.parameter_arn("abc", "eu-west-1", account_id=OTHER_ACCOUNT) == (
        "arn:aws:ssm:eu-west-1:111111111111:parameter/abc"
    )
    assert aws.account_id == DEFAULT_ACCOUNT_ID == "123456789012"


def test_put_secret_string_json_and_binary(aws: AwsSeeder) -> None:
    sm = aws.client("secretsmanager")
    arn = aws.put_secret("app/token", "tok-Vb55-plain-string")
    assert arn == aws.secret_arn("app/token")
    assert arn.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/token-")
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "tok-Vb55-plain-string"

    db = {"username": "app_user", "password": "pw-Jx40-json-field", "host": "127.0.0.1"}
    aws.put_secret("app/db", db)
    assert json.loads(sm.get_secret_value(SecretId="app/db")["SecretString"]) == db

    aws.put_secret("app/blob", b"\x00\xffbinary-Qw12")
    assert sm.get_secret_value(SecretId="app/blob")["SecretBinary"] == b"\x00\xffbinary-Qw12"

    registered = secret_values()
    assert "tok-Vb55-plain-string" in registered
    assert "pw-Jx40-json-field" in registered  # a sensitive key's value
    assert json.dumps(db) in registered
    assert "app_user" not in registered  # host and username appear in ordinary output
    assert "127.0.0.1" not in registered
    assert any("binary-Qw12" in value for value in registered)


def test_put_secret_twice_adds_a_current_version(aws: AwsSeeder) -> None:
    first = aws.put_secret("app/again", "first-Kd20-value")
    second = aws.put_secret("app/again", "second-Kd21-value")
    assert first == second
    value = aws.client("secretsmanager").get_secret_value(SecretId="app/again")
    assert value["SecretString"] == "second-Kd21-value"


def test_cross_account_client_writes_to_that_account(aws: AwsSeeder) -> None:
    aws.put_parameter("/shared/p", "v", account_id=OTHER_ACCOUNT)
    mine = aws.client("ssm")
    with pytest.raises(ClientError):
        mine.get_parameter(Name="/shared/p")
    theirs = aws.client("ssm", account_id=OTHER_ACCOUNT).get_parameter(Name="/shared/p")
    assert theirs["Parameter"]["ARN"] == aws.parameter_arn("/shared/p", account_id=OTHER_ACCOUNT)


# --- correction (a): moving AWSCURRENT moves the default version -----------------------------


def test_moving_awscurrent_changes_what_unstaged_reads_return(aws: AwsSeeder) -> None:
    old, new = _rotate(aws, "app/rotating")
    sm = aws.client("secretsmanager")
    assert sm.get_secret_value(SecretId="app/rotating")["SecretString"] == "pw-new-Zr82-pending"
    batch = sm.batch_get_secret_value(SecretIdList=["app/rotating"])
    assert [v["SecretString"] for v in batch["SecretValues"]] == ["pw-new-Zr82-pending"]
    assert batch["SecretValues"][0]["VersionId"] == new
    previous = sm.get_secret_value(SecretId="app/rotating", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "pw-old-Zr81-current"
    stages = aws.versions("app/rotating")
    assert "AWSCURRENT" in stages[new]
    assert "AWSPREVIOUS" in stages[old]
    assert "AWSCURRENT" not in stages[old]


def test_next_put_after_a_move_demotes_the_right_version(aws: AwsSeeder) -> None:
    _, new = _rotate(aws, "app/rotating")
    newest = aws.put_secret_value("app/rotating", "pw-newest-Zr83")
    stages = aws.versions("app/rotating")
    assert stages[newest] == ["AWSCURRENT"]
    assert stages[new] == ["AWSPREVIOUS"]


def test_moto_alone_keeps_serving_the_old_value_after_a_move(aws: AwsSeeder) -> None:
    """Why correction (a) exists: moto's own method leaves the default version behind."""
    aws.put_secret("app/raw", "pw-raw-Tt01-old")
    old = next(iter(aws.versions("app/raw")))
    new = aws.put_secret_value("app/raw", "pw-raw-Tt02-new", stages=["AWSPENDING"])
    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    moto_own = SecretsManagerBackend.update_secret_version_stage.__wrapped__  # type: ignore[attr-defined]
    moto_own(
        backend,
        secret_id="app/raw",
        version_stage="AWSCURRENT",
        remove_from_version_id=old,
        move_to_version_id=new,
    )
    sm = aws.client("secretsmanager")
    # The label moved, but the unstaged read and the batch still serve the old version.
    by_stage = sm.get_secret_value(SecretId="app/raw", VersionStage="AWSCURRENT")
    assert by_stage["SecretString"] == "pw-raw-Tt02-new"
    assert sm.get_secret_value(SecretId="app/raw")["SecretString"] == "pw-raw-Tt01-old"
    batch = sm.batch_get_secret_value(SecretIdList=["app/raw"])["SecretValues"]
    assert batch[0]["SecretString"] == "pw-raw-Tt01-old"


# --- correction (c): BatchGetSecretValue takes at most 20 ids --------------------------------


def test_batch_get_secret_value_accepts_20_ids(aws: AwsSeeder) -> None:
    for i in range(BATCH_GET_SECRET_VALUE_MAX_IDS):
        aws.put_secret(f"batch/{i}", f"batch-value-{i:02d}-Hh")
    ids = [f"batch/{i}" for i in range(BATCH_GET_SECRET_VALUE_MAX_IDS)]
    batch = aws.client("secretsmanager").batch_get_secret_value(SecretIdList=ids)
    assert len(batch["SecretValues"]) == 20
    assert batch["Errors"] == []


def test_batch_get_secret_value_rejects_21_ids(aws: AwsSeeder) -> None:
    ids = [f"batch/{i}" for i in range(BATCH_GET_SECRET_VALUE_MAX_IDS + 1)]
    with pytest.raises(ClientError) as error:
        aws.client("secretsmanager").batch_get_secret_value(SecretIdList=ids)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 20" in error.value.response["Error"]["Message"]


def test_moto_alone_accepts_21_ids(aws: AwsSeeder) -> None:
    """Why correction (c) exists: moto answers a call AWS would reject."""
    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    moto_own = SecretsManagerBackend.batch_get_secret_value.__wrapped__  # type: ignore[attr-defined]
    values, errors, _ = moto_own(backend, secret_id_list=[f"batch/{i}" for i in range(21)])
    assert values == []
    assert len(errors) == 21


# --- correction (b): SSM reads accept parameter ARNs, and report selectors -------------------


def test_get_parameters_by_arn(aws: AwsSeeder) -> None:
    aws.put_parameter("/a/b", "hierarchical")
    aws.put_parameter("abc", "flat-secure-Pp77", type="SecureString")
    hierarchical, flat = aws.parameter_arn("/a/b"), aws.parameter_arn("abc")
    assert flat == "arn:aws:ssm:us-east-1:123456789012:parameter/abc"
    missing = aws.parameter_arn("/not/there")
    response = aws.client("ssm").get_parameters(
        Names=[hierarchical, flat, missing], WithDecryption=True
    )
    by_arn = {p["ARN"]: p for p in response["Parameters"]}
    assert by_arn[hierarchical]["Value"] == "hierarchical"
    assert by_arn[flat]["Value"] == "flat-secure-Pp77"
    # AWS names the parameter plainly, whatever the request called it.
    assert {p["Name"] for p in response["Parameters"]} == {"/a/b", "abc"}
    assert response["InvalidParameters"] == [missing]


def test_get_parameter_by_arn_with_a_selector(aws: AwsSeeder) -> None:
    aws.put_parameter("/a/b", "one")
    aws.put_parameter("/a/b", "two", labels=["prod"])
    ssm = aws.client("ssm")
    single = ssm.get_parameter(Name=aws.parameter_arn("/a/b") + ":1")["Parameter"]
    assert (single["Name"], single["Value"], single["Selector"]) == ("/a/b", "one", ":1")
    response = ssm.get_parameters(Names=[aws.parameter_arn("/a/b") + ":prod", "/a/b:1", "/a/b"])
    got = {(p.get("Selector"), p["Value"]) for p in response["Parameters"]}
    assert got == {(":prod", "two"), (":1", "one"), (None, "two")}


def test_get_parameters_by_arn_of_another_account(aws: AwsSeeder) -> None:
    aws.put_parameter("/shared/dsn", "shared-Yy31-value", account_id=OTHER_ACCOUNT)
    arn = aws.parameter_arn("/shared/dsn", account_id=OTHER_ACCOUNT)
    ssm = aws.client("ssm")
    response = ssm.get_parameters(Names=[arn])
    assert [p["Value"] for p in response["Parameters"]] == ["shared-Yy31-value"]
    assert response["Parameters"][0]["ARN"] == arn
    assert response["InvalidParameters"] == []
    assert ssm.get_parameter(Name=arn)["Parameter"]["Value"] == "shared-Yy31-value"


def test_parameter_arn_of_another_region_names_nothing(aws: AwsSeeder) -> None:
    aws.put_parameter("/a/b", "us-value")
    elsewhere = aws.parameter_arn("/a/b", "eu-west-1")
    response = aws.client("ssm").get_parameters(Names=[elsewhere])
    assert response["Parameters"] == []
    assert response["InvalidParameters"] == [elsewhere]


def test_moto_alone_misses_another_accounts_arn(aws: AwsSeeder) -> None:
    """Why correction (b) exists: moto looks ARNs up in the caller's own account only."""
    aws.put_parameter("/shared/dsn", "shared-Yy32-value", account_id=OTHER_ACCOUNT)
    arn = aws.parameter_arn("/shared/dsn", account_id=OTHER_ACCOUNT)
    backend = ssm_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    moto_get_parameters = SimpleSystemManagerBackend.get_parameters.__wrapped__  # type: ignore[attr-defined]
    moto_get_parameter = SimpleSystemManagerBackend.get_parameter.__wrapped__  # type: ignore[attr-defined]
    assert moto_get_parameters(backend, [arn]) == {}
    assert moto_get_parameter(backend, arn) is None


def test_moto_alone_reports_no_selector(aws: AwsSeeder) -> None:
    aws.put_parameter("/a/b", "one")
    backend = ssm_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    moto_get_parameter = SimpleSystemManagerBackend.get_parameter.__wrapped__  # type: ignore[attr-defined]
    assert "Selector" not in moto_get_parameter(backend, "/a/b:1").response_object()
    assert backend.get_parameter("/a/b:1").response_object()["Selector"] == ":1"


def test_get_parameters_keeps_the_10_name_limit(aws: AwsSeeder) -> None:
    with pytest.raises(ClientError) as error:
        aws.client("ssm").get_parameters(Names=[f"/p/{i}" for i in range(11)])
    assert error.value.response["Error"]["Code"] == "ValidationException"


# --- the corrections come and go --------------------------------------------------------------


def test_moto_corrections_are_undone_on_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    patched = {
        (cls, name): getattr(cls, name)
        for cls, name in [
            (SecretsManagerBackend, "update_secret_version_stage"),
            (SecretsManagerBackend, "batch_get_secret_value"),
            (SimpleSystemManagerBackend, "get_parameter"),
            (SimpleSystemManagerBackend, "get_parameters"),
        ]
    }
    # Put moto's own methods back for this test, then apply and leave the corrections.
    for (cls, name), method in patched.items():
        monkeypatch.setattr(cls, name, method.__wrapped__)
    with moto_corrections():
        for cls, name in patched:
            assert getattr(cls, name).__wrapped__ is patched[cls, name].__wrapped__
    for (cls, name), method in patched.items():
        assert getattr(cls, name) is method.__wrapped__


def test_seeded_binary_secret_is_registered_by_its_base64(aws: AwsSeeder) -> None:
    from tests.support.canary import find_leaks

    aws.put_secret("app/bin", b"\x01\x02binary-Rr66-payload")
    encoded = base64.b64encode(b"\x01\x02binary-Rr66-payload").decode()
    assert find_leaks(f'{{"SecretBinary": "{encoded}"}}')
