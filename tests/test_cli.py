"""The ``awsrefs`` command, run as a user runs it: a subprocess against the moto server."""

from __future__ import annotations

import json
import os
import pty
import re
import select
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


def environment(aws, **extra):
    env = dict(os.environ)
    # The endpoint comes from --endpoint-url in run(), proving the option is used.
    env.pop("AWS_ENDPOINT_URL", None)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def run(aws, *args, cwd, env=None, aws_options=True):
    command = [sys.executable, "-m", "awsrefs", *args]
    if aws_options:
        # AWS options go right after the subcommand (before "--" of exec).
        command[4:4] = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    return subprocess.run(
        command,
        cwd=cwd,
        env=env or environment(aws),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def run_code(aws, code, *, cwd):
    """Run Python code (which calls the CLI's main) in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=environment(aws),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def output(result):
    return result.stdout + result.stderr


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


def test_check_all_ok_prints_table_without_values(shop, tmp_path):
    write(
        tmp_path / ".env",
        """
        export DB_HOST=ssm:/shop/db-host
        DB_PASSWORD="secretsmanager:shop/db:password"  # the database
        TOKEN='secretsmanager:shop/canary'
        DEBUG=false
        """,
    )
    result = run(shop, "check", ".env", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    assert rows(result.stdout) == {
        ".env:DB_HOST": ["ssm:/shop/db-host", "OK"],
        ".env:DB_PASSWORD": ["secretsmanager:shop/db:password", "OK"],
        ".env:TOKEN": ["secretsmanager:shop/canary", "OK"],
    }
    assert result.stdout.splitlines()[0].split() == ["SETTING", "REFERENCE", "STATUS", "REASON"]
    assert "3 references: 3 OK, 0 failed" in result.stdout
    for value in (PASSWORD, CANARY, "db.internal"):
        assert value not in output(result)


def test_check_failures_give_reasons_and_exit_code_1(shop, tmp_path):
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
    result = run(shop, "check", "app.env", cwd=tmp_path)
    assert result.returncode == 1, output(result)
    table = rows(result.stdout)
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
    assert "6 references: 2 OK, 4 failed" in result.stdout
    assert CANARY not in output(result)


def test_check_json_format(shop, tmp_path):
    write(tmp_path / ".env", "A=ssm:/shop/db-host\nB=ssm:/shop/missing\n")
    result = run(shop, "check", ".env", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["summary"] == {"references": 2, "ok": 1, "failed": 1}
    assert [(r["setting"], r["status"], r["ok"]) for r in document["references"]] == [
        (".env:A", "OK", True),
        (".env:B", "not found", False),
    ]
    assert document["references"][1]["kind"] == "not found"
    assert "/shop/missing" in document["references"][1]["reason"]


def test_check_reads_json_toml_yaml_and_templates(shop, tmp_path):
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
    result = run(shop, "check", "config.toml", "config.json", "settings.yaml", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    assert list(rows(result.stdout)) == [
        "config.toml:database.password",
        "config.toml:database.hosts[0]",
        "config.json:api.key",
        "settings.yaml:sentry.dsn",
    ]
    # A template gives one line per reference.
    dsn_lines = [line for line in result.stdout.splitlines() if "sentry.dsn" in line]
    assert [line.split()[1] for line in dsn_lines] == [
        "ssm:/shop/api-key",
        "secretsmanager:shop/db:port",
    ]


def test_check_environment_variables(shop, tmp_path):
    env = environment(shop, APP_DB_PASSWORD="secretsmanager:shop/db:password")
    result = run(shop, "check", "--env", cwd=tmp_path, env=env)
    assert result.returncode == 0, output(result)
    assert rows(result.stdout) == {"env:APP_DB_PASSWORD": ["secretsmanager:shop/db:password", "OK"]}


def test_check_django_settings_module(shop, tmp_path):
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
    result = run(shop, "check", "--django-settings", "proj.settings", cwd=tmp_path)
    assert result.returncode == 1, output(result)
    assert {k: v[1] for k, v in rows(result.stdout).items()} == {
        "proj.settings:CACHES[0]": "not found",
        "proj.settings:DATABASES.default.HOST": "OK",
        "proj.settings:DATABASES.default.PASSWORD": "OK",
    }


def test_check_django_settings_already_resolved_by_resolve_settings(shop, tmp_path):
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
    env = environment(shop, AWS_ENDPOINT_URL=shop.endpoint_url, AWS_REGION=shop.region)
    result = run(shop, "check", "--django-settings", "proj.settings", cwd=tmp_path, env=env)
    assert result.returncode == 0, output(result)
    assert rows(result.stdout) == {
        "proj.settings:API_KEY": ["ssm:/shop/api-key", "OK"],
        "proj.settings:DATABASES.default.HOST": ["ssm:/shop/db-host", "OK"],
        "proj.settings:DATABASES.default.PASSWORD": ["secretsmanager:shop/db:password", "OK"],
    }
    assert PASSWORD not in output(result)
    assert "api-Key-9c1e-secure" not in output(result)


def test_check_with_aws_unreachable_reports_network_failures(aws, tmp_path):
    (tmp_path / ".env").write_text("A=ssm:/x\nB=secretsmanager:y:k\n")
    result = run(  # the subprocess timeout guards against a hang; the time is not asserted
        aws,
        "check",
        *("--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"),
        *("--retry-budget", "1", ".env"),
        cwd=tmp_path,
        aws_options=False,
    )
    assert result.returncode == 1, output(result)
    assert [cells[1] for cells in rows(result.stdout).values()] == ["network", "network"]
    bad = run(aws, "check", "--retry-budget", "-1", ".env", cwd=tmp_path)
    assert bad.returncode == 2
    assert "--retry-budget must be >= 0 seconds" in bad.stderr


def test_django_settings_that_need_django_say_so(aws, tmp_path):
    write(tmp_path / "needs_django.py", "from django.conf import global_settings\n")
    # Hide Django from this process only, the way an environment without it behaves.
    code = (
        "import sys; sys.modules['django'] = None; from awsrefs.cli import main; "
        "raise SystemExit(main(['check', '--django-settings', 'needs_django']))"
    )
    result = run_code(aws, code, cwd=tmp_path)
    assert result.returncode == 2
    assert "needs Django, which is not installed: pip install django" in result.stderr


def test_yaml_without_pyyaml_says_what_to_install(aws, tmp_path):
    (tmp_path / "config.yaml").write_text("a: ssm:/x\n")
    code = (
        "import sys; sys.modules['yaml'] = None; from awsrefs.cli import main; "
        "raise SystemExit(main(['check', 'config.yaml']))"
    )
    result = run_code(aws, code, cwd=tmp_path)
    assert result.returncode == 2
    assert "config.yaml: reading YAML needs PyYAML: install pyyaml" in result.stderr


def test_django_settings_module_not_found(aws, tmp_path):
    result = run(aws, "check", "--django-settings", "nosuch.settings", cwd=tmp_path)
    assert result.returncode == 2
    assert "no module named 'nosuch.settings'" in result.stderr


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
def test_malformed_input_files_exit_2_with_position(aws, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    result = run(aws, "check", name, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_usage_errors_exit_2(aws, tmp_path):
    nothing = run(aws, "check", cwd=tmp_path)
    assert nothing.returncode == 2
    assert "nothing to read" in nothing.stderr
    missing = run(aws, "check", "missing.env", cwd=tmp_path)
    assert missing.returncode == 2
    assert "missing.env: cannot read" in missing.stderr
    assert run(aws, "check", "--no-such-option", cwd=tmp_path).returncode == 2
    write(tmp_path / "plain.env", "A=1\nB=literal:ssm:/escaped\n")
    plain = run(aws, "check", "plain.env", cwd=tmp_path)
    assert (plain.returncode, plain.stdout) == (0, "no references found\n")


def test_profile_option_uses_the_profile(shop, tmp_path):
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
    env = environment(shop, AWS_CONFIG_FILE=str(config))
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    base = ["check", ".env", "--endpoint-url", shop.endpoint_url]
    # The region comes from the profile only: without it there is none.
    without = run(shop, *base, cwd=tmp_path, env=env, aws_options=False)
    assert without.returncode == 1
    assert "configuration" in without.stdout
    assert "--region" in without.stdout
    result = run(shop, *base, "--profile", "shop", cwd=tmp_path, env=env, aws_options=False)
    assert result.returncode == 0, output(result)
    unknown = run(shop, *base, "--profile", "nope", cwd=tmp_path, env=env, aws_options=False)
    assert unknown.returncode == 2
    assert "no AWS profile named 'nope'" in unknown.stderr


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_masks_values_by_default(shop, tmp_path):
    write(
        tmp_path / ".env",
        "PASSWORD=secretsmanager:shop/db:password\nTOKEN=secretsmanager:shop/canary\nX=1\n",
    )
    outputs = {}
    for form in ("table", "env", "json"):
        result = run(shop, "resolve", ".env", "--format", form, cwd=tmp_path)
        assert result.returncode == 0, output(result)
        assert PASSWORD not in output(result)
        assert CANARY not in output(result)
        assert "--reveal" in result.stderr
        outputs[form] = result.stdout
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


def test_resolve_reveal_env_format_round_trips_through_shell_and_dotenv(aws, tmp_path):
    tricky = {
        "QUOTE": 'it\'s a "q" \\ for $ 5',  # what cannot be written: test_cli_env_format.py
        "NEWLINE": "line one\nline two $x",
        "SPACES": "  padded value  ",
        "HASH": "a #not-a-comment",
    }
    for name, value in tricky.items():
        aws.put_parameter(f"/t/{name.lower()}", value)
    write(tmp_path / ".env", "".join(f"{n}=ssm:/t/{n.lower()}\n" for n in tricky))
    result = run(aws, "resolve", ".env", "--reveal", "--format", "env", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    out = tmp_path / "resolved.env"
    out.write_text(result.stdout)
    # Our own dotenv reader reads it back...
    assert dict(parse_env(result.stdout, "resolved.env")) == tricky
    # ...and so does a POSIX shell.
    for name, value in tricky.items():
        shell = subprocess.run(
            ["sh", "-c", f'. ./resolved.env && printf %s "${name}"'],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        assert shell.stdout == value, name


def test_resolve_reveal_json_keeps_types(shop, tmp_path):
    write(
        tmp_path / "config.toml",
        """
        port = "secretsmanager:shop/db:port"
        password = "secretsmanager:shop/db:password"
        url = "postgres://shop@${ssm:/shop/db-host}:${secretsmanager:shop/db:port}/shop"
        plain = "not a reference"
        """,
    )
    result = run(shop, "resolve", "config.toml", "--reveal", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    assert json.loads(result.stdout) == [
        {"setting": "config.toml:port", "name": "PORT", "value": 5432},
        {"setting": "config.toml:password", "name": "PASSWORD", "value": PASSWORD},
        {
            "setting": "config.toml:url",
            "name": "URL",
            "value": "postgres://shop@db.internal:5432/shop",
        },
    ]


def test_resolve_failure_prints_table_on_stderr_and_nothing_else(shop, tmp_path):
    write(tmp_path / ".env", "A=secretsmanager:shop/db:password\nB=ssm:/shop/nope\n")
    result = run(shop, "resolve", ".env", "--reveal", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert rows(result.stderr) == {
        ".env:B": ["ssm:/shop/nope", "not found", rows(result.stderr)[".env:B"][2]]
    }
    assert PASSWORD not in result.stderr


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


def test_exec_failure_stops_before_the_program_starts(shop, tmp_path):
    marker = tmp_path / "started"
    env = environment(shop, DB_PASSWORD="secretsmanager:shop/db:pasword", OK="ssm:/shop/db-host")
    code = f"open({str(marker)!r}, 'w').close()"
    result = run(shop, "exec", "--all-env", "--", sys.executable, "-c", code, cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert not marker.exists()
    assert rows(result.stderr)["env:DB_PASSWORD"][1] == "no such JSON key"
    assert "env:OK" not in rows(result.stderr)  # only what failed
    assert f"{sys.executable} was not started" in result.stderr
    # The same command with the reference fixed does start the program.
    env["DB_PASSWORD"] = "secretsmanager:shop/db:password"
    fixed = run(shop, "exec", "--all-env", "--", sys.executable, "-c", code, cwd=tmp_path, env=env)
    assert fixed.returncode == 0, output(fixed)
    assert marker.exists()


def test_exec_passes_exit_code_and_signals_through(shop, tmp_path):
    env = environment(shop, A="ssm:/shop/db-host")
    exit7 = run(
        shop,
        "exec",
        "--var",
        "A",
        "--",
        sys.executable,
        "-c",
        "import sys; sys.exit(7)",
        cwd=tmp_path,
        env=env,
    )
    assert exit7.returncode == 7
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    killed = run(
        shop, "exec", "--var", "A", "--", sys.executable, "-c", kill, cwd=tmp_path, env=env
    )
    assert killed.returncode == -signal.SIGTERM


def test_exec_usage_errors(aws, tmp_path):
    assert run(aws, "exec", cwd=tmp_path).returncode == 2
    assert run(aws, "exec", "--", cwd=tmp_path).returncode == 2
    missing = run(aws, "exec", "--all-env", "--", "no-such-program-xyz", cwd=tmp_path)
    assert missing.returncode == 127
    assert "command not found: no-such-program-xyz" in missing.stderr
    assert run(aws, "exec", "--env-file", "nope.env", "--", "true", cwd=tmp_path).returncode == 2


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


def test_policy_covers_exactly_the_references(aws, tmp_path):
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
    result = run(aws, "policy", ".env", "--account", "123456789012", cwd=tmp_path)
    assert result.returncode == 0, output(result)
    document = json.loads(result.stdout)
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
    assert "kms:Decrypt" in result.stderr


def test_policy_without_batching_and_with_kms_key(aws, tmp_path):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    write(tmp_path / ".env", "A=secretsmanager:app/db:password\nB=secretsmanager:app/db:username\n")
    result = run(aws, "policy", ".env", "--kms-key", key, cwd=tmp_path)
    assert result.returncode == 0, output(result)
    document = json.loads(result.stdout)
    assert_valid_iam(document)
    # One secret is read with GetSecretValue alone; account "*" without --account.
    assert resources(document) == {
        "secretsmanager:GetSecretValue": {
            "arn:aws:secretsmanager:us-east-1:*:secret:app/db-??????"
        },
        "kms:Decrypt": {key},
    }
    assert result.stderr == ""


def test_policy_rejects_bad_references_and_empty_inputs(aws, tmp_path):
    write(tmp_path / "bad.env", "A=ssm:/ok\nB=secretsmanager:\n")
    bad = run(aws, "policy", "bad.env", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert rows(bad.stderr)["bad.env:B"][1] == "bad syntax"
    write(tmp_path / "none.env", "A=1\n")
    empty = run(aws, "policy", "none.env", cwd=tmp_path)
    assert empty.returncode == 2
    assert "no references found" in empty.stderr
    account = run(aws, "policy", "bad.env", "--account", "12", cwd=tmp_path)
    assert account.returncode in (1, 2)


# -- the canary never leaks -------------------------------------------------------------------


def test_canary_never_appears_in_any_output(shop, tmp_path):
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
    env = environment(shop, TOKEN="secretsmanager:shop/canary")
    for command in commands:
        result = run(shop, *command, cwd=tmp_path, env=env)
        assert CANARY not in output(result), command


# -- terminals, help, version -----------------------------------------------------------------


def run_in_terminal(aws, args, cwd, **extra):
    """Run the CLI with stdout on a pseudo-terminal 100 columns wide; returns (code, text)."""
    primary, secondary = pty.openpty()
    env = environment(aws, COLUMNS="100", **extra)
    env.pop("NO_COLOR", None)
    env.update(extra)
    command = [sys.executable, "-m", "awsrefs", *args, "--endpoint-url", aws.endpoint_url]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([primary], [], [], TIMEOUT)
        if not ready:
            process.kill()
            raise AssertionError("no output from the CLI")
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return process.wait(TIMEOUT), b"".join(chunks).decode()


def test_terminal_gets_colours_and_lines_cut_to_width(shop, tmp_path):
    write(
        tmp_path / ".env", "A=ssm:/shop/db-host\nMISSING=ssm:/shop/a-parameter-that-is-not-there\n"
    )
    code, text = run_in_terminal(shop, ["check", ".env"], tmp_path)
    assert code == 1
    assert "\033[31m" in text  # red failure
    assert "\033[32m" in text  # green OK
    plain = re.sub(r"\033\[[0-9;]*m", "", text)
    table = [line for line in plain.splitlines() if line.startswith(".env:")]
    assert all(len(line) <= 100 for line in table), table
    assert table[1].endswith("…")
    _, without = run_in_terminal(shop, ["check", ".env"], tmp_path, NO_COLOR="1")
    assert "\033[" not in without
    # In a pipe the reason is complete.
    piped = run(shop, "check", ".env", cwd=tmp_path)
    assert "'/shop/a-parameter-that-is-not-there'" in piped.stdout
    assert "\033[" not in piped.stdout


def test_help_shows_examples_and_version(aws, tmp_path):
    main_help = run(aws, "--help", cwd=tmp_path, aws_options=False)
    assert main_help.returncode == 0
    assert "examples:" in main_help.stdout
    for command in ("check", "resolve", "exec", "policy"):
        sub = run(aws, command, "--help", cwd=tmp_path, aws_options=False)
        assert sub.returncode == 0
        assert "examples:" in sub.stdout
        assert "--endpoint-url" in sub.stdout
    version = run(aws, "--version", cwd=tmp_path, aws_options=False)
    import awsrefs

    assert version.stdout.strip() == f"awsrefs {awsrefs.__version__}"


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


def test_docs_commands_run_as_shown(aws, tmp_path):
    import importlib.util

    work = tmp_path / "cli"
    shutil.copytree(EXAMPLES, work)
    spec = importlib.util.spec_from_file_location("cli_seed", work / "seed.py")
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    for value in seed.SECRETS.values():
        for part in value.values() if isinstance(value, dict) else [value]:
            if isinstance(part, str) and len(part) > 12:
                register_secret(part)
    # seed.py itself runs as the docs say: a plain script using the environment's AWS settings.
    subprocess.run([sys.executable, "seed.py"], cwd=work, check=True, timeout=TIMEOUT)
    env = dict(os.environ, NO_COLOR="1")
    for line, expected_code, shown in doc_commands():
        words = shlex.split(line, comments=True)
        replacements = {"awsrefs": [sys.executable, "-m", "awsrefs"], "python": [sys.executable]}
        argv = [part for word in words for part in replacements.get(word, [word])]
        result = subprocess.run(
            argv, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        assert result.returncode == expected_code, (line, result.stderr)
        assert result.stdout.rstrip("\n") == shown.rstrip("\n"), line
