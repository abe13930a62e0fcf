"""DEBUG logging never carries a value awsrefs fetched; other boto3 clients log as before.

Real path: boto3 over HTTP to the moto server, botocore's own loggers at DEBUG.
"""

from __future__ import annotations

import io
import logging
import os

import boto3
import pytest

from awsrefs import Resolver
from awsrefs.backends.aws import awsrefs_call, in_awsrefs_call
from tests.support.canary import CANARY, assert_no_secrets, recording_debug_logs

PLAIN_VALUE = "plain-client-value-visible-9c1e"  # not a secret: another client's body
BINARY = b"\x00\x01binary-secret-\xfe\xff-71c2e9"


@pytest.fixture
def resolver(aws):
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region, max_workers=4)
    yield r
    r.close()


@pytest.fixture
def seeded(aws) -> dict[str, str]:
    """Seeded before DEBUG logging starts: the seeding client's requests carry the values."""
    aws.put_parameter("/log/plain", PLAIN_VALUE)
    return seed(aws)


def seed(aws) -> dict[str, str]:
    """A SecureString, a JSON secret, a plain secret and more parameters than one batch holds."""
    aws.put_parameter("/log/canary", CANARY, type="SecureString")
    aws.put_secret("log/db", {"password": "pw-log-3e8a71c5d2f0", "host": "db.internal"})
    aws.put_secret("log/token", "tok-log-6b20f9e14a77")
    aws.put_secret("log/other", "tok-log-other-58d1c0aa")
    aws.put_secret("log/binary", BINARY)  # base64 in the body: the canary knows that spelling
    settings = {"CANARY": "ssm:/log/canary", "DB": "secretsmanager:log/db:password"}
    settings["TOKEN"] = "secretsmanager:log/token"
    settings["OTHER"] = "secretsmanager:log/other"
    settings["BINARY"] = "secretsmanager:log/binary"
    for i in range(12):  # two GetParameters calls, run in the resolver's worker threads
        aws.put_parameter(f"/log/p{i}", f"secure-value-{i}-a41f9e", type="SecureString")
        settings[f"P{i}"] = f"ssm:/log/p{i}"
    return settings


def test_resolve_at_debug_logs_no_value_and_other_clients_still_log_bodies(
    aws, resolver, seeded, debug_logs
):
    resolved = resolver.resolve(seeded)
    assert resolved["CANARY"] == CANARY
    assert resolved["P11"] == "secure-value-11-a41f9e"
    assert resolved["BINARY"] == BINARY
    plain = boto3.client("ssm", endpoint_url=aws.endpoint_url, region_name=aws.region)
    assert plain.get_parameter(Name="/log/plain")["Parameter"]["Value"] == PLAIN_VALUE

    parsers = debug_logs.text("botocore.parsers")
    assert_no_secrets(debug_logs.text(), "log records of an awsrefs resolution at DEBUG")
    # The plain client's body is logged as botocore logs it...
    assert PLAIN_VALUE in parsers
    # ...and awsrefs' calls still show up, their bodies withheld.
    # Two GetParameters calls (12 + 1 names) and one BatchGetSecretValue (5 secrets).
    assert parsers.count("Response body:\n<withheld by awsrefs>") == 3
    assert "GetParameters" in debug_logs.text("botocore.endpoint")


def test_stream_logger_and_failed_refresh_leak_nothing(aws, resolver, seeded, capsys):
    root = logging.getLogger("")
    handler_count, level = len(root.handlers), root.level
    boto3.set_stream_logger("")  # "log everything" to stderr, as boto3's docs suggest
    added = root.handlers[handler_count:]
    try:
        with recording_debug_logs() as records:
            resolver.resolve(seeded)
            resolver.refresh("ssm:/log/canary")
            resolver.get("secretsmanager:log/missing-one", default=None)
    finally:
        for handler in added:
            root.removeHandler(handler)
        root.setLevel(level)
    captured = capsys.readouterr()
    assert "Response body" in captured.err  # the stream logger did run
    assert_no_secrets(captured.err + captured.out, "boto3.set_stream_logger output")
    assert_no_secrets(records.text(), "log records")


def test_redaction_mark_is_per_thread_and_cleared(aws):
    assert not in_awsrefs_call()
    with awsrefs_call():
        assert in_awsrefs_call()
    assert not in_awsrefs_call()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_resolves_at_debug_without_logging_values(aws):
    seed(aws)
    resolver = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    resolver.get("ssm:/log/canary")  # the parent made its clients and installed the filter
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            with recording_debug_logs() as records:
                resolver.refresh("ssm:/log/canary")
                resolver.refresh("secretsmanager:log/db:password")
            text = records.text()
            ok = "Response body" in text and CANARY not in text and "pw-log-3e8a" not in text
            code = 0 if ok else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    try:
        result = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
        resolver.close()
    assert result == b"\x00", "the forked child logged a value (2) or failed (1)"


def test_loggers_created_after_install_are_redacted_too(aws, resolver, seeded, debug_logs):
    resolver.resolve(seeded)  # the first client installed the redaction
    # Loggers botocore or urllib3 create later (lazily imported modules), one with its own
    # handler and no propagation, one that propagates to the root's handlers.
    stream = io.StringIO()
    own = logging.getLogger("botocore.awsrefs_test_created_late")
    own.setLevel(logging.DEBUG)
    own.propagate = False
    own.addHandler(logging.StreamHandler(stream))
    late = logging.getLogger("urllib3.awsrefs_test_created_late")
    late.setLevel(logging.DEBUG)
    try:
        with awsrefs_call():  # as the backend marks its calls
            for logger in (own, late):
                logger.debug("Response body:\n%s", CANARY.encode())
                logger.debug("Response headers: %s", {"SecretString": CANARY})
                try:
                    raise ValueError(f"cannot parse {CANARY}")
                except ValueError:
                    logger.debug("parse failed", exc_info=True)
        # Outside awsrefs' calls the same loggers log as they would.
        own.debug("Response body:\n%s", b"plain-late-body-visible")
    finally:
        own.handlers.clear()
        own.propagate = True
    written = stream.getvalue()
    assert "<withheld by awsrefs>" in written
    assert "ValueError; details withheld by awsrefs" in written
    assert "plain-late-body-visible" in written
    assert_no_secrets(written, "a handler of a logger created after install")
    assert_no_secrets(debug_logs.text(), "records of a logger created after install")
    # And a real refresh at DEBUG after the new loggers exist still logs no value.
    resolver.refresh("ssm:/log/canary")
