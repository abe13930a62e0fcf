"""The testing override is one object swapped whole: every resolver follows each swap."""

from __future__ import annotations

from awsrefs import Resolver
from awsrefs.backends import StaticBackend
from awsrefs.testing import static_values


def test_nested_blocks_serve_the_innermost_then_the_outer_again():
    r = Resolver(backend=StaticBackend({"ssm:/x": "own"}))
    with static_values({"ssm:/x": "outer"}):
        assert r.get("ssm:/x") == "outer"
        with static_values({"ssm:/x": "inner"}):
            assert r.get("ssm:/x") == "inner"
            assert r.get("ssm:/x") == "inner"  # the cached read
        assert r.get("ssm:/x") == "outer"
    assert r.get("ssm:/x") == "own"
    assert r.get("ssm:/x") == "own"


def test_cached_values_of_the_own_store_are_not_served_inside_a_block():
    own = StaticBackend({"ssm:/x": "own"})
    r = Resolver(backend=own)
    assert r.get("ssm:/x") == "own"
    with static_values({"ssm:/x": "static"}) as backend:
        assert r.get("ssm:/x") == "static"
        assert r.resolve({"X": "ssm:/x"}) == {"X": "static"}
        assert r.check({"X": "ssm:/x"})[0].ok
    assert backend.stats.calls == {"ssm:GetParameters": 1}
    assert own.stats.calls == {"ssm:GetParameters": 1}
    assert r.get("ssm:/x") == "own"
    assert own.stats.calls == {"ssm:GetParameters": 2}  # fetched again after the block


def test_default_region_follows_the_override():
    r = Resolver(backend=StaticBackend({"ssm:/x": "own"}, region="eu-west-1"))
    assert r.get("ssm:/x") == "own"
    with static_values({"ssm:/x": "static"}):  # a StaticBackend in us-east-1
        assert r.get("ssm:/x") == "static"
    assert r.get("ssm:/x") == "own"
