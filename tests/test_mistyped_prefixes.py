"""A mistyped prefix (``SSM:/a``, ``secretmanager:a``, ``${optinal:ssm:/a}``) is a syntax error.

Before, each was plain text: the app got the reference text as its value and ``awsrefs check``
said "No references found" with exit status 0. Now the grammar reports it with its position
and the prefix meant; prose and URLs (``Note: ...``, ``https://...``) are never reported.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awsrefs import FailureKind, RefSyntaxError, ResolutionError, Resolver, parse
from awsrefs.cli import main

# Each mistyped value, the position reported, and the prefix suggested.
MISTYPED = [
    ("SSM:/app/db-host", 3, "ssm:"),
    ("Ssm:/app/db-host", 3, "ssm:"),
    ("ssm :/app/db-host", 3, "ssm:"),
    (" SSM:/app/db-host", 4, "ssm:"),
    ("smm:/app/db-host", 3, "ssm:"),
    ("secretmanager:app/db:password", 13, "secretsmanager:"),
    ("Secretsmanager:app/db:password", 14, "secretsmanager:"),
    ("SecretsManager:app/db", 14, "secretsmanager:"),
    ("secrets-manager:app/db", 15, "secretsmanager:"),
    ("secretsmanger:app/db", 13, "secretsmanager:"),
    ("secretsmanager :app/db", 14, "secretsmanager:"),
    ("optinal:ssm:/app/x", 7, "optional:"),
    ("Optional:ssm:/app/x", 8, "optional:"),
    ("optional:SSM:/app/x", 12, "ssm:"),
    ("optional :secretsmanager:app/db", 8, "optional:"),
    ("db=${SSM:/app/db-host}", 8, "ssm:"),
    ("db=${ssm :/app/db-host}", 8, "ssm:"),
    ("db=${ Ssm:/app/db-host}", 9, "ssm:"),
    ("db=${secretmanager:app/db:password}", 18, "secretsmanager:"),
    ("db=${optinal:ssm:/app/x}", 12, "optional:"),
    ("db=${optional:Ssm:/app/x}", 17, "ssm:"),
    ("db=${URL:ssm:/app/x}", 8, "url:"),
    ("db=${url:Secretsmanager:app/db}", 23, "secretsmanager:"),
]


@pytest.mark.parametrize(("text", "position", "meant"), MISTYPED)
def test_mistyped_prefix_is_a_syntax_error_with_position_and_hint(text, position, meant):
    with pytest.raises(RefSyntaxError) as caught:
        parse(text)
    assert caught.value.position == position
    assert f"did you mean '{meant}'" in str(caught.value)
    # Shown up to just after the prefix: never the name or anything after it.
    assert "db-host" not in caught.value.text
    assert "password" not in str(caught.value)


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        ("literal:SSM:/app/db-host", "SSM:/app/db-host"),
        ("literal: Secretsmanager:x", " Secretsmanager:x"),
        ("literal:optinal:ssm:/x", "optinal:ssm:/x"),
        ("literal:url:ssm:/x", "url:ssm:/x"),
        ("cost $${SSM:/x} and $${Optional:ssm:/y}", "cost ${SSM:/x} and ${Optional:ssm:/y}"),
        ("$${ ssm :/x}", "${ ssm :/x}"),
    ],
)
def test_the_documented_escapes_cover_mistyped_prefixes(escaped, value):
    template = parse(escaped)
    assert template is not None
    assert not template.refs
    assert template.render({}) == value
    assert parse(str(template)) == template


@pytest.mark.parametrize(
    "text",
    [
        "Note: the host is below",
        "Optional: bring a towel",
        "optional:yes",
        "SSM: parameter store",
        "Secretsmanager: where secrets live",
        "https://example.com/a:b",
        "ssh://git@example.com/repo",
        "sms:+15551234567",
        "sso:/start",
        "mailto:ops@example.com",
        "postgresql://u:p@h/db",
        "C:\\Users\\x",
        "${HOME}/x",
        "${url:-http://default}",
        "${SSM}",
        "text ${Note: x} more",
        "ssm",
        "urn:isbn:0451450523",
    ],
)
def test_prose_urls_and_shell_variables_are_never_reported(text):
    assert parse(text) is None


_WORD = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
_PROSE = st.text(alphabet=string.ascii_letters + string.digits + " .,!?'-", max_size=40)


@given(word=_WORD, prose=_PROSE)
def test_any_word_then_colon_space_and_prose_is_plain_text(word, prose):
    # A space after the colon: prose, whatever the word ("ssm: x" and "secretsmanager: x"
    # exactly as written are malformed references, as before).
    if word in ("ssm", "secretsmanager"):
        return
    text = f"{word}: {prose}"
    assert parse(text) is None
    assert parse(f"see ${{{word}: {prose}}}") is None


@given(
    scheme=st.sampled_from(
        [
            "http",
            "https",
            "ssh",
            "sftp",
            "ftp",
            "postgres",
            "postgresql",
            "mysql",
            "redis",
            "rediss",
            "amqp",
            "sqlite",
            "file",
            "ldap",
            "smtp",
            "s",
            "sms",
            "ssl",
            "ws",
            "wss",
            "git",
            "memcache",
            "mongodb",
            "nats",
            "kafka",
            "Secret",
            "Optional",
            "URL",
            "Sms",
        ]
    ),
    host=st.text(alphabet=string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=20),
    path=st.text(alphabet=string.ascii_letters + string.digits + "/._-?=&", max_size=30),
)
def test_urls_are_plain_text(scheme, host, path):
    assert parse(f"{scheme}://{host}/{path}") is None
    assert parse(f"x=${{{scheme}://{host}/{path}}}") is None


@pytest.fixture
def resolver(aws):
    aws.put_parameter("/app/db-host", "db.internal")
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def test_resolve_lists_every_mistyped_prefix_and_fetches_nothing_for_them(resolver):
    settings = {
        "HOST": "ssm:/app/db-host",
        "A": "SSM:/app/db-host",
        "B": "secretmanager:app/db:password",
        "C": "postgres://app@${ssm :/app/db-host}/app",
        "D": "optinal:ssm:/app/db-host",
        "NOTE": "Note: SSM is used for the host",
    }
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(settings)
    failures = {f.path: f for f in caught.value.failures}
    assert set(failures) == {"A", "B", "C", "D"}
    assert all(f.kind is FailureKind.SYNTAX for f in failures.values())
    assert "did you mean 'ssm:'" in failures["A"].reason
    assert "did you mean 'secretsmanager:'" in failures["B"].reason
    assert "did you mean 'ssm:'" in failures["C"].reason
    assert "did you mean 'optional:'" in failures["D"].reason
    assert failures["C"].reference == "${ssm ..."


def test_awsrefs_check_exits_non_zero_and_names_each_mistyped_setting(aws, tmp_path, capsys):
    aws.put_parameter("/app/db-host", "db.internal")
    settings = tmp_path / "app.env"
    settings.write_text(
        "DB_HOST=SSM:/app/db-host\n"
        "DB_PASSWORD=secretmanager:app/db:password\n"
        "DB_URL=postgres://app@${Ssm:/app/db-host}/app\n"
        "TOKEN=optinal:ssm:/app/token\n"
        "GREETING=Note: hello\n"
    )
    code = main(
        ["check", "--endpoint-url", aws.endpoint_url, "--region", aws.region, str(settings)]
    )
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1, text
    assert "No references found" not in text
    for name in ("DB_HOST", "DB_PASSWORD", "DB_URL", "TOKEN"):
        assert name in text
    assert "GREETING" not in text
    assert text.count("bad syntax") == 4
    assert "did you mean 'ssm:'" in text
    assert "did you mean 'secretsmanager:'" in text
    assert "did you mean 'optional:'" in text
