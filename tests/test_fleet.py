"""A fleet of 100 processes starting at once through AWS-shaped throttling.

The members first import everything, then are released together, so all 500 calls arrive
at the same instant (the worst case: on 2 cores, staggered start-ups alone would keep SSM
under its quota and nothing would be throttled). Every member resolves the same 50
references (35 parameters, 15 keys of 4 secrets: 4 GetParameters calls and 1
BatchGetSecretValue each) through the fault proxy, which throttles SSM at 40 calls per
second shared and BatchGetSecretValue at 100 per second, as AWS does.
All must start with the right values, and retried calls must stay under half the calls made:
full-jitter backoff within the resolver's retry budget spreads the members out.
"""

from __future__ import annotations

import pytest

from tests.support.fleet import fleet_values, run_fleet
from tests.support.fleet_app import digest
from tests.support.proxy import FaultConfig, FaultProxy, aws_rates

FLEET = 100


@pytest.mark.slow
def test_hundred_processes_start_at_once_through_throttling(aws):
    parameters, secrets, expected = fleet_values()
    for name, value in parameters.items():
        aws.put_parameter(name, value, type="SecureString")
    for name, body in secrets.items():
        aws.put_secret(name, body)

    with FaultProxy(aws.endpoint_url, FaultConfig(throttle=aws_rates())) as proxy:
        result = run_fleet("awsrefs", proxy.url, FLEET, timeout=70, gate=True)
        stats = proxy.stats()
        totals = proxy.totals()

    print(
        f"fleet of {FLEET}: {result.wall:.1f} s wall, {result.cpu:.1f} s CPU, "
        f"{sum(r.get('cpu', 0) for r in result.reports):.1f} s CPU after the gate, "
        f"{totals['received']} requests, {totals['throttled']} throttled"
    )
    assert result.timed_out == 0
    assert result.errors == []
    assert result.started == FLEET
    assert {r["digest"] for r in result.reports} == {digest(expected)}
    # Each member made the minimum calls: 4 GetParameters + 1 BatchGetSecretValue. (The
    # members wait up to 30 s for an answer: 100 processes on 2 cores can take longer than
    # the default 5 s, and a request given up on and sent again would count twice here.)
    assert stats["AmazonSSM.GetParameters"]["forwarded"] == 4 * FLEET
    assert stats["secretsmanager.BatchGetSecretValue"]["forwarded"] == FLEET
    # SSM was the bottleneck: 400 calls at 40/s.
    assert stats["AmazonSSM.GetParameters"]["throttled"] > 0
    # Retried calls (each throttled request is retried) are under half of all calls made.
    assert totals["throttled"] < totals["received"] / 2, totals
    # How long the fleet takes is measured by tests/bench/fleet.py, not asserted here.
