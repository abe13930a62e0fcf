"""Every public error and record survives pickle and deepcopy, also across real processes.

A worker of ``multiprocessing`` or ``concurrent.futures`` hands its exception to the parent
by pickling it; an error that cannot be rebuilt there hangs ``Pool.apply`` for ever. The
process tests run the real thing (a spawned child, a resolve against the moto server) under
a timeout, so a hang fails the test instead of the CI job.
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import inspect
import multiprocessing
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import awsrefs
import awsrefs.backends
import awsrefs.errors
import awsrefs.rotation
from awsrefs import Failure, FailureKind, RefSyntaxError, ResolutionError
from awsrefs.backends import Fetched, Miss
from awsrefs.rotation import Credentials, CredentialsError
from tests.support.canary import CANARY

TIMEOUT = 120  # seconds a child may take (spawn imports boto3); a hang fails after this


def _syntax_error() -> RefSyntaxError:
    try:
        awsrefs.parse("ssm:/a b")
    except RefSyntaxError as error:
        return error
    raise AssertionError("parse accepted a malformed reference")


def _unclosed_template_error() -> RefSyntaxError:
    try:
        awsrefs.parse("x ${ssm:/a")
    except RefSyntaxError as error:
        return error
    raise AssertionError("parse accepted an unclosed template")


def _failure(kind: FailureKind = FailureKind.NOT_FOUND) -> Failure:
    return Failure("DATABASES.default.HOST", "ssm:/app/host", kind, "no parameter '/app/host'")


def _resolution_error() -> ResolutionError:
    error = ResolutionError([_failure(), _failure(FailureKind.ACCESS_DENIED)])
    error.add_note("a note survives too")
    return error


def _credentials() -> Credentials:
    value = {"username": "app", "password": CANARY, "host": "db", "port": 5432, "sslmode": "x"}
    return Credentials.from_secret(value, secret="app/db", version_id="v1", fetched_at=1.5)


def _credentials_error() -> CredentialsError:
    try:
        Credentials.from_secret({"password": CANARY}, secret="app/db")
    except CredentialsError as error:
        return error
    raise AssertionError("credentials without a username were accepted")


def _found() -> awsrefs.FoundReference:
    return next(iter(awsrefs.find_references({"A": ["x", "ssm:/a b"]})))


# One instance of every public error and record, by class.
EXAMPLES: dict[type, list[Callable[[], Any]]] = {
    awsrefs.RefError: [lambda: awsrefs.RefError("plain message")],
    RefSyntaxError: [_syntax_error, _unclosed_template_error],
    ResolutionError: [_resolution_error, lambda: ResolutionError([])],
    Failure: [_failure],
    FailureKind: [lambda: FailureKind.NO_SUCH_KEY],
    awsrefs.Checked: [
        lambda: awsrefs.Checked("A", "ssm:/a", _failure()),
        lambda: awsrefs.Checked("B", "optional:ssm:/b", optional_missing=True),
    ],
    awsrefs.Resolved: [lambda: awsrefs.Resolved(CANARY, "3", 12.5)],
    awsrefs.FoundReference: [
        _found,
        lambda: next(iter(awsrefs.find_references({"B": "secretsmanager:s:k::v1"}))),
    ],
    awsrefs.SSMRef: [lambda: awsrefs.parse("ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/a:3")],
    awsrefs.SecretRef: [lambda: awsrefs.parse("optional:secretsmanager:app/db:password::v1")],
    awsrefs.Template: [lambda: awsrefs.parse("https://${ssm:/k}@h/${secretsmanager:s:k}")],
    awsrefs.QuotedRef: [
        lambda: awsrefs.parse("postgresql://u:${url:secretsmanager:s:k}@h/db").parts[1]
    ],
    Credentials: [_credentials, lambda: Credentials("app", CANARY)],
    awsrefs.rotation.ConnectionTarget: [
        lambda: awsrefs.rotation.ConnectionTarget("db.internal", 5432, "app")
    ],
    CredentialsError: [_credentials_error],
    Fetched: [lambda: Fetched(CANARY, "v1"), lambda: Fetched(b"\x00bin", None)],
    Miss: [lambda: Miss(FailureKind.THROTTLED, "slow down")],
}

# Public classes that are neither errors nor records: they hold clients, locks, threads.
NOT_RECORDS = {
    awsrefs.Resolver,
    awsrefs.Stats,
    awsrefs.rotation.RotatingCredentials,
    awsrefs.backends.AwsBackend,
    awsrefs.backends.AgentBackend,
    awsrefs.backends.StaticBackend,
    awsrefs.backends.Backend,
}


def _public_classes() -> set[type]:
    found: set[type] = set()
    for module in (awsrefs, awsrefs.errors, awsrefs.rotation, awsrefs.backends):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value):
                found.add(value)
    return found


def test_every_public_error_and_record_has_an_example():
    assert _public_classes() - NOT_RECORDS == set(EXAMPLES)


def _fields(obj: Any) -> Any:
    """What must be equal after a round trip (also what ``==`` leaves out)."""
    if isinstance(obj, BaseException):
        return (type(obj), obj.args, {k: _fields(v) for k, v in vars(obj).items()})
    if isinstance(obj, Fetched):
        return (obj.value, obj.version)
    if dataclasses.is_dataclass(obj):
        return (type(obj), [_fields(getattr(obj, f.name)) for f in dataclasses.fields(obj)])
    if isinstance(obj, (tuple, list)):
        return [_fields(item) for item in obj]
    if isinstance(obj, Mapping):
        return dict(obj)
    return obj


CASES = [
    pytest.param(make, id=f"{cls.__name__}-{i}")
    for cls, makers in EXAMPLES.items()
    for i, make in enumerate(makers)
]
ROUND_TRIPS = {
    **{
        f"pickle-{protocol}": (lambda obj, p=protocol: pickle.loads(pickle.dumps(obj, p)))
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1)
    },
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
}


@pytest.mark.parametrize("trip", list(ROUND_TRIPS))
@pytest.mark.parametrize("make", CASES)
def test_round_trip_keeps_fields_text_and_hides_values(make, trip):
    original = make()
    copied = ROUND_TRIPS[trip](original)

    assert type(copied) is type(original)
    assert _fields(copied) == _fields(original)
    assert str(copied) == str(original)
    assert repr(copied) == repr(original)
    for shown in (str(copied), repr(copied)):
        assert CANARY not in shown  # no value gained in the text


def test_credentials_deepcopy_and_asdict_keep_the_password_out_of_repr():
    creds = _credentials()
    copied = copy.deepcopy(creds)
    assert copied.password == CANARY
    assert copied.extra == {"sslmode": "x"}
    assert CANARY not in repr(copied)
    assert "password=<hidden>" in repr(copied)
    with pytest.raises(TypeError):
        copied.extra["sslmode"] = "y"  # type: ignore[index]
    exported = dataclasses.asdict(creds)
    assert exported["password"] == CANARY  # asdict is an export of the values
    assert exported["extra"] == {"sslmode": "x"}
    assert CANARY not in repr(exported["extra"])


def test_credentials_error_does_not_list_the_secret_key_names():
    error = _credentials_error()
    assert "it has 1 key" in str(error)
    assert "'password'" not in str(error).split("(", 2)[-1]


def test_resolution_error_unpickles_with_its_failures_not_its_message_text():
    error = _resolution_error()
    copied = pickle.loads(pickle.dumps(error))
    assert copied.failures == error.failures
    assert str(copied).startswith("2 references could not be resolved:")
    assert copied.__notes__ == ["a note survives too"]


# -- real processes ------------------------------------------------------------------------


def raise_syntax_error() -> None:
    awsrefs.parse("secretsmanager:app db")


def resolve_missing(endpoint_url: str, region: str) -> None:
    resolver = awsrefs.Resolver(endpoint_url=endpoint_url, region_name=region, retry_budget=0)
    try:
        resolver.resolve({"DB": {"HOST": "ssm:/pickling/missing-host"}})
    finally:
        resolver.close()


def _in_parent(error_type: type[BaseException], run: Callable[[], Any]) -> BaseException:
    with pytest.raises(error_type) as caught:
        run()
    return caught.value


@pytest.fixture(scope="module")
def spawn() -> multiprocessing.context.SpawnContext:
    # spawn, not fork: the test process runs the moto server's threads.
    return multiprocessing.get_context("spawn")


def test_pool_apply_hands_both_errors_to_the_parent(aws, spawn):
    with spawn.Pool(1) as pool:
        syntax = _in_parent(
            RefSyntaxError, lambda: pool.apply_async(raise_syntax_error).get(TIMEOUT)
        )
        resolution = _in_parent(
            ResolutionError,
            lambda: pool.apply_async(resolve_missing, (aws.endpoint_url, aws.region)).get(TIMEOUT),
        )
    assert isinstance(syntax, RefSyntaxError)
    assert syntax.text == "secretsmanager:app ..."
    assert "at position 18" in str(syntax)
    assert isinstance(resolution, ResolutionError)
    [failure] = resolution.failures
    assert (failure.path, failure.reference, failure.kind) == (
        "DB.HOST",
        "ssm:/pickling/missing-host",
        FailureKind.NOT_FOUND,
    )
    assert str(resolution).startswith("1 reference could not be resolved:\n  - DB.HOST: ")


def test_process_pool_executor_hands_both_errors_to_the_parent(aws, spawn):
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as executor:
        syntax = _in_parent(
            RefSyntaxError, lambda: executor.submit(raise_syntax_error).result(TIMEOUT)
        )
        resolution = _in_parent(
            ResolutionError,
            lambda: executor.submit(resolve_missing, aws.endpoint_url, aws.region).result(TIMEOUT),
        )
        # The pool still works: a broken result would have broken it.
        assert executor.submit(str, 42).result(TIMEOUT) == "42"
    assert syntax.expected == _in_parent(RefSyntaxError, raise_syntax_error).expected
    assert [f.kind for f in resolution.failures] == [FailureKind.NOT_FOUND]
