"""A Django process for the rotation tests (run as a subprocess; Django is configured once).

Configuration comes as JSON in ``AWSREFS_CHILD``; AWS is reached through ``AWS_ENDPOINT_URL``.
The settings go through ``resolve_settings`` and then ``settings.configure``. Worker threads
send requests to a view through Django's test client until the parent writes ``stop`` on
stdin; ``phase <name>`` lines label what follows, and ``wait <requests> <logins> [user]``
answers ``reached`` on stdout once the current phase has seen that many requests and logins
(and that user), so the parent moves on after events, not after a guess at the machine's
speed. The last stdout line is a JSON summary per phase: requests, failed requests, new
database logins, users seen.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter, defaultdict

import django
from awsrefs_django import get_resolver, resolve_settings
from django.conf import settings
from django.db import close_old_connections, connection
from django.http import JsonResponse
from django.test import Client
from django.urls import path

from awsrefs.rotation import RotatingCredentials

config = json.loads(os.environ["AWSREFS_CHILD"])
WAIT_GUARD_S = 300
phase = "start"
lock = threading.Lock()
requests: Counter[str] = Counter()
failed: Counter[str] = Counter()
logins: Counter[str] = Counter()
users: defaultdict[str, set[str]] = defaultdict(set)
errors: list[str] = []

# Count successful database logins (pool connections included) by phase.
_connect = RotatingCredentials.connect


def _counting_connect(self, fn):
    result = _connect(self, fn)
    with lock:
        logins[phase] += 1
    return result


RotatingCredentials.connect = _counting_connect  # type: ignore[method-assign]


def whoami(request):
    with connection.cursor() as cursor:
        sql = "SELECT current_user" if connection.vendor == "postgresql" else "SELECT USER()"
        cursor.execute(sql)
        (user,) = cursor.fetchone()
    return JsonResponse({"user": user.split("@")[0]})


urlpatterns = [path("whoami/", whoami)]

options = {"secret": f"secretsmanager:{config['secret']}", "retry_budget": 20}
if config.get("pool"):
    options["pool"] = config["pool"]
values = {
    "DEBUG": False,
    "SECRET_KEY": "child-settings-key-not-secret",
    "ALLOWED_HOSTS": ["testserver"],
    "ROOT_URLCONF": __name__,
    "INSTALLED_APPS": ["awsrefs_django"],
    "MIDDLEWARE": [],
    "USE_TZ": True,
    "DATABASES": {
        "default": {
            "ENGINE": f"awsrefs_django.backends.{config['engine']}",
            "CONN_MAX_AGE": config["conn_max_age"],
            "OPTIONS": options,
        }
    },
}
resolve_settings(values)
settings.configure(**values)
django.setup()


def worker(stop: threading.Event) -> None:
    client = Client()
    while not stop.is_set():
        current = phase
        try:
            # Django's test client keeps connections across requests; a real server's
            # handler closes them at request start and end (per CONN_MAX_AGE): do the same.
            close_old_connections()
            response = client.get("/whoami/")
            close_old_connections()
            ok = response.status_code == 200
            detail = f"HTTP {response.status_code}"
        except Exception as error:  # the test client re-raises the view's exception
            ok, detail = False, f"{type(error).__name__}: {error}"
        with lock:
            requests[current] += 1
            if ok:
                users[current].add(response.json()["user"])
            else:
                failed[current] += 1
                if len(errors) < 10:
                    errors.append(detail)
        time.sleep(0.005)


# One request first, so the parent starts rotating only once the process serves requests.
assert Client().get("/whoami/").status_code == 200
stop = threading.Event()
threads = [threading.Thread(target=worker, args=(stop,)) for _ in range(config["threads"])]
for thread in threads:
    thread.start()
print("ready", flush=True)
for line in sys.stdin:
    command = line.strip()
    if command.startswith("phase "):
        with lock:
            phase = command.split(" ", 1)[1]
    elif command.startswith("wait "):
        want_requests, want_logins, *want_user = command.split()[1:]
        guard = time.monotonic() + WAIT_GUARD_S  # only against a hang
        while time.monotonic() < guard:
            with lock:
                reached = (
                    requests[phase] >= int(want_requests)
                    and logins[phase] >= int(want_logins)
                    and all(user in users[phase] for user in want_user)
                )
            if reached:
                break
            time.sleep(0.01)
        print("reached" if reached else f"not reached in {phase}", flush=True)
    elif command == "stop":
        break
stop.set()
for thread in threads:
    thread.join(timeout=30)
summary = {
    name: {
        "requests": requests[name],
        "failed": failed[name],
        "logins": logins[name],
        "users": sorted(users[name]),
    }
    for name in sorted(set(requests) | set(logins))
}
calls = dict(get_resolver().stats.calls)
print(json.dumps({"phases": summary, "errors": errors, "aws_calls": calls}), flush=True)
