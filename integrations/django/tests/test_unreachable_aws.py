"""``manage.py check`` with AWS unreachable spends one retry budget, not one per settings import.

A project made by ``django-admin startproject`` whose settings hold a reference and end in
``resolve_settings(globals())``; AWS is a local listener that closes every connection (a failure
in transit on every HTTP attempt) and counts them. Django imports settings a second time after
the first import failed, and ``awsrefs_check`` resolves again after the settings deferred their
failures: in both cases the later pass must make a single attempt and say why, so the process
makes the attempts of one budget plus one. Each resolver prints its counters at exit, so the
test compares the connections the listener saw with the calls and attempts awsrefs made and
with what the error message says.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.django_project import manage, start_project
from tests.support.unreachable import ClosingListener

pytestmark = pytest.mark.slow

TIMEOUT = 120
BUDGET = 3.0  # seconds; the first pass retries within it if its first call is quick enough
ATTEMPTS = 2

SETTINGS_TAIL = """
# --- awsrefs: a resolver with a short budget, which prints its counters at exit ----------------
import atexit
import json
import sys

import awsrefs
from awsrefs_django import resolve_settings

INSTALLED_APPS += ["awsrefs_django"]
AWSREFS_RESOLVER = awsrefs.Resolver(
    retry_budget=float(os.environ["SITE_RETRY_BUDGET"]),
    max_attempts=int(os.environ["SITE_MAX_ATTEMPTS"]),
)
atexit.register(
    lambda stats=AWSREFS_RESOLVER.stats: print(
        "awsrefs-stats " + json.dumps(stats.snapshot()), file=sys.stderr
    )
)
SECRET_KEY = "ssm:/mysite/secret-key"
resolve_settings(globals())
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return start_project(tmp_path_factory.mktemp("unreachable-site"), SETTINGS_TAIL)


def _run(project: Path, endpoint: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    site = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "SITE_RETRY_BUDGET": str(BUDGET),
        "SITE_MAX_ATTEMPTS": str(ATTEMPTS),
    }
    return manage(project, *args, env={**site, **env}, timeout=TIMEOUT)


def _passes(stderr: str) -> list[dict]:
    """Each resolver's counters, in the order they were made (atexit runs last-first)."""
    found = [json.loads(m) for m in re.findall(r"^awsrefs-stats (.*)$", stderr, re.M)]
    return list(reversed(found))


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["check"], {}),
        (["awsrefs_check"], {}),
        (["awsrefs_check"], {"AWSREFS_DEFER_ERRORS": "1"}),
    ],
    ids=["check", "awsrefs_check", "awsrefs_check-deferred"],
)
def test_unreachable_aws_costs_one_budget_per_process(project, moto_server, command, env):
    """moto_server only for its fake credentials; AWS is the closing listener."""
    with ClosingListener() as aws:
        result = _run(project, aws.url, *command, **env)
        connections = aws.connections
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    resolvers = _passes(result.stderr)
    # At least two passes: Django's further settings imports (each a new resolver: twice for
    # `check` on Django 5, three times on 4.2), or the check command's own pass after the
    # deferred first one (the same resolver). One reference: a miss per pass.
    passes = sum(r["cache_misses"] for r in resolvers)
    assert passes >= 2, resolvers
    later = passes - 1  # each pass after the first: one call of one attempt
    calls = sum(r["calls"].get("ssm:GetParameters", 0) for r in resolvers)
    attempts = sum(r["attempts"].get("ssm:GetParameters", 0) for r in resolvers)
    # Every attempt awsrefs counted is a connection the endpoint saw, and no more.
    assert attempts == connections, (attempts, connections)
    # One budget: the first pass called within it (how many times depends on the machine's
    # speed: its first call, botocore's import included, counts against the budget), every
    # later one made one call of one attempt (the message it reports below says so, and
    # counts what its pass made).
    assert calls - later >= 1, resolvers
    assert calls - later <= attempts - later <= (calls - later) * ATTEMPTS
    for resolver in resolvers[1:]:
        assert resolver["calls"] == {"ssm:GetParameters": resolver["cache_misses"]}, resolvers
        assert resolver["attempts"] == resolver["calls"], resolvers
    # What the user reads states the attempts really made by the pass it reports.
    stated = re.findall(r"could not reach ssm in us-east-1 \(\w+\) after (\d+) attempts?", output)
    assert {int(n) for n in stated} == {1}, output[-3000:]
    assert "not retried: ssm in us-east-1 already failed in transit through a 3 s" in output
