"""The AWS backend: SSM GetParameters(ByPath) and Secrets Manager over botocore.

botocore is imported when the first client is made, never at ``import awsrefs``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from awsrefs._fetch import Stats, one_attempt_only
from awsrefs._grammar import split_selector
from awsrefs.backends import TRANSIENT, Fetched, Miss, Outcome
from awsrefs.backends._classify import (
    botocore_error,
    classify_error,
    iam_action,
    with_resource,
)
from awsrefs.backends._logging import awsrefs_call
from awsrefs.backends._logging import install as install_log_redaction
from awsrefs.errors import FailureKind

__all__ = ["AwsBackend"]

# A whole-call failure that says nothing about one name: splitting the call would not help.
_WHOLE_CALL = TRANSIENT | {FailureKind.CREDENTIALS, FailureKind.CONFIGURATION}
# HTTP requests made by the call running in this thread (botocore sends them all from it).
_sent = threading.local()


class AwsBackend:
    """Fetches from AWS with botocore clients made lazily, one per service and region.

    Args:
        session: A ``boto3.Session`` or ``botocore.session.Session``; default: a new
            botocore session (environment, profile and instance credentials as usual).
        region_name: Region for references that do not name one (default: the session's).
        endpoint_url: Send every call here instead of AWS (an emulator or a proxy).
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for a response.
        max_attempts: Attempts per call, retries with jittered backoff included.
        retry_mode: botocore's ``"adaptive"`` (after a throttle, the client also slows its
            own sending rate) or ``"standard"``.
        max_pool_connections: HTTP connections per client (match the resolver's workers).
        stats: Where calls are counted.
    """

    parameter_batch_size = 10
    secret_batch_size = 20

    def __init__(
        self,
        *,
        session: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        max_attempts: int = 4,
        retry_mode: Literal["adaptive", "standard"] = "adaptive",
        max_pool_connections: int = 16,
        stats: Stats | None = None,
    ) -> None:
        if endpoint_url is not None and not _is_http_url(endpoint_url):
            raise ValueError(
                f"endpoint_url must be an http:// or https:// URL such as "
                f"https://ssm.eu-west-1.amazonaws.com, got {_shown_url(endpoint_url)}"
            )
        self._session = session
        self._region_name = region_name
        self.endpoint_url = endpoint_url
        self._timeouts = (connect_timeout, read_timeout)
        self._max_attempts = max_attempts
        self._retry_mode = retry_mode
        self._pool = max_pool_connections
        self.stats = stats if stats is not None else Stats()
        self._clients: dict[tuple[str, str, int], Any] = {}
        self._batch_denied: set[str | None] = set()
        self._lock = threading.Lock()

    # -- clients -----------------------------------------------------------------------

    def _botocore_session(self) -> Any:
        if self._session is None:
            import botocore.session

            self._session = botocore.session.get_session()
        return self._session

    def default_region(self) -> str | None:
        """The configured region, else ``AWS_REGION``, else the session's (profile...)."""
        if self._region_name:
            return self._region_name
        if os.environ.get("AWS_REGION"):
            # The other AWS SDKs and the Lambda/ECS runtimes set AWS_REGION; botocore reads
            # only AWS_DEFAULT_REGION and the profile.
            return os.environ["AWS_REGION"]
        session = self._botocore_session()
        if hasattr(session, "get_config_variable"):
            region: str | None = session.get_config_variable("region")
        else:  # a boto3.Session
            region = session.region_name
        return region

    def _client(self, service: str, region: str, attempts: int) -> Any:
        key = (service, region, attempts)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._make_client(service, region, attempts)
                self._clients[key] = client
        return client

    def _make_client(self, service: str, region: str, attempts: int) -> Any:
        from botocore.config import Config

        install_log_redaction()
        config = Config(
            connect_timeout=self._timeouts[0],
            read_timeout=self._timeouts[1],
            retries={"mode": self._retry_mode, "total_max_attempts": attempts},
            max_pool_connections=self._pool,
            user_agent_extra="awsrefs",
        )
        session = self._botocore_session()
        make = getattr(session, "create_client", None) or session.client
        client = make(service, region_name=region, endpoint_url=self.endpoint_url, config=config)

        def count_attempt(event_name: str = "", **_: Any) -> None:
            # event_name is "before-send.<service-id>.<Operation>"; one per HTTP attempt.
            self.stats.add_attempt(f"{service}:{event_name.rsplit('.', 1)[-1]}")
            _sent.count = getattr(_sent, "count", 0) + 1

        client.meta.events.register("before-send", count_attempt)
        return client

    def after_fork(self) -> None:
        """Drop clients (their connection pools belong to the parent)."""
        self._clients = {}
        self._lock = threading.Lock()
        self.stats.after_fork()

    # -- calls -------------------------------------------------------------------------

    def _call(
        self,
        service: str,
        region: str | None,
        operation: str,
        what: str,
        **kwargs: Any,
    ) -> Any:
        """Make one call; returns the response or a Miss for the whole call.

        Args:
            service: ``ssm`` or ``secretsmanager``.
            region: The region, or None for the default one.
            operation: The API operation (``GetParameters``).
            what: The item or items asked for, in words, for the reason of a Miss.
            kwargs: The operation's parameters.
        """
        region = region or self.default_region()
        if not region:
            return Miss(
                FailureKind.CONFIGURATION,
                "no AWS region: pass region_name=... to the Resolver or set AWS_REGION",
            )
        from botocore.exceptions import BotoCoreError, ClientError

        self.stats.add_call(f"{service}:{operation}")
        # One attempt while the resolver fails fast after a spent retry budget (see _retry).
        attempts = 1 if one_attempt_only() else self._max_attempts
        try:
            client = self._client(service, region, attempts)
        except ValueError:  # botocore: "Invalid endpoint" from the environment or config
            return self._bad_endpoint(service)
        _sent.count = 0
        try:
            method = getattr(client, _snake(operation))
            with awsrefs_call():  # botocore's DEBUG records of this call carry values
                return method(**kwargs)
        except ClientError as error:
            info = error.response.get("Error", {})
            miss = classify_error(
                str(info.get("Code", "")),
                str(info.get("Message", "")),
                int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)),
                action=iam_action(service, operation),
                what=what,
                where=f"{service} in {region}",
                region=region,
            )
            return replace(miss, attempts=_sent.count) if miss.transient else miss
        except BotoCoreError as error:
            return replace(botocore_error(error, service, region), attempts=_sent.count)

    def _bad_endpoint(self, service: str) -> Miss:
        """Say which setting holds the endpoint URL botocore refused, and what to do."""
        variable = _ENDPOINT_VARIABLES[service]
        if os.environ.get(variable):
            source = f"the environment variable {variable}"
        elif os.environ.get("AWS_ENDPOINT_URL"):
            source = "the environment variable AWS_ENDPOINT_URL"
        else:
            source = "endpoint_url in the AWS config file (the profile or its services section)"
        return Miss(
            FailureKind.CONFIGURATION,
            f"the {service} endpoint URL set by {source} is not a valid URL: set it to an "
            "http:// or https:// URL (such as https://ssm.eu-west-1.amazonaws.com), or unset it "
            "to call AWS",
        )

    def get_parameters(self, region: str | None, names: Sequence[str]) -> dict[str, Outcome]:
        """GetParameters with decryption; unknown names come back as not found.

        A call AWS rejects as a whole for one name (access denied on one parameter or its
        key, a name it finds invalid) is split in halves until the names at fault are
        found, so each reference gets its own answer and the others resolve.
        """
        what = f"parameter {names[0]!r}" if len(names) == 1 else f"{len(names)} parameters"
        response = self._call(
            "ssm", region, "GetParameters", what, Names=list(names), WithDecryption=True
        )
        if isinstance(response, Miss):
            if len(names) > 1 and response.kind not in _WHOLE_CALL:
                half = len(names) // 2
                out = self.get_parameters(region, names[:half])
                out.update(self.get_parameters(region, names[half:]))
                return out
            return dict.fromkeys(names, with_resource(response, "ssm", region, names))
        # Real AWS echoes the selector in "Selector"; emulators may not. The resolver never
        # puts one name twice in a call, so the plain name identifies the answer too.
        found: dict[str, Fetched] = {}
        for param in response.get("Parameters", ()):
            selector = (param.get("Selector") or "").lstrip(":")
            fetched = Fetched(param["Value"], str(param.get("Version", "")) or None)
            for key in (param.get("Name"), param.get("ARN")):
                if key:
                    found[f"{key}:{selector}" if selector else key] = fetched
                    found.setdefault(key, fetched)
        invalid = set(response.get("InvalidParameters", ()))
        results: dict[str, Outcome] = {}
        for name in names:
            fetched_or_none = found.get(name) or found.get(split_selector(name)[0])
            if name in invalid:
                results[name] = Miss(
                    FailureKind.NOT_FOUND,
                    f"no parameter {name!r} (or no such version or label) in "
                    f"{region or 'the default region'}",
                )
            elif fetched_or_none is not None:
                results[name] = fetched_or_none
            else:
                results[name] = Miss(
                    FailureKind.OTHER, f"GetParameters did not return parameter {name!r}"
                )
        return results

    def can_batch_secrets(self, region: str | None) -> bool:
        """False once BatchGetSecretValue was denied in this region."""
        return (region or self.default_region()) not in self._batch_denied

    def get_current_secrets(
        self, region: str | None, secret_ids: Sequence[str]
    ) -> dict[str, Outcome]:
        """BatchGetSecretValue for several secrets; GetSecretValue for one (fewer permissions)."""
        if len(secret_ids) == 1 or not self.can_batch_secrets(region):
            return {sid: self.get_secret(region, sid, None, None) for sid in secret_ids}
        response = self._call(
            "secretsmanager",
            region,
            "BatchGetSecretValue",
            f"{len(secret_ids)} secrets",
            SecretIdList=list(secret_ids),
        )
        if isinstance(response, Miss):
            if response.kind in _WHOLE_CALL:
                return dict.fromkeys(secret_ids, response)
            if response.kind is FailureKind.ACCESS_DENIED:
                # Batch needs its own permission; GetSecretValue per secret from now on.
                self._batch_denied.add(region or self.default_region())
            # Rejected as a whole for one id: ask each on its own to say which.
            return {sid: self.get_secret(region, sid, None, None) for sid in secret_ids}
        by_name: dict[str, Fetched] = {}
        by_arn: dict[str, Fetched] = {}
        for item in response.get("SecretValues", ()):
            fetched = _secret_fetched(item)
            by_name[item.get("Name", "")] = fetched
            by_arn[item.get("ARN", "")] = fetched
        errors = {e.get("SecretId"): e for e in response.get("Errors", ())}
        results: dict[str, Outcome] = {}
        for sid in secret_ids:
            fetched_or_none = by_name.get(sid) or by_arn.get(sid) or _partial_arn(sid, by_arn)
            if fetched_or_none is not None:
                results[sid] = fetched_or_none
            elif sid in errors:
                err = errors[sid]
                results[sid] = with_resource(
                    classify_error(
                        str(err.get("ErrorCode", "")),
                        str(err.get("Message", "")),
                        0,
                        action="secretsmanager:GetSecretValue",
                        what=f"secret {sid!r}",
                        where=f"secretsmanager in {region or self.default_region()}",
                        region=region or self.default_region(),
                    ),
                    "secretsmanager",
                    region,
                    [sid],
                )
            else:
                results[sid] = Miss(
                    FailureKind.OTHER, f"BatchGetSecretValue did not return secret {sid!r}"
                )
        return results

    def get_parameters_by_path(
        self, region: str | None, path: str, *, recursive: bool = True
    ) -> dict[str, Fetched] | Miss:
        """GetParametersByPath with decryption, every page (each page counts as one call).

        Returns:
            Parameter name to value for every parameter under ``path``, or a Miss for the
            whole listing (access denied, throttled...).
        """
        found: dict[str, Fetched] = {}
        kwargs: dict[str, Any] = {
            "Path": path,
            "Recursive": recursive,
            "WithDecryption": True,
            "MaxResults": 10,  # the API's maximum page size
        }
        while True:
            response = self._call(
                "ssm", region, "GetParametersByPath", f"parameters under {path!r}", **kwargs
            )
            if isinstance(response, Miss):
                return with_resource(response, "ssm", region, [path.rstrip("/") + "/*"])
            for param in response.get("Parameters", ()):
                found[param["Name"]] = Fetched(
                    param["Value"], str(param.get("Version", "")) or None
                )
            token = response.get("NextToken")
            if not token:
                return found
            kwargs["NextToken"] = token

    def get_secret(
        self, region: str | None, secret_id: str, stage: str | None, version_id: str | None
    ) -> Outcome:
        """GetSecretValue for one version (AWSCURRENT unless a stage or version id is given)."""
        kwargs: dict[str, str] = {"SecretId": secret_id}
        if stage:
            kwargs["VersionStage"] = stage
        if version_id:
            kwargs["VersionId"] = version_id
        response = self._call(
            "secretsmanager", region, "GetSecretValue", f"secret {secret_id!r}", **kwargs
        )
        if isinstance(response, Miss):
            return with_resource(response, "secretsmanager", region, [secret_id])
        return _secret_fetched(response)


# Service-specific endpoint variables, which win over AWS_ENDPOINT_URL.
_ENDPOINT_VARIABLES = {
    "ssm": "AWS_ENDPOINT_URL_SSM",
    "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
}


def _is_http_url(url: object) -> bool:
    from urllib.parse import urlsplit

    if not isinstance(url, str) or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _shown_url(url: object) -> str:
    # A URL may carry credentials (https://user:password@proxy): never shown then.
    text = repr(url)
    return text if len(text) <= 200 and "@" not in text else "a value not shown"


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _secret_fetched(item: dict[str, Any]) -> Fetched:
    value = item["SecretString"] if "SecretString" in item else bytes(item["SecretBinary"])
    return Fetched(value, item.get("VersionId"))


def _partial_arn(secret_id: str, by_arn: dict[str, Fetched]) -> Fetched | None:
    if not secret_id.startswith("arn:"):
        return None
    for arn, fetched in by_arn.items():
        if arn.startswith(secret_id + "-") and len(arn) == len(secret_id) + 7:
            return fetched
    return None
