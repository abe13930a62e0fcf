"""AgentBackend against a stand-in for the Secrets Manager Agent / Lambda extension HTTP API.

The stand-in listens on 127.0.0.1, checks the ``X-Aws-Parameters-Secrets-Token`` header as
the real ones do, and answers ``/secretsmanager/get`` and ``/systemsmanager/parameters/get``
by calling the moto server with boto3, so its answers are shaped exactly like GetSecretValue
and GetParameter's JSON (and errors like AWS's JSON errors).
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

import awsrefs
from awsrefs import FailureKind, ResolutionError, Resolver
from awsrefs.backends.agent import TOKEN_HEADER, AgentBackend

TOKEN = "agent-token-1f6e0c2b9a"


class StandIn:
    """A minimal local agent: token check, the two GET paths, moto behind them."""

    def __init__(self, aws) -> None:
        self.aws = aws
        self.requests: Counter[str] = Counter()
        self.tokens_seen: set[str] = set()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                stand_in.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.requests[url.path] += 1
        self.tokens_seen.add(h.headers.get(TOKEN_HEADER, ""))
        if h.headers.get(TOKEN_HEADER) != TOKEN:
            return self.send(h, 401, {"__type": "UnauthorizedException", "message": "Bad token"})
        try:
            if url.path == "/secretsmanager/get":
                kwargs = {"SecretId": query["secretId"]}
                if "versionStage" in query:
                    kwargs["VersionStage"] = query["versionStage"]
                if "versionId" in query:
                    kwargs["VersionId"] = query["versionId"]
                got = self.aws.client("secretsmanager").get_secret_value(**kwargs)
                if "SecretBinary" in got:
                    got["SecretBinary"] = base64.b64encode(got["SecretBinary"]).decode()
            elif url.path == "/systemsmanager/parameters/get":
                name = query["name"]
                if "version" in query:
                    name += f":{query['version']}"
                elif "label" in query:
                    name += f":{query['label']}"
                decrypt = query.get("withDecryption") == "true"
                got = self.aws.client("ssm").get_parameter(Name=name, WithDecryption=decrypt)
            else:
                return self.send(h, 404, {"__type": "NotFound", "message": "no such path"})
        except ClientError as error:
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            info = error.response["Error"]
            return self.send(h, status, {"__type": info["Code"], "message": info["Message"]})
        got.pop("ResponseMetadata", None)
        return self.send(h, 200, got)

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        payload = json.dumps(body, default=str).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


@pytest.fixture
def agent(aws) -> Iterator[StandIn]:
    stand_in = StandIn(aws)
    stand_in.thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()
    stand_in.thread.join(5)


@pytest.fixture
def resolver(agent, aws) -> Iterator[Resolver]:
    backend = AgentBackend(port=agent.port, token=TOKEN, region_name=aws.region)
    r = Resolver(backend=backend)
    r.backend_stats = backend.stats  # a backend passed in counts its own calls
    yield r
    r.close()


def test_resolves_parameters_and_secrets_one_request_per_item(aws, agent, resolver, canary):
    aws.put_parameter("/app/host", "db.internal")
    aws.put_parameter("/app/key", "sk-live-77d0e1c2", type="SecureString")
    aws.put_secret("app/db", {"username": "app", "password": canary, "port": 5432})
    aws.put_secret("app/blob", b"\x00\x01binary-9a8b")
    settings = {
        "HOST": "ssm:/app/host",
        "KEY": "ssm:/app/key",
        "USER": "secretsmanager:app/db:username",
        "PW": "secretsmanager:app/db:password",
        "PORT": "secretsmanager:app/db:port",
        "BLOB": "secretsmanager:app/blob",
        "URL": "postgresql://${secretsmanager:app/db:username}@${ssm:/app/host}/app",
    }
    out = resolver.resolve(settings)
    assert out == {
        "HOST": "db.internal",
        "KEY": "sk-live-77d0e1c2",
        "USER": "app",
        "PW": canary,
        "PORT": 5432,
        "BLOB": b"\x00\x01binary-9a8b",
        "URL": "postgresql://app@db.internal/app",
    }
    # No batching through the agent: one request per distinct item, all keys of a secret once.
    assert agent.requests == {"/systemsmanager/parameters/get": 2, "/secretsmanager/get": 2}
    assert resolver.backend_stats.calls == {"agent:GetParameter": 2, "agent:GetSecretValue": 2}
    assert agent.tokens_seen == {TOKEN}
    assert resolver.get("secretsmanager:app/db:password") == canary  # cached
    assert sum(agent.requests.values()) == 4
    assert canary not in repr(resolver)


def test_versions_labels_and_stages_go_in_the_query(aws, agent, resolver):
    aws.put_parameter("/app/flag", "one")
    aws.client("ssm").put_parameter(Name="/app/flag", Value="two", Type="String", Overwrite=True)
    aws.client("ssm").label_parameter_version(Name="/app/flag", ParameterVersion=1, Labels=["old"])
    aws.put_secret("app/db", {"password": "pw-one-5c2d8e"})
    new_version = aws.put_secret_value(
        "app/db", {"password": "pw-two-5c2d8e"}, stages=["AWSPENDING"]
    )
    out = resolver.resolve(
        {
            "NOW": "ssm:/app/flag",
            "V1": "ssm:/app/flag:1",
            "OLD": "ssm:/app/flag:old",
            "CUR": "secretsmanager:app/db:password",
            "PENDING": "secretsmanager:app/db:password:AWSPENDING",
            "BY_ID": f"secretsmanager:app/db:password::{new_version}",
        }
    )
    assert out == {
        "NOW": "two",
        "V1": "one",
        "OLD": "one",
        "CUR": "pw-one-5c2d8e",
        "PENDING": "pw-two-5c2d8e",
        "BY_ID": "pw-two-5c2d8e",
    }


def test_missing_items_and_optional_references(aws, agent, resolver):
    aws.put_secret("app/db", {"password": "pw-5e6f7a8b9c"})
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve(
            {"A": "ssm:/nope", "B": "secretsmanager:nope", "C": "secretsmanager:app/db:x"}
        )
    kinds = {f.path: f.kind for f in caught.value.failures}
    assert kinds == {
        "A": FailureKind.NOT_FOUND,
        "B": FailureKind.NOT_FOUND,
        "C": FailureKind.NO_SUCH_KEY,
    }
    assert resolver.resolve({"A": "optional:ssm:/nope", "K": "v"}) == {"K": "v"}


def test_wrong_token_is_a_configuration_error(aws, agent):
    aws.put_parameter("/app/host", "db.internal")
    r = Resolver(
        backend=AgentBackend(port=agent.port, token="wrong-token-0000", region_name=aws.region)
    )
    with pytest.raises(ResolutionError) as caught:
        r.resolve({"HOST": "ssm:/app/host"})
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.CONFIGURATION
    assert "refused the token (HTTP 401)" in failure.reason
    assert "wrong-token" not in str(caught.value)


TOKEN_ENVIRONMENT = (
    "AWS_TOKEN",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_RUNTIME_API",
)


def test_token_from_environment_and_file(aws, agent, tmp_path, monkeypatch):
    aws.put_parameter("/app/host", "db.internal")
    for var in TOKEN_ENVIRONMENT:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-api")  # inside Lambda...
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)  # ...the extension's token
    assert Resolver(backend=AgentBackend(port=agent.port)).get("ssm:/app/host") == "db.internal"
    token_file = tmp_path / "awssmatoken"
    token_file.write_text(TOKEN + "\n")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-this-one")
    monkeypatch.setenv("AWS_TOKEN", f"file://{token_file}")  # the agent's token, first
    assert Resolver(backend=AgentBackend(port=agent.port)).get("ssm:/app/host") == "db.internal"


def test_session_token_is_never_sent_outside_lambda(aws, agent, monkeypatch):
    aws.put_parameter("/app/host", "db.internal")
    for var in TOKEN_ENVIRONMENT:
        monkeypatch.delenv(var, raising=False)
    # An EC2 or laptop process with temporary credentials: the session token is one of them.
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN)
    resolver = Resolver(backend=AgentBackend(port=agent.port, region_name=aws.region))
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve({"HOST": "ssm:/app/host"})
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.CONFIGURATION
    assert "set AWS_TOKEN" in failure.reason
    assert "AWS_SESSION_TOKEN is used only inside AWS Lambda" in failure.reason
    assert TOKEN not in str(caught.value)
    assert sum(agent.requests.values()) == 0  # nothing reached the port at all
    assert agent.tokens_seen == set()

    # An explicit token is sent as given.
    explicit = Resolver(backend=AgentBackend(port=agent.port, token=TOKEN))
    assert explicit.get("ssm:/app/host") == "db.internal"
    assert agent.tokens_seen == {TOKEN}


def test_opt_in_by_environment(aws, agent, monkeypatch):
    aws.put_parameter("/app/host", "db.internal")
    monkeypatch.setenv("AWSREFS_BACKEND", "agent")
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(agent.port))
    monkeypatch.setenv("AWS_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_REGION", aws.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # AWS itself is not used
    awsrefs.set_default_resolver(None)
    try:
        assert awsrefs.resolve({"HOST": "ssm:/app/host"}) == {"HOST": "db.internal"}
        assert awsrefs.default_resolver().stats.calls == {"agent:GetParameter": 1}
    finally:
        awsrefs.set_default_resolver(None)


def test_agent_not_running_is_a_network_failure_in_bounded_time():
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    r = Resolver(
        backend=AgentBackend(port=port, token=TOKEN, region_name="us-east-1"), retry_budget=1.0
    )
    started = time.monotonic()
    with pytest.raises(ResolutionError) as caught:
        r.resolve({"A": "ssm:/a", "B": "secretsmanager:b"})
    assert time.monotonic() - started < 120  # only against a hang: refused is not retried forever
    assert r.stats.calls  # it did try the agent
    assert {f.kind for f in caught.value.failures} == {FailureKind.NETWORK}
    assert f"could not reach the local agent at 127.0.0.1:{port}" in str(caught.value)


def test_secret_scheduled_for_deletion_is_not_found_through_the_agent(aws, agent, resolver):
    # Same classification as the AWS backend: moto's "marked deleted" InvalidRequestException
    # passed on by the agent is "not found", so optional: drops and nothing is served stale.
    aws.put_secret("app/old", {"password": "pw-old-3b9f0e2a71"})
    aws.put_secret("app/live", "tok-live-agent-6d2e")
    aws.client("secretsmanager").delete_secret(SecretId="app/old", RecoveryWindowInDays=7)
    settings = {
        "OLD": "optional:secretsmanager:app/old:password",
        "LIVE": "secretsmanager:app/live",
    }
    assert resolver.resolve(settings) == {"LIVE": "tok-live-agent-6d2e"}
    with pytest.raises(ResolutionError) as caught:
        resolver.get("secretsmanager:app/old:password")
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.NOT_FOUND
    assert "scheduled for deletion" in failure.reason
