"""Launch a fleet of processes that all resolve the same settings at once (test and benchmark).

Each member runs ``tests/support/fleet_app.py``; :func:`run_fleet` starts them all together,
waits, and returns what they reported plus the CPU time they used.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP = Path(__file__).with_name("fleet_app.py")
PYCACHE = os.path.join(tempfile.gettempdir(), "awsrefs-fleet-pycache")
ROOT = APP.parents[2]
N_PARAMETERS = 35
SECRET_KEYS = (4, 4, 4, 3)  # 15 keys of 4 secrets


def fleet_settings() -> dict[str, str]:
    """The 50 references every member resolves: 35 parameters, 15 keys of 4 secrets."""
    settings = {f"P{i}": f"ssm:/fleet/p{i}" for i in range(N_PARAMETERS)}
    for s, keys in enumerate(SECRET_KEYS):
        for k in range(keys):
            settings[f"S{s}K{k}"] = f"secretsmanager:fleet/s{s}:k{k}"
    return settings


def fleet_values() -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]:
    """Parameter values, secret bodies, and the resolved settings they give."""
    parameters = {f"/fleet/p{i}": f"param-{i}-3b7e" for i in range(N_PARAMETERS)}
    secrets = {
        f"fleet/s{s}": {f"k{k}": f"s{s}-k{k}-a91f" for k in range(4)}
        for s in range(len(SECRET_KEYS))
    }
    expected = {}
    for name, ref in fleet_settings().items():
        kind, _, rest = ref.partition(":")
        if kind == "ssm":
            expected[name] = parameters[rest]
        else:
            secret, _, key = rest.partition(":")
            expected[name] = secrets[secret][key]
    return parameters, secrets, expected


def _lower_priority() -> None:
    os.nice(10)


@dataclass
class FleetResult:
    """What one fleet run produced."""

    wall: float
    reports: list[dict[str, Any]]
    returncodes: list[int | None]
    cpu: float  # user + system seconds of all members together
    timed_out: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def started(self) -> int:
        """Members that resolved every value and exited cleanly."""
        pairs = zip(self.reports, self.returncodes, strict=True)
        return sum(1 for report, code in pairs if code == 0 and report.get("ok"))


def run_fleet(
    mode: str,
    endpoint_url: str,
    size: int,
    *,
    timeout: float = 600.0,
    region: str = "us-east-1",
    gate: bool = False,
) -> FleetResult:
    """Start ``size`` members at once and wait for all of them (killing any still running at
    ``timeout``).

    Args:
        mode: ``"awsrefs"`` or ``"naive"`` (one call per reference).
        endpoint_url: Where the members send AWS calls (the fault proxy).
        size: How many processes.
        timeout: Seconds the whole fleet may take before its members are killed (a hang
            guard for tests; the benchmark passes its own).
        region: AWS region.
        gate: Let every member import first, then release them all at once; ``wall`` is
            then measured from the release.
    """
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,  # boto3 (the naive members) reads only this one
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": str(ROOT),
    }
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWSREFS_BACKEND", "PYTHONDONTWRITEBYTECODE"):
        env.pop(var, None)
    # Compiled bytecode, as in any installed image (pip writes .pyc files): without it every
    # member would compile botocore from source, a third of its start-up CPU.
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    settings = json.dumps(fleet_settings())
    # A warm-up process first (no AWS calls): it writes the bytecode cache the fleet reads.
    subprocess.run(
        [sys.executable, str(APP), "warm", settings], env=env, capture_output=True, timeout=300
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    env["FLEET_T0"] = repr(started)
    if gate:
        env["FLEET_GATE"] = "1"
    procs = [
        subprocess.Popen(
            [sys.executable, str(APP), mode, settings],
            env=env,
            stdin=subprocess.PIPE if gate else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Below the emulator's priority: in production AWS does not share the fleet's
            # CPUs; here a starved moto would time out requests that AWS would answer.
            preexec_fn=_lower_priority,
        )
        for _ in range(size)
    ]
    deadline = time.monotonic() + timeout
    if gate:
        for proc in procs:  # wait until every member has imported everything
            assert proc.stdout is not None
            proc.stdout.readline()
        started = time.time()
        for proc in procs:  # then open the gate for all of them
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
    reports: list[dict[str, Any]] = []
    errors: list[str] = []
    timed_out = 0
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out += 1
        lines = out.strip().splitlines()
        try:
            reports.append(json.loads(lines[-1]) if lines else {"ok": False})
        except ValueError:
            reports.append({"ok": False})
        if proc.returncode != 0:
            if "error" in reports[-1]:
                errors.append(f"{reports[-1]['error']} {reports[-1].get('kinds', '')}")
            else:  # a crash: the last line of the traceback names the exception
                errors.append((err.strip().splitlines() or ["(no output)"])[-1][:200])
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return FleetResult(
        wall=wall,
        reports=reports,
        returncodes=[p.returncode for p in procs],
        cpu=cpu,
        timed_out=timed_out,
        errors=errors,
    )
