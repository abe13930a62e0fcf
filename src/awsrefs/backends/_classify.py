"""What an AWS error answer means for one reference: one classification for every backend.

Only throttling, network failures and 5xx answers are transient (retried within the retry
budget, and answered with the last good value when one is cached). Everything else is an
answer about the request: not found (also a secret scheduled for deletion, in AWS's and
moto's wording), access denied (naming the IAM action and resource, ``kms:Decrypt`` on the
key when KMS refused), credentials rejected, or an invalid request. An error code awsrefs
does not know is not transient either: serving a stale value would hide it.

Reasons never contain a value: AWS's error messages for read calls name resources, not
values, and what is quoted of them is capped in length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from awsrefs.backends import Miss
from awsrefs.errors import FailureKind

__all__ = [
    "CREDENTIAL_CODES",
    "botocore_error",
    "classify_error",
    "credentials_miss",
    "iam_action",
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
