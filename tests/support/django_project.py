"""A Django project made by ``django-admin startproject``, and its commands run in a new process.

What the Django integration's tests share that build a project as a user does:
:func:`start_project` runs ``python -m django startproject mysite DIR`` and appends the test's
awsrefs settings to ``mysite/settings.py``; :func:`manage` runs ``manage.py ARGS`` there (and
:func:`run_in_project` any other Python command, ``-m pytest`` say) with
``DJANGO_SETTINGS_MODULE=mysite.settings``, the project on ``PYTHONPATH``, stdin closed (a
prompt fails instead of waiting) and the output checked for registered secrets.

Here, not in the integration's own tests folder, so the support matrix's cells, which run
those tests against installed wheels from the checkout's root, import it as ``tests.support``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.canary import assert_no_secrets

__all__ = ["TIMEOUT", "manage", "run_in_project", "start_project"]

TIMEOUT = 240.0
"""Seconds a command may take before the test fails: a hang guard, not a measure."""


def start_project(directory: Path, settings_tail: str, *, timeout: float = TIMEOUT) -> Path:
    """Make project ``mysite`` in ``directory``; ``settings_tail`` ends its settings.py.

    ``import os`` is added at the top when Django's template does not have it (the tails
    read the environment).

    Returns:
        ``directory``.
    """
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(directory)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    settings = directory / "mysite" / "settings.py"
    text = settings.read_text()
    if "import os" not in text:
        text = "import os\n" + text
    settings.write_text(text + settings_tail)
    return directory


def run_in_project(
    directory: Path,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGV`` in the project; fails the test if the output shows a secret.

    Args:
        directory: The project (made by :func:`start_project`).
        argv: The interpreter's arguments (``["manage.py", "check"]``, ``["-m", "pytest"]``).
        env: Variables added to this process's environment.
        timeout: Hang guard, in seconds.
    """
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mysite.settings", **(env or {})}
    full_env.pop("PYTEST_ADDOPTS", None)  # the outer run's options are not the project's
    full_env["PYTHONPATH"] = str(directory)
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=directory,
        env=full_env,
        stdin=subprocess.DEVNULL,  # a "Type 'yes'" prompt fails instead of waiting
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert_no_secrets(result.stdout + result.stderr, f"output of python {' '.join(argv)}")
    return result


def manage(
    directory: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py ARGS`` in the project (see :func:`run_in_project`)."""
    return run_in_project(directory, ["manage.py", *args], env=env, timeout=timeout)
