"""awsrefs.iam_auth.DbAuthTokens: one token per host/port/user/region, renewed by age, no AWS call.

Signing is local; these tests need AWS credentials (fake ones) but no server. The database
side (a real PostgreSQL accepting exactly the expected token) is in the SQLAlchemy and Django
integration tests.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from awsrefs.iam_auth import DbAuthTokens, IamAuthError, IamCredentials
from tests.support.iam_tokens import frozen_signing


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def session(monkeypatch, tmp_path):
    import botocore.session

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEIAMAUTH")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "iam-auth-test-secret-key-not-real")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return botocore.session.get_session()


def test_one_token_per_key_shared_by_threads(session):
    tokens = DbAuthTokens(session=session, region_name="eu-west-1", clock=FakeClock())
    got: list[str] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        got.append(tokens.token("db.internal", 5432, "app"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8
    assert len(set(got)) == 1
    assert tokens.generated == 1
    tokens.token("db.internal", 5433, "app")
    tokens.token("db.internal", 5432, "other")
    tokens.token("db.internal", 5432, "app", region="us-east-1")
    assert tokens.generated == 4
    assert got[0] not in repr(tokens)


def test_renewed_once_its_lifetime_is_over_or_when_rejected(session):
    clock = FakeClock()
    tokens = DbAuthTokens(session=session, region_name="eu-west-1", lifetime=30, clock=clock)
    with frozen_signing() as signing:
        first = tokens.token("db.internal", 5432, "app")
        clock.now += 29.9
        assert tokens.get("db.internal", 5432, "app") == (first, False)
        signing.advance(30)
        clock.now += 0.1
        second, made = tokens.get("db.internal", 5432, "app")
        assert made
        assert second != first
        # A rejection of an older token does not renew again; of the cached one, it does.
        assert tokens.get("db.internal", 5432, "app", rejected=first) == (second, False)
        signing.advance(1)
        third, made = tokens.get("db.internal", 5432, "app", rejected=second)
        assert made
        assert third != second
    assert tokens.generated == 3


def test_region_from_an_rds_host_name_else_an_error(session):
    tokens = DbAuthTokens(session=session)
    token = tokens.token("app.cluster-abc123.eu-central-1.rds.amazonaws.com", 5432, "app")
    assert "%2Feu-central-1%2Frds-db%2F" in token
    with pytest.raises(IamAuthError, match="no AWS region"):
        tokens.token("db.internal", 5432, "app")


def test_no_credentials_is_a_clear_error(session, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    tokens = DbAuthTokens(session=session, region_name="eu-west-1")
    with pytest.raises(IamAuthError, match=r"could not sign .*'app' at db\.internal:5432"):
        tokens.token("db.internal", 5432, "app")


def test_lifetime_must_leave_the_token_valid():
    for bad in (0, -1, 901):
        with pytest.raises(ValueError, match="lifetime"):
            DbAuthTokens(lifetime=bad)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_tokens(session):
    tokens = DbAuthTokens(session=session, region_name="eu-west-1")
    tokens.token("db.internal", 5432, "app")
    with tokens._lock:  # a lock held by another thread at fork time must not hang the child
        pid = os.fork()
        if pid == 0:
            signal.alarm(20)  # a hang ends the child (killed by SIGALRM), not the test run
            try:
                tokens.token("db.internal", 5432, "other")
                os._exit(0 if tokens.generated == 2 else 1)
            except BaseException:
                os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_iam_credentials_need_host_port_user_and_hide_the_token(session):
    tokens = DbAuthTokens(session=session, region_name="eu-west-1")
    creds = IamCredentials("db.internal", 5432, "app", dbname="shop", tokens=tokens)
    current = creds.current()
    assert (current.username, current.host, current.port, current.dbname) == (
        "app",
        "db.internal",
        5432,
        "shop",
    )
    assert current.password not in repr(current) + repr(creds)
    for host, port, user in (("", 5432, "app"), ("h", 0, "app"), ("h", 5432, "")):
        with pytest.raises(ValueError, match="host, port and user"):
            IamCredentials(host, port, user)
