"""The ``awsrefs`` command against the moto server: in-process (``main(argv)``, see
tests/support/cli.py), and a few runs of the real command in a new process (the console script,
``exec`` becoming the program, exit codes and signals through a real process).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from awsrefs.cli._inputs import InputError, parse_env
from tests.support.canary import CANARY, register_secret

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "cli"
DOCS = ROOT / "docs" / "cli.md"
TIMEOUT = 60
PASSWORD = "pw-Cli7-current-x9"


@pytest.fixture
def run(cli, aws):
    """``run("check", ".env")``: ``awsrefs check --endpoint-url ... --region ... .env``."""

    def run_(*args: str, aws_options: bool = True, terminal: bool = False):
        if aws_options:
            # AWS options go right after the subcommand (before "--" of exec).
            args = (args[0], "--endpoint-url", aws.endpoint_url, "--region", aws.region, *args[1:])
        return cli(*args, terminal=terminal)

    return run_


def environment(aws, **extra):
    """The environment of a subprocess: AWS only through --endpoint-url, no colours."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def shop(aws):
    aws.put_parameter("/shop/db-host", "db.internal")
    aws.put_parameter("/shop/api-key", "api-Key-9c1e-secure", type="SecureString")
    aws.put_secret("shop/db", {"username": "shop", "password": PASSWORD, "port": 5432})
    aws.put_secret("shop/canary", CANARY)
    return aws


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def rows(stdout: str) -> dict[str, list[str]]:
    """Table rows by setting: the remaining columns, split on runs of 2+ spaces."""
    table = {}
    for line in stdout.splitlines()[1:]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        table[cells[0]] = cells[1:]
    return table


# -- check ------------------------------------------------------------------------------------


def test_check_all_ok_prints_table_without_values(run, shop, tmp_path):
    write(
        tmp_path / ".env",
        """
        export DB_HOST=ssm:/shop/db-host
        DB_PASSWORD="secretsmanager:shop/db:password"  # the database
        TOKEN='secretsmanager:shop/canary'
        DEBUG=false
        """,
    )
    result = run("check", ".env")
    assert result.code == 0, result.output
    assert rows(result.out) == {
        ".env:DB_HOST": ["ssm:/shop/db-host", "OK"],
        ".env:DB_PASSWORD": ["secretsmanager:shop/db:password", "OK"],
        ".env:TOKEN": ["secretsmanager:shop/canary", "OK"],
    }
    assert result.out.splitlines()[0].split() == ["SETTING", "REFERENCE", "STATUS", "REASON"]
    assert "3 references: 3 OK, 0 failed" in result.out
    for value in (PASSWORD, CANARY, "db.internal"):
        assert value not in result.output


def test_check_failures_give_reasons_and_exit_code_1(run, shop, tmp_path):
    write(
        tmp_path / "app.env",
        """
        HOST=ssm:/shop/db-hots
        PASSWORD=secretsmanager:shop/db:pasword
        WHOLE=secretsmanager:shop/canary:password
        BROKEN=ssm:/shop/api key
        EXTRA=optional:ssm:/shop/not-there
        GOOD=ssm:/shop/db-host
        """,
    )
    result = run("check", "app.env")
    assert result.code == 1, result.output
    table = rows(result.out)
    assert table["app.env:HOST"][1] == "not found"
    assert "/shop/db-hots" in table["app.env:HOST"][2]
    assert table["app.env:PASSWORD"][1:] == [
        "no such JSON key",
        "secret 'shop/db' has no JSON key 'pasword' (it has 3 keys; their names are not shown "
        "here, to list them: aws secretsmanager get-secret-value --secret-id 'shop/db' "
        "--query SecretString --output text | jq keys)",
    ]
    assert table["app.env:WHOLE"][1] == "not JSON"
    assert table["app.env:BROKEN"][1] == "bad syntax"
    assert "at position 13" in table["app.env:BROKEN"][2]  # the space in "api key"
    assert table["app.env:EXTRA"][1] == "OK (optional, missing)"
    assert table["app.env:GOOD"] == ["ssm:/shop/db-host", "OK"]
    assert "6 references: 2 OK, 4 failed" in result.out
    assert CANARY not in result.output


def test_check_json_format(run, shop, tmp_path):
    write(tmp_path / ".env", "A=ssm:/shop/db-host\nB=ssm:/shop/missing\n")
    result = run("check", ".env", "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["ok"] is False
    assert document["summary"] == {"references": 2, "ok": 1, "failed": 1}
    assert [(r["setting"], r["status"], r["ok"]) for r in document["references"]] == [
        (".env:A", "OK", True),
        (".env:B", "not found", False),
    ]
    assert document["references"][1]["kind"] == "not found"
    assert "/shop/missing" in document["references"][1]["reason"]


def test_check_reads_json_toml_yaml_and_templates(run, shop, tmp_path):
    write(
        tmp_path / "config.toml",
        """
        [database]
        password = "secretsmanager:shop/db:password"
        hosts = ["ssm:/shop/db-host", "plain.example.com"]
        """,
    )
    (tmp_path / "config.json").write_text(
        json.dumps({"api": {"key": "ssm:/shop/api-key"}, "n": 3, "list": [None, "x"]})
    )
    write(
        tmp_path / "settings.yaml",
        """
        sentry:
          dsn: "https://${ssm:/shop/api-key}@o1.example.io/${secretsmanager:shop/db:port}"
        escaped: "literal:ssm:/not/a/reference"
        """,
    )
    result = run("check", "config.toml", "config.json", "settings.yaml")
    assert result.code == 0, result.output
    assert list(rows(result.out)) == [
        "config.toml:database.password",
        "config.toml:database.hosts[0]",
        "config.json:api.key",
        "settings.yaml:sentry.dsn",
    ]
    # A template gives one line per reference.
    dsn_lines = [line for line in result.out.splitlines() if "sentry.dsn" in line]
    assert [line.split()[1] for line in dsn_lines] == [
        "ssm:/shop/api-key",
        "secretsmanager:shop/db:port",
    ]


def test_check_environment_variables(run, shop, monkeypatch):
    monkeypatch.setenv("APP_DB_PASSWORD", "secretsmanager:shop/db:password")
    result = run("check", "--env")
    assert result.code == 0, result.output
    assert rows(result.out) == {"env:APP_DB_PASSWORD": ["secretsmanager:shop/db:password", "OK"]}


def test_check_django_settings_module(run, shop, tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("")
    write(
        tmp_path / "proj" / "settings.py",
        """
        DEBUG = True
        DATABASES = {"default": {"HOST": "ssm:/shop/db-host",
                                 "PASSWORD": "secretsmanager:shop/db:password"}}
        CACHES = ("ssm:/shop/nope",)
        lowercase_is_ignored = "ssm:/shop/ignored"
        """,
    )
    result = run("check", "--django-settings", "proj.settings")
    assert result.code == 1, result.output
    assert {k: v[1] for k, v in rows(result.out).items()} == {
        "proj.settings:CACHES[0]": "not found",
        "proj.settings:DATABASES.default.HOST": "OK",
        "proj.settings:DATABASES.default.PASSWORD": "OK",
    }


def test_check_django_settings_already_resolved_by_resolve_settings(
    run, shop, tmp_path, monkeypatch
):
    # A settings module ending in resolve_settings(globals()) resolves on import; the CLI
    # checks the references it kept (AWSREFS_REFERENCES), not the resolved values.
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("")
    write(
        tmp_path / "proj" / "settings.py",
        """
        from awsrefs_django import resolve_settings
        DEBUG = True
        DATABASES = {"default": {"HOST": "ssm:/shop/db-host",
                                 "PASSWORD": "secretsmanager:shop/db:password"}}
        API_KEY = "ssm:/shop/api-key"
        resolve_settings(globals())
        """,
    )
    # resolve_settings uses the process's default resolver, made from the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", shop.endpoint_url)
    monkeypatch.setenv("AWS_REGION", shop.region)
    result = run("check", "--django-settings", "proj.settings")
    assert result.code == 0, result.output
    assert rows(result.out) == {
        "proj.settings:API_KEY": ["ssm:/shop/api-key", "OK"],
        "proj.settings:DATABASES.default.HOST": ["ssm:/shop/db-host", "OK"],
        "proj.settings:DATABASES.default.PASSWORD": ["secretsmanager:shop/db:password", "OK"],
    }
    assert PASSWORD not in result.output
    assert "api-Key-9c1e-secure" not in result.output


def test_check_with_aws_unreachable_reports_network_failures(run, aws, tmp_path):
    (tmp_path / ".env").write_text("A=ssm:/x\nB=secretsmanager:y:k\n")
    result = run(
        "check",
        *("--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"),
        *("--retry-budget", "1", ".env"),
        aws_options=False,
    )
    assert result.code == 1, result.output
    assert [cells[1] for cells in rows(result.out).values()] == ["network", "network"]
    bad = run("check", "--retry-budget", "-1", ".env")
    assert bad.code == 2
    assert "--retry-budget must be >= 0 seconds" in bad.err


def hide_module(monkeypatch, name: str) -> None:
    """Make ``name`` and its submodules fail to import, as where it is not installed."""
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        monkeypatch.setitem(sys.modules, loaded, None)
    monkeypatch.setitem(sys.modules, name, None)


def test_django_settings_that_need_django_say_so(run, tmp_path, monkeypatch):
    write(tmp_path / "needs_django.py", "from django.conf import global_settings\n")
    hide_module(monkeypatch, "django")
    result = run("check", "--django-settings", "needs_django", aws_options=False)
    assert result.code == 2
    assert "needs Django, which is not installed: pip install django" in result.err


def test_yaml_without_pyyaml_says_what_to_install(run, tmp_path, monkeypatch):
    (tmp_path / "config.yaml").write_text("a: ssm:/x\n")
    hide_module(monkeypatch, "yaml")
    result = run("check", "config.yaml", aws_options=False)
    assert result.code == 2
    assert "config.yaml: reading YAML needs PyYAML: install pyyaml" in result.err


def test_django_settings_module_not_found(run, aws, tmp_path):
    result = run("check", "--django-settings", "nosuch.settings")
    assert result.code == 2
    assert "no module named 'nosuch.settings'" in result.err


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", 'a = "x"\nb = = 1\n', "bad.toml: invalid TOML: Invalid value (at line 2"),
        ("bad.json", '{"a": 1,\n "b": }', "bad.json: invalid JSON at line 2 column 7"),
        ("bad.yaml", "a: [1, 2\nb: 3\n", "bad.yaml: invalid YAML at line 2 column 2"),
        ("bad.env", "A=1\nthis is not an assignment\n", "bad.env:2:6: expected KEY=value"),
        ("open.env", 'A="never closed\nB=2\n', 'open.env:1:3: the " quote opened here'),
        ("settings.ini", "[a]\n", "cannot tell the format from the name"),
    ],
)
def test_malformed_input_files_exit_2_with_position(run, aws, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    result = run("check", name)
    assert result.code == 2
    assert message in result.err
    assert result.out == ""


def test_usage_errors_exit_2(run, aws, tmp_path):
    nothing = run("check")
    assert nothing.code == 2
    assert "nothing to read" in nothing.err
    missing = run("check", "missing.env")
    assert missing.code == 2
    assert "missing.env: cannot read" in missing.err
    assert run("check", "--no-such-option").code == 2
    write(tmp_path / "plain.env", "A=1\nB=literal:ssm:/escaped\n")
    plain = run("check", "plain.env")
    assert (plain.code, plain.out) == (0, "no references found\n")


def test_profile_option_uses_the_profile(run, shop, tmp_path, monkeypatch):
    config = write(
        tmp_path / "aws-config",
        """
        [profile shop]
        region = us-east-1
        aws_access_key_id = from-profile
        aws_secret_access_key = from-profile
        """,
    )
    write(tmp_path / ".env", "A=ssm:/shop/db-host\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    base = ["check", ".env", "--endpoint-url", shop.endpoint_url]
    # The region comes from the profile only: without it there is none.
    without = run(*base, aws_options=False)
    assert without.code == 1
    assert "configuration" in without.out
    assert "--region" in without.out
    result = run(*base, "--profile", "shop", aws_options=False)
    assert result.code == 0, result.output
    unknown = run(*base, "--profile", "nope", aws_options=False)
    assert unknown.code == 2
    assert "no AWS profile named 'nope'" in unknown.err


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_masks_values_by_default(run, shop, tmp_path):
    write(
        tmp_path / ".env",
        "PASSWORD=secretsmanager:shop/db:password\nTOKEN=secretsmanager:shop/canary\nX=1\n",
    )
    outputs = {}
    for form in ("table", "env", "json"):
        result = run("resolve", ".env", "--format", form)
        assert result.code == 0, result.output
        assert PASSWORD not in result.output
        assert CANARY not in result.output
        assert "--reveal" in result.err
        outputs[form] = result.out
    assert outputs["env"].splitlines() == [
        f"PASSWORD='<hidden, {len(PASSWORD)} chars>'",
        f"TOKEN='<hidden, {len(CANARY)} chars>'",
    ]
    assert [e["value"] for e in json.loads(outputs["json"])] == [
        f"<hidden, {len(PASSWORD)} chars>",
        f"<hidden, {len(CANARY)} chars>",
    ]
    assert rows(outputs["table"]) == {
        ".env:PASSWORD": ["secretsmanager:shop/db:password", f"<hidden, {len(PASSWORD)} chars>"],
        ".env:TOKEN": ["secretsmanager:shop/canary", f"<hidden, {len(CANARY)} chars>"],
    }


def test_resolve_reveal_env_format_round_trips_through_shell_and_dotenv(run, aws, tmp_path):
    tricky = {
        "QUOTE": 'it\'s a "q" \\ for $ 5',  # what cannot be written: test_cli_env_format.py
        "NEWLINE": "line one\nline two $x",
        "SPACES": "  padded value  ",
        "HASH": "a #not-a-comment",
    }
    for name, value in tricky.items():
        aws.put_parameter(f"/t/{name.lower()}", value)
    write(tmp_path / ".env", "".join(f"{n}=ssm:/t/{n.lower()}\n" for n in tricky))
    result = run("resolve", ".env", "--reveal", "--format", "env")
    assert result.code == 0, result.output
    out = tmp_path / "resolved.env"
    out.write_text(result.out)
    # Our own dotenv reader reads it back...
    assert dict(parse_env(result.out, "resolved.env")) == tricky
    # ...and so does a POSIX shell.
    for name, value in tricky.items():
        shell = subprocess.run(
            ["sh", "-c", f'. ./resolved.env && printf %s "${name}"'],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert shell.stdout == value, name


def test_resolve_reveal_json_keeps_types(run, shop, tmp_path):
    write(
        tmp_path / "config.toml",
        """
        port = "secretsmanager:shop/db:port"
        password = "secretsmanager:shop/db:password"
        url = "postgres://shop@${ssm:/shop/db-host}:${secretsmanager:shop/db:port}/shop"
        plain = "not a reference"
        """,
    )
    result = run("resolve", "config.toml", "--reveal", "--format", "json")
    assert result.code == 0, result.output
    assert json.loads(result.out) == [
        {"setting": "config.toml:port", "name": "PORT", "value": 5432},
        {"setting": "config.toml:password", "name": "PASSWORD", "value": PASSWORD},
        {
            "setting": "config.toml:url",
            "name": "URL",
            "value": "postgres://shop@db.internal:5432/shop",
        },
    ]


def test_resolve_failure_prints_table_on_stderr_and_nothing_else(run, shop, tmp_path):
    write(tmp_path / ".env", "A=secretsmanager:shop/db:password\nB=ssm:/shop/nope\n")
    result = run("resolve", ".env", "--reveal")
    assert result.code == 1
    assert result.out == ""
    assert rows(result.err) == {
        ".env:B": ["ssm:/shop/nope", "not found", rows(result.err)[".env:B"][2]]
    }
    assert PASSWORD not in result.err


# -- exec -------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, os, sys
    keys = ["DB_HOST", "DB_PASSWORD", "PORT", "FROM_FILE", "OVERRIDDEN", "UNTOUCHED", "OPTIONAL"]
    with open("child.json", "w") as handle:
        json.dump({"pid": os.getpid(), "env": {k: os.environ.get(k) for k in keys}}, handle)
    """
)


def test_exec_child_sees_resolved_values_in_the_same_process(shop, tmp_path):
    (tmp_path / "child.py").write_text(CHILD)
    write(
        tmp_path / "app.env",
        """
        FROM_FILE=ssm:/shop/db-host
        OVERRIDDEN=from-the-file
        """,
    )
    env = environment(
        shop,
        DB_HOST="ssm:/shop/db-host",
        DB_PASSWORD="secretsmanager:shop/db:password",
        PORT="secretsmanager:shop/db:port",
        OVERRIDDEN="from-the-environment",
        UNTOUCHED="plain $value",
        OPTIONAL="optional:ssm:/shop/not-there",
    )
    command = [sys.executable, "-m", "awsrefs", "exec", "--env-file", "app.env"]
    command += ["--var", "DB_*", "--var", "PORT", "--var", "OPTIONAL"]
    command += ["--endpoint-url", shop.endpoint_url, "--", sys.executable, "child.py"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env)
    assert process.wait(TIMEOUT) == 0
    report = json.loads((tmp_path / "child.json").read_text())
    assert report["env"] == {
        "DB_HOST": "db.internal",
        "DB_PASSWORD": PASSWORD,
        "PORT": "5432",
        "FROM_FILE": "db.internal",
        "OVERRIDDEN": "from-the-environment",
        "UNTOUCHED": "plain $value",
        "OPTIONAL": None,
    }
    assert report["pid"] == process.pid  # exec replaced awsrefs; no wrapper process


def test_exec_failure_stops_before_the_program_starts(run, shop, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", "secretsmanager:shop/db:pasword")
    monkeypatch.setenv("OK", "ssm:/shop/db-host")
    program = [sys.executable, "-c", "print('started')"]
    result = run("exec", "--all-env", "--", *program)
    assert (result.code, result.became) == (1, None)
    assert "started" not in result.out
    assert rows(result.err)["env:DB_PASSWORD"][1] == "no such JSON key"
    assert "env:OK" not in rows(result.err)  # only what failed
    assert f"{sys.executable} was not started" in result.err
    # The same command with the reference fixed starts the program, with the values.
    monkeypatch.setenv("DB_PASSWORD", "secretsmanager:shop/db:password")
    fixed = run("exec", "--all-env", "--", *program)
    assert (fixed.code, fixed.out) == (0, "started\n"), fixed.output
    assert fixed.became.argv == program
    assert (fixed.became.env["DB_PASSWORD"], fixed.became.env["OK"]) == (PASSWORD, "db.internal")


def test_console_script_exit_codes_through_a_real_process(shop, tmp_path):
    # The installed entry point, not python -m: main's code must become the process's status.
    awsrefs = Path(sys.executable).with_name("awsrefs")
    assert awsrefs.exists(), awsrefs
    write(tmp_path / ".env", "A=ssm:/shop/db-host\nB=ssm:/shop/nope\n")
    env = environment(shop, A="ssm:/shop/db-host")

    def real(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(awsrefs), args[0], "--endpoint-url", shop.endpoint_url, *args[1:]]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )

    failed = real("check", ".env")
    assert failed.returncode == 1, failed.stderr
    assert rows(failed.stdout)[".env:B"][1] == "not found"
    exit7 = real("exec", "--var", "A", "--", sys.executable, "-c", "import sys; sys.exit(7)")
    assert exit7.returncode == 7, exit7.stderr
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    killed = real("exec", "--var", "A", "--", sys.executable, "-c", kill)
    assert killed.returncode == -signal.SIGTERM


def test_exec_usage_errors(run):
    assert run("exec").code == 2
    assert run("exec", "--").code == 2
    missing = run("exec", "--all-env", "--", "no-such-program-xyz")
    assert missing.code == 127
    assert "command not found: no-such-program-xyz" in missing.err
    assert run("exec", "--env-file", "nope.env", "--", "true").code == 2


# -- policy -----------------------------------------------------------------------------------


def assert_valid_iam(document):
    assert document["Version"] == "2012-10-17"
    assert isinstance(document["Statement"], list)
    assert document["Statement"]
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(set(sids)) == len(sids)
    for statement in document["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        assert isinstance(statement["Resource"], (str, list))


def resources(document):
    return {
        s["Action"]: s["Resource"] if isinstance(s["Resource"], str) else set(s["Resource"])
        for s in document["Statement"]
    }


def test_policy_covers_exactly_the_references(run, aws, tmp_path):
    other = "arn:aws:ssm:eu-west-1:210987654321:parameter/shared/key"
    full = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/full-AbC123"
    partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/partial"
    write(
        tmp_path / ".env",
        f"""
        A=ssm:/app/db-host
        B=ssm:relative-name:3
        C=ssm:{other}:prod
        D=secretsmanager:app/db:password
        E=secretsmanager:app/db:username
        F=secretsmanager:{full}:key
        G=secretsmanager:{partial}
        H=https://${{ssm:/app/sentry}}@host/${{secretsmanager:app/old:key:AWSPREVIOUS}}
        I=optional:ssm:/app/optional
        PLAIN=value
        """,
    )
    result = run("policy", ".env", "--account", "123456789012")
    assert result.code == 0, result.output
    document = json.loads(result.out)
    assert_valid_iam(document)
    parameter = "arn:aws:ssm:us-east-1:123456789012:parameter/"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    assert resources(document) == {
        "ssm:GetParameters": {
            parameter + "app/db-host",
            parameter + "relative-name",
            parameter + "app/sentry",
            parameter + "app/optional",
            other,
        },
        "secretsmanager:GetSecretValue": {
            secret + "app/db-??????",
            secret + "app/old-??????",
            full,
            full + "-??????",  # in case "AbC123" is part of the name, not the random suffix
            partial + "-??????",
        },
        "secretsmanager:BatchGetSecretValue": "*",
    }
    assert "kms:Decrypt" in result.err


def test_policy_without_batching_and_with_kms_key(run, aws, tmp_path):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    write(tmp_path / ".env", "A=secretsmanager:app/db:password\nB=secretsmanager:app/db:username\n")
    result = run("policy", ".env", "--kms-key", key)
    assert result.code == 0, result.output
    document = json.loads(result.out)
    assert_valid_iam(document)
    # One secret is read with GetSecretValue alone; account "*" without --account.
    assert resources(document) == {
        "secretsmanager:GetSecretValue": {
            "arn:aws:secretsmanager:us-east-1:*:secret:app/db-??????"
        },
        "kms:Decrypt": {key},
    }
    assert result.err == ""


def test_policy_rejects_bad_references_and_empty_inputs(run, aws, tmp_path):
    write(tmp_path / "bad.env", "A=ssm:/ok\nB=secretsmanager:\n")
    bad = run("policy", "bad.env")
    assert bad.code == 1
    assert bad.out == ""
    assert rows(bad.err)["bad.env:B"][1] == "bad syntax"
    write(tmp_path / "none.env", "A=1\n")
    empty = run("policy", "none.env")
    assert empty.code == 2
    assert "no references found" in empty.err
    account = run("policy", "bad.env", "--account", "12")
    assert account.code in (1, 2)


# -- the canary never leaks -------------------------------------------------------------------


def test_canary_never_appears_in_any_output(run, shop, tmp_path, monkeypatch):
    register_secret(CANARY)
    write(
        tmp_path / ".env",
        """
        TOKEN=secretsmanager:shop/canary
        IN_TEMPLATE=Bearer ${secretsmanager:shop/canary}
        AS_JSON=secretsmanager:shop/canary:field
        """,
    )
    commands = [
        ["check", ".env"],
        ["resolve", ".env"],
        ["resolve", ".env", "--format", "env"],
        ["resolve", ".env", "--format", "json"],
        ["policy", ".env"],
        ["exec", "--var", "TOKEN", "--", sys.executable, "-c", "print('child ran')"],
    ]
    monkeypatch.setenv("TOKEN", "secretsmanager:shop/canary")
    for command in commands:
        result = run(*command)  # the cli fixture also checks every registered secret
        assert CANARY not in result.output, command
    assert result.out == "child ran\n"
    assert result.became.env["TOKEN"] == CANARY  # exec hands it to the program only


# -- terminals, help, version -----------------------------------------------------------------


def test_terminal_gets_colours_and_lines_cut_to_width(run, shop, tmp_path, monkeypatch):
    write(
        tmp_path / ".env", "A=ssm:/shop/db-host\nMISSING=ssm:/shop/a-parameter-that-is-not-there\n"
    )
    monkeypatch.setenv("COLUMNS", "100")  # a terminal 100 columns wide
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR")
    result = run("check", ".env", terminal=True)
    assert result.code == 1
    assert "\033[31m" in result.out  # red failure
    assert "\033[32m" in result.out  # green OK
    plain = re.sub(r"\033\[[0-9;]*m", "", result.out)
    table = [line for line in plain.splitlines() if line.startswith(".env:")]
    assert all(len(line) <= 100 for line in table), table
    assert table[1].endswith("…")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in run("check", ".env", terminal=True).out
    # In a pipe the reason is complete.
    piped = run("check", ".env")
    assert "'/shop/a-parameter-that-is-not-there'" in piped.out
    assert "\033[" not in piped.out


def test_help_shows_examples_and_version(run):
    main_help = run("--help", aws_options=False)
    assert main_help.code == 0
    assert "examples:" in main_help.out
    for command in ("check", "resolve", "exec", "policy"):
        sub = run(command, "--help", aws_options=False)
        assert sub.code == 0
        assert "examples:" in sub.out
        assert "--endpoint-url" in sub.out
    version = run("--version", aws_options=False)
    import awsrefs

    assert version.out.strip() == f"awsrefs {awsrefs.__version__}"


# -- the .env reader ----------------------------------------------------------------------------


def test_env_reader():
    text = textwrap.dedent(
        """
        # comment
        export A=1
        B = spaced   # comment
        C='single # kept $x \\n'
        D="double \\"q\\" \\n \\$HOME"
        E="multi
        line"
        F=
        G=a#b
        H.dotted=ok
        """
    )
    assert dict(parse_env(text, "t.env")) == {
        "A": "1",
        "B": "spaced",
        "C": "single # kept $x \\n",
        "D": 'double "q" \n $HOME',
        "E": "multi\nline",
        "F": "",
        "G": "a#b",
        "H.dotted": "ok",
    }
    with pytest.raises(InputError, match=r"t.env:2:7: unexpected text after the closing quote"):
        parse_env("A=1\nB='x' y\n", "t.env")


# -- every command in docs/cli.md runs as shown ---------------------------------------------------


def doc_commands():
    """(command line, expected exit code, expected stdout) of each ``$ awsrefs`` in the docs."""
    blocks = re.findall(r"```console\n(.*?)```", DOCS.read_text(), re.S)
    found = []
    for block in blocks:
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            line, _, shown = chunk.partition("\n")
            exits = re.search(r"#\s*exits with (\d+)", line)
            found.append((line, int(exits.group(1)) if exits else 0, shown))
    return found


def test_docs_show_every_command(tmp_path):
    commands = [line.split()[1] for line, _, _ in doc_commands()]
    assert set(commands) == {"check", "resolve", "exec", "policy"}


def test_docs_commands_run_as_shown(cli, aws, tmp_path, monkeypatch):
    work = tmp_path / "cli"
    shutil.copytree(EXAMPLES, work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)  # the docs use the environment's
    # seed.py runs as the docs say: a plain script using the environment's AWS settings.
    seed = runpy.run_path(str(work / "seed.py"), run_name="__main__")
    for value in seed["SECRETS"].values():
        for part in value.values() if isinstance(value, dict) else [value]:
            if isinstance(part, str) and len(part) > 12:
                register_secret(part)
    for line, expected_code, shown in doc_commands():
        words = shlex.split(line, comments=True)
        assert words[0] == "awsrefs", line
        argv = [sys.executable if word == "python" else word for word in words[1:]]
        result = cli(*argv)  # exec: the program's code and output (see tests/support/cli.py)
        assert result.code == expected_code, (line, result.err)
        assert result.out.rstrip("\n") == shown.rstrip("\n"), line
