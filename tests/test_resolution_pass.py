"""One resolution pass, through the real path (boto3 over HTTP to the moto server).

Repeated references in templates, cyclic and deeply nested settings, binary values in
templates, wrong argument types, the parse memo's size, and tracebacks that hold no value.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import traceback
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any

import pytest

import awsrefs
from awsrefs import FailureKind, ResolutionError, Resolver


@pytest.fixture
def resolver(aws):
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


# -- a reference repeated in a template ----------------------------------------------------------


def test_a_reference_repeated_in_a_template_is_replaced_everywhere(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    aws.put_secret("app/db", {"username": "app", "port": 5432})
    settings = {
        "twice": "${ssm:/app/host}/${ssm:/app/host}",
        "mixed": "${secretsmanager:app/db:username}@${ssm:/app/host}:"
        "${secretsmanager:app/db:port}/${secretsmanager:app/db:username}",
        "optional": "<${optional:ssm:/app/nope}|${ssm:/app/host}|${optional:ssm:/app/nope}>",
    }
    expected = {
        "twice": "db.internal/db.internal",
        "mixed": "app@db.internal:5432/app",
        "optional": "<|db.internal|>",
    }
    assert resolver.resolve(settings) == expected
    assert {name: resolver.get(text) for name, text in settings.items()} == expected
    checked = resolver.check(settings)
    assert [(c.path, c.reference, c.status) for c in checked] == [
        ("twice", "ssm:/app/host", "OK"),
        ("mixed", "secretsmanager:app/db:username", "OK"),
        ("mixed", "ssm:/app/host", "OK"),
        ("mixed", "secretsmanager:app/db:port", "OK"),
        ("optional", "optional:ssm:/app/nope", "OK (optional, missing)"),
        ("optional", "ssm:/app/host", "OK"),
    ]


def test_the_command_line_resolves_and_checks_a_repeated_reference(aws, tmp_path):
    aws.put_parameter("/app/host", "db.internal")
    (tmp_path / ".env").write_text("URL=${ssm:/app/host}/${ssm:/app/host}\n")
    aws_options = ["--endpoint-url", aws.endpoint_url, "--region", aws.region]

    def awsrefs_cli(*args: str) -> Any:
        command = [sys.executable, "-m", "awsrefs", args[0], *aws_options, *args[1:]]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    (resolved,) = awsrefs_cli("resolve", ".env", "--reveal", "--format", "json")
    assert resolved["value"] == "db.internal/db.internal"
    checked = awsrefs_cli("check", ".env", "--format", "json")
    assert checked["summary"] == {"references": 1, "ok": 1, "failed": 0}


def test_a_failing_reference_repeated_in_a_template_is_reported_once(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve({"URL": "${ssm:/app/gone}:${ssm:/app/host}:${ssm:/app/gone}"})
    assert [(f.path, f.reference, f.kind) for f in caught.value.failures] == [
        ("URL", "ssm:/app/gone", FailureKind.NOT_FOUND)
    ]


# -- cycles and depth ----------------------------------------------------------------------------


def test_a_cycle_without_references_comes_back_unchanged(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    loop: dict[str, Any] = {"n": 1, "items": ["a"]}
    loop["me"] = loop
    loop["items"].append(loop)
    out = resolver.resolve({"loop": loop, "host": "ssm:/app/host"})
    assert out == {"loop": loop, "host": "db.internal"}
    assert out["loop"] is loop  # not copied, not walked forever
    assert resolver.check({"loop": loop}) == []


def test_a_cycle_holding_a_reference_is_an_error_naming_where(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    node: dict[str, Any] = {"host": "ssm:/app/host"}
    node["parent"] = {"child": node}
    items: list[Any] = ["ssm:/app/host"]
    items.append(items)
    settings = {"db": node, "hosts": items}
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(settings)
    failures = {f.path: f for f in caught.value.failures}
    assert set(failures) == {"db.parent.child", "hosts[1]"}
    cycle = failures["db.parent.child"]
    assert cycle.kind is FailureKind.CONFIGURATION
    assert cycle.reference == "ssm:/app/host"
    assert "db.parent.child holds db again, which contains a reference" in cycle.reason
    assert "break the cycle" in cycle.reason
    assert "hosts[1] holds hosts again" in failures["hosts[1]"].reason
    assert settings["db"]["host"] == "ssm:/app/host"  # nothing applied
    statuses = {(c.path, c.status) for c in resolver.check(settings)}
    assert ("db.parent.child", "configuration") in statuses
    assert ("db.host", "OK") in statuses


def test_a_self_containing_top_level_is_named_as_the_top(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    top: dict[str, Any] = {"host": "ssm:/app/host"}
    top["settings"] = top
    with pytest.raises(ResolutionError, match="holds the top of the settings again"):
        resolver.resolve(top)


def test_shared_parts_are_resolved_once_and_stay_shared(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    shared = {"host": "ssm:/app/host"}
    out = resolver.resolve({"primary": shared, "replica": shared, "all": [shared]})
    assert out["primary"] == {"host": "db.internal"}
    assert out["primary"] is out["replica"] is out["all"][0]
    assert shared == {"host": "ssm:/app/host"}
    # check reports a shared part once, at the first place; find_references lists every place.
    paths = [c.path for c in resolver.check({"primary": shared, "replica": shared})]
    assert paths == ["primary.host"]
    found = awsrefs.find_references({"primary": shared, "replica": shared})
    assert [f.path for f in found] == ["primary.host", "replica.host"]


class _FreshViews(Mapping[str, Any]):
    """A read-only view that makes new containers on every access, as some config libraries do."""

    def __getitem__(self, key: str) -> Any:
        if key == "db":
            return {"host": "ssm:/app/host", "ports": [1, 2]}
        if key == "hosts":
            return ["ssm:/app/host", "plain"]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(["db", "hosts"])

    def __len__(self) -> int:
        return 2


def test_a_mapping_that_makes_new_objects_on_each_access_is_resolved_as_walked(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    out = resolver.resolve({"config": _FreshViews(), "other": ["ssm:/app/host"] * 50})
    assert out["config"] == {
        "db": {"host": "db.internal", "ports": [1, 2]},
        "hosts": ["db.internal", "plain"],
    }
    assert out["other"] == ["db.internal"] * 50


def _nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = {"d": value} if level % 2 else [value, "plain"]
    return value


def _unnest(value: Any, depth: int) -> Any:
    for level in reversed(range(depth)):
        value = value["d"] if level % 2 else value[0]
    return value


def test_settings_nested_5000_deep_resolve_check_and_report(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    depth = 5000
    settings = _nest(depth, {"host": "ssm:/app/host", "url": "x://${ssm:/app/host}/"})
    out = resolver.resolve(settings)
    assert _unnest(out, depth) == {"host": "db.internal", "url": "x://db.internal/"}
    assert _unnest(settings, depth)["host"] == "ssm:/app/host"
    (found, _) = awsrefs.find_references(settings)
    assert found.path == "d[0]." * (depth // 2) + "host"
    assert len(found.keys) == depth + 1
    broken = _nest(depth, "ssm:/app/missing")
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(broken)
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.NOT_FOUND
    assert failure.path.count("[0]") == depth // 2


# -- binary values inside templates --------------------------------------------------------------


def _exceptions(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        todo += [exc.__cause__, exc.__context__]
        todo += list(getattr(exc, "exceptions", ()))


def test_binary_secret_that_is_not_text_fails_inside_a_template_without_its_bytes(
    aws, resolver, canary
):
    blob = b"\xff\xfe\x00" + canary.encode()
    aws.put_secret("app/cert", blob)
    assert resolver.resolve({"CERT": "secretsmanager:app/cert"}) == {"CERT": blob}  # whole: ok
    settings = {"TLS": {"PEM": "-----${secretsmanager:app/cert}-----"}}
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(settings)
    (failure,) = caught.value.failures
    assert failure.path == "TLS.PEM"
    assert failure.reference == "secretsmanager:app/cert"
    assert failure.kind is FailureKind.NOT_TEXT
    assert failure.reason == (
        "secret 'app/cert' is binary and not UTF-8 text; "
        "use it as a whole value, not inside a template"
    )
    with pytest.raises(ResolutionError, match="binary and not UTF-8 text"):
        resolver.get("x${secretsmanager:app/cert}")
    assert [c.status for c in resolver.check(settings)] == ["not text"]
    for exc in _exceptions(caught.value):
        text = repr(exc) + repr(exc.args) + str(exc)
        assert "\\xff" not in text
        assert canary not in text
        assert not isinstance(exc, UnicodeError)
    assert _frames_holding(_raised(resolver.resolve, settings), canary) == []


# -- no value in the frames of a traceback -------------------------------------------------------


def _holds(obj: Any, secret: str, depth: int = 0) -> bool:
    """Whether ``obj`` shows ``secret`` the way error reporters record locals."""
    if isinstance(obj, str):
        return secret in obj
    if isinstance(obj, (bytes, bytearray)):
        return secret.encode() in obj
    if depth > 8:
        return False
    if isinstance(obj, Mapping):
        return any(_holds(pair, secret, depth + 1) for pair in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return any(_holds(item, secret, depth + 1) for item in obj)
    try:
        return secret in repr(obj)  # what Sentry and traceback(capture_locals=True) record
    except Exception:
        return False


def _frames(error: BaseException) -> Iterator[FrameType]:
    for exc in _exceptions(error):
        tb = exc.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next


def _frames_holding(error: BaseException, secret: str) -> list[str]:
    """``file:function:local`` of each local, in any frame of the traceback, showing ``secret``."""
    return [
        f"{frame.f_code.co_filename}:{frame.f_code.co_name}:{name}"
        for frame in _frames(error)
        for name, value in frame.f_locals.items()
        if _holds(value, secret)
    ]


def _raised(call: Callable[..., Any], *args: Any) -> BaseException:
    """The error ``call(*args)`` raises; this frame holds no secret, so it may be searched."""
    try:
        call(*args)
    except Exception as error:
        return error
    raise AssertionError("expected an error")


def test_no_frame_of_a_failed_pass_holds_a_resolved_value(aws, resolver, canary):
    aws.put_secret("app/db", {"username": "app", "password": canary})
    settings = {
        "PASSWORD": "secretsmanager:app/db:password",
        "DSN": "postgresql://app:${secretsmanager:app/db:password}@h/db",
        "HOST": "ssm:/app/missing-host",
    }
    template = "${secretsmanager:app/db:password}/${ssm:/app/missing-host}"
    checked = resolver.check(settings)
    errors = {
        "resolve": _raised(resolver.resolve, settings),
        "check, then resolve": _raised(lambda: resolver.resolve(settings, path=str(len(checked)))),
        "aresolve": _raised(asyncio.run, resolver.aresolve(settings)),
        "get": _raised(resolver.get, template),
        "refresh": _raised(resolver.refresh, template),
    }
    for how, error in errors.items():
        assert isinstance(error, ResolutionError), how
        assert {f.reference for f in error.failures} == {"ssm:/app/missing-host"}, how
        assert _frames_holding(error, canary) == [], how
        report = traceback.TracebackException.from_exception(error, capture_locals=True)
        assert canary not in "".join(report.format()), how


# -- wrong argument types ------------------------------------------------------------------------


def test_wrong_argument_types_are_clear_type_errors(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    takes = re.escape("takes reference text (str), an SSMRef, a SecretRef or a Template")
    for call in (resolver.get, resolver.refresh, resolver.lookup):
        name = call.__name__
        with pytest.raises(TypeError, match=rf"^{name}\(\) {takes}, not int$"):
            call(5)
        with pytest.raises(TypeError, match=rf"{name}\(\) {takes}, not bytes; decode bytes"):
            call(b"ssm:/app/host")
        with pytest.raises(TypeError, match=rf"{name}\(\) {takes}, not list"):
            call(["ssm:/app/host"])
    with pytest.raises(TypeError, match=r"lookup\(\) takes a parameter or secret ref.*not a templ"):
        resolver.lookup("x-${ssm:/app/host}")
    for call in (resolver.resolve, resolver.check, awsrefs.find_references):
        with pytest.raises(TypeError, match=r"takes settings as text .* not bytes; decode"):
            call(b"ssm:/app/host")
    with pytest.raises(TypeError, match=r"^resolve\(\) takes path as text \(str\), not int$"):
        resolver.resolve({"H": "ssm:/app/host"}, path=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^find_references\(\) takes prefix as text"):
        awsrefs.find_references({}, prefix=None)  # type: ignore[arg-type]
    assert resolver.stats.total_calls == 0  # rejected before any call
    assert resolver.get("ssm:/app/host") == "db.internal"  # and the resolver still works


# -- the parse memo is bounded by size -----------------------------------------------------------


def test_many_large_distinct_settings_are_not_kept(aws, resolver):
    aws.put_parameter("/app/host", "db.internal")
    megabyte = 1 << 20
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(300):
            big = f"{i:04d}" + "x" * megabyte  # plain text: passed through as it is
            out = resolver.resolve({"BIG": big, "HOST": "ssm:/app/host"})
            assert out["BIG"] is big
            assert out["HOST"] == "db.internal"
            assert resolver.get(big) is big
            del big, out
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 16 * megabyte  # was 300 MB: every text was memoised
