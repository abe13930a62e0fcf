"""A resolved value that fails validation shows nowhere: not in the ValidationError's
``errors()``/``json()``/``str()``/``repr()``, its pickle, nor the locals of its traceback
(what Sentry and ``traceback`` with ``capture_locals`` read). Against moto over HTTP."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from awsrefs_pydantic import AwsRefsSettings, SecretJsonSettingsSource, awsrefs_sources
from pydantic import BaseModel, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict, SettingsError

from tests.support.canary import CANARY, assert_no_secrets, assert_no_secrets_in_frames

TOKEN = "tok-Rv83-validation-canary"  # a SecureString, registered by the aws fixture


@pytest.fixture
def seeded(aws):
    # The canary is kept out of the tests' own locals: their frames are in the traceback.
    aws.put_secret("app/db", {"password": CANARY, "port": 5432})
    aws.put_parameter("/app/token", TOKEN, type="SecureString")
    aws.put_secret("app/not-json", "plain-text-secret-Jw20")


def _error_of(build: Callable[[], Any], kind: type[BaseException]) -> Any:
    try:
        build()
    except kind as error:
        return error
    raise AssertionError(f"no {kind.__name__}")


def _assert_hidden_everywhere(error: BaseException) -> None:
    """The canary check over every view of the error and of its traceback's frames."""
    views = {
        "str()": str(error),
        "repr()": repr(error),
        "traceback with capture_locals": "".join(
            traceback.TracebackException.from_exception(error, capture_locals=True).format(
                chain=True
            )
        ),
    }
    if isinstance(error, ValidationError):
        views["errors()"] = repr(error.errors())
        views["errors(include_input=True, include_context=True)"] = repr(
            error.errors(include_input=True, include_context=True)
        )
        views["json()"] = error.json()
        views["pickled errors()"] = repr(pickle.loads(pickle.dumps(error)).errors())
    for what, text in views.items():
        assert_no_secrets(text, what)
    assert_no_secrets_in_frames(error)


def test_a_referenced_value_failing_validation_shows_nowhere(resolver, seeded):
    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        port: int = "secretsmanager:app/db:password"  # the wrong key: text in an int field
        token: int = "ssm:/app/token"
        workers: int = "many"  # a plain value: its input stays shown

    error = _error_of(Settings, ValidationError)

    _assert_hidden_everywhere(error)
    errors = error.errors()
    assert [(e["loc"], e["type"], e["input"]) for e in errors] == [
        (("port",), "int_parsing", "<hidden>"),
        (("token",), "int_parsing", "<hidden>"),
        (("workers",), "int_parsing", "many"),
    ]
    assert errors[0]["url"].endswith("/int_parsing")  # still pydantic's own error type
    assert error.__cause__ is None
    assert error.__context__ is None  # nothing leads back to pydantic's error and its frames


def test_a_missing_field_error_hides_the_resolved_settings_data(resolver, seeded):
    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        password: str = "secretsmanager:app/db:password"
        name: str
        region: str  # set nowhere

    error = _error_of(lambda: Settings(name="orders"), ValidationError)

    _assert_hidden_everywhere(error)
    (missing,) = error.errors()
    assert missing["type"] == "missing"
    # pydantic's input for a missing field is the whole data: plain values stay readable.
    assert missing["input"] == {"password": "<hidden>", "name": "orders"}


def test_validators_quoting_a_resolved_value_are_scrubbed(resolver, seeded):
    class Database(BaseModel):
        password: str = "secretsmanager:app/db:password"

        @field_validator("password")
        @classmethod
        def strong(cls, value: str) -> str:
            raise ValueError(f"{value!r} is too weak")

    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        database: Database = Database()
        token: str = "ssm:/app/token"

    error = _error_of(Settings, ValidationError)

    _assert_hidden_everywhere(error)
    (failed,) = error.errors()
    assert failed["loc"] == ("database", "password")
    assert failed["msg"] == "Value error, '<hidden>' is too weak"


def test_a_model_validator_seeing_resolved_values(resolver, seeded):
    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        token: str = "ssm:/app/token"
        password: str = "secretsmanager:app/db:password"

        @model_validator(mode="after")
        def check(self) -> Settings:
            raise ValueError(f"token {self.token} and {self.password} do not match")

    error = _error_of(Settings, ValidationError)

    _assert_hidden_everywhere(error)
    assert [e["msg"] for e in error.errors()] == [
        "Value error, token <hidden> and <hidden> do not match"
    ]


def test_any_other_error_after_resolution_keeps_no_value_in_its_frames(resolver, seeded):
    class Settings(AwsRefsSettings):
        password: str = "secretsmanager:app/db:password"
        token: str = "ssm:/app/token"

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, **_):
            whole = SecretJsonSettingsSource(settings_cls, "app/not-json")
            return awsrefs_sources(settings_cls, init_settings, whole, resolver=resolver)

    error = _error_of(Settings, SettingsError)

    assert "not a JSON object" in str(error)
    _assert_hidden_everywhere(error)


def test_hide_input_in_errors_off_shows_only_scrubbed_inputs(resolver, seeded):
    class Settings(AwsRefsSettings):
        model_config = SettingsConfigDict(hide_input_in_errors=False)
        awsrefs_resolver = resolver
        port: int = "secretsmanager:app/db:password"

    error = _error_of(Settings, ValidationError)

    _assert_hidden_everywhere(error)
    assert "input_value='<hidden>'" in str(error)


def test_a_validator_error_pydantic_passes_on_is_redacted(resolver, seeded):
    class Settings(AwsRefsSettings):
        awsrefs_resolver = resolver
        password: str = "secretsmanager:app/db:password"

        @field_validator("password")
        @classmethod
        def known(cls, value: str) -> str:
            raise LookupError(f"no user for {value}")  # not a ValueError: raised as it is

    error = _error_of(Settings, LookupError)

    assert str(error) == "no user for <redacted>"
    _assert_hidden_everywhere(error)
