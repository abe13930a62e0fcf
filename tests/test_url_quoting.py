"""``${url:...}`` puts a value into a URL percent-encoded, so it stays one URL component.

A plain ``${...}`` part inserts the value as it is: a password ``pw@evil.example:6543/x?``
in ``postgresql://app:${...}@db.internal/app`` makes SQLAlchemy connect to evil.example, and
``Xy7%41#q`` reads back as ``Xy7A``. Through moto over HTTP and SQLAlchemy's own URL parser.
"""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from awsrefs import FailureKind, QuotedRef, ResolutionError, Resolver, SecretRef, SSMRef, parse
from tests.support.databases import unique_name

PASSWORDS = ["pw@evil.example:6543/x?", "Xy7%41#q", "p/ss w:rd@h#f?q=1&x=%zz"]
URL = "postgresql+psycopg://app:${url:secretsmanager:app/db:password}@db.internal:5432/app"


@pytest.fixture
def resolver(aws):
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


@pytest.mark.parametrize("password", PASSWORDS)
def test_url_quoted_password_reads_back_exactly_and_the_host_stays(aws, resolver, password):
    aws.put_secret("app/db", {"username": "app", "password": password, "port": 5432})
    url = make_url(resolver.resolve({"DB_URL": URL})["DB_URL"])
    assert url.password == password
    assert (url.host, url.port, url.database, url.username) == ("db.internal", 5432, "app", "app")
    assert not url.query


@pytest.mark.parametrize("password", PASSWORDS[:2])
def test_sqlalchemy_logs_in_to_real_postgresql_with_the_quoted_password(
    aws, resolver, postgres_server, password
):
    user = unique_name("urlq")
    postgres_server.create_user(user, password)
    aws.put_secret("app/db", {"username": user, "password": password})
    template = (
        "postgresql+psycopg://${url:secretsmanager:app/db:username}:"
        "${url:secretsmanager:app/db:password}"
        f"@{postgres_server.host}:{postgres_server.port}/{postgres_server.database}"
    )
    engine = sqlalchemy.create_engine(resolver.resolve(template), poolclass=sqlalchemy.NullPool)
    try:
        with engine.connect() as conn:
            row = conn.execute(sqlalchemy.text("SELECT current_user, inet_server_port()")).one()
    finally:
        engine.dispose()
    assert tuple(row) == (user, postgres_server.port)


def test_without_url_the_value_changes_the_url(aws, resolver):
    # Why the modifier exists: inserted as it is, the password picks the host.
    aws.put_secret("app/db", {"username": "app", "password": PASSWORDS[0]})
    plain = URL.replace("${url:", "${")
    assert make_url(resolver.resolve(plain)).host != "db.internal"


def test_non_text_values_are_quoted_as_their_template_text(aws, resolver):
    aws.put_secret("app/db", {"port": 5432, "on": True, "tags": ["a b"], "none": None})
    aws.put_secret("app/bin", "caf\u00e9 &".encode())
    aws.put_secret("app/raw", b"\xff\xfe")
    template = (
        "x://h:${url:secretsmanager:app/db:port}/?on=${url:secretsmanager:app/db:on}"
        "&t=${url:secretsmanager:app/db:tags}&n=${url:secretsmanager:app/db:none}"
        "&b=${url:secretsmanager:app/bin}"
    )
    assert resolver.resolve(template) == (
        "x://h:5432/?on=true&t=%5B%22a%20b%22%5D&n=&b=caf%C3%A9%20%26"
    )
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve("x://h/?b=${url:secretsmanager:app/raw}")
    assert caught.value.failures[0].kind is FailureKind.NOT_TEXT


def test_url_composes_with_optional_and_with_plain_parts(aws, resolver):
    aws.put_parameter("/app/token", "a/b c")
    both = resolver.resolve("${ssm:/app/token}|${url:ssm:/app/token}|${url:optional:ssm:/nope}")
    assert both == "a/b c|a%2Fb%20c|"
    assert resolver.stats.calls["ssm:GetParameters"] == 1
    assert resolver.resolve("${optional:url:ssm:/app/token}") == "a%2Fb%20c"


def test_url_parts_parse_and_print_back():
    template = parse("u:${url:optional:secretsmanager:db:password}@h/${url:ssm:/n}")
    assert template is not None
    assert template.parts == (
        "u:",
        QuotedRef(SecretRef("db", "password", optional=True)),
        "@h/",
        QuotedRef(SSMRef("/n")),
    )
    assert template.refs == (SecretRef("db", "password", optional=True), SSMRef("/n"))
    assert str(template) == "u:${url:optional:secretsmanager:db:password}@h/${url:ssm:/n}"
    assert parse("${optional:url:ssm:/n}") == parse("${url:optional:ssm:/n}")
    assert parse(str(template)) == template


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("u:${url:ssm:/a b}@h", 14),
        ("u:${url:url:ssm:/a}@h", 8),
        ("u:${url: ssm:/a}@h", 8),
        ("url:ssm:/a", 3),
        ("optional:url:ssm:/a", 12),
    ],
)
def test_malformed_url_parts_are_syntax_errors_with_positions(text, position):
    from awsrefs import RefSyntaxError

    with pytest.raises(RefSyntaxError) as caught:
        parse(text)
    assert caught.value.position == position


def test_url_without_a_reference_is_left_alone():
    # ${url:-default} is shell syntax, not a reference.
    assert parse("${url:-http://x}") is None
    assert parse("literal:url:ssm:/a").render({}) == "url:ssm:/a"
    assert parse("$${url:ssm:/a}").render({}) == "${url:ssm:/a}"
