"""Costs that grow with the settings stay linear: shared structures, YAML aliases, planning.

Never timed (the machine is shared): each test counts what the code does, such as the rows
reported, the places listed, the Python lines run or the key comparisons made.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import awsrefs
from awsrefs import Resolver
from awsrefs._fetch import Cache
from awsrefs._references import MAX_PLACES, walk
from awsrefs.cli import main
from awsrefs.testing import StaticBackend

SOURCE = str(Path(awsrefs.__file__).parent)


@pytest.fixture
def resolver(aws):
    aws.put_parameter("/app/host", "db.internal")
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def _dag(depth: int, leaf: Any) -> Any:
    """A list holding the same list twice, ``depth`` times: 2**depth paths to ``leaf``."""
    node = leaf
    for _ in range(depth):
        node = [node, node]
    return node


def test_a_shared_structure_is_walked_once_and_resolves_40_deep(resolver):
    settings = _dag(40, ["ssm:/app/host", "plain"])
    tree = walk(settings)
    assert len(tree.strings) == 2  # one per string, not 2**40
    assert len(tree.children) == 41  # each distinct container read once

    out = resolver.resolve(settings)
    node = out
    for _ in range(40):  # the copy keeps shared parts shared
        assert node[0] is node[1]
        node = node[0]
    assert node == ["db.internal", "plain"]
    assert [(c.path, c.status) for c in resolver.check(settings)] == [("[0]" * 41, "OK")]


def test_check_reports_a_reference_in_a_shared_part_once(resolver):
    rows = resolver.check({"settings": _dag(12, ["ssm:/app/host"])})
    assert len(rows) == 1  # not 4096


def test_find_references_lists_every_place_and_refuses_past_its_limit(resolver):
    found = awsrefs.find_references(_dag(2, ["ssm:/app/host", "ssm:/app/port"]))
    assert [f.path for f in found] == [  # document order, as if shared parts were copies
        f"[{a}][{b}][{c}]" for a in (0, 1) for b in (0, 1) for c in (0, 1)
    ]
    with pytest.raises(ValueError, match=f"more than awsrefs lists \\({MAX_PLACES}\\)"):
        awsrefs.find_references(_dag(40, ["ssm:/app/host"]))


def _aliases(levels: int) -> str:
    lines = ['l0: &l0 ["ssm:/app/host", "plain"]']
    lines += [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_the_check_command_refuses_aliases_that_expand_past_the_limit(
    aws, tmp_path, monkeypatch, capsys
):
    aws.put_parameter("/app/host", "db.internal")
    monkeypatch.chdir(tmp_path)
    Path("bomb.yaml").write_text(_aliases(15))  # 16384 places of one reference, < 500 bytes
    options = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    assert main(["check", "bomb.yaml", *options]) == 2
    captured = capsys.readouterr()
    assert "bomb.yaml: shared containers (such as YAML aliases) make" in captured.err
    assert captured.out == ""

    Path("settings.yaml").write_text(
        textwrap.dedent(
            """
            base: &base {host: "ssm:/app/host", port: 5432}
            prod: *base
            """
        )
    )
    assert main(["check", "settings.yaml", *options]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("settings.yaml:")]
    assert rows == ["settings.yaml:base.host", "settings.yaml:prod.host"]  # at each place


def _lines_run(function: Any) -> int:
    """How many lines of awsrefs' own code ``function()`` runs in this thread."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(SOURCE) else None

    sys.settrace(tracer)
    try:
        function()
    finally:
        sys.settrace(None)
    return count


def _lines_to_resolve(count: int) -> int:
    backend = StaticBackend({f"ssm:/app/p{i}": f"v{i}" for i in range(count)})
    resolver = Resolver(backend=backend)
    settings = {f"K{i}": f"ssm:/app/p{i}" for i in range(count)}
    try:
        return _lines_run(lambda: resolver.resolve(settings))
    finally:
        resolver.close()


def test_walking_planning_and_settling_grow_linearly_with_the_references():
    small, large = _lines_to_resolve(1000), _lines_to_resolve(2000)
    assert large < 2.3 * small  # quadratic planning made this over 3


class _CountedKey:
    """A cache key that counts comparisons (distinct keys never compare equal)."""

    compared = 0

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return self.n

    def __eq__(self, other: object) -> bool:
        _CountedKey.compared += 1
        return isinstance(other, _CountedKey) and other.n == self.n


def test_claiming_distinct_keys_compares_none_of_them():
    keys = [_CountedKey(n) for n in range(2000)]
    _CountedKey.compared = 0
    fresh, mine, waiting = Cache(ttl=60).claim(keys)  # type: ignore[arg-type]
    assert len(mine) == 2000
    assert not fresh
    assert not waiting
    assert _CountedKey.compared < 2000  # a list look-up per key made this 2 million
