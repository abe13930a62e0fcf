"""awsrefs.testing: users' tests supply values with no AWS and no network."""

from __future__ import annotations

import socket

import pytest

import awsrefs
from awsrefs import FailureKind, ResolutionError, Resolver
from awsrefs.testing import static_values


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test: proves no AWS call is made."""

    def refuse(*args, **kwargs):
        raise AssertionError("network used inside static_values")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_static_values_serve_every_resolver(no_network):
    values = {
        "ssm:/app/host": "localhost",
        "secretsmanager:app/db": {"username": "app", "password": "pw", "port": 5432},
        "secretsmanager:app/db::AWSPENDING": {"username": "app", "password": "next"},
        "secretsmanager:app/blob": b"\x00bin",
    }
    mine = Resolver(region_name="eu-west-1")
    with static_values(values) as backend:
        out = mine.resolve(
            {
                "HOST": "ssm:/app/host",
                "PORT": "secretsmanager:app/db:port",
                "NEXT": "secretsmanager:app/db:password:AWSPENDING",
                "URL": "pg://${secretsmanager:app/db:username}@${ssm:/app/host}",
                "BLOB": "secretsmanager:app/blob",
                "OPT": "optional:ssm:/app/absent",
            }
        )
        assert awsrefs.resolve("secretsmanager:app/db:password") == "pw"
        backend.set("ssm:/app/host", "db2")
        assert mine.get("ssm:/app/host") == "localhost"  # cached, as in production
        assert mine.refresh("ssm:/app/host") == "db2"
    assert out == {
        "HOST": "localhost",
        "PORT": 5432,
        "NEXT": "next",
        "URL": "pg://app@localhost",
        "BLOB": b"\x00bin",
    }
    assert backend.stats.calls["ssm:GetParameters"] >= 1


def test_missing_values_fail_like_aws(no_network):
    with (
        static_values({"secretsmanager:app/db": {"password": "pw"}}),
        pytest.raises(ResolutionError) as caught,
    ):
        awsrefs.resolve({"A": "ssm:/nope", "B": "secretsmanager:app/db:user"})
    kinds = {f.path: f.kind for f in caught.value.failures}
    assert kinds == {"A": FailureKind.NOT_FOUND, "B": FailureKind.NO_SUCH_KEY}


def test_values_do_not_leak_out_of_the_block(no_network):
    r = Resolver(region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with static_values({"ssm:/x": "inside"}):
        assert r.get("ssm:/x") == "inside"
    # After the block the resolver forgets the static value and would call AWS again.
    with static_values({"ssm:/x": "second"}):
        assert r.get("ssm:/x") == "second"


def test_bad_keys_are_rejected():
    with (
        pytest.raises(ValueError, match="not a template or a single key"),
        static_values({"secretsmanager:db:password": "x"}),
    ):
        pass


def test_pytest_fixture(awsrefs_values, no_network):
    awsrefs_values.set("secretsmanager:app/api", {"token": "t-1"})
    assert awsrefs.resolve({"T": "secretsmanager:app/api:token"}) == {"T": "t-1"}
    awsrefs_values.remove("secretsmanager:app/api")
    with pytest.raises(ResolutionError, match="not found"):
        Resolver().resolve("secretsmanager:app/api:token")
