"""Pure unit tests of the pieces one pass is made of: text_of, the substitution step, the memo."""

from __future__ import annotations

import pytest

from awsrefs import FailureKind, SecretRef, SSMRef, parse
from awsrefs._grammar import text_of
from awsrefs._outcome import FAILED, Status, substitute
from awsrefs._references import DROP, SizedMemo
from awsrefs.backends import Miss

GONE = Miss(FailureKind.NOT_FOUND, "no parameter")
DENIED = Miss(FailureKind.ACCESS_DENIED, "the caller needs ssm:GetParameters")


def test_text_of_values_and_binary_that_is_not_text():
    assert text_of(None) == ""
    assert text_of("é") == "é"
    assert text_of("é".encode()) == "é"
    assert text_of({"a": [1, True]}) == '{"a": [1, true]}'
    with pytest.raises(ValueError, match="binary and not UTF-8 text") as caught:
        text_of(b"\xffsecret-bytes")
    assert caught.value.__context__ is None  # the decode error, holding the bytes, is gone
    assert "secret-bytes" not in repr(caught.value.args)


def test_a_template_repeating_references_renders_each_place():
    item = parse("${ssm:/a}-${optional:ssm:/gone}-${ssm:/a}-${secretsmanager:s:port}")
    values = {
        SSMRef("/a"): "x",
        SSMRef("/gone", optional=True): GONE,
        SecretRef("s", key="port"): 5432,
    }
    statuses, value = substitute(item, values)
    assert value == "x--x-5432"
    assert statuses == (
        Status("ssm:/a"),
        Status("optional:ssm:/gone", dropped=True),
        Status("secretsmanager:s:port"),
    )


def test_whole_values_drops_and_failures():
    assert substitute(SSMRef("/a"), {SSMRef("/a"): "x"}) == ((Status("ssm:/a"),), "x")
    optional = SSMRef("/a", optional=True)
    assert substitute(optional, {optional: GONE})[1] is DROP
    assert substitute(optional, {optional: DENIED}) == (
        (Status("optional:ssm:/a", DENIED),),
        FAILED,
    )  # an optional reference never hides a broken permission
    template = parse("${ssm:/a}/${ssm:/b}/${ssm:/a}")
    statuses, value = substitute(template, {SSMRef("/a"): GONE, SSMRef("/b"): "ok"})
    assert value is FAILED
    assert [s.reference for s in statuses if s.miss] == ["ssm:/a"]  # once, not twice


def test_binary_inside_a_template_is_a_not_text_failure():
    ref = SecretRef("cert")
    ((status,), value) = substitute(parse("<${secretsmanager:cert}>"), {ref: b"\xff\x00"})
    assert value is FAILED
    assert status.miss is not None
    assert status.miss.kind is FailureKind.NOT_TEXT
    assert "secret 'cert' is binary and not UTF-8 text" in status.miss.reason
    assert substitute(ref, {ref: b"\xff\x00"})[1] == b"\xff\x00"  # whole: bytes


def test_sized_memo_keeps_no_large_item_and_bounds_the_total():
    memo: SizedMemo[str, int] = SizedMemo(max_total=100, max_item=40)
    memo.remember("x" * 41, 1, 41)
    assert memo.data == {}
    for i in range(10):
        memo.remember(f"{i}" * 30, i, 30)
        assert memo.total <= 100
        assert sum(map(len, memo.data)) == memo.total
    memo.remember("9" * 30, 99, 30)  # same key again: replaced, not counted twice
    assert memo.get("9" * 30) == 99
    assert sum(map(len, memo.data)) == memo.total
    memo.clear()
    assert (memo.data, memo.total) == ({}, 0)
