"""AwsRefs against a real moto server over HTTP: resolution, options, errors, the CLI."""

from __future__ import annotations

import copy
import pickle
import pprint
import textwrap
from collections import Counter
from pathlib import Path

import flask
import pytest
from awsrefs_flask import AwsRefs, AwsRefsState, ConfigError, get_resolver, get_state
from flask import Flask

import awsrefs
from tests.support.canary import assert_no_secrets

DB_SECRET = {
    "username": "app_user",
    "password": "pw-db-4Kq9-flask-current",
    "host": "db.internal",
    "port": 5432,
    "dbname": "shop",
}

SETTINGS_PY = """\
SECRET_KEY = "secretsmanager:myapp/flask:secret_key"
SQLALCHEMY_ENGINE_OPTIONS = {
    "connect_args": {
        "user": "secretsmanager:myapp/db:username",
        "password": "secretsmanager:myapp/db:password",
    },
    "pool_size": 5,
}
DB_HOST = "ssm:/myapp/db-host"
DB_PORT = "secretsmanager:myapp/db:port"
MAIL_PASSWORD = "ssm:/myapp/mail-password"
SENTRY_DSN = "https://${ssm:/myapp/sentry-key}@o1.ingest.example.io/42"
ALLOWED_HOSTS = ["ssm:/myapp/host-a", "ssm:/myapp/host-b", "static.example.com"]
FEATURE_FLAGS = "optional:ssm:/myapp/feature-flags"
CACHE = {"URL": "ssm:/myapp/redis-url", "TIMEOUT": 30}
API_TOKEN = "secretsmanager:myapp/api:token"
GREETING = "hello, not a reference"
"""

# Loaded by app.config.from_prefixed_env(); FLASK_CACHE__PASSWORD nests into CACHE.
FLASK_ENV = {
    "FLASK_STRIPE_KEY": "secretsmanager:myapp/stripe:secret_key",
    "FLASK_STRIPE_WEBHOOK_SECRET": "secretsmanager:myapp/stripe:webhook_secret",
    "FLASK_CACHE__PASSWORD": "ssm:/myapp/redis-password",
    "FLASK_AWS_REGION_NAME": "ssm:/myapp/region",
    "FLASK_S3_BUCKET": "ssm:/myapp/bucket",
    "FLASK_DB_NAME": "secretsmanager:myapp/db:dbname",
    "FLASK_OPTIONAL_TOKEN": "optional:secretsmanager:myapp/api:missing_key",
    "FLASK_ADMIN_EMAIL": "secretsmanager:myapp/flask:admin_email",
    "FLASK_MAX_ITEMS": "25",
}


@pytest.fixture
def resolver(aws):
    made = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield made
    made.close()


@pytest.fixture
def fresh_default_resolver(aws):
    """A default resolver for this test only (its cache must not outlive moto's reset)."""
    made = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    awsrefs.set_default_resolver(made)
    yield made
    awsrefs.set_default_resolver(None)
    made.close()


def seed(aws, canary):
    aws.put_secret("myapp/flask", {"secret_key": canary, "admin_email": "ops@example.com"})
    aws.put_secret("myapp/db", DB_SECRET)
    aws.put_secret("myapp/api", {"token": "tok-9Jd2-api-flask-test"})
    aws.put_secret(
        "myapp/stripe", {"secret_key": "sk-live-7Yt1-flask", "webhook_secret": "whsec-3Lp0-flask"}
    )
    aws.put_parameter("/myapp/db-host", "db.internal")
    aws.put_parameter("/myapp/mail-password", "mail-pw-8Gh3-flask", type="SecureString")
    aws.put_parameter("/myapp/sentry-key", "sentry-2Xc4-flask", type="SecureString")
    aws.put_parameter("/myapp/host-a", "a.example.com")
    aws.put_parameter("/myapp/host-b", "b.example.com")
    aws.put_parameter("/myapp/redis-url", "redis://cache.internal:6379/0")
    aws.put_parameter("/myapp/redis-password", "redis-pw-5Rt6-flask", type="SecureString")
    aws.put_parameter("/myapp/region", "eu-west-1")
    aws.put_parameter("/myapp/bucket", "myapp-uploads")


def make_app(tmp_path: Path, settings: str = SETTINGS_PY, **config) -> Flask:
    """An app configured the usual way: a Python config file, then FLASK_* variables."""
    path = tmp_path / "settings.py"
    path.write_text(textwrap.dedent(settings))
    app = Flask("shop")
    app.config.from_pyfile(str(path))
    app.config.from_prefixed_env()
    app.config.update(config)
    return app


@pytest.fixture
def flask_env(monkeypatch):
    for name, value in FLASK_ENV.items():
        monkeypatch.setenv(name, value)


# --- resolution -----------------------------------------------------------------------------


def test_twenty_references_resolve_with_one_call_per_service(
    aws, canary, resolver, tmp_path, flask_env
):
    seed(aws, canary)
    app = make_app(tmp_path)

    AwsRefs(app, resolver=resolver)

    # 10 parameter names fit one GetParameters call; 4 secrets (7 keys) one BatchGetSecretValue.
    assert resolver.stats.calls == Counter(
        {"ssm:GetParameters": 1, "secretsmanager:BatchGetSecretValue": 1}
    )
    config = app.config
    assert config["SECRET_KEY"] == canary
    assert config["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "connect_args": {"user": "app_user", "password": DB_SECRET["password"]},
        "pool_size": 5,
    }
    assert config["DB_HOST"] == "db.internal"
    assert config["DB_PORT"] == 5432  # a JSON number stays an int
    assert config["MAIL_PASSWORD"] == "mail-pw-8Gh3-flask"
    assert config["SENTRY_DSN"] == "https://sentry-2Xc4-flask@o1.ingest.example.io/42"
    assert config["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com", "static.example.com"]
    assert "FEATURE_FLAGS" not in config  # optional, parameter missing: key removed
    assert config["CACHE"] == {
        "URL": "redis://cache.internal:6379/0",
        "TIMEOUT": 30,
        "PASSWORD": "redis-pw-5Rt6-flask",
    }
    assert config["API_TOKEN"] == "tok-9Jd2-api-flask-test"
    assert config["STRIPE_KEY"] == "sk-live-7Yt1-flask"
    assert config["STRIPE_WEBHOOK_SECRET"] == "whsec-3Lp0-flask"
    assert config["AWS_REGION_NAME"] == "eu-west-1"
    assert config["S3_BUCKET"] == "myapp-uploads"
    assert config["DB_NAME"] == "shop"
    assert "OPTIONAL_TOKEN" not in config  # optional, JSON key missing: key removed
    assert config["ADMIN_EMAIL"] == "ops@example.com"
    assert config["MAX_ITEMS"] == 25
    assert config["GREETING"] == "hello, not a reference"

    state = app.extensions["awsrefs"]
    assert isinstance(state, AwsRefsState)
    assert state.resolver is resolver
    assert len(resolver.check(dict(state.references))) == 20
    assert_no_secrets(repr(state), "repr of the extension state")


def test_app_factory_one_extension_many_apps(aws, canary, resolver, tmp_path, flask_env):
    seed(aws, canary)
    refs = AwsRefs(resolver=resolver)

    def create_app() -> Flask:
        app = make_app(tmp_path)
        refs.init_app(app)
        return app

    first, second = create_app(), create_app()

    assert first.config["DB_HOST"] == second.config["DB_HOST"] == "db.internal"
    assert get_state(first).extension is get_state(second).extension is refs
    # The second app was served from the resolver's cache: still one call per service.
    assert resolver.stats.total_calls == 2
    with second.app_context():
        assert get_resolver() is resolver


def test_default_resolver_is_used_without_options(aws, canary, fresh_default_resolver, tmp_path):
    aws.put_parameter("/myapp/db-host", "db.internal")
    app = make_app(tmp_path, 'DB_HOST = "ssm:/myapp/db-host"\n')

    AwsRefs(app)

    assert app.config["DB_HOST"] == "db.internal"
    assert get_resolver(app) is fresh_default_resolver


def test_options_build_a_resolver(aws, tmp_path, monkeypatch):
    aws.put_parameter("/myapp/db-host", "db.internal")
    # Without AWSREFS_ENDPOINT_URL nothing would answer: the environment points nowhere.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("FLASK_AWSREFS_TTL", "60")
    app = make_app(
        tmp_path,
        'DB_HOST = "ssm:/myapp/db-host"\n',
        AWSREFS_ENDPOINT_URL=aws.endpoint_url,
        AWSREFS_REGION=aws.region,
    )

    AwsRefs(app)

    assert app.config["DB_HOST"] == "db.internal"
    made = get_resolver(app)
    assert made is not awsrefs.default_resolver()
    assert made.ttl == 60.0
    assert made.stats.calls == Counter({"ssm:GetParameters": 1})
    made.close()


def test_disabled_leaves_config_alone(aws, resolver, tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_AWSREFS_ENABLED", "false")
    app = make_app(tmp_path, 'DB_HOST = "ssm:/myapp/db-host"\n')

    AwsRefs(app, resolver=resolver)

    assert app.config["DB_HOST"] == "ssm:/myapp/db-host"
    assert resolver.stats.total_calls == 0
    assert get_state(app).enabled is False


def test_keys_and_skip_keys_select_what_is_resolved(aws, resolver, tmp_path):
    aws.put_parameter("/a", "value-a")
    aws.put_parameter("/b", "value-b")
    settings = 'A = "ssm:/a"\nB = "ssm:/b"\nLITERAL = "ssm:/not/a/parameter"\n'

    only = make_app(tmp_path, settings, AWSREFS_KEYS=["A"])
    AwsRefs(only, resolver=resolver)
    skip = make_app(tmp_path, settings, AWSREFS_SKIP_KEYS="LITERAL, B")
    AwsRefs(skip, resolver=resolver)

    assert (only.config["A"], only.config["B"]) == ("value-a", "ssm:/b")
    assert (skip.config["A"], skip.config["B"]) == ("value-a", "ssm:/b")
    assert only.config["LITERAL"] == skip.config["LITERAL"] == "ssm:/not/a/parameter"


# --- errors ---------------------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param(
        'MAIL_PASSWORD = "ssm:/myapp/no-such-parameter"\n',
        {},
        "MAIL_PASSWORD",
        "not found",
        id="missing-parameter",
    ),
    pytest.param(
        'TOKEN = "secretsmanager:myapp/no-such-secret:token"\n',
        {},
        "TOKEN",
        "not found",
        id="missing-secret",
    ),
    pytest.param(
        "SQLALCHEMY_ENGINE_OPTIONS = "
        '{"connect_args": {"password": "secretsmanager:myapp/db:pasword"}}\n',
        {},
        "SQLALCHEMY_ENGINE_OPTIONS.connect_args.password",
        "no such JSON key",
        id="missing-json-key",
    ),
    pytest.param(
        'SECRET_KEY = "secretsmanager:myapp/plain:secret_key"\n',
        {},
        "SECRET_KEY",
        "not JSON",
        id="not-json",
    ),
    pytest.param('DB_HOST = "ssm:/my app/db-host"\n', {}, "DB_HOST", "bad syntax", id="syntax"),
    pytest.param(
        "",
        {"FLASK_CACHE__URL": "redis://:${ssm:/myapp/missing-redis-password}@cache:6379"},
        "CACHE.URL",
        "not found",
        id="env-template",
    ),
    pytest.param(
        'ALLOWED_HOSTS = ["a.example.com", "ssm:/myapp/missing-host"]\n',
        {},
        "ALLOWED_HOSTS[1]",
        "not found",
        id="list-item",
    ),
]


@pytest.mark.parametrize(("settings", "env", "key", "kind"), BAD_INPUTS)
def test_bad_input_names_the_key_and_changes_nothing(
    aws, canary, resolver, tmp_path, monkeypatch, settings, env, key, kind
):
    aws.put_secret("myapp/db", {**DB_SECRET, "password": canary})
    aws.put_secret("myapp/plain", canary)
    aws.put_parameter("/myapp/db-host", "db.internal")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = make_app(tmp_path, settings + 'DB_USER = "secretsmanager:myapp/db:username"\n')
    before = copy.deepcopy(dict(app.config))

    with pytest.raises(ConfigError) as caught:
        AwsRefs(app, resolver=resolver)

    error = caught.value
    message = str(error)
    assert [(f.path, f.kind.value) for f in error.failures] == [(key, kind)]
    assert f"{key}: " in message
    assert kind in message
    assert "'shop'" in message  # the app's name
    assert isinstance(error, awsrefs.ResolutionError)
    assert isinstance(error.__cause__, awsrefs.ResolutionError)
    assert dict(app.config) == before  # DB_USER, which did resolve, was not applied either
    assert "awsrefs" not in app.extensions
    assert_no_secrets(message, "the error message")


def test_every_failure_is_reported_at_once(aws, resolver, tmp_path):
    app = make_app(tmp_path, 'A = "ssm:/missing/a"\nB = {"c": "secretsmanager:missing/b:key"}\n')

    with pytest.raises(ConfigError) as caught:
        AwsRefs(app, resolver=resolver)

    assert sorted(f.path for f in caught.value.failures) == ["A", "B.c"]
    assert "2 references in app.config could not be resolved" in str(caught.value)


def test_second_registration_is_refused(aws, resolver, tmp_path):
    app = make_app(tmp_path, "")
    AwsRefs(app, resolver=resolver)

    with pytest.raises(RuntimeError, match="already registered"):
        AwsRefs(resolver=resolver).init_app(app)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"AWSREFS_TTL": "soon"}, "AWSREFS_TTL must be a number of seconds"),
        ({"AWSREFS_TTL": -1}, "AWSREFS_TTL must be >= 0"),
        ({"AWSREFS_ENABLED": "maybe"}, "AWSREFS_ENABLED must be True or False"),
        ({"AWSREFS_REGION": 3}, "AWSREFS_REGION must be a string"),
        ({"AWSREFS_KEYS": ["DB_HSOT"]}, "AWSREFS_KEYS names keys that are not in app.config"),
        ({"AWSREFS_SKIP_KEYS": 7}, "AWSREFS_SKIP_KEYS must be a list"),
    ],
)
def test_invalid_options_are_named(tmp_path, config, message):
    app = make_app(tmp_path, 'DB_HOST = "ssm:/myapp/db-host"\n', **config)

    with pytest.raises(ValueError, match=message):
        AwsRefs(app)

    assert app.config["DB_HOST"] == "ssm:/myapp/db-host"


def test_options_next_to_an_explicit_resolver_are_refused(resolver, tmp_path):
    app = make_app(tmp_path, "", AWSREFS_REGION="eu-west-1")

    with pytest.raises(ValueError, match="AWSREFS_REGION would be ignored"):
        AwsRefs(app, resolver=resolver)


# --- flask awsrefs check --------------------------------------------------------------------


def test_check_lists_every_reference(aws, canary, resolver, tmp_path, flask_env):
    seed(aws, canary)
    app = make_app(tmp_path)
    AwsRefs(app, resolver=resolver)

    result = app.test_cli_runner().invoke(args=["awsrefs", "check"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-1] == "20 references: 20 OK, 0 failed"
    assert any(
        line.split()
        == [
            "SQLALCHEMY_ENGINE_OPTIONS.connect_args.password",
            "secretsmanager:myapp/db:password",
            "OK",
        ]
        for line in lines
    )
    assert any(
        line.startswith("FEATURE_FLAGS") and line.endswith("OK (optional, missing)")
        for line in lines
    )
    assert_no_secrets(result.output, "check output")


def test_check_fails_on_broken_references(aws, canary, resolver, tmp_path, monkeypatch):
    aws.put_secret("myapp/db", {**DB_SECRET, "password": canary})
    monkeypatch.setenv("FLASK_AWSREFS_ENABLED", "false")  # broken references would stop start-up
    settings = (
        'PASSWORD = "secretsmanager:myapp/db:password"\n'
        'HOST = "ssm:/myapp/missing-host"\n'
        'USER = "secretsmanager:myapp/db:user"\n'
    )
    app = make_app(tmp_path, settings)
    AwsRefs(app, resolver=resolver)

    result = app.test_cli_runner().invoke(args=["awsrefs", "check"])

    assert result.exit_code == 1, result.output
    lines = [line.split("  ") for line in result.output.splitlines()]
    rows = [[part.strip() for part in line if part.strip()] for line in lines]
    # The table awsrefs check prints; from_pyfile loads keys in sorted order.
    assert rows[0] == ["SETTING", "REFERENCE", "STATUS", "REASON"]
    assert rows[1][:3] == ["HOST", "ssm:/myapp/missing-host", "not found"]
    assert rows[2] == ["PASSWORD", "secretsmanager:myapp/db:password", "OK"]
    assert rows[3][:3] == ["USER", "secretsmanager:myapp/db:user", "no such JSON key"]
    assert "has no JSON key 'user'" in result.output
    assert result.output.splitlines()[-1] == "3 references: 1 OK, 2 failed"
    assert_no_secrets(result.output, "check output")


def test_check_without_references(resolver, tmp_path):
    app = make_app(tmp_path, 'GREETING = "hello"\n')
    AwsRefs(app, resolver=resolver)

    result = app.test_cli_runner().invoke(args=["awsrefs", "check"])

    assert (result.exit_code, result.output) == (0, "No references in app.config.\n")
    assert resolver.stats.total_calls == 0


def test_get_state_before_init_app_says_what_to_do():
    app = Flask("shop")

    with pytest.raises(RuntimeError, match=r"call AwsRefs\(\)\.init_app\(app\) first"):
        get_resolver(app)


# --- what the config shows ------------------------------------------------------------------


def test_repr_and_str_of_the_config_hide_resolved_values(
    aws, canary, resolver, tmp_path, flask_env
):
    seed(aws, canary)
    app = make_app(tmp_path)
    AwsRefs(app, resolver=resolver)

    assert app.config["SECRET_KEY"] == canary  # reads are unchanged
    assert app.config.get("CACHE")["PASSWORD"] == "redis-pw-5Rt6-flask"
    assert isinstance(app.config, flask.Config)
    shown = {
        "repr": repr(app.config),
        "str": str(app.config),
        "format": f"{app.config}",
        "pprint": pprint.pformat(app.config),
    }
    with app.app_context():
        shown["template"] = flask.render_template_string("{{ config }}")
    for how, text in shown.items():
        assert_no_secrets(text, f"{how} of app.config")
        assert "hello, not a reference" in text or how == "template"  # other values show
    assert shown["repr"].startswith("<Config {")
    assert "'SECRET_KEY': <resolved by awsrefs, hidden>" in shown["repr"]
    assert "'GREETING': 'hello, not a reference'" in shown["repr"]
    # Copies keep the values and keep hiding them.
    for copied in (
        copy.copy(app.config),
        copy.deepcopy(app.config),
        pickle.loads(pickle.dumps(app.config)),
    ):
        assert isinstance(copied, flask.Config)
        assert copied["SECRET_KEY"] == canary
        assert copied.root_path == app.config.root_path
        assert repr(copied) == shown["repr"]


def test_text_in_a_bool_setting_warns(aws, resolver, tmp_path):
    aws.put_parameter("/myapp/debug", "False")  # text: Flask would take it as True
    aws.put_secret("myapp/flags", {"testing": False})  # a JSON key keeps its type
    settings = 'DEBUG = "ssm:/myapp/debug"\nTESTING = "secretsmanager:myapp/flags:testing"\n'
    app = make_app(tmp_path, settings)

    with pytest.warns(RuntimeWarning, match=r"DEBUG is a bool setting") as caught:
        AwsRefs(app, resolver=resolver)

    assert len(caught) == 1  # not for TESTING, which got a bool
    assert "Flask takes any non-empty text as True" in str(caught[0].message)
    assert app.config["DEBUG"] == "False"
    assert app.config["TESTING"] is False


def test_config_errors_survive_pickle(aws, resolver, tmp_path):
    from awsrefs_flask._extension import CommandLineConfigError

    app = make_app(tmp_path, 'DB_HOST = "ssm:/myapp/not-there"\n')
    with pytest.raises(ConfigError) as caught:
        AwsRefs(app, resolver=resolver)
    error = caught.value
    for copied in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(copied) is ConfigError
        assert str(copied) == str(error)
        assert copied.app_name == "shop"
        assert copied.failures == error.failures
    wrapped = pickle.loads(pickle.dumps(CommandLineConfigError(error)))
    assert wrapped.message == str(error)
    assert wrapped.error.failures == error.failures
