"""awsrefs.has_references: the tree form of is_reference that integrations pick settings with."""

from __future__ import annotations

import awsrefs


def test_true_for_anything_resolve_would_change_or_reject():
    assert awsrefs.has_references("ssm:/a")
    assert awsrefs.has_references({"DB": ["x", {"URL": "pg://${ssm:/user}@h/db"}]})
    assert awsrefs.has_references(["literal:ssm:not-a-reference"])  # the escape is removed
    assert awsrefs.has_references(("ssm:/has space",))  # malformed: resolve() reports it
    assert awsrefs.has_references({"a", "secretsmanager:s:k"})


def test_false_for_plain_settings_and_values_that_are_not_text():
    assert not awsrefs.has_references({"DEBUG": True, "HOSTS": ["a", "${HOME}/x"], "N": 3})
    assert not awsrefs.has_references(b"ssm:/a")
    assert not awsrefs.has_references(None)
    assert not awsrefs.has_references("plain")


def test_cycles_and_depth_are_answered_without_recursion():
    cyclic: dict[str, object] = {"x": "plain"}
    cyclic["self"] = cyclic
    assert not awsrefs.has_references(cyclic)
    cyclic["ref"] = "ssm:/a"
    assert awsrefs.has_references(cyclic)
    deep: list[object] = ["ssm:/deep"]
    for _ in range(5000):
        deep = [deep]
    assert awsrefs.has_references(deep)
