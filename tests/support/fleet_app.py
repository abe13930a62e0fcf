"""One member of a fleet: start, resolve the settings, report, exit.

Run as ``python tests/support/fleet_app.py awsrefs|naive|warm SETTINGS_JSON`` with
``AWS_ENDPOINT_URL`` and ``AWS_REGION`` set. With ``FLEET_GATE=1`` it imports everything and
then waits for a line on stdin before resolving, so a whole fleet can hit AWS at the same
instant (the worst case for throttling). Prints one JSON line: a digest of the resolved
values (never the values), the calls made, and the seconds it took. Used by
tests/test_fleet.py and tests/bench/fleet.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time


def digest(values: dict) -> str:
    """A stable fingerprint of resolved settings, safe to print."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def with_awsrefs(settings: dict) -> tuple[dict, int]:
    import awsrefs

    budget = os.environ.get("FLEET_RETRY_BUDGET")  # default: the resolver's own
    # A fleet on one small machine answers slowly: wait for answers rather than send again
    # (the test waits longer still: a request sent twice would break its call counts).
    read_timeout = float(os.environ.get("FLEET_READ_TIMEOUT", "30"))
    options = {"read_timeout": read_timeout, "connect_timeout": 10.0}
    if budget:
        options["retry_budget"] = float(budget)
    resolver = awsrefs.Resolver(**options)
    out = resolver.resolve(settings)
    return out, resolver.stats.total_calls


def naive(settings: dict) -> tuple[dict, int]:
    """One call per reference, boto3's default client configuration: what apps often do."""
    import boto3

    ssm = boto3.client("ssm")
    sm = boto3.client("secretsmanager")
    out = {}
    for name, ref in settings.items():
        kind, _, rest = ref.partition(":")
        if kind == "ssm":
            out[name] = ssm.get_parameter(Name=rest, WithDecryption=True)["Parameter"]["Value"]
        else:
            secret, _, key = rest.partition(":")
            out[name] = json.loads(sm.get_secret_value(SecretId=secret)["SecretString"])[key]
    return out, len(settings)


def warm() -> None:
    """Import and build clients without calling AWS, so the bytecode cache gets written."""
    import boto3
    import botocore.session

    import awsrefs

    awsrefs.parse("ssm:/warm")
    for service in ("ssm", "secretsmanager"):
        botocore.session.get_session().create_client(service)
        boto3.client(service)


def main() -> int:
    started = time.time()
    mode, settings = sys.argv[1], json.loads(sys.argv[2])
    if mode == "warm":
        warm()
        return 0
    if os.environ.get("FLEET_GATE"):
        import boto3  # noqa: F401  (the imports are most of the start-up CPU)
        import botocore.session  # noqa: F401

        import awsrefs
        import awsrefs.backends.aws  # awsrefs loads its AWS side on first use

        awsrefs.Resolver()  # what an app has done before its first resolve
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.time()
    cpu0 = time.process_time()
    try:
        out, calls = (with_awsrefs if mode == "awsrefs" else naive)(settings)
    except Exception as error:  # report kinds only: no message text in the output
        kinds = sorted({f.kind.value for f in getattr(error, "failures", ())})
        print(json.dumps({"ok": False, "error": type(error).__name__, "kinds": kinds}))
        return 1
    # Wall time from launch (FLEET_T0, set by the parent) or from the gate's opening.
    t0 = started if os.environ.get("FLEET_GATE") else float(os.environ.get("FLEET_T0", started))
    done = time.time() - t0
    cpu = time.process_time() - cpu0  # CPU spent resolving (after the gate, if any)
    print(json.dumps({"ok": True, "digest": digest(out), "calls": calls, "done": done, "cpu": cpu}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
