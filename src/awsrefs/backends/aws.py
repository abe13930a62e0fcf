"""The AWS backend: SSM GetParameters(ByPath) and Secrets Manager over botocore.

botocore is imported when the first client is made, never at ``import awsrefs``.

Here too, for every backend and for :mod:`awsrefs.iam_auth`: what an AWS error answer means
for one reference (:func:`classify_error`), and keeping fetched values out of botocore's
DEBUG logging (:func:`install`, :func:`awsrefs_call`).

Classifying. Only throttling, network failures and 5xx answers are transient (retried within
the retry budget, and answered with the last good value when one is cached). Everything else
is an answer about the request: not found (also a secret scheduled for deletion, in AWS's and
moto's wording), access denied (naming the IAM action and resource, ``kms:Decrypt`` on the
key when KMS refused), credentials rejected, or an invalid request. An error code awsrefs
does not know is not transient either: serving a stale value would hide it. Reasons never
contain a value: AWS's error messages for read calls name resources, not values, and what is
quoted of them is capped in length.

Log redaction. botocore logs every response body at DEBUG (``botocore.parsers``: "Response
body"), so with the root logger at DEBUG, or after ``boto3.set_stream_logger("")``, each
``Value`` and ``SecretString`` awsrefs fetches would reach the log handlers. Redaction
happens where each record is made, before any filter or handler sees it, whoever configured
the handlers, so no handler (stream, file, Sentry, ``set_stream_logger``...) ever receives
the body:

- a log record factory (:func:`logging.setLogRecordFactory`, chained to the one in place)
  redacts the records of every ``botocore``, ``boto3`` and ``urllib3`` logger, also of those
  created after :func:`install` (botocore and urllib3 create some lazily, on first use);
- the same redaction sits as a :class:`logging.Filter` on the guarded loggers that exist at
  install time, in case a later ``setLogRecordFactory`` replaces the factory without chaining.

The filter touches only records emitted while awsrefs' own AWS call runs:
:func:`awsrefs_call` marks that call in a :mod:`contextvars` variable around the botocore
method. botocore logs synchronously in the thread making the call, so the mark holds in
the resolver's worker threads too, and other boto3 clients of the process, even while an
awsrefs call runs in another thread, log their bodies as before. After a fork the child's
mark starts cleared.

During an awsrefs call, on every ``botocore``, ``boto3`` and ``urllib3`` logger:

- ``botocore.parsers`` records keep their message text and lose their arguments and
  exception (headers, body, parse errors quoting the body): ``Response body:
  <withheld by awsrefs>``; so do ``botocore.auth`` records (the canonical request and the
  signature, from which a presigned RDS IAM token can be rebuilt);
- records of the other loggers keep their message and plain arguments (operation
  models, numbers, URLs); arguments that are bytes, mappings, sequences or response objects
  (request and response dicts, bodies, headers) become ``<withheld by awsrefs>``, and
  exception details become their type name.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import replace
from typing import Any, Literal

from awsrefs._fetch import Stats, one_attempt_only
from awsrefs._grammar import split_selector
from awsrefs.backends import TRANSIENT, Fetched, Miss, Outcome
from awsrefs.errors import FailureKind

__all__ = [
    "CREDENTIAL_CODES",
    "GUARDED_LOGGERS",
    "WITHHELD",
    "AwsBackend",
    "awsrefs_call",
    "botocore_error",
    "classify_error",
    "credentials_miss",
    "iam_action",
    "in_awsrefs_call",
    "install",
    "with_resource",
]


THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ThrottledException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "InternalServiceErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
#: The request reached AWS but its credentials or signature were not accepted.
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "IncompleteSignatureException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "InvalidAccessKeyId",
        "AuthFailure",
        "RequestExpired",
        "RequestTimeTooSkewed",
    }
)
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
NOT_FOUND_CODES = frozenset(
    {"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"}
)
INVALID_CODES = frozenset(
    {
        "ValidationException",
        "ValidationError",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidRequestException",
    }
)
# "marked for deletion" (AWS), "currently marked deleted" (moto), "scheduled for deletion".
_DELETED = re.compile(r"\b(marked|scheduled)\b[^.]*\bdelet(ed|ion)\b", re.IGNORECASE)
_AUTHORIZATION = re.compile(r"not authorized to perform:? (\S+?) on resource:? (arn:[^\s,;]+)")
_ARN = re.compile(r"arn:[^\s,;]+")
_KMS_HINT = re.compile(r"\bkms\b|ciphertext|customer master key", re.IGNORECASE)
_QUOTE_MAX = 200

KMS_NOTE = (
    "; a SecureString or a secret encrypted with a customer managed key also needs "
    "kms:Decrypt on that key"
)


def classify_error(
    code: str,
    message: str,
    status: int,
    *,
    action: str,
    what: str,
    where: str,
    region: str | None,
) -> Miss:
    """Classify one AWS error answer.

    Args:
        code: AWS's error code (``ValidationException``), or ``""``.
        message: AWS's error message (quoted only capped, and only for unknown or invalid).
        status: HTTP status of the answer (0 when unknown, as in a batch's ``Errors[]``).
        action: The IAM action the call needs, such as ``ssm:GetParameters``.
        what: The item in words, such as ``secret 'app/db'`` or ``parameter '/a'``.
        where: Who answered, such as ``ssm in eu-west-1`` or ``the local agent``.
        region: The region asked, for "does not exist in ..." (None: the default region).
    """
    if code in THROTTLING_CODES or status == 429:
        return Miss(
            FailureKind.THROTTLED,
            f"{action} was throttled and retries ran out; lower the call rate or retry later",
        )
    if status >= 500 or code in SERVER_CODES:
        # AWS (or what is in between) failed, not the request: transient like a dropped
        # connection, so retried and served stale through.
        # How many attempts were made is the resolver's to say (it retries).
        shown = f"HTTP {status}" if status else "a server error"
        return Miss(FailureKind.NETWORK, f"{where} answered {shown} ({code or 'no code'})")
    if code in CREDENTIAL_CODES or code.startswith("ExpiredToken"):
        return credentials_miss(f"AWS rejected the credentials ({code}) calling {where}")
    if code in DENIED_CODES or code == "KMSAccessDeniedException" or code == "DecryptionFailure":
        return _denied(code, message, action, what)
    if code.startswith("KMS"):
        return Miss(
            FailureKind.ACCESS_DENIED,
            f"KMS could not decrypt {what} ({code}): check that its key exists, is enabled "
            "and allows kms:Decrypt to the caller",
        )
    if code in NOT_FOUND_CODES:
        return Miss(
            FailureKind.NOT_FOUND,
            f"{what} does not exist in {region or 'the default region'} (or has no such version)",
        )
    if code == "InvalidRequestException" and _DELETED.search(message):
        return Miss(
            FailureKind.NOT_FOUND,
            f"{what} is scheduled for deletion; restore it (RestoreSecret) or stop referencing it",
        )
    if code in INVALID_CODES:
        return Miss(
            FailureKind.INVALID, f"{where} rejected the request for {what}: {_quote(code, message)}"
        )
    return Miss(FailureKind.OTHER, f"{action} failed for {what}: {_quote(code, message)}")


def credentials_miss(first: str) -> Miss:
    """A credentials failure, saying what to check."""
    return Miss(
        FailureKind.CREDENTIALS,
        f"{first}; check which credentials the SDK finds (AWS_PROFILE, AWS_ACCESS_KEY_ID and "
        "AWS_SESSION_TOKEN, the container or instance role) and that they have not expired, "
        "that this machine's clock is right (AWS refuses signatures 5 minutes off), and that "
        "the region is enabled for the account",
    )


def _denied(code: str, message: str, action: str, what: str) -> Miss:
    said = _AUTHORIZATION.search(message)
    denied_action, resource = (said.group(1), said.group(2).rstrip(".")) if said else ("", "")
    if denied_action.startswith("kms:") or ":kms:" in resource:
        on = f" on {resource}" if resource else f" on the KMS key that encrypts {what}"
        return Miss(FailureKind.ACCESS_DENIED, f"the caller needs kms:Decrypt{on}")
    # DecryptionFailure, KMSAccessDeniedException, SSM's "The ciphertext refers to a customer
    # master key that does not exist ... or you are not allowed to access", Secrets
    # Manager's "Access to KMS is not allowed".
    words = _ARN.sub("", message)  # a parameter named /app/kms/key is not about KMS
    if code in ("DecryptionFailure", "KMSAccessDeniedException") or _KMS_HINT.search(words):
        return Miss(
            FailureKind.ACCESS_DENIED,
            f"the caller needs kms:Decrypt on the KMS key that encrypts {what} ({code})",
        )
    on = f" on {resource}" if resource else ""
    needed = denied_action or action  # AWS's own word for what it refused, when it says
    return Miss(FailureKind.ACCESS_DENIED, f"the caller needs {needed}{on}{KMS_NOTE}")


def _quote(code: str, message: str) -> str:
    text = " ".join(message.split())
    if len(text) > _QUOTE_MAX:
        text = text[: _QUOTE_MAX - 3] + "..."
    return f"{code or 'unknown error'}: {text}" if text else (code or "unknown error")


def with_resource(miss: Miss, service: str, region: str | None, names: Sequence[str]) -> Miss:
    """Name the resource the caller needs access to when AWS's message did not."""
    if miss.kind is not FailureKind.ACCESS_DENIED or not miss.reason.endswith(KMS_NOTE):
        return miss  # a KMS denial, or one that names its resource already
    if " on arn:" in miss.reason:
        return miss
    arns = [_resource_arn(service, region, n) for n in names]
    resource = ", ".join(arns)
    reason = miss.reason.replace(KMS_NOTE, f" on {resource}{KMS_NOTE}", 1)
    return Miss(miss.kind, reason)


def _resource_arn(service: str, region: str | None, name: str) -> str:
    if name.startswith("arn:"):
        return name.rsplit(":", 1)[0] if service == "ssm" and name.count(":") > 5 else name
    base = name.split(":", 1)[0] if service == "ssm" else name
    if service == "ssm":
        return f"arn:aws:ssm:{region or '*'}:*:parameter{'' if base.startswith('/') else '/'}{base}"
    return f"arn:aws:secretsmanager:{region or '*'}:*:secret:{base}-*"


def iam_action(service: str, operation: str) -> str:
    """The IAM action a call needs (BatchGetSecretValue also needs GetSecretValue)."""
    if operation == "BatchGetSecretValue":
        return "secretsmanager:GetSecretValue (and secretsmanager:BatchGetSecretValue)"
    return f"{service}:{operation}"


def botocore_error(error: Exception, service: str, region: str) -> Miss:
    """What a botocore error raised before any AWS answer (credentials, region, network) means."""
    from botocore import exceptions as bce

    name = type(error).__name__
    no_credentials = (
        bce.NoCredentialsError,
        bce.PartialCredentialsError,
        bce.CredentialRetrievalError,
        bce.NoAuthTokenError,
        bce.TokenRetrievalError,
        bce.ProfileNotFound,
        bce.SSOError,
        bce.UnauthorizedSSOTokenError,
        bce.RefreshWithMFAUnsupportedError,
    )
    if isinstance(error, no_credentials):
        return credentials_miss(f"no usable AWS credentials for {service} in {region} ({name})")
    if isinstance(error, bce.NoRegionError):
        return Miss(FailureKind.CONFIGURATION, "no AWS region: set AWS_REGION or pass region_name")
    if isinstance(error, (bce.ConnectionError, bce.HTTPClientError)):
        return Miss(
            FailureKind.NETWORK,
            f"could not reach {service} in {region} ({name})",
        )
    return Miss(FailureKind.OTHER, f"{service} call failed ({name})")


#: Loggers that can carry request or response content of a botocore call.
GUARDED_LOGGERS = (
    "botocore.parsers",
    "botocore.auth",
    "botocore.endpoint",
    "botocore.response",
    "botocore.handlers",
    "botocore.httpsession",
    "botocore.awsrequest",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.retries.standard",
    "botocore.utils",
    "urllib3.connectionpool",
)
_BODY_LOGGER = "botocore.parsers"
# Loggers whose every argument is withheld: response bodies, signing material.
_WITHHOLD_ALL = frozenset({_BODY_LOGGER, "botocore.auth"})

_in_call: contextvars.ContextVar[bool] = contextvars.ContextVar("awsrefs_in_call", default=False)
_installed = False
_install_lock = threading.Lock()


_WITHHELD_TEXT = "<withheld by awsrefs>"
# A printf-style conversion as logging formats messages with (not "%%").
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")


class _Withheld:
    """Stands in for a withheld log argument, in ``%s`` and ``%r`` alike."""

    __slots__ = ()

    def __repr__(self) -> str:
        return _WITHHELD_TEXT

    __str__ = __repr__


WITHHELD: Any = _Withheld()
_CONTAINERS = (bytes, bytearray, memoryview, Mapping, Sequence, Set)


def _may_hold_content(arg: object) -> bool:
    """Bodies, headers, parameter dicts and response objects; not names or numbers."""
    if isinstance(arg, str):
        return False
    return isinstance(arg, _CONTAINERS) or "Response" in type(arg).__name__


def in_awsrefs_call() -> bool:
    """True while the current thread runs one of awsrefs' AWS calls."""
    return _in_call.get()


@contextlib.contextmanager
def awsrefs_call() -> Iterator[None]:
    """Mark the code inside as an awsrefs AWS call, so the guarded loggers redact it."""
    token = _in_call.set(True)
    try:
        yield
    finally:
        _in_call.reset(token)


class _RedactFilter(logging.Filter):
    """Rewrites, in place, the records of an awsrefs call that may carry content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _in_call.get():
            return True
        if record.name in _WITHHOLD_ALL or isinstance(record.args, Mapping):
            record.msg = _PLACEHOLDER.sub(_WITHHELD_TEXT, str(record.msg))
            record.args = ()
        elif record.args:
            record.args = tuple(WITHHELD if _may_hold_content(a) else a for a in record.args)
        if record.exc_info or record.exc_text:
            kind = record.exc_info[1] if record.exc_info else None
            name = type(kind).__name__ if kind is not None else "an exception"
            record.msg = f"{record.msg} ({name}; details withheld by awsrefs)"
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True


_filter = _RedactFilter()
# Top-level names of the loggers whose records are redacted (and their children).
_GUARDED_ROOTS = frozenset({"botocore", "boto3", "urllib3"})


def _redacting_factory(
    previous: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """A log record factory that redacts, during an awsrefs call, what ``previous`` makes."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _in_call.get() and record.name.partition(".")[0] in _GUARDED_ROOTS:
            _filter.filter(record)  # idempotent: the loggers' filters may run it again
        return record

    return factory


def install() -> None:
    """Redact every guarded logger's records during awsrefs calls (once per process).

    Installs the record factory (chained to the current one) and the filter on the guarded
    loggers that exist by now; idempotent.
    """
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        # The named ones, and every other botocore/urllib3 logger that exists by now (botocore
        # is imported before the first client is made): a body logged from a new place in a
        # later botocore release still passes the per-argument rule.
        known = [
            name
            for name in list(logging.Logger.manager.loggerDict)
            if name.startswith(("botocore.", "urllib3.", "boto3."))
        ]
        for name in (*GUARDED_LOGGERS, *known):
            logger = logging.getLogger(name)
            if _filter not in logger.filters:
                logger.addFilter(_filter)
        logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
        _installed = True


def _clear_in_child() -> None:
    # A fork from inside a call (a botocore hook, say) must not leave the child redacting
    # its own, unrelated calls.
    _in_call.set(False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_clear_in_child)


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

        install()
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
        # One attempt while the resolver fails fast after a spent retry budget (see _fetch.OUTAGES).
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
