"""The README's first command runs the demo; it must work and never print a secret."""

from __future__ import annotations

import subprocess
import sys

from examples import demo


def test_demo_runs_and_masks_secrets():
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "9 settings with references resolved in one pass" in out
    assert "AWS calls: secretsmanager:GetSecretValue=1, ssm:GetParameters=1 (total 2;" in out
    assert "(optional, not set: removed)" in out
    assert "'db.internal.example'" in out
    secrets = [demo.SECRET["password"]] + [
        value for kind, value in demo.PARAMETERS.values() if kind == "SecureString"
    ]
    for secret in secrets:
        assert secret not in out
        assert secret not in result.stderr
