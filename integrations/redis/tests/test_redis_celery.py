"""A real Celery worker on a Redis broker and result backend through two rotations.

The worker (``celery worker --pool=solo`` in a subprocess) and the producer (this process) are
configured with ``awsrefs_redis.celery.configure``, as docs/redis.md shows. Tasks are sent in
batches between the rotation steps of AWS's ElastiCache user rotation function, applied to the
real redis-server with ``ACL SETUSER``; after each step, once the tasks sent so far are
recorded, every connection of the user is killed (``CLIENT KILL USER``), so the worker's and the
producer's next connections need a password the server accepts. Each task adds its number to a
Redis set through the result backend's client. A failure says where each missing task is (the
queue, kombu's ``unacked`` hash, or nowhere) and what the worker logged about it; the worker
logs its consumer's state on SIGUSR1, which a hang guard sends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import redis

from tests.support.canary import assert_no_secrets
from tests.support.databases import unique_name
from tests.support.redis_rotation import password, secret_value

celery = pytest.importorskip("celery")
import awsrefs_redis.celery  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
HANG_GUARD = 300.0  # seconds: only against a hang, never a measure
BATCH = 40

APP = textwrap.dedent(
    """
    import os
    import signal
    import sys
    import traceback

    import celery.signals
    from celery import Celery

    import awsrefs
    import awsrefs_redis.celery

    app = Celery("celery_app")
    app.conf.update(
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        # A message taken by a connection that was killed before its ack comes back.
        broker_transport_options={"visibility_timeout": 10},
    )
    awsrefs_redis.celery.configure(
        app,
        os.environ["TEST_SECRET"],
        broker_url=os.environ["TEST_BROKER_URL"],
        result_backend_url=os.environ["TEST_BACKEND_URL"],
    )


    # Diagnostics: each message the worker takes from the broker, before kombu records it as
    # unacked and before Celery logs it as received.
    _deliver = awsrefs_redis.celery.Transport._deliver


    def deliver(self, message, queue):
        print(f"took {message['headers'].get('id')} from the broker", flush=True)
        return _deliver(self, message, queue)


    awsrefs_redis.celery.Transport._deliver = deliver


    @celery.signals.worker_ready.connect
    def keep(sender, **kwargs):
        # On SIGUSR1 (sent by the test before it fails) the worker logs its consumer's state.
        def dump(signum, frame):
            conn = sender.connection
            cycle = getattr(conn.transport, "cycle", None) if conn else None
            print("STATE connection", conn, "hub readers", sorted(sender.hub.readers), flush=True)
            if cycle is not None:
                print("STATE fd_to_chan", cycle._fd_to_chan, cycle._paused_brpop, flush=True)
                print("STATE chan_to_sock", cycle._chan_to_sock, flush=True)
                for ch in cycle._channels:
                    print("STATE channel", ch, "in_poll", ch._in_poll, "active", ch.active_queues,
                          "delivered", dict(ch.qos._delivered), "can_consume", ch.qos.can_consume(),
                          "prefetch", ch.qos.prefetch_count, flush=True)
            traceback.print_stack(frame)
            sys.stdout.flush()

        signal.signal(signal.SIGUSR1, dump)


    @app.task
    def record(n):
        app.backend.client.sadd(os.environ["TEST_DONE_KEY"], n)
        return n


    @app.task
    def secrets_manager_calls():
        return awsrefs.default_resolver().stats.total_calls
    """
)


def wait_for(condition, what, proc, log, where=lambda: ""):
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if proc.poll() is not None or time.monotonic() >= deadline:
            if proc.poll() is None:
                proc.send_signal(signal.SIGUSR1)  # the worker logs its consumer's state
                time.sleep(2)
            tail = log.read_text(errors="replace")[-4000:]
            state = "exited" if proc.poll() is not None else "hang guard"
            pytest.fail(f"{state} while waiting for {what}:\n{where()}\nworker log:\n{tail}")
        time.sleep(0.1)


def whereabouts(broker, sent_ids, done, log):
    """Where the tasks not yet recorded are: the queue, kombu's unacked hash, or nowhere."""
    missing = {n: sent_ids[n] for n in range(len(sent_ids)) if n not in done}
    queued = {json.loads(m)["headers"]["id"] for m in broker.lrange("celery", 0, -1)}
    unacked = {
        json.loads(v)[0]["headers"]["id"]: tag.decode()
        for tag, v in broker.hgetall("unacked").items()
    }
    index = {
        tag.decode(): score for tag, score in broker.zrange("unacked_index", 0, -1, withscores=True)
    }
    lines = [
        f"sent={len(sent_ids)} done={len(done)} missing={sorted(missing)}",
        f"LLEN celery={broker.llen('celery')} HLEN unacked={broker.hlen('unacked')} "
        f"ZCARD unacked_index={broker.zcard('unacked_index')} now={time.time():.1f}",
    ]
    for n, task_id in sorted(missing.items()):
        if task_id in queued:
            place = "in the queue"
        elif task_id in unacked:
            place = f"in unacked (index score {index.get(unacked[task_id])})"
        else:
            place = "NOWHERE (neither queued nor unacked)"
        lines.append(f"  task {n} ({task_id}): {place}")
        # What the worker said about it (taken, received, raised...).
        said = [line[:300] for line in log.splitlines() if task_id in line]
        lines += [f"    worker: {line}" for line in said[:6]]
    clients = broker.execute_command("CLIENT", "LIST")
    lines.append(clients.decode() if isinstance(clients, bytes) else str(clients))
    return "\n".join(lines)


@pytest.mark.slow
def test_celery_worker_consumes_across_rotations(aws, redis_server, tmp_path):
    user = unique_name("celery")
    first, second, third = password("first"), password("second"), password("third")
    redis_server.set_user(user, first)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, first))
    broker_url = redis_server.url.rsplit("/", 1)[0] + "/2"
    backend_url = redis_server.url.rsplit("/", 1)[0] + "/3"
    done_key = f"done-{user}"
    (tmp_path / "celery_app.py").write_text(APP)
    env = {
        **os.environ,
        "TEST_SECRET": f"secretsmanager:{name}",
        "TEST_BROKER_URL": broker_url,
        "TEST_BACKEND_URL": backend_url,
        "TEST_DONE_KEY": done_key,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    log = tmp_path / "worker.log"
    import awsrefs

    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    producer = celery.Celery("producer")
    awsrefs_redis.celery.configure(
        producer,
        f"secretsmanager:{name}",
        broker_url=broker_url,
        result_backend_url=backend_url,
        resolver=resolver,
    )
    admin = redis_server.admin()
    broker = redis.Redis(  # the broker's database, for the diagnostics of a failure
        host=redis_server.host, port=redis_server.port, db=2,
        password=redis_server.admin_password, socket_timeout=10,
    )  # fmt: skip
    results = redis.Redis(  # the result backend's database, where the tasks record
        host=redis_server.host, port=redis_server.port, db=3,
        password=redis_server.admin_password, socket_timeout=10,
    )  # fmt: skip
    # Celery's result backend subscribes to channels (the fixture's users have keys and
    # commands only); later ACL SETUSERs change passwords and keep this.
    admin.execute_command("ACL", "SETUSER", user, "allchannels")
    sent = []

    def done() -> set[int]:
        return {int(n) for n in results.smembers(done_key)}

    def wait(condition, what):
        wait_for(
            condition,
            what,
            proc,
            log,
            lambda: whereabouts(broker, sent, done(), log.read_text(errors="replace")),
        )

    def drained() -> bool:
        return done() >= set(range(len(sent)))

    def kill() -> int:
        # Every task sent so far is recorded first: the worker waits in BRPOP on an empty
        # queue when its connections are killed. kombu takes a message with BRPOP and records
        # it as unacked in a second command, so a kill that lands while a BRPOP reply is on
        # its way loses that message, rotation or not (docs/redis.md, "Limits").
        wait(drained, f"the {len(sent)} tasks sent before a kill")
        print(f"KILL at {time.time():.3f} after task {len(sent) - 1}")
        return redis_server.kill_user(user)

    def send(count: int) -> None:
        for _ in range(count):
            sent.append(producer.send_task("celery_app.record", args=[len(sent)]).id)

    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker",
             "--pool=solo", "--loglevel=INFO", "--without-heartbeat",
             "--without-gossip", "--without-mingle"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        with (
            contextlib.closing(admin),
            contextlib.closing(results),
            contextlib.closing(broker),
            contextlib.closing(resolver),
        ):
            send(BATCH)

            # Rotation 1, on a server that keeps only the new password in the window:
            # createSecret, setSecret, then every reconnect needs AWSPENDING.
            v2 = aws.put_secret_value(name, secret_value(user, second), stages=["AWSPENDING"])
            redis_server.set_user(user, second)
            assert kill() >= 1
            send(BATCH)
            kill()
            send(BATCH)
            aws.move_stage(name, "AWSCURRENT", to_version=v2)  # finishSecret
            kill()
            send(BATCH)

            # Rotation 2, as ElastiCache does it (Passwords=[AWSPENDING, AWSCURRENT]); then the
            # next rotation's setSecret drops the older password.
            v3 = aws.put_secret_value(name, secret_value(user, third), stages=["AWSPENDING"])
            redis_server.set_user(user, third, second)
            kill()
            send(BATCH)
            aws.move_stage(name, "AWSCURRENT", to_version=v3)
            redis_server.set_user(user, third)
            assert kill() >= 1
            send(BATCH)

            wait(drained, "every task")
            # None lost (at least once; the set holds each once).
            assert done() == set(range(len(sent)))
            assert len(sent) == 6 * BATCH
            # The worker is alive and answers through the rotated broker and result backend.
            calls = producer.send_task("celery_app.secrets_manager_calls").get(timeout=HANG_GUARD)
            assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    output = log.read_text(errors="replace")
    print(f"worker Secrets Manager calls={calls} producer calls={resolver.stats.total_calls}")
    assert_no_secrets(output, "worker log")
    # No task failed: a command on a connection the kill dropped was sent again.
    assert "raised unexpected" not in output, output[-3000:]
    # The kills reached the worker: it reconnected, logging in again each time.
    assert output.count("Connection to broker lost") >= 3, output[-3000:]
    for pw in (first, second, third):
        assert pw not in output
    # The start-up read, then at most three calls per rotation (the first rotation needs
    # AWSCURRENT refreshed and AWSPENDING; the second costs nothing until its drop).
    assert calls <= 1 + 3 * 2, output[-3000:]
    assert resolver.stats.total_calls <= 1 + 3 * 2


def test_credentials_come_from_the_secret_only(canary):
    import kombu

    app = celery.Celery("refused")
    url = f"redis://app:{canary}@127.0.0.1:6379/0"
    awsrefs_redis.celery.configure(app, "secretsmanager:x", broker_url=url, result_backend_url=url)
    with pytest.raises(ValueError, match="come from the secret") as info:
        app.backend  # noqa: B018
    assert canary not in str(info.value)
    conn = kombu.Connection(
        url,
        transport=awsrefs_redis.celery.Transport,
        transport_options=app.conf.broker_transport_options,
    )
    with contextlib.closing(conn), pytest.raises(ValueError, match="come from the secret") as info:
        conn.default_channel  # noqa: B018
    assert canary not in str(info.value)


def test_missing_secret_option_is_named():
    app = celery.Celery("unconfigured")
    app.conf.result_backend = "awsrefs_redis.celery:RedisBackend+redis://127.0.0.1:6379/0"
    with pytest.raises(
        ValueError, match="result_backend_transport_options has no 'awsrefs_secret'"
    ):
        app.backend  # noqa: B018


def test_one_credentials_object_per_process_and_secret():
    first = awsrefs_redis.celery.credentials("secretsmanager:shared")
    assert awsrefs_redis.celery.credentials("secretsmanager:shared") is first
    assert awsrefs_redis.celery.credentials(first) is first
    app = celery.Celery("shared")
    awsrefs_redis.celery.configure(
        app, "secretsmanager:shared", broker_url="redis://h/0", result_backend_url="redis://h/1"
    )
    assert app.conf.broker_transport_options["awsrefs_secret"] is first
    assert app.conf.result_backend_transport_options["awsrefs_secret"] is first


@pytest.mark.parametrize("side", ["broker", "result backend"])
def test_a_command_whose_connection_was_dropped_is_sent_again(aws, redis_server, side):
    # kombu's and Celery's own pools leave redis-py's connections without retry: the worker's
    # unacked bookkeeping, its acks and a task's result failed when the server dropped
    # the connection under them, losing the message taken just before.
    import awsrefs

    user = unique_name("dropped")
    pw = password("only")
    redis_server.set_user(user, pw)
    name = f"redis/{user}"
    aws.put_secret(name, secret_value(user, pw))
    url = redis_server.url.rsplit("/", 1)[0] + "/4"
    key = f"list-{user}"
    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    app = celery.Celery("dropped")
    awsrefs_redis.celery.configure(
        app, f"secretsmanager:{name}", broker_url=url, result_backend_url=url, resolver=resolver
    )
    admin = redis.Redis(
        host=redis_server.host, port=redis_server.port, db=4,
        password=redis_server.admin_password, socket_timeout=10,
    )  # fmt: skip
    got: dict = {}

    def blocked() -> bool:
        return any(c["user"] == user and c["cmd"] == "blpop" for c in admin.client_list())

    def wait(condition) -> None:
        deadline = time.monotonic() + HANG_GUARD
        while not condition():
            assert time.monotonic() < deadline, "hang guard"
            time.sleep(0.05)

    with contextlib.ExitStack() as stack:
        stack.callback(resolver.close)
        stack.callback(admin.close)
        if side == "broker":
            conn = stack.enter_context(app.connection_for_write())
            client = stack.enter_context(conn.default_channel.conn_or_acquire())
        else:
            client = app.backend.client

        def pop() -> None:
            try:
                got["value"] = client.blpop(key, 60)
            except redis.RedisError as error:
                got["error"] = type(error).__name__

        popper = threading.Thread(target=pop)
        popper.start()
        wait(blocked)
        assert redis_server.kill_user(user) >= 1
        wait(lambda: blocked() or not popper.is_alive())
        admin.lpush(key, "x")
        popper.join(HANG_GUARD)
    assert got == {"value": (key.encode(), b"x")}
