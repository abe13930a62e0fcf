"""Rebuilding containers that hold references, through the real path (boto3 over HTTP to moto).

A missing ``optional:`` item keeps a tuple's positions (it becomes None) and leaves a list;
namedtuples and other containers come back as their own type, or the pass fails with a
ResolutionError naming the path (``check`` reports the same), never a raw TypeError.
"""

from __future__ import annotations

import sys
import textwrap
from collections import OrderedDict, UserDict, UserList, defaultdict, deque
from collections.abc import Iterator, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest

from awsrefs import FailureKind, ResolutionError, Resolver
from awsrefs.cli import main


@pytest.fixture
def resolver(aws):
    aws.put_parameter("/app/host", "db.internal")
    aws.put_parameter("/app/port", "5432")
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


class Endpoint(NamedTuple):
    host: str
    flags: str | None
    port: str


class Pair(Sequence[Any]):
    """A read-only sequence whose constructor takes two arguments, not its items."""

    def __init__(self, first: Any, second: Any) -> None:
        self._items = (first, second)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return 2

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)


def test_a_missing_optional_item_keeps_a_tuples_positions_and_leaves_a_list(resolver):
    settings = {
        "tuple": ("ssm:/app/host", "optional:ssm:/app/missing", "ssm:/app/port"),
        "list": ["ssm:/app/host", "optional:ssm:/app/missing", "ssm:/app/port"],
    }
    out = resolver.resolve(settings)
    assert out["tuple"] == ("db.internal", None, "5432")
    assert out["list"] == ["db.internal", "5432"]


def test_a_namedtuple_is_rebuilt_as_itself_with_a_missing_optional_field_none(resolver):
    endpoint = Endpoint("ssm:/app/host", "optional:ssm:/app/missing", "ssm:/app/port")
    out = resolver.resolve({"db": endpoint})
    assert type(out["db"]) is Endpoint
    assert out["db"] == Endpoint("db.internal", None, "5432")
    assert out["db"].port == "5432"


@pytest.mark.parametrize(
    "make",
    [
        OrderedDict,
        UserDict,
        lambda items: defaultdict(list, items),
        lambda items: MappingProxyType(dict(items)),
    ],
    ids=["OrderedDict", "UserDict", "defaultdict", "MappingProxyType"],
)
def test_mappings_come_back_as_their_own_type(resolver, make):
    original = make({"host": "ssm:/app/host", "other": 1})
    out = resolver.resolve({"db": original})["db"]
    assert type(out) is type(original)
    assert dict(out) == {"host": "db.internal", "other": 1}
    assert original["host"] == "ssm:/app/host"
    if isinstance(original, defaultdict):
        assert out.default_factory is list


@pytest.mark.parametrize(
    "original",
    [UserList(["ssm:/app/host", 1]), deque(["ssm:/app/host", 1], maxlen=5)],
    ids=["UserList", "deque"],
)
def test_sequences_come_back_as_their_own_type(resolver, original):
    out = resolver.resolve({"db": original})["db"]
    assert type(out) is type(original)
    assert list(out) == ["db.internal", 1]
    assert list(original) == ["ssm:/app/host", 1]
    if isinstance(original, deque):
        assert out.maxlen == 5


def test_a_container_that_cannot_be_rebuilt_fails_naming_its_path_and_check_says_so(resolver):
    settings = {"servers": [{"pair": Pair("ssm:/app/host", "plain")}]}
    with pytest.raises(ResolutionError) as raised:
        resolver.resolve(settings)
    (failure,) = raised.value.failures
    assert failure.kind is FailureKind.CONFIGURATION
    assert failure.path == "servers[0].pair"
    assert failure.reference == "ssm:/app/host"
    assert "test_containers.Pair" in failure.reason
    assert "db.internal" not in str(raised.value)

    rows = resolver.check(settings)
    assert [(r.path, r.status) for r in rows] == [
        ("servers[0].pair[0]", "OK"),
        ("servers[0].pair", "configuration"),
    ]


def test_a_set_given_a_json_object_is_a_failure_naming_the_path_not_a_type_error(aws, resolver):
    aws.put_secret("app/db", {"options": {"sslmode": "require"}})
    settings = {"hosts": {"ssm:/app/host"}, "options": {"secretsmanager:app/db:options"}}
    with pytest.raises(ResolutionError) as raised:
        resolver.resolve(settings)
    (failure,) = raised.value.failures
    assert failure.path == "options"
    assert failure.reference == "secretsmanager:app/db:options"
    assert "is a builtins.set" in failure.reason
    assert "require" not in str(raised.value)
    assert resolver.resolve({"hosts": {"ssm:/app/host", "optional:ssm:/app/missing"}}) == {
        "hosts": {"db.internal"}
    }


def test_a_container_without_references_is_left_alone_whatever_its_type(resolver):
    pair = Pair("plain", "text")
    out = resolver.resolve({"pair": pair, "host": "ssm:/app/host"})
    assert out["pair"] is pair


def test_the_check_command_reports_a_container_it_cannot_rebuild(aws, tmp_path, capsys):
    aws.put_parameter("/app/host", "db.internal")
    (tmp_path / "containers_settings.py").write_text(
        textwrap.dedent(
            """
            from typing import NamedTuple
            from tests.test_containers import Pair

            class Endpoint(NamedTuple):
                host: str
                port: str

            DATABASE = Endpoint("ssm:/app/host", "ssm:/app/port")
            SERVERS = {"main": Pair("ssm:/app/host", "x")}
            """
        )
    )
    aws_options = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]
    sys.path.insert(0, str(tmp_path))
    try:
        code = main(["check", "--django-settings", "containers_settings", *aws_options])
        sys.modules.pop("containers_settings", None)
        captured = capsys.readouterr()
        (tmp_path / "containers_settings.py").write_text(
            "SERVERS = {'main': ('ssm:/app/host', 'x')}\n"
        )
        fixed = main(["check", "--django-settings", "containers_settings", *aws_options])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("containers_settings", None)
    assert code == 2  # the settings cannot be used: Django's start-up would fail the same way
    assert "containers_settings.SERVERS.main is a tests.test_containers.Pair" in captured.err
    assert "DATABASE" not in captured.err  # a namedtuple is rebuilt: not a problem
    assert fixed == 0
    out = capsys.readouterr().out
    assert "containers_settings:SERVERS.main[0]" in out
