"""``resolve`` against an independent model of what it should give, on generated settings.

The model never parses: each generated leaf knows its text, its expected value and whether
it fails. Trees nest dicts, lists and tuples; templates repeat references and mix optional
missing, failing, binary and malformed ones with whole-value references. Generated settings
run against the static backend (fast, no network); one example-based test checks the same
properties through moto over HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import awsrefs
from awsrefs import FailureKind, ResolutionError, Resolver
from awsrefs.backends.static import StaticBackend

NESTED = {"k": [1, 2], "on": True}
BINARY = b"\xff\xfe\x00-not-text"
STORE = {
    "ssm:/p/a": "alpha-1",
    "ssm:/p/b": "beta-2",
    "secretsmanager:db": {"user": "app", "port": 5432, "nested": NESTED},
    "secretsmanager:bin": BINARY,
}


@dataclass(frozen=True)
class Ref:
    """A reference: its text, and its value (whole and as text), or None when it fails."""

    text: str
    whole: Any
    as_text: str | None
    drops: bool = False  # optional and missing

    @property
    def fails(self) -> bool:
        return self.as_text is None and not self.drops


GOOD = [
    Ref("ssm:/p/a", "alpha-1", "alpha-1"),
    Ref("optional:ssm:/p/b", "beta-2", "beta-2"),
    Ref("secretsmanager:db:user", "app", "app"),
    Ref("secretsmanager:db:port", 5432, "5432"),
    Ref("secretsmanager:db:nested", NESTED, json.dumps(NESTED)),
]
DROPS = [
    Ref("optional:ssm:/p/none", None, "", drops=True),
    Ref("optional:secretsmanager:db:none", None, "", drops=True),
    Ref("optional:secretsmanager:gone", None, "", drops=True),
]
FAILS = [
    Ref("ssm:/p/none", None, None),
    Ref("secretsmanager:db:none", None, None),
    Ref("secretsmanager:gone", None, None),
    Ref("secretsmanager:bin:key", None, None),  # binary: no JSON keys
    Ref("ssm:/bad name", None, None),  # malformed
]
BINARY_REF = Ref("secretsmanager:bin", BINARY, None)  # fine whole, fails inside a template


@dataclass(frozen=True)
class Leaf:
    """One generated string setting (or a non-text value, ``text`` None)."""

    text: Any
    expected: Any  # the value, or DROP
    fails: bool
    has_ref: bool


DROP = object()


def whole_leaf(ref: Ref) -> Leaf:
    if ref is BINARY_REF:
        return Leaf(ref.text, BINARY, False, True)
    return Leaf(ref.text, DROP if ref.drops else ref.whole, ref.fails, True)


def template_leaf(pieces: list[str | Ref]) -> Leaf:
    text = "".join(p if isinstance(p, str) else "${" + p.text + "}" for p in pieces)
    refs = [p for p in pieces if isinstance(p, Ref)]
    fails = any(r.as_text is None and not r.drops for r in refs)
    value = None if fails else "".join(p if isinstance(p, str) else str(p.as_text) for p in pieces)
    return Leaf(text, value, fails, bool(refs))


# Literal pieces never end in "$" (that would escape a following reference) and never spell
# a reference prefix, so the text parses exactly as the pieces say.
literals = st.sampled_from(["", "a", "b-", "/", " : ", "{}", "${HOME}", "x.y"])
template_refs = st.sampled_from([*GOOD, *DROPS, *FAILS, BINARY_REF])
templates = st.lists(st.one_of(literals, template_refs), min_size=1, max_size=7).map(template_leaf)
wholes = st.sampled_from([*GOOD, *DROPS, *FAILS, BINARY_REF]).map(whole_leaf)
plains = st.sampled_from(["", "plain", "a${HOME}b", "x:y", 7, None, 2.5]).map(
    lambda v: Leaf(v, v, False, False)
)
leaves = st.one_of(wholes, templates, plains)
keys = st.sampled_from(["a", "b", "HOST", "a.b", "", 3])


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=4),
    )


trees = st.recursive(leaves, containers, max_leaves=14)


def settings_of(tree: Any) -> Any:
    if isinstance(tree, Leaf):
        return tree.text
    if isinstance(tree, dict):
        return {k: settings_of(v) for k, v in tree.items()}
    return type(tree)(settings_of(v) for v in tree)


def model_path(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and "." not in part:
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def expected_of(tree: Any) -> Any:
    """The resolved value by the model (DROP for a dropped leaf)."""
    if isinstance(tree, Leaf):
        return tree.expected
    if isinstance(tree, dict):
        kept = {k: expected_of(v) for k, v in tree.items()}
        return {k: v for k, v in kept.items() if v is not DROP}
    if isinstance(tree, tuple):  # positions stay: a dropped item is None
        return tuple(None if v is DROP else v for v in map(expected_of, tree))
    return type(tree)(v for v in map(expected_of, tree) if v is not DROP)


def leaves_where(tree: Any, wanted: str, path: tuple[Any, ...] = ()) -> set[str]:
    """Paths of the leaves that fail (``wanted="fails"``) or hold a reference."""
    if isinstance(tree, Leaf):
        return {model_path(path)} if getattr(tree, wanted) else set()
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    return set().union(*(leaves_where(v, wanted, (*path, k)) for k, v in items))


def has_ref(tree: Any) -> bool:
    if isinstance(tree, Leaf):
        return tree.has_ref
    return any(map(has_ref, tree.values() if isinstance(tree, dict) else tree))


def assert_untouched_parts_are_the_same(tree: Any, given: Any, out: Any) -> None:
    """Containers with no reference anywhere below come back as the very same objects."""
    if isinstance(tree, Leaf):
        return
    if not has_ref(tree):
        assert out is given
        return
    if isinstance(tree, dict):
        for key, sub in tree.items():
            if key in out:
                assert_untouched_parts_are_the_same(sub, given[key], out[key])
        return
    kept = [i for i, sub in enumerate(tree) if expected_of(sub) is not DROP]
    for position, index in enumerate(kept):
        assert_untouched_parts_are_the_same(tree[index], given[index], out[position])


def check_against_model(resolver: Resolver, tree: Any) -> None:
    given_settings = settings_of(tree)
    failing = leaves_where(tree, "fails")
    found = {f.path for f in awsrefs.find_references(given_settings)}
    assert found == leaves_where(tree, "has_ref")
    checked_failing = {c.path for c in resolver.check(given_settings) if not c.ok}
    assert checked_failing == failing
    if failing:
        with pytest.raises(ResolutionError) as caught:
            resolver.resolve(given_settings)
        assert {f.path for f in caught.value.failures} == failing
        return
    out = resolver.resolve(given_settings)
    expected = expected_of(tree)
    assert out == (None if expected is DROP else expected)
    assert_untouched_parts_are_the_same(tree, given_settings, out)


@pytest.fixture(scope="module")
def static_resolver():
    # ttl=0: every pass asks the backend again, as a first resolution would.
    r = Resolver(backend=StaticBackend(STORE), ttl=0)
    yield r
    r.close()


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=trees)
def test_resolve_matches_the_model(static_resolver, tree):
    check_against_model(static_resolver, tree)


def test_the_model_through_moto_over_http(aws):
    aws.put_parameter("/p/a", "alpha-1")
    aws.put_parameter("/p/b", "beta-2", type="SecureString")
    aws.put_secret("db", {"user": "app", "port": 5432, "nested": NESTED})
    aws.put_secret("bin", BINARY)
    good, drop, fail = GOOD, DROPS, FAILS
    ok_tree = {
        "DB": {
            "URL": template_leaf(["pg://", good[2], "@", good[0], ":", good[3], "/", good[2]]),
            "PORT": whole_leaf(good[3]),
            "OPTS": (whole_leaf(drop[0]), whole_leaf(good[4]), template_leaf([drop[1], "x"])),
        },
        "HOSTS": [whole_leaf(good[0]), whole_leaf(drop[2]), whole_leaf(good[1])],
        "CERT": whole_leaf(BINARY_REF),
        "KEEP": {"a": Leaf("plain", "plain", False, False), "b": [Leaf(7, 7, False, False)]},
    }
    bad_tree = {
        **ok_tree,
        "T": template_leaf([good[0], "-", fail[0], "-", fail[0], drop[0]]),
        "LIST": [whole_leaf(fail[1]), template_leaf(["<", BINARY_REF, ">"])],
        "DEEP": {"x": (whole_leaf(fail[2]), whole_leaf(fail[4]))},
        "a.b": whole_leaf(fail[3]),
    }
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    try:
        check_against_model(r, ok_tree)
        assert leaves_where(bad_tree, "fails") == {
            "T",
            "LIST[0]",
            "LIST[1]",
            "DEEP.x[0]",
            "DEEP.x[1]",
            "['a.b']",
        }
        check_against_model(r, bad_tree)
        with pytest.raises(ResolutionError) as caught:
            r.resolve(settings_of(bad_tree))
        kinds = {(f.path, f.kind) for f in caught.value.failures}
        assert ("LIST[1]", FailureKind.NOT_TEXT) in kinds
        assert ("DEEP.x[1]", FailureKind.SYNTAX) in kinds
        assert [f.path for f in caught.value.failures].count("T") == 1  # repeated: once
    finally:
        r.close()
