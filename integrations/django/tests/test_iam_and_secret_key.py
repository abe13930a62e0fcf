"""IAM database tokens and SECRET_KEY rotation in a project made by ``django-admin startproject``.

Every step is a real ``manage.py`` command in a new process, as a deploy runs them.

- IAM: the database user authenticates with an RDS IAM token (``OPTIONS["iam"]``). The
  stand-in for RDS's check (tests/support/iam_tokens.py): the project's settings freeze
  botocore's signing time at what the test says, the test computes the token the same way
  and makes it the user's password, so PostgreSQL accepts exactly that token.
- SECRET_KEY: ``secret_key_settings`` takes SECRET_KEY from AWSCURRENT and
  SECRET_KEY_FALLBACKS from AWSPREVIOUS; a value signed and a session made before a rotation
  still verify after it, in a new process, and new ones use the new key.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import pytest

from tests.support.databases import unique_name
from tests.support.django_project import manage, start_project
from tests.support.iam_tokens import FIRST_SIGNING, expected_token, frozen_signing

pytestmark = pytest.mark.slow

SECRET = "mysite/django"

SETTINGS_TAIL = """
# --- awsrefs, as docs/django.md shows it --------------------------------------------------
from awsrefs_django import resolve_settings, secret_key_settings

SECRET_KEY, SECRET_KEY_FALLBACKS = secret_key_settings("secretsmanager:mysite/django:secret_key")
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

if os.environ.get("SITE_DB_HOST"):
    INSTALLED_APPS += ["awsrefs_django"]
    DATABASES = {
        "default": {
            "ENGINE": "awsrefs_django.backends.postgresql",
            "NAME": os.environ["SITE_DB_NAME"],
            "USER": os.environ["SITE_DB_USER"],
            "HOST": os.environ["SITE_DB_HOST"],
            "PORT": os.environ["SITE_DB_PORT"],
            # On RDS add "sslmode": "require": RDS accepts IAM tokens only over TLS.
            "OPTIONS": {"iam": True},
        }
    }

if os.environ.get("SITE_SIGNING_AT"):
    # The test's stand-in for RDS's token check: botocore signs at the time the test says.
    import datetime
    import botocore.auth

    _at = datetime.datetime.fromisoformat(os.environ["SITE_SIGNING_AT"])
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: _at
    else:  # botocore before 1.35 reads datetime.datetime.utcnow() in botocore.auth
        import types

        class _Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return _at

        _module = types.ModuleType("datetime")
        _module.__dict__.update(vars(datetime))
        _module.datetime = _Frozen
        botocore.auth.datetime = _module

resolve_settings(globals())
"""

CONNECT_THRICE = """
import json
from django.db import connection
from awsrefs.iam_auth import tokens_for
from awsrefs_django import get_resolver

users = []
for _ in range(3):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        users.append(cursor.fetchone()[0])
    connection.close()
print(json.dumps({"users": users, "generated": tokens_for(get_resolver()).generated}))
"""

SIGN = """
import json, os
from django.conf import settings
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core import signing

checked = {}
for name, value in json.loads(os.environ.get("SITE_CHECK", "{}")).items():
    try:
        checked[name] = signing.loads(value)
    except signing.BadSignature:
        checked[name] = None
cookie = os.environ.get("SITE_COOKIE")
session = SessionStore(session_key=cookie).load() if cookie else {}
new = SessionStore()
new["user"] = "alice"
new.save()
print(json.dumps({
    "fallbacks": len(settings.SECRET_KEY_FALLBACKS),
    "signed": signing.dumps(os.environ["SITE_PAYLOAD"]),
    "cookie": new.session_key,
    "checked": checked,
    "session": session.get("user"),
}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return start_project(tmp_path_factory.mktemp("startproject-iam"), SETTINGS_TAIL)


def passed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout


def printed(result: subprocess.CompletedProcess[str]) -> dict:
    """The JSON line a ``shell -c`` script printed last (Django 5.2 prints a banner first)."""
    return json.loads(passed(result).strip().splitlines()[-1])


# -- IAM authentication ------------------------------------------------------------------------


@pytest.fixture
def iam_db(postgres_server, aws):
    aws.put_secret(SECRET, {"secret_key": f"django-key-{unique_name('k')}-" + "x" * 40})
    user = unique_name("iamdj")
    database = postgres_server.create_database(unique_name("iamdb"))
    postgres_server.create_user(user, f"pw-not-the-token-{user}", database=database)
    with postgres_server.admin_connect(database=database) as conn:
        conn.execute(f'ALTER SCHEMA public OWNER TO "{user}"')
    env = {
        "SITE_DB_HOST": postgres_server.host,
        "SITE_DB_PORT": str(postgres_server.port),
        "SITE_DB_NAME": database,
        "SITE_DB_USER": user,
    }
    return postgres_server, user, env


def token_at(server, user: str, region: str, at: datetime.datetime) -> str:
    with frozen_signing(at):
        return expected_token(server.host, server.port, user, region)


def test_manage_py_logs_in_with_one_iam_token(project, iam_db, aws):
    server, user, env = iam_db
    server.set_password(user, token_at(server, user, aws.region, FIRST_SIGNING))
    env["SITE_SIGNING_AT"] = FIRST_SIGNING.isoformat()

    passed(manage(project, "migrate", "--noinput", env=env))
    out = printed(manage(project, "shell", "-c", CONNECT_THRICE, env=env))
    assert out == {"users": [user] * 3, "generated": 1}  # three logins, one token
    shell = manage(project, "dbshell", "--", "-c", "SELECT current_user", env=env)
    assert user in passed(shell)


def test_refused_token_fails_without_showing_it(project, iam_db, aws):
    server, user, env = iam_db
    server.set_password(user, token_at(server, user, aws.region, FIRST_SIGNING))
    later = FIRST_SIGNING + datetime.timedelta(minutes=1)
    token_at(server, user, aws.region, later)  # what the process signs: registered as a canary
    env["SITE_SIGNING_AT"] = later.isoformat()

    result = manage(project, "shell", "-c", CONNECT_THRICE, env=env)  # output checked for tokens
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr


# -- SECRET_KEY rotation -----------------------------------------------------------------------


def rotate(aws, key: str) -> None:
    """What a rotation function does: AWSPENDING, then AWSCURRENT moves (old: AWSPREVIOUS)."""
    new = aws.put_secret_value(SECRET, {"secret_key": key}, stages=["AWSPENDING"])
    aws.move_stage(SECRET, "AWSCURRENT", to_version=new)
    aws.move_stage(SECRET, "AWSPENDING", to_version=new, from_version=new)


def sign(project, payload: str, **env: str) -> dict:
    env = {"SITE_PAYLOAD": payload, **env}
    return printed(manage(project, "shell", "-c", SIGN, env=env))


def test_signatures_and_sessions_survive_a_secret_key_rotation(project, aws):
    import django.core.signing as signing

    keys = [f"django-key-{n}-{unique_name('k')}-" + "Zq7" * 15 for n in range(3)]
    aws.put_secret(SECRET, {"secret_key": keys[0]})

    first = sign(project, "payload-before")
    assert first["fallbacks"] == 0  # never rotated: no AWSPREVIOUS, an empty list

    rotate(aws, keys[1])
    stages = aws.versions(SECRET)
    assert sorted(s for v in stages.values() for s in v if s != "AWSPENDING") == [
        "AWSCURRENT",
        "AWSPREVIOUS",
    ]
    check = json.dumps({"old": first["signed"]})
    second = sign(project, "payload-after", SITE_CHECK=check, SITE_COOKIE=first["cookie"])
    assert second["fallbacks"] == 1
    assert second["checked"] == {"old": "payload-before"}  # signed with the old key
    assert second["session"] == "alice"  # session made before the rotation
    # New signatures use the new key, and only it.
    assert signing.loads(second["signed"], key=keys[1], fallback_keys=[]) == "payload-after"
    with pytest.raises(signing.BadSignature):
        signing.loads(second["signed"], key=keys[0], fallback_keys=[])

    rotate(aws, keys[2])  # a second rotation: the first key is no longer accepted
    check = json.dumps({"oldest": first["signed"], "previous": second["signed"]})
    third = sign(project, "payload-last", SITE_CHECK=check, SITE_COOKIE=first["cookie"])
    assert third["checked"] == {"oldest": None, "previous": "payload-after"}
    assert third["session"] is None
