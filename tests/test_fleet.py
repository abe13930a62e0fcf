"""A fleet of processes starting at once through AWS-shaped throttling: counts, not times.

The members first import everything, then are released together, so all their calls arrive
at once. Every member resolves the same 50 references (35 parameters, 15 keys of 4 secrets:
4 GetParameters calls and 1 BatchGetSecretValue each) through the fault proxy, which
throttles SSM with a token bucket: 8 calls per second for 10 members (AWS's 40 per second is
for the benchmark's 100), so the 40 SSM calls need at least 4 s of quota and are throttled
however slow the machine. All members must start with the right values, and each
with the minimum calls. How long a fleet takes, and how many of its requests were retried,
is measured by ``./dev bench`` (tests/bench/fleet.py, 100 members at AWS's rates).
"""

from __future__ import annotations

import pytest

from tests.support.fleet import fleet_values, run_fleet
from tests.support.fleet_app import digest
from tests.support.proxy import FaultConfig, FaultProxy, Rate, aws_rates

FLEET = 10
# Only against a hang: the members wait for answers and retry within this budget, and the
# fleet is killed after the guard; nothing here depends on how fast the machine is.
HANG_GUARD_S = 600


@pytest.mark.slow
def test_fleet_starting_at_once_through_throttling_starts_every_member(aws, monkeypatch):
    parameters, secrets, expected = fleet_values()
    for name, value in parameters.items():
        aws.put_parameter(name, value, type="SecureString")
    for name, body in secrets.items():
        aws.put_secret(name, body)
    monkeypatch.setenv("FLEET_RETRY_BUDGET", str(HANG_GUARD_S / 2))
    monkeypatch.setenv("FLEET_READ_TIMEOUT", str(HANG_GUARD_S / 2))
    rates = {**aws_rates(), "ssm": Rate(8.0, burst=8)}

    with FaultProxy(aws.endpoint_url, FaultConfig(throttle=rates)) as proxy:
        result = run_fleet("awsrefs", proxy.url, FLEET, timeout=HANG_GUARD_S, gate=True)
        stats = proxy.stats()
        totals = proxy.totals()

    print(f"fleet of {FLEET}: {totals['received']} requests, {totals['throttled']} throttled")
    assert result.timed_out == 0
    assert result.errors == []
    assert result.started == FLEET
    assert {r["digest"] for r in result.reports} == {digest(expected)}
    # Each member made the minimum calls: 4 GetParameters + 1 BatchGetSecretValue (the members
    # wait for slow answers rather than send a request twice).
    assert stats["AmazonSSM.GetParameters"]["forwarded"] == 4 * FLEET
    assert stats["secretsmanager.BatchGetSecretValue"]["forwarded"] == FLEET
    # SSM was the bottleneck, and every throttled request was sent again until it passed:
    # nothing else was lost on the way.
    assert stats["AmazonSSM.GetParameters"]["throttled"] > 0
    assert totals["received"] == totals["forwarded"] + totals["throttled"], totals
