"""Load and rotation steps shared by the awsrefs_redis tests and ``tests/bench/redis_rotation.py``.

The rotation follows AWS's ElastiCache user rotation function step by step: createSecret puts
AWSPENDING; setSecret is ModifyUser with ``Passwords=[AWSPENDING, AWSCURRENT]`` (here
``ACL SETUSER app resetpass >new >old`` on the real server, or the new password alone);
testSecret logs in; finishSecret moves AWSCURRENT. Meanwhile 8 workers run SET/GET through the
client under test, and every logged-in connection of the user is killed again and again
(``CLIENT KILL ID``, paced by the workers), so each reconnect needs a password the server
accepts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

from awsrefs.rotation import is_auth_failure
from tests.support.databases import unique_name

WINDOW = 1.5  # seconds between setSecret and finishSecret
BUSY_MACHINE_WAIT = 30.0  # at most, for the load to reach what the assertions count
KILL_EVERY = 0.05  # seconds at least between kills while the workers run
# The commands of a login: a connection whose last command is one of them is still logging in.
_IN_LOGIN = frozenset({"NULL", "auth", "hello", "client|setinfo", "client|setname", "select"})
WORKERS = 8


def password(label: str) -> str:
    return f"pw-{label}-{unique_name('x')}"


def secret_value(user: str, pw: str) -> dict:
    # As the ElastiCache user rotation function keeps it.
    arn = f"arn:aws:elasticache:us-east-1:123456789012:user:{user}"
    return {"user_arn": arn, "username": user, "password": pw}


def retry_options(is_async: bool) -> dict:
    # redis-py's own retry of commands whose connection was killed (its choice, not ours):
    # the retried command reconnects, and the login is what this integration answers for.
    retry = (redis.asyncio.retry.Retry if is_async else Retry)(NoBackoff(), 3)
    return {"retry": retry, "retry_on_error": [redis.ConnectionError]}


def failed_logins(server) -> int:
    """Refused AUTH attempts the server logged since the last ACL LOG RESET."""
    with contextlib.closing(server.admin()) as admin:
        entries = admin.acl_log(count=1000)
    return sum(int(e["count"]) for e in entries if e["reason"] == "auth")


# -- load and rotation -------------------------------------------------------------------------


@dataclasses.dataclass
class Load:
    """What the workers saw: command counts and failures (type names only)."""

    commands: int = 0
    latencies: list[float] = dataclasses.field(default_factory=list)  # seconds per SET+GET
    auth_failures: int = 0  # failed commands whose error is a refused login
    failures: list[str] = dataclasses.field(default_factory=list)
    rounds: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def record(
        self, worker: int, failure: BaseException | None = None, latency: float = 0.0
    ) -> None:
        with self.lock:
            self.rounds[worker] += 1  # a SET+GET finished, through or not
            if failure is None:
                self.commands += 2
                self.latencies.append(latency)
            else:
                self.failures.append(type(failure).__name__)
                if is_auth_failure(failure):
                    self.auth_failures += 1


def sync_load(client, load: Load, stop: threading.Event) -> list[threading.Thread]:
    def work(n: int) -> None:
        key = f"k{n}"
        i = 0
        while not stop.is_set():
            i += 1
            try:
                started = time.perf_counter()
                client.set(key, i)
                assert int(client.get(key)) == i
                load.record(n, latency=time.perf_counter() - started)
            except Exception as exc:
                load.record(n, exc)
            time.sleep(0.002)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(WORKERS)]
    for t in threads:
        t.start()
    return threads


def async_load(make_client, load: Load, stop: threading.Event) -> list[threading.Thread]:
    async def main() -> None:
        client = make_client()

        async def work(n: int) -> None:
            key = f"k{n}"
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    started = time.perf_counter()
                    await client.set(key, i)
                    assert int(await client.get(key)) == i
                    load.record(n, latency=time.perf_counter() - started)
                except Exception as exc:
                    load.record(n, exc)
                await asyncio.sleep(0.002)

        try:
            await asyncio.gather(*(work(n) for n in range(WORKERS)))
        finally:
            await client.aclose()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    return [thread]


class Admin:
    """One admin connection: kills the user's connections and counts new connections."""

    def __init__(self, server, user: str) -> None:
        self.client = server.admin()
        self.user = user
        self.kills = 0

    def connections(self) -> int:
        return int(self.client.info("stats")["total_connections_received"])

    def kill_logged_in(self) -> int:
        """Drop the user's connections that have run a command since their login.

        A connection still in its login (AUTH, HELLO, CLIENT SETINFO) is left alone: the
        tests drop connections so that every *reconnect* needs the current password; a login
        cut in the middle is a different event (a server going away), and redis-py before 8
        does not retry the login of a connection it takes from the pool.
        """
        killed = 0
        for client in self.client.client_list():
            if client.get("user") == self.user and client.get("cmd") not in _IN_LOGIN:
                killed += int(self.client.execute_command("CLIENT", "KILL", "ID", client["id"]))
        return killed

    def killer(self, stop: threading.Event, load: Load) -> threading.Thread:
        """Kill the user's connections again and again, paced by the workers, not the clock.

        After a kill the next waits until every worker has finished a SET+GET since (through
        its reconnect and redis-py's retry, or failed): on a busy machine a fixed interval
        would kill a retry's new connection before it could run, and again, until the retry
        gave up, which measures the machine, not the client.
        """

        def run() -> None:
            while not stop.wait(KILL_EVERY):
                self.kills += self.kill_logged_in()
                with load.lock:
                    at_kill = dict(load.rounds)
                while not stop.wait(0.005):
                    with load.lock:
                        if all(load.rounds[n] > at_kill.get(n, 0) for n in range(WORKERS)):
                            break

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@dataclasses.dataclass
class Rotation:
    calls: int  # Secrets Manager calls from createSecret until just after finishSecret
    connects_in_window: int


def error_of(call):
    """The error ``call()`` raises, caught here: the traceback starts in this frame."""
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def probe_new_password(server, user: str, password: str, attempts: int = 20) -> None:
    """Log in with the new password and PING, as testSecret does.

    The workers' killer drops every connection of ``user`` every few milliseconds, this one's
    too: a dropped connection is tried again, a refused login is not.
    """
    for attempt in range(attempts):
        probe = redis.Redis(host=server.host, port=server.port, username=user, password=password)
        try:
            with contextlib.closing(probe):
                probe.ping()
            return
        except redis.AuthenticationError:
            raise
        except redis.ConnectionError:
            if attempt + 1 == attempts:
                raise


def rotate(aws, server, resolver, admin: Admin, name, user, new, old, *, keep_old: bool):
    """One rotation as AWS's ElastiCache user rotation function runs it."""
    before = resolver.stats.total_calls
    version = aws.put_secret_value(  # createSecret
        name, secret_value(user, new), stages=["AWSPENDING"]
    )
    # setSecret: ModifyUser Passwords=[AWSPENDING, AWSCURRENT] (or the new one alone).
    server.set_user(user, *([new, old] if keep_old else [new]))
    connects = admin.connections()
    time.sleep(WINDOW)
    deadline = time.monotonic() + BUSY_MACHINE_WAIT
    while admin.connections() - connects < WORKERS and time.monotonic() < deadline:
        time.sleep(0.05)
    connects_in_window = admin.connections() - connects
    probe_new_password(server, user, new)  # testSecret
    aws.move_stage(name, "AWSCURRENT", to_version=version)  # finishSecret
    time.sleep(0.3)  # the workers reconnect after finishSecret too
    return Rotation(resolver.stats.total_calls - before, connects_in_window)


def run_scenario(
    aws,
    server,
    resolver,
    make_client: Callable[[str], Any],
    *,
    is_async: bool,
    rotations: int,
    keep_old: bool,
):
    """Rotate ``rotations`` times under load; ``make_client(secret_name)`` builds the client.

    Returns the load, the rotations, the refused logins and the connections killed.
    """
    user = unique_name("app")
    passwords = [password(f"v{i}") for i in range(rotations + 1)]
    server.set_user(user, passwords[0])
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, passwords[0]))
    load, stop = Load(), threading.Event()
    admin = Admin(server, user)
    if is_async:
        workers = async_load(lambda: make_client(name), load, stop)
    else:
        client = make_client(name)
        workers = sync_load(client, load, stop)
    killer_stop = threading.Event()
    try:
        deadline = time.monotonic() + BUSY_MACHINE_WAIT
        while load.commands < 2 * WORKERS and time.monotonic() < deadline:
            time.sleep(0.01)
        admin.client.acl_log_reset()
        with load.lock:
            load.latencies.clear()  # the first logins are start-up, not rotation
        killer = admin.killer(killer_stop, load)
        done = [
            rotate(aws, server, resolver, admin, name, user, new, old, keep_old=keep_old)
            for old, new in itertools.pairwise(passwords)
        ]
        if not done:  # the reference run: the same load and kills, no rotation
            time.sleep(WINDOW + 0.3)
        commands = load.commands
        deadline = time.monotonic() + BUSY_MACHINE_WAIT
        while load.commands < commands + 4 * WORKERS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        killer_stop.set()
        stop.set()
        for w in workers:
            w.join(30)
        if not is_async:
            client.close()
    killer.join(10)
    refused = failed_logins(server)
    admin.client.close()
    return load, done, refused, admin.kills
