"""The public walker: ``awsrefs.find_references`` and ``awsrefs.is_reference`` (pure, no AWS)."""

from __future__ import annotations

import doctest
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import awsrefs
from awsrefs import FoundReference, RefSyntaxError, SecretRef, SSMRef


def test_finds_references_templates_and_malformed_ones_with_their_paths():
    settings = {
        "DATABASES": OrderedDict(
            default={
                "HOST": "ssm:/app/db-host",
                "PASSWORD": "optional:secretsmanager:app/db:password",
                "PORT": 5432,
            }
        ),
        "URLS": ("https://${ssm:/app/host}/${ssm:/app/host}?k=${secretsmanager:app/k}", "plain"),
        "ESCAPED": "literal:ssm:/not/a/reference",
        "HOME": "${HOME}/x",
        "BAD": ["ssm:/has space"],
        "a.b": {"c": "secretsmanager:app/db::AWSPENDING"},
    }
    found = awsrefs.find_references(settings, prefix="settings")
    assert [(f.path, f.text) for f in found] == [
        ("settings.DATABASES.default.HOST", "ssm:/app/db-host"),
        ("settings.DATABASES.default.PASSWORD", "optional:secretsmanager:app/db:password"),
        ("settings.URLS[0]", "ssm:/app/host"),  # repeated in the template: listed once
        ("settings.URLS[0]", "secretsmanager:app/k"),
        ("settings.BAD[0]", "ssm:/has ..."),  # up to the offending character, not beyond
        ("settings['a.b'].c", "secretsmanager:app/db::AWSPENDING"),
    ]
    assert found[0] == FoundReference(
        "settings.DATABASES.default.HOST",
        ("DATABASES", "default", "HOST"),
        SSMRef("/app/db-host"),
    )
    assert found[1].reference == SecretRef("app/db", key="password", optional=True)
    bad = found[4]
    assert bad.reference is None
    assert isinstance(bad.error, RefSyntaxError)
    assert bad.error.position == 8
    assert bad.keys == ("BAD", 0)
    assert found[5].keys == ("a.b", "c")


def test_paths_without_prefix_and_a_bare_string():
    assert [f.path for f in awsrefs.find_references({"A": ["ssm:/x"]})] == ["A[0]"]
    (bare,) = awsrefs.find_references("secretsmanager:s:k")
    assert (bare.path, bare.keys, bare.text) == ("", (), "secretsmanager:s:k")
    assert awsrefs.find_references("plain") == []
    assert awsrefs.find_references(42) == []
    assert awsrefs.find_references({"bin": b"ssm:/bytes/are/values"}) == []


def test_a_malformed_template_part_is_reported_without_the_text_around_it():
    (found,) = awsrefs.find_references({"DSN": "pg://u:hunter2-literal@${ssm:/bad name}/db"})
    assert found.path == "DSN"
    assert found.text == "${ssm:/bad ..."  # the part, up to the offending character
    assert "hunter2" not in repr(found)


def test_cycles_are_followed_once_and_shared_parts_on_every_path():
    shared = {"pw": "secretsmanager:db:password"}
    loop: dict[str, Any] = {"host": "ssm:/h", "shared": shared}
    loop["again"] = loop
    paths = [f.path for f in awsrefs.find_references({"loop": loop, "copy": shared})]
    assert paths == ["loop.host", "loop.shared.pw", "copy.pw"]


def test_deep_settings_are_walked_without_recursion():
    settings: Any = "ssm:/deep"
    for _ in range(20_000):
        settings = [settings]
    (found,) = awsrefs.find_references(settings)
    assert found.path == "[0]" * 20_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssm:/app/x", True),
        ("optional:secretsmanager:app/db:password", True),
        ("postgres://${ssm:/app/host}/db", True),
        ("literal:ssm:/not/fetched", True),  # changed by resolve: the escape goes
        ("ssm:/has space", True),  # malformed: resolve rejects it
        ("${ssm:/has space}", True),
        ("${HOME}/x", False),
        ("$${ssm:/x}", True),  # an escaped template: resolves to "${ssm:/x}"
        ("plain text", False),
        ("", False),
        (b"ssm:/app/x", False),
        (None, False),
        (5, False),
    ],
)
def test_is_reference(text, expected):
    assert awsrefs.is_reference(text) is expected


def test_is_reference_agrees_with_find_references():
    texts = ["ssm:/a", "x${ssm:/a}", "plain", "ssm:bad name", "literal:ssm:/a", "${HOME}"]
    found = {f.keys[0] for f in awsrefs.find_references(texts)}
    # An escaped literal is changed by resolve but holds no reference to list.
    assert {i for i, t in enumerate(texts) if awsrefs.is_reference(t)} == found | {4}


def test_the_documented_examples_run_as_shown():
    import awsrefs._references as module

    assert doctest.testmod(module, raise_on_error=False).failed == 0
    text = (Path(__file__).parent.parent / "docs" / "resolver.md").read_text()
    section = text.split("## Finding references without resolving", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    test = doctest.DocTestParser().get_doctest(example, {}, "resolver.md", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, 4)  # (failed, attempted)
