"""The reference grammar: every form of DESIGN.md section 3, errors with positions, properties."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awsrefs
from awsrefs import QuotedRef, RefSyntaxError, SecretRef, SSMRef, Template, parse

# -- forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssm:/myapp/prod/db-host", SSMRef("/myapp/prod/db-host")),
        ("ssm:plain_name.v2", SSMRef("plain_name.v2")),
        ("ssm:/a/b:3", SSMRef("/a/b", "3")),
        ("ssm:/a/b:prod", SSMRef("/a/b", "prod")),
        (
            "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/a/b",
            SSMRef("arn:aws:ssm:eu-west-1:123456789012:parameter/a/b"),
        ),
        (
            "ssm:arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/a:7",
            SSMRef("arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/a", "7"),
        ),
        ("secretsmanager:myapp/prod/db", SecretRef("myapp/prod/db")),
        ("secretsmanager:myapp/prod/db:password", SecretRef("myapp/prod/db", "password")),
        (
            "secretsmanager:db:password:AWSPREVIOUS",
            SecretRef("db", "password", "AWSPREVIOUS"),
        ),
        ("secretsmanager:db::AWSPENDING", SecretRef("db", None, "AWSPENDING")),
        (
            "secretsmanager:db:password::0f9a-12ab",
            SecretRef("db", "password", None, "0f9a-12ab"),
        ),
        ("secretsmanager:db:password::", SecretRef("db", "password")),
        ("secretsmanager:db:::", SecretRef("db")),
        (
            "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
            SecretRef("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"),
        ),
        (
            "secretsmanager:arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db:pw:AWSCURRENT",
            SecretRef(
                "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db", "pw", "AWSCURRENT"
            ),
        ),
        ("optional:ssm:/a", SSMRef("/a", optional=True)),
        ("optional:secretsmanager:s:k", SecretRef("s", "k", optional=True)),
    ],
)
def test_whole_value_references(text, expected):
    ref = parse(text)
    assert ref == expected
    assert parse(str(ref)) == ref


def test_arn_region_and_account_are_exposed():
    ssm = parse("ssm:arn:aws:ssm:eu-west-1:210987654321:parameter/shared/x")
    assert isinstance(ssm, SSMRef)
    assert (ssm.region, ssm.account) == ("eu-west-1", "210987654321")
    secret = parse("secretsmanager:arn:aws:secretsmanager:ap-south-1:123456789012:secret:x")
    assert isinstance(secret, SecretRef)
    assert secret.region == "ap-south-1"
    assert parse("ssm:/local").region is None


@pytest.mark.parametrize(
    "text",
    ["", "hello", "postgres://u:p@h/db", "optional:yes", " ssmx", "${HOME}/x", "${url:-x}"],
)
def test_plain_text_is_not_a_reference(text):
    assert parse(text) is None


def test_template_parts_and_rendering():
    tpl = parse("https://${ssm:/k}@o1.example.io/${secretsmanager:s:port}?x=${optional:ssm:/o}")
    assert isinstance(tpl, Template)
    assert tpl.refs == (SSMRef("/k"), SecretRef("s", "port"), SSMRef("/o", optional=True))
    values = {SSMRef("/k"): "key", SecretRef("s", "port"): 5432, SSMRef("/o", optional=True): None}
    assert tpl.render(values) == "https://key@o1.example.io/5432?x="


def test_dollar_escape_gives_a_literal_reference_text():
    tpl = parse("cost $${ssm:/not-a-ref} and ${ssm:/real}")
    assert isinstance(tpl, Template)
    assert tpl.refs == (SSMRef("/real"),)
    assert tpl.render({SSMRef("/real"): "R"}) == "cost ${ssm:/not-a-ref} and R"
    only_escape = parse("$${ssm:/x}")
    assert only_escape == Template(("${ssm:/x}",))


def test_literal_escape_for_values_that_start_like_a_reference():
    assert parse("literal:ssm:not/a/ref") == Template(("ssm:not/a/ref",))
    assert parse("literal:secretsmanager:a b c") == Template(("secretsmanager:a b c",))
    assert parse("literal:other") is None  # nothing to escape: stays as written
    assert str(Template(("ssm:x y",))) == "literal:ssm:x y"


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "expected_words"),
    [
        ("ssm:", 4, "a parameter name"),
        ("ssm:/a b", 6, "parameter name character"),
        ("ssm:/a:", 7, "version number or label"),
        ("ssm:/a:1x", 8, "version number (digits only)"),
        ("ssm:arn:aws:ssm:moon-1:123456789012:parameter/a", 16, "AWS region"),
        ("ssm:arn:aws:ssm:us-east-1:1234:parameter/a", 26, "12-digit account id"),
        ("ssm:arn:aws:sns:us-east-1:123456789012:parameter/a", 12, "service 'ssm'"),
        ("ssm:arn:azure:ssm:us-east-1:123456789012:parameter/a", 8, "partition"),
        ("secretsmanager:", 15, "a secret name"),
        ("secretsmanager:a:b:c:d:e", 22, "at most :key:stage:version-id"),
        ("secretsmanager:a:b:STAGE!", 24, "staging label"),
        ("secretsmanager:a:k with space", 18, "a JSON key"),
        (
            "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:parameter/x",
            61,
            "'secret:'",
        ),
        ("optional:ssm:/a%", 15, "parameter name character"),
    ],
)
def test_malformed_references_raise_with_position(text, position, expected_words):
    with pytest.raises(RefSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert error.position == position
    assert expected_words in error.expected
    assert f"position {position}" in str(error)
    assert isinstance(error, awsrefs.RefError)
    assert isinstance(error, ValueError)


def test_template_errors_show_only_the_reference_not_the_surrounding_text():
    text = "postgres://app:hunter2-literal-password@db/${ssm:/a b}?sslmode=require"
    with pytest.raises(RefSyntaxError) as caught:
        parse(text)
    error = caught.value
    message = str(error)
    assert "hunter2" not in message
    assert "sslmode" not in message
    assert error.text == "${ssm:/a ..."
    # The position in the message counts from the start of the part shown...
    assert "'${ssm:/a ...' at position 8:" in message
    assert error.text[8] == " "
    # ...while the attributes still locate it in the whole value.
    assert error.position == text.index(" b}")
    assert error.offset == text.index("${")


def test_the_text_after_the_error_is_never_shown():
    with pytest.raises(RefSyntaxError) as caught:
        parse("ssm:/db?password=hunter2-after-error")
    assert caught.value.text == "ssm:/db?..."
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "x ${ssm:/a?pw=hunter2-unclosed",
        "https://u@h/${secretsmanager:db:password?pw=hunter2-unclosed",
        "${optional:ssm:/a pw=hunter2-unclosed",
        '{"url": "${ssm:/a", "pw": "hunter2-unclosed"',
    ],
)
def test_unclosed_template_reference_shows_only_its_opening(text):
    with pytest.raises(RefSyntaxError, match="'}' closing the reference") as caught:
        parse(text)
    error = caught.value
    assert "hunter2" not in str(error)
    assert "hunter2" not in error.text
    assert error.text.startswith("${")
    assert error.text.endswith("...")
    assert len(error.text) <= len("${secretsmanager:...")
    assert error.position == len(text)


def test_optional_in_template_must_wrap_a_reference():
    with pytest.raises(RefSyntaxError, match="'ssm:' or 'secretsmanager:'"):
        parse("a ${optional:foo} b")


def test_name_length_limits():
    assert parse("ssm:/" + "a" * 2047) is not None
    with pytest.raises(RefSyntaxError, match="at most 2048"):
        parse("ssm:/" + "a" * 2048)
    with pytest.raises(RefSyntaxError, match="at most 512"):
        parse("secretsmanager:" + "s" * 513)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("ssm:/" + "a" * 1_000_000 + "%", 4 + 2048),  # too long: where the limit is passed
        ("ssm:/" + "a" * 1500 + "%", 5 + 1500),  # a bad character far in
        ("secretsmanager:" + "s" * 1_000_000, 15 + 512),
        ("secretsmanager:s:" + "k" * 1_000_000 + " ", 17 + 1_000_000),
        ("x ${ssm:/" + "a" * 1500 + " }", 9 + 1500),
    ],
)
def test_messages_are_capped_in_length_and_keep_the_position(text, position):
    with pytest.raises(RefSyntaxError) as caught:
        parse(text)
    error = caught.value
    assert error.position == position
    assert len(error.text) <= 200
    assert len(str(error)) <= 400
    assert "..." in error.text
    assert f"at position {position - error.offset}:" in str(error)


@pytest.mark.parametrize("value", [None, 5, 3.5, b"ssm:/a", bytearray(b"x"), ["ssm:/a"]])
def test_non_string_input_is_a_clear_type_error(value):
    with pytest.raises(TypeError, match=f"takes a str, not {type(value).__name__}") as caught:
        parse(value)
    assert "ssm:/a" not in str(caught.value)  # never the value: bytes may be a secret


@pytest.mark.parametrize(
    ("text", "position", "expected_words"),
    [
        (" ssm:/a", 0, "without white space before it"),
        ("\tsecretsmanager:db:password", 0, "without white space before it"),
        ("  optional:ssm:/a", 0, "without white space before it"),
        ("ssm:/a ", 6, "no white space after it"),
        ("secretsmanager:db:password\n", 26, "no white space after it"),
        ("optional: ssm:/a", 9, "right after 'optional:'"),
        ("optional:optional:ssm:/a", 9, "written once"),
        ("optional:optional:optional:secretsmanager:x", 9, "written once"),
        ("a ${ ssm:/a} b", 4, "right after '${'"),
    ],
)
def test_white_space_and_doubled_optional_are_errors_not_plain_text(text, position, expected_words):
    with pytest.raises(RefSyntaxError) as caught:
        parse(text)
    assert caught.value.position == position
    assert expected_words in str(caught.value)


def test_literal_escape_keeps_leading_white_space():
    parsed = parse("literal: ssm:/a")
    assert isinstance(parsed, Template)
    assert parsed.render({}) == " ssm:/a"
    assert parse(str(parsed)) == parsed


# -- properties ------------------------------------------------------------------------------

ssm_names = st.text(string.ascii_letters + string.digits + "_.-/", min_size=1, max_size=40)
labels = st.from_regex(r"[A-Za-z_.-][A-Za-z0-9_.-]{0,10}", fullmatch=True)
selectors = st.one_of(st.none(), st.integers(1, 10**6).map(str), labels)
secret_names = st.text(string.ascii_letters + string.digits + "/_+=.@-", min_size=1, max_size=40)
keys = st.text(
    st.characters(blacklist_characters=":{}", blacklist_categories=("Zs", "Cc", "Zl", "Zp", "Cs")),
    min_size=1,
    max_size=20,
).filter(lambda k: not any(c.isspace() for c in k))
stages = st.one_of(st.none(), st.sampled_from(["AWSCURRENT", "AWSPENDING", "AWSPREVIOUS", "blue"]))
version_ids = st.one_of(st.none(), st.uuids().map(str))
regions = st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
partitions = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)


@st.composite
def ssm_refs(draw):
    name = draw(ssm_names)
    if draw(st.booleans()):
        name = (
            f"arn:{draw(partitions)}:ssm:{draw(regions)}:{draw(accounts)}:parameter/"
            + name.lstrip("/")
            if name.lstrip("/")
            else name
        )
    return SSMRef(name, draw(selectors), draw(st.booleans()))


@st.composite
def secret_refs(draw):
    name = draw(secret_names)
    if draw(st.booleans()):
        name = (
            f"arn:{draw(partitions)}:secretsmanager:{draw(regions)}:{draw(accounts)}:secret:{name}"
        )
    key = draw(st.one_of(st.none(), keys))
    return SecretRef(name, key, draw(stages), draw(version_ids), draw(st.booleans()))


refs = st.one_of(ssm_refs(), secret_refs())


@settings(max_examples=300, deadline=None)
@given(refs)
def test_str_then_parse_round_trips(ref):
    assert parse(str(ref)) == ref
    assert str(parse(str(ref))) == str(ref)


literal_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=15).filter(
    lambda s: not s.endswith("$")
)


# Text that must stay literal: escapes, mistyped prefixes, ${...} that are not references.
tricky_text = st.sampled_from(
    [
        "${SSM:/a}",
        "${ ssm:/a}",
        "${url:ssm:/a}",
        "$${ssm:/a}",
        "${url:-x}",
        "${HOME}",
        "${optinal:ssm:/a}",
        "${Secretsmanager:b}",
        "${optional:x}",
        "$",
        "{ssm:/a}",
    ]
).map(lambda s: "x" + s + "x")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(literal_text, tricky_text, refs, refs.map(QuotedRef)), min_size=1, max_size=6
    )
)
def test_templates_round_trip(parts):
    merged: list = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if merged and isinstance(merged[-1], str):
                merged[-1] += part
                continue
        merged.append(part)
    if not any(not isinstance(p, str) for p in merged):
        return
    template = Template(tuple(merged))
    parsed = parse(str(template))
    assert isinstance(parsed, Template)
    values = {ref: f"<{i}>/@" for i, ref in enumerate(template.refs)}
    assert parsed.render(values) == template.render(values)
    assert parsed.refs == template.refs


@settings(max_examples=1000, deadline=None)
@given(st.text())
def test_parse_never_raises_anything_but_ref_syntax_error(text):
    try:
        result = parse(text)
    except RefSyntaxError as error:
        assert 0 <= error.position <= len(text)  # noqa: PT017
        return
    if result is not None:
        assert isinstance(result, (SSMRef, SecretRef, Template))
        if not isinstance(result, Template):
            assert parse(str(result)) == result


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["ssm:", "secretsmanager:", "optional:ssm:", "x ${ssm:"]), st.text())
def test_reference_prefixes_with_any_tail_parse_or_raise_cleanly(prefix, tail):
    try:
        parse(prefix + tail)
    except RefSyntaxError as error:
        assert error.position <= len(prefix + tail)  # noqa: PT017
        # Never more than the reference up to the offending character (capped).
        shown = error.text.removesuffix("...")
        assert len(error.text) <= 200  # noqa: PT017
        if "..." not in shown:
            assert (prefix + tail)[error.offset :].startswith(shown)  # noqa: PT017
