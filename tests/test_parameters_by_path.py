"""Resolver.parameters_by_path: GetParametersByPath over HTTP, paginated, and static values."""

from __future__ import annotations

import pytest

import awsrefs
from awsrefs.testing import static_values


def test_lists_every_page_decrypted_and_counts_each_page(aws):
    for i in range(23):
        aws.put_parameter(f"/app/prod/p{i:02d}", f"v{i}")
    aws.put_parameter("/app/prod/db/password", "pw-path-9Kq", type="SecureString")
    aws.put_parameter("/app/other", "not mine")
    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)

    got = resolver.parameters_by_path("/app/prod/")

    assert len(got) == 24
    assert got["/app/prod/p07"] == "v7"
    assert got["/app/prod/db/password"] == "pw-path-9Kq"
    assert "/app/other" not in got
    # 24 parameters at 10 per page: 3 pages, each one call.
    assert resolver.stats.calls["ssm:GetParametersByPath"] == 3


def test_non_recursive_skips_sub_paths_and_missing_path_is_empty(aws):
    aws.put_parameter("/app/prod/host", "db.internal")
    aws.put_parameter("/app/prod/db/port", "5432")
    resolver = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)

    assert resolver.parameters_by_path("/app/prod", recursive=False) == {
        "/app/prod/host": "db.internal"
    }
    assert resolver.parameters_by_path("/nothing/here") == {}


def test_static_values_serve_paths_too():
    values = {"ssm:/app/prod/host": "h", "ssm:/app/prod/db/port": "1", "ssm:/app/x": "no"}
    with static_values(values) as backend:
        resolver = awsrefs.Resolver(region_name="us-east-1")
        assert resolver.parameters_by_path("/app/prod/") == {
            "/app/prod/host": "h",
            "/app/prod/db/port": "1",
        }
        assert resolver.parameters_by_path("/app/prod", recursive=False) == {"/app/prod/host": "h"}
        assert backend.stats.calls["ssm:GetParametersByPath"] == 2


def test_relative_path_is_rejected():
    with pytest.raises(ValueError, match="starts with '/'"):
        awsrefs.Resolver(region_name="us-east-1").parameters_by_path("app/prod")
