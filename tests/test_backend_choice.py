"""Choosing the store: ``backend=`` is the one way; the AWS client options build an AwsBackend."""

from __future__ import annotations

import inspect

import pytest

import awsrefs
from awsrefs import Resolver
from awsrefs.backends import AgentBackend, AwsBackend, StaticBackend

AWS_OPTIONS = {
    "session": object(),
    "region_name": "eu-west-1",
    "endpoint_url": "http://127.0.0.1:9",
    "connect_timeout": 1.0,
    "read_timeout": 1.0,
    "max_attempts": 2,
    "retry_mode": "standard",
}


def test_the_aws_client_options_are_listed_once_and_both_signatures_follow_the_list():
    from awsrefs._resolver import AWS_OPTIONS as THE_LIST

    resolver = inspect.signature(Resolver).parameters
    backend = inspect.signature(AwsBackend).parameters
    assert set(AWS_OPTIONS) == set(THE_LIST)
    assert [name for name in resolver if name in THE_LIST] == list(THE_LIST)
    assert [name for name in backend if name in THE_LIST] == list(THE_LIST)
    assert set(backend) - set(THE_LIST) == {"max_pool_connections", "stats"}


def test_backends_are_public_names():
    assert awsrefs.backends.AwsBackend is AwsBackend
    assert {"AwsBackend", "AgentBackend", "StaticBackend"} <= set(awsrefs.backends.__all__)


def test_aws_backend_passed_in_resolves_and_counts_on_the_resolver(aws, canary):
    aws.put_parameter("/app/host", "db.internal")
    aws.put_secret("app/db", {"password": canary})
    backend = AwsBackend(region_name=aws.region, endpoint_url=aws.endpoint_url)
    resolver = Resolver(backend=backend)
    settings = {"HOST": "ssm:/app/host", "PASSWORD": "secretsmanager:app/db:password"}

    assert resolver.resolve(settings) == {"HOST": "db.internal", "PASSWORD": canary}

    expected = {"ssm:GetParameters": 1, "secretsmanager:GetSecretValue": 1}
    assert resolver.stats.calls == expected
    assert backend.stats.calls == expected  # the backend's own counters still count too
    assert resolver.stats.attempts == backend.stats.attempts
    resolver.close()


def test_shorthand_builds_the_same_aws_backend(aws):
    aws.put_parameter("/app/host", "db.internal")
    resolver = Resolver(region_name=aws.region, endpoint_url=aws.endpoint_url)
    assert resolver.get("ssm:/app/host") == "db.internal"
    assert resolver.stats.calls == {"ssm:GetParameters": 1}


def test_two_resolvers_sharing_a_backend_count_their_own_calls():
    backend = StaticBackend({"ssm:/a": "1", "ssm:/b": "2"})
    first, second = Resolver(backend=backend), Resolver(backend=backend)
    assert first.get("ssm:/a") == "1"
    assert second.resolve(["ssm:/a", "ssm:/b"]) == ["1", "2"]
    assert first.stats.calls == {"ssm:GetParameters": 1}
    assert second.stats.calls == {"ssm:GetParameters": 1}
    assert backend.stats.calls == {"ssm:GetParameters": 2}


def test_parameters_by_path_through_a_backend_passed_in_count_on_the_resolver(aws):
    aws.put_parameter("/app/a", "1")
    resolver = Resolver(backend=AwsBackend(region_name=aws.region, endpoint_url=aws.endpoint_url))
    assert resolver.parameters_by_path("/app") == {"/app/a": "1"}
    assert resolver.stats.calls == {"ssm:GetParametersByPath": 1}


@pytest.mark.parametrize("name", sorted(AWS_OPTIONS))
def test_aws_client_option_with_backend_is_an_error(name):
    with pytest.raises(TypeError, match=rf"backend=\.\.\.\) was also given {name}=.*AwsBackend"):
        Resolver(backend=StaticBackend(), **{name: AWS_OPTIONS[name]})


def test_every_conflicting_option_is_named_at_once():
    with pytest.raises(TypeError, match=r"given region_name=, endpoint_url=, max_attempts=,"):
        Resolver(backend=StaticBackend(), region_name="eu-west-1", endpoint_url="x", max_attempts=2)


def test_resolver_options_combine_with_backend():
    resolver = Resolver(backend=StaticBackend({"ssm:/a": "1"}), ttl=5, max_workers=2)
    assert resolver.ttl == 5
    assert resolver.get("ssm:/a") == "1"


def test_agent_by_environment_takes_region_and_read_timeout(monkeypatch):
    monkeypatch.setenv("AWSREFS_BACKEND", "agent")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    resolver = Resolver(region_name="eu-west-1", read_timeout=1.0)
    assert resolver.ttl == 300.0  # made without error
    assert repr(resolver).startswith("Resolver(region_name='eu-west-1'")


@pytest.mark.parametrize(
    "name", ["session", "endpoint_url", "connect_timeout", "max_attempts", "retry_mode"]
)
def test_agent_by_environment_rejects_options_it_cannot_use(monkeypatch, name):
    monkeypatch.setenv("AWSREFS_BACKEND", "agent")
    with pytest.raises(ValueError, match=rf"AWSREFS_BACKEND=agent .* cannot use {name}="):
        Resolver(**{name: AWS_OPTIONS[name]})


def test_explicit_backend_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("AWSREFS_BACKEND", "agent")
    assert Resolver(backend=StaticBackend({"ssm:/a": "1"})).get("ssm:/a") == "1"


def test_unknown_backend_in_environment_is_an_error(monkeypatch):
    monkeypatch.setenv("AWSREFS_BACKEND", "vault")
    with pytest.raises(ValueError, match=r"AWSREFS_BACKEND must be 'aws' or 'agent'.*'vault'"):
        Resolver()


def test_aws_in_environment_is_the_default(monkeypatch, aws):
    monkeypatch.setenv("AWSREFS_BACKEND", "aws")
    aws.put_parameter("/app/host", "db.internal")
    resolver = Resolver(region_name=aws.region, endpoint_url=aws.endpoint_url)
    assert resolver.get("ssm:/app/host") == "db.internal"


def test_agent_backend_is_exported():
    assert AgentBackend(port=1).port == 1
