"""Malformed references through the real path: the resolver over HTTP to moto, and the CLI.

An unclosed ``${`` or a malformed reference never repeats the text after it, in
``RefSyntaxError``, ``ResolutionError`` or ``awsrefs check``; white space around a reference
and a doubled ``optional:`` are errors, never plain text handed to the app.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from awsrefs import FailureKind, RefSyntaxError, ResolutionError, Resolver
from tests.support.canary import CANARY, assert_no_secrets

UNCLOSED = f"postgres://app@db/app?sslmode=require&x=${{ssm:/app/db-host&password={CANARY}"


@pytest.fixture
def resolver(aws):
    aws.put_parameter("/app/db-host", "db.internal")
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()


def test_resolution_error_for_unclosed_template_does_not_echo_the_rest(resolver):
    settings = {"DB_URL": UNCLOSED, "HOST": "ssm:/app/db-host"}
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(settings)
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.SYNTAX
    assert failure.path == "DB_URL"
    assert failure.reference == "${ssm:..."
    assert "'}' closing the reference" in failure.reason
    assert_no_secrets(str(caught.value) + repr(caught.value.failures), "the resolution error")
    assert "sslmode" not in str(caught.value)
    checked = {c.path: (c.reference, c.status) for c in resolver.check(settings)}
    assert checked == {"DB_URL": ("${ssm:...", "bad syntax"), "HOST": ("ssm:/app/db-host", "OK")}
    with pytest.raises(RefSyntaxError) as direct:
        resolver.get(UNCLOSED)
    assert_no_secrets(str(direct.value), "the syntax error")


@pytest.mark.parametrize(
    "value", [" ssm:/app/db-host", "ssm:/app/db-host ", "optional:optional:ssm:/app/db-host"]
)
def test_spaced_or_doubly_optional_references_fail_instead_of_passing_as_text(resolver, value):
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve({"HOST": value, "OK": "ssm:/app/db-host"})
    (failure,) = caught.value.failures
    assert (failure.path, failure.kind) == ("HOST", FailureKind.SYNTAX)
    assert "position" in failure.reason


def test_awsrefs_check_does_not_echo_the_text_after_an_unclosed_reference(aws, resolver, tmp_path):
    env = tmp_path / "app.env"
    env.write_text(f"DB_URL={UNCLOSED}\nHOST=ssm:/app/db-host\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "awsrefs",
            "check",
            "--endpoint-url",
            aws.endpoint_url,
            "--region",
            aws.region,
            str(env),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "${ssm:..." in out
    assert "bad syntax" in out
    assert_no_secrets(out, "awsrefs check output")
    assert "sslmode" not in out
