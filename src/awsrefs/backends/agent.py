"""Read through a node-local caching agent instead of calling AWS from every process.

Two AWS programs serve parameters and secrets over HTTP on ``localhost:2773`` and cache them
for every process on the node:

- the AWS Parameters and Secrets Lambda Extension (SSM parameters and secrets; callable
  during invokes only, not during the function's INIT phase; token: ``AWS_SESSION_TOKEN``);
- the AWS Secrets Manager Agent on EC2, ECS, EKS (secrets only; token: ``AWS_TOKEN``, which
  may be ``file:///var/run/awssmatoken``).

Outside Lambda ``AWS_SESSION_TOKEN`` is part of the process's AWS credentials, not a token
meant for whatever listens on the agent's port, so it is used only inside Lambda.

Both answer ``GET /secretsmanager/get?secretId=...`` with GetSecretValue's JSON, the extension
also ``GET /systemsmanager/parameters/get?name=...`` with GetParameter's, and both want the
token in the ``X-Aws-Parameters-Secrets-Token`` header. Neither batches, so this backend asks
for one item per request (batch sizes of 1) and the resolver sends them in parallel: on
localhost that costs well under a millisecond each, while the agent keeps the AWS calls of a
whole node down to one per item per TTL.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from awsrefs._fetch import Stats
from awsrefs._grammar import split_selector
from awsrefs.backends import Fetched, Miss, Outcome
from awsrefs.backends.aws import classify_error
from awsrefs.errors import FailureKind

__all__ = ["DEFAULT_PORT", "TOKEN_HEADER", "AgentBackend"]

DEFAULT_PORT = 2773
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
# The agent's own token variable, read everywhere.
AGENT_TOKEN_VARIABLE = "AWS_TOKEN"
# The Lambda extension's token: inside Lambda only (elsewhere it is an AWS credential).
LAMBDA_TOKEN_VARIABLE = "AWS_SESSION_TOKEN"
# Set by the Lambda runtime in every function's environment.
LAMBDA_VARIABLES = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_RUNTIME_API")
_ACTIONS = {"GetSecretValue": "secretsmanager:GetSecretValue", "GetParameter": "ssm:GetParameter"}


class AgentBackend:
    """Fetches through the Secrets Manager Agent or the Parameters and Secrets extension.

    Args:
        host: Where the agent listens (it binds 127.0.0.1).
        port: Its port (default: ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` or 2773).
        token: The SSRF token. Default: ``AWS_TOKEN``, else, inside AWS Lambda only
            (``AWS_LAMBDA_FUNCTION_NAME`` set), ``AWS_SESSION_TOKEN`` as the extension
            expects. Outside Lambda ``AWS_SESSION_TOKEN`` is a credential and is never sent
            to the agent's port: set ``AWS_TOKEN`` or pass the token. A ``file://`` value is
            read from that file.
        region_name: Region reported for references without one (default: ``AWS_REGION``).
            The agent reads in its own region; name other regions' items by ARN.
        timeout: Seconds to wait for the agent (it may call AWS on a cache miss).
        stats: Where calls are counted (``agent:GetParameter``, ``agent:GetSecretValue``).
    """

    # One item per request: the agent has no batch API, and the resolver runs the requests
    # for one resolution in parallel (max_workers).
    parameter_batch_size = 1
    secret_batch_size = 1

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        token: str | None = None,
        region_name: str | None = None,
        timeout: float = 5.0,
        stats: Stats | None = None,
    ) -> None:
        if port is None:
            port = int(os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT") or DEFAULT_PORT)
        self.host = host
        self.port = port
        self._token = token
        self._region_name = region_name
        self._timeout = timeout
        self.stats = stats if stats is not None else Stats()
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the token
        return f"AgentBackend(host={self.host!r}, port={self.port!r})"

    def default_region(self) -> str | None:
        """The configured region, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``."""
        return (
            self._region_name
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or None
        )

    def can_batch_secrets(self, region: str | None) -> bool:
        """Always True; batches are of one secret anyway."""
        return True

    def after_fork(self) -> None:
        """Drop the parent's keep-alive connections."""
        self._local = threading.local()

    # -- Backend protocol --------------------------------------------------------------

    def get_parameters(self, region: str | None, names: Sequence[str]) -> dict[str, Outcome]:
        """One ``/systemsmanager/parameters/get`` request per name, decrypted."""
        return {name: self._parameter(name) for name in names}

    def get_current_secrets(
        self, region: str | None, secret_ids: Sequence[str]
    ) -> dict[str, Outcome]:
        """One ``/secretsmanager/get`` request per secret (AWSCURRENT)."""
        return {sid: self.get_secret(region, sid, None, None) for sid in secret_ids}

    def get_secret(
        self, region: str | None, secret_id: str, stage: str | None, version_id: str | None
    ) -> Outcome:
        """``/secretsmanager/get`` for one version (AWSCURRENT unless pinned)."""
        query = {"secretId": secret_id}
        if stage:
            query["versionStage"] = stage
        if version_id:
            query["versionId"] = version_id
        got = self._get("GetSecretValue", "/secretsmanager/get", query, f"secret {secret_id!r}")
        if isinstance(got, Miss):
            return got
        try:
            if got.get("SecretString") is not None:
                return Fetched(str(got["SecretString"]), got.get("VersionId"))
            return Fetched(base64.b64decode(got["SecretBinary"]), got.get("VersionId"))
        except (KeyError, TypeError, ValueError):
            return Miss(FailureKind.OTHER, "the agent's answer has no SecretString or SecretBinary")

    # -- internals ---------------------------------------------------------------------

    def _parameter(self, api_name: str) -> Outcome:
        name, selector = split_selector(api_name)
        query = {"name": name, "withDecryption": "true"}
        if selector is not None:
            query["version" if selector.isdigit() else "label"] = selector
        got = self._get(
            "GetParameter", "/systemsmanager/parameters/get", query, f"parameter {api_name!r}"
        )
        if isinstance(got, Miss):
            return got
        param = got.get("Parameter")
        if not isinstance(param, dict) or "Value" not in param:
            return Miss(FailureKind.OTHER, "the agent's answer has no Parameter.Value")
        return Fetched(str(param["Value"]), str(param.get("Version", "")) or None)

    def _token_value(self) -> str | None:
        token = self._token
        if token is None:
            token = os.environ.get(AGENT_TOKEN_VARIABLE) or None
        if token is None and in_lambda():
            token = os.environ.get(LAMBDA_TOKEN_VARIABLE) or None
        if token is not None and token.startswith("file://"):
            try:
                with open(token[len("file://") :], encoding="utf-8") as file:
                    return file.read().strip()
            except OSError:
                return None
        return token

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _get(
        self, operation: str, path: str, query: Mapping[str, str], what: str
    ) -> dict[str, Any] | Miss:
        self.stats.add_call(f"agent:{operation}")
        token = self._token_value()
        if token is None:
            return Miss(FailureKind.CONFIGURATION, _no_token_reason())
        answer = self._request(operation, f"{path}?{urllib.parse.urlencode(query)}", token)
        if isinstance(answer, Miss):
            return answer
        status, body = answer
        if status == 200:
            try:
                data = json.loads(body)
            except ValueError:
                return Miss(FailureKind.OTHER, f"the local agent's answer for {what} is not JSON")
            return data if isinstance(data, dict) else {}
        return _status_miss(status, body, operation, what, self.host, self.port)

    def _request(self, operation: str, url: str, token: str) -> tuple[int, bytes] | Miss:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                self.stats.add_attempt(f"agent:{operation}")
                conn.request("GET", url, headers={TOKEN_HEADER: token})
                response = conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                self._local.conn = None
                # A kept-alive connection the agent had closed fails once: retry on a new one.
                stale = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                if attempt == 2 or not isinstance(error, stale):
                    return Miss(
                        FailureKind.NETWORK,
                        f"could not reach the local agent at {self.host}:{self.port} "
                        f"({type(error).__name__}); is it running?",
                    )
        raise AssertionError("unreachable")


def in_lambda() -> bool:
    """True inside an AWS Lambda function (the runtime sets these variables)."""
    return any(os.environ.get(name) for name in LAMBDA_VARIABLES)


def _no_token_reason() -> str:
    reason = (
        "no token for the local agent: set AWS_TOKEN (the Secrets Manager Agent's token, or "
        "file:///path/to/it) or pass AgentBackend(token=...)"
    )
    if os.environ.get(LAMBDA_TOKEN_VARIABLE):
        reason += (
            "; AWS_SESSION_TOKEN is used only inside AWS Lambda (for the Parameters and "
            "Secrets extension): outside it, it is an AWS credential and is not sent"
        )
    return reason


def _status_miss(status: int, body: bytes, operation: str, what: str, host: str, port: int) -> Miss:
    """Classify an error answer by its AWS error type when given, else by HTTP status.

    The classification is the AWS backend's (``awsrefs.backends.aws``): only
    throttling and 5xx are transient, a secret scheduled for deletion is not found, bad
    credentials of the agent's role are ``CREDENTIALS``, anything unknown is not transient.
    """
    code = message = ""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            code = str(data.get("__type") or data.get("Code") or "").rsplit("#", 1)[-1]
            message = str(data.get("message") or data.get("Message") or "")
    except ValueError:
        pass
    agent = f"the local agent at {host}:{port}"
    if not code and status == 404:
        return Miss(FailureKind.NOT_FOUND, f"{what} does not exist (or has no such version)")
    miss = classify_error(
        code,
        message,
        status,
        action=_ACTIONS.get(operation, operation),
        what=what,
        where=agent,
        region="the agent's region",
    )
    if status in (401, 403) and miss.kind is FailureKind.OTHER:
        # Not an AWS answer passed on: the agent itself refused the request.
        return Miss(
            FailureKind.CONFIGURATION,
            f"{agent} refused the token (HTTP {status}); set AWS_TOKEN (inside Lambda: "
            "AWS_SESSION_TOKEN) or AgentBackend(token=...) to the token it expects",
        )
    if miss.kind is FailureKind.ACCESS_DENIED:
        return Miss(miss.kind, miss.reason.replace("the caller", "the local agent's role", 1))
    if miss.kind is FailureKind.CREDENTIALS:
        return Miss(miss.kind, miss.reason.replace("calling " + agent, f"behind {agent}", 1))
    return miss
