"""Django's own commands in a project made by ``django-admin startproject``, as its users run them.

One project per database engine (module scope), against the throwaway PostgreSQL and MariaDB
servers. The settings are what a user writes: ``resolve_settings(globals())`` at the end, the
awsrefs backend with ``OPTIONS["secret"]`` naming an RDS-shaped secret (``engine, host, port,
username, password, dbname``) and ``NAME``/``HOST``/``PORT`` left to it. The secret's
``dbname`` is the user's real database, which holds rows of the app's table before any test
runs. After every command the real database must hold exactly the same tables and rows, and
no ``test_*`` database may be left behind.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.canary import CANARY
from tests.support.databases import DatabaseServer, unique_name
from tests.support.django_project import manage, run_in_project, start_project

pytestmark = pytest.mark.slow

ROWS = ["kept-alpha", "kept-beta", "kept-gamma"]

SETTINGS_TAIL = """
# --- awsrefs, as docs/django.md shows it --------------------------------------------------
INSTALLED_APPS += ["awsrefs_django", "shop"]
SECRET_KEY = "secretsmanager:mysite/django:secret_key"
DATABASES = {{
    "default": {{
        "ENGINE": "awsrefs_django.backends.{engine}",
        "OPTIONS": {{"secret": "secretsmanager:mysite/db"}},
    }}
}}
if os.environ.get("SHOP_TEST_NAME"):  # one test sets TEST["NAME"]
    DATABASES["default"]["TEST"] = {{"NAME": os.environ["SHOP_TEST_NAME"]}}

if os.environ.get("SHOP_DEBUG_REF"):  # one test: DEBUG from an SSM parameter
    DEBUG = os.environ["SHOP_DEBUG_REF"]

if os.environ.get("SHOP_BACKEND_ONLY"):  # one test: the backend without resolve_settings
    SECRET_KEY = "plain-test-key-not-a-secret"
else:
    from awsrefs_django import resolve_settings

    resolve_settings(globals())
    if os.environ.get("SHOP_DEBUG_CONVERT"):  # the conversion docs/django.md shows
        DEBUG = DEBUG.lower() == "true"
"""

MODELS = """
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=50)
"""

MIGRATION = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
            ],
        ),
    ]
"""

# The tests the user's project has: each proves it runs in a test database, empty of the
# real rows, and each writes a row (the TransactionTestCase flush then empties its database).
DJANGO_TESTS = """
from django.db import connection
from django.test import TestCase, TransactionTestCase

from shop.models import Item


def database_in_use():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_database()" if connection.vendor == "postgresql"
            else "SELECT DATABASE()"
        )
        return cursor.fetchone()[0]


class ItemTests(TestCase):
    def test_runs_in_an_empty_test_database(self):
        assert database_in_use() == connection.settings_dict["NAME"] != "{real}"
        assert database_in_use().startswith("{test_prefix}")
        self.assertEqual(Item.objects.count(), 0)
        Item.objects.create(name="written-by-testcase")


class ItemTransactionTests(TransactionTestCase):
    def test_runs_in_an_empty_test_database(self):
        assert database_in_use() == connection.settings_dict["NAME"] != "{real}"
        self.assertEqual(Item.objects.count(), 0)
        Item.objects.create(name="written-by-transactiontestcase")
        Item.objects.all().delete()
        Item.objects.create(name="left-for-the-flush")
"""

# docs/django.md, "Tests without AWS"; the database secret's value comes from the test here.
SETTINGS_TEST = """
import contextlib
import json
import os

from awsrefs.testing import static_values

_awsrefs = contextlib.ExitStack()
_awsrefs.enter_context(static_values({
    "secretsmanager:mysite/django": {"secret_key": "test-only-key-not-a-secret"},
    "secretsmanager:mysite/db": json.loads(os.environ["SHOP_DB_SECRET"]),
}))

from mysite.settings import *  # noqa: E402,F403
"""

# A user's test that points the live connection elsewhere (as override_settings-style helpers
# and Django's own test machinery do): the next connection must go there, not to the secret's.
SETTINGS_DICT_TESTS = """
from unittest import mock

from django.db import connection
from django.test import TransactionTestCase


class SettingsDictTests(TransactionTestCase):
    def test_next_connection_follows_settings_dict(self):
        other = "postgres" if connection.vendor == "postgresql" else None
        connection.close()
        with mock.patch.dict(connection.settings_dict, {"NAME": other}):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_database()" if connection.vendor == "postgresql"
                    else "SELECT DATABASE()"
                )
                self.assertEqual(cursor.fetchone()[0], other)
            connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        self.assertTrue(connection.settings_dict["NAME"].startswith("test_"))
"""

PYTEST_TESTS = """
import pytest
from django.db import connection

from shop.models import Item


@pytest.mark.django_db
def test_plain():
    assert connection.settings_dict["NAME"] == "test_{real}"
    assert Item.objects.count() == 0
    Item.objects.create(name="written-by-pytest")


@pytest.mark.django_db(transaction=True)
def test_transaction():
    assert connection.settings_dict["NAME"] == "test_{real}"
    assert Item.objects.count() == 0
    Item.objects.create(name="written-by-pytest-transaction")
"""


@dataclass
class Site:
    """A generated project and the real database its secret names."""

    directory: Path
    server: DatabaseServer
    engine: str
    real: str  # the secret's dbname
    user: str
    password: str = field(repr=False)  # failure reports show the Site, never its password

    def secret(self, **changes: Any) -> dict[str, Any]:
        value = {
            "engine": "postgres" if self.engine == "postgresql" else "mariadb",
            "host": self.server.host,
            "port": self.server.port,
            "username": self.user,
            "password": self.password,
            "dbname": self.real,
        }
        value.update(changes)
        return value

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py ARGS`` (or ``python -m pytest ARGS`` for ``run("pytest", ...)``)."""
        if args[0] == "pytest":
            return run_in_project(self.directory, ["-m", "pytest", *args[1:]], env=env)
        return manage(self.directory, *args, env=env)

    # -- what a user would look at ---------------------------------------------------------

    def databases(self) -> set[str]:
        with self.server.admin_connect(database=self._admin_db()) as conn:
            cursor = conn.cursor()
            if self.engine == "postgresql":
                cursor.execute("SELECT datname FROM pg_database")
            else:
                cursor.execute("SHOW DATABASES")
            return {row[0] for row in cursor.fetchall()}

    def snapshot(self) -> dict[str, list[tuple[str, ...]]]:
        """Every table of the real database with all its rows."""
        with self.server.admin_connect(database=self.real) as conn:
            cursor = conn.cursor()
            if self.engine == "postgresql":
                cursor.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                )
            else:
                cursor.execute("SHOW TABLES")
            tables = sorted(row[0] for row in cursor.fetchall())
            rows = {}
            for table in tables:
                quoted = f'"{table}"' if self.engine == "postgresql" else f"`{table}`"
                cursor.execute(f"SELECT * FROM {quoted}")  # names from the catalog
                rows[table] = sorted(tuple(map(str, row)) for row in cursor.fetchall())
            return rows

    def drop(self, name: str) -> None:
        with self.server.admin_connect(database=self._admin_db()) as conn:
            conn.cursor().execute(
                f'DROP DATABASE IF EXISTS "{name}"'
                if self.engine == "postgresql"
                else f"DROP DATABASE IF EXISTS `{name}`"
            )

    def _admin_db(self) -> str | None:
        return "postgres" if self.engine == "postgresql" else None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def _make_project(directory: Path, engine: str, real: str) -> None:
    start_project(directory, SETTINGS_TAIL.format(engine=engine))
    _write(directory / "mysite" / "settings_test.py", SETTINGS_TEST)
    _write(directory / "shop" / "__init__.py", "")
    _write(directory / "shop" / "models.py", MODELS)
    _write(directory / "shop" / "migrations" / "__init__.py", "")
    _write(directory / "shop" / "migrations" / "0001_initial.py", MIGRATION)
    prefix = "test_"
    _write(
        directory / "shop" / "tests.py",
        DJANGO_TESTS.replace("{real}", real).replace("{test_prefix}", prefix),
    )
    _write(directory / "shop" / "test_with_pytest.py", PYTEST_TESTS.replace("{real}", real))
    _write(directory / "shop" / "settings_dict_checks.py", SETTINGS_DICT_TESTS)


def _grant(server: DatabaseServer, user: str) -> None:
    # What the RDS master user can do: create and drop (test) databases.
    if server.kind == "postgresql":
        with server.admin_connect(database="postgres") as conn:
            conn.execute(f'ALTER ROLE "{user}" CREATEDB')
        return
    with server.admin_connect() as conn, conn.cursor() as cur:
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%'", (user,))


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def site(request, tmp_path_factory, moto_server) -> Site:
    """A generated project, migrated, whose real database holds the user's rows."""
    from tests.support.aws import AwsSeeder, reset_moto

    engine = request.param
    server: DatabaseServer = request.getfixturevalue(
        "postgres_server" if engine == "postgresql" else "mariadb_server"
    )
    real = unique_name("shopdb")
    user = unique_name("owner")
    password = f"pw-{user}-Vd83-rds-secret"
    server.create_database(real)
    server.create_user(user, password, database=real)
    _grant(server, user)
    # In PostgreSQL 15 schema public of a new database belongs to pg_database_owner.
    if engine == "postgresql":
        with server.admin_connect(database=real) as conn:
            conn.execute(f'ALTER DATABASE "{real}" OWNER TO "{user}"')
            conn.execute(f'ALTER SCHEMA public OWNER TO "{user}"')
    directory = tmp_path_factory.mktemp(f"startproject-{engine}")
    _make_project(directory, engine, real)
    site = Site(directory, server, engine, real, user, password)

    reset_moto(moto_server.endpoint_url)
    _seed(AwsSeeder(moto_server.endpoint_url, moto_server.region), site)
    migrated = site.run("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    with server.admin_connect(database=real) as conn:
        cursor = conn.cursor()
        for name in ROWS:
            cursor.execute("INSERT INTO shop_item (name) VALUES (%s)", (name,))
    return site


def _seed(aws, site: Site, **secret_changes: Any) -> None:
    aws.put_secret("mysite/django", {"secret_key": f"django-key-{site.user}-Hs52-not-shown"})
    aws.put_secret("mysite/db", site.secret(**secret_changes))


@pytest.fixture
def real_db(site, aws, canary) -> Iterator[Site]:
    """The site with its secrets seeded; asserts the real database is untouched afterwards."""
    _seed(aws, site)
    before_rows = site.snapshot()
    before_databases = site.databases()
    assert [row[1] for row in before_rows["shop_item"]] == sorted(ROWS)
    yield site
    assert site.snapshot() == before_rows, "the real database changed"
    left = {name for name in site.databases() - before_databases if name.startswith("test_")}
    assert not left, f"test databases left behind: {sorted(left)}"


def _passed(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output if len(output) < 8000 else output[:4000] + output[-4000:]
    return output


def test_migrate_again_changes_nothing(real_db):
    output = _passed(real_db.run("migrate", "--noinput"))
    assert "No migrations to apply." in output


def test_manage_py_test_twice_uses_a_test_database_and_leaves_the_real_one_alone(real_db):
    for _ in range(2):  # the second run finds nothing left behind to ask about
        output = _passed(real_db.run("test", "shop", "-v", "2"))
        assert "Ran 2 tests" in output
        assert f"Creating test database for alias 'default' ('test_{real_db.real}')" in output
        assert "Type 'yes'" not in output


def test_manage_py_test_keepdb_keeps_only_the_test_database(real_db):
    kept = f"test_{real_db.real}"
    try:
        for _ in range(2):
            output = _passed(real_db.run("test", "shop", "--keepdb"))
            assert "Ran 2 tests" in output
            assert kept in real_db.databases()
    finally:
        real_db.drop(kept)


def test_manage_py_test_parallel_clones_test_databases(real_db):
    output = _passed(real_db.run("test", "shop", "--parallel", "2", "-v", "2"))
    assert "Ran 2 tests" in output
    assert f"test_{real_db.real}_2" in output  # the clones Django made and destroyed


def test_backend_alone_leaves_the_real_database_alone(real_db):
    # Without resolve_settings, NAME/HOST/PORT are filled by the backend itself.
    env = {"SHOP_BACKEND_ONLY": "1"}
    output = _passed(real_db.run("test", "shop", "--parallel", "2", "-v", "2", env=env))
    assert "Ran 2 tests" in output
    assert f"test_{real_db.real}_1" in output


def test_connection_follows_changes_of_its_settings_dict(real_db):
    output = _passed(real_db.run("test", "shop.settings_dict_checks"))
    assert "Ran 1 test" in output


def test_dbshell_logs_in_with_the_secret(real_db):
    query = ["-c", "SELECT current_database()"] if real_db.engine == "postgresql" else []
    query = query or ["-e", "SELECT DATABASE()"]
    output = _passed(real_db.run("dbshell", "--", *query))
    assert real_db.real in output


def test_test_name_setting_is_used(real_db):
    name = unique_name("test_custom")
    output = _passed(
        real_db.run("test", "shop.tests.ItemTests", "-v", "2", env={"SHOP_TEST_NAME": name})
    )
    assert "Ran 1 test" in output
    assert name in output


def test_test_database_is_made_when_the_secret_database_does_not_exist(real_db, aws):
    # The first run of a new project: the secret names a database nobody created yet.
    # Django's maintenance connection must go to the server's default database.
    missing = unique_name("notyet")
    _seed(aws, real_db, dbname=missing)
    output = _passed(real_db.run("test", "shop.tests.ItemTests", "-v", "2"))
    assert f"test_{missing}" in output
    assert missing not in real_db.databases()


def test_tests_run_with_no_aws_from_a_static_values_settings_module(real_db, aws):
    aws.client("secretsmanager").delete_secret(
        SecretId="mysite/db", ForceDeleteWithoutRecovery=True
    )
    env = {
        "SHOP_DB_SECRET": json.dumps(real_db.secret()),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: any AWS call would fail
    }
    output = _passed(real_db.run("test", "shop", "--settings=mysite.settings_test", env=env))
    assert "Ran 2 tests" in output


def test_pytest_django_create_db(real_db):
    output = _passed(
        real_db.run("pytest", "-p", "no:cacheprovider", "--create-db", "shop/test_with_pytest.py")
    )
    assert "2 passed" in output


def test_dumpdata_flush_loaddata_round_trip_on_the_real_database(real_db, tmp_path):
    dump = tmp_path / "items.json"
    _passed(real_db.run("dumpdata", "shop", "--output", str(dump)))
    assert sorted(item["fields"]["name"] for item in json.loads(dump.read_text())) == sorted(ROWS)

    _passed(real_db.run("flush", "--noinput"))
    assert real_db.snapshot()["shop_item"] == []  # flush acts on the real database, as asked

    output = _passed(real_db.run("loaddata", str(dump)))
    assert "Installed 3 object(s)" in output


def test_check_reports_a_bool_setting_resolved_to_text(real_db, aws):
    aws.put_parameter("/mysite/debug", "False")  # as text, which Django takes as True
    env = {"SHOP_DEBUG_REF": "ssm:/mysite/debug"}

    result = real_db.run("check", env=env)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "awsrefs.E002" in output
    assert "DEBUG is a bool setting, but its reference 'ssm:/mysite/debug' gave a str" in output
    assert 'DEBUG = DEBUG.lower() == "true"' in output  # the hint
    assert "Traceback" not in output
    # With the documented conversion the check passes.
    converted = real_db.run("check", env={**env, "SHOP_DEBUG_CONVERT": "1"})
    assert "System check identified no issues" in _passed(converted)


# -- failing references: the checks report, other commands give one clear error ----------------

CHECK_PATHS = ("SECRET_KEY", "DATABASES.default.OPTIONS.secret")


def _reported(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture
def nothing_seeded(site, aws):
    """The site with no parameter or secret in AWS: every reference fails."""
    return site


@pytest.mark.parametrize("command", [["check"], ["check", "--deploy"], ["awsrefs_check"]])
def test_checks_list_every_failure_with_the_switch(nothing_seeded, command):
    result = nothing_seeded.run(*command, env={"AWSREFS_DEFER_ERRORS": "1"})

    output = _reported(result)
    for path in CHECK_PATHS:
        line = next(line for line in output.splitlines() if path in line)
        assert "not found" in line
    if command[0] == "check":
        assert "awsrefs.E001" in output
    else:
        assert "2 of 2 references could not be resolved" in output


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["migrate", "--noinput"],
        ["test", "shop"],
        # shell starts without settings (Django skips its automatic imports); using them fails
        ["shell", "-c", "from django.conf import settings; print(settings.DEBUG)"],
    ],
)
def test_without_the_switch_commands_stop_listing_every_failure(nothing_seeded, command):
    # Django reads settings while it builds each command's options (--database choices),
    # before a command runs: what it prints is Python's traceback, ending in this error.
    result = nothing_seeded.run(*command)

    assert result.returncode != 0
    last = result.stderr[result.stderr.rindex("ImproperlyConfigured") :]
    assert last.startswith("ImproperlyConfigured: awsrefs: settings could not be resolved")
    for path in CHECK_PATHS:
        assert f"- {path}: secretsmanager:mysite/" in last
    assert "For the status of every reference: python manage.py awsrefs_check" in last


def test_awsrefs_check_reports_failures_without_the_switch(nothing_seeded, aws):
    # One secret there (its value must not be shown), the database secret missing.
    aws.put_secret("mysite/django", {"secret_key": CANARY})
    result = nothing_seeded.run("awsrefs_check", env={"AWSREFS_DEFER_ERRORS": ""})

    output = _reported(result)  # non-zero, no traceback; run() checks for the canary
    table = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert table["SECRET_KEY"].split()[2] == "OK"
    assert "not found" in table["DATABASES.default.OPTIONS.secret"]
    assert "1 of 2 references could not be resolved" in output
    assert "ImproperlyConfigured" not in output
