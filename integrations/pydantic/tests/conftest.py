"""Fixtures for the pydantic integration's tests: a resolver for moto, moto with IAM enforced."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest

import awsrefs


@pytest.fixture
def enforced_iam(aws, monkeypatch):
    """moto checks IAM policies on every request (over HTTP) until the test ends.

    moto answers a denial with an XML body even for JSON-protocol services, where real AWS
    sends ``{"__type": "AccessDeniedException", ...}`` with status 400; the in-process server
    is corrected to answer as AWS does.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError, JsonRESTError

    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def json_shaped(self, resource="*"):
        try:
            original(self, resource)
        except AccessDeniedError as error:
            if not self.headers.get("X-Amz-Target"):  # not a JSON-protocol request
                raise
            raise JsonRESTError("AccessDeniedException", error.message) from None

    monkeypatch.setattr(
        ActionAuthenticatorMixin, "_authenticate_and_authorize_normal_action", json_shaped
    )

    def set_auth(count: str) -> None:
        url = f"{aws.endpoint_url}/moto-api/reset-auth"
        request = urllib.request.Request(
            url, data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    set_auth("0")
    try:
        yield
    finally:
        set_auth("inf")


@pytest.fixture
def iam_session(aws):
    """Make a boto3 session for a new IAM user allowed only ``actions`` (on any resource)."""

    def make(actions: list[str]) -> boto3.Session:
        iam = aws.client("iam")
        iam.create_user(UserName="app-reader")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="app-reader", PolicyName="read", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="app-reader")["AccessKey"]
        return boto3.Session(
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            region_name=aws.region,
        )

    return make


@pytest.fixture
def resolver(aws):
    """A resolver that talks to the moto server over HTTP."""
    r = awsrefs.Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    yield r
    r.close()
