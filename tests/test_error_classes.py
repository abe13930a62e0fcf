"""Which AWS errors are answers and which are transient, through the real path.

boto3 over HTTP to the moto server; the fault proxy stands in for answers moto does not give
(rejected credentials, a KMS denial, a ValidationException for one name).
"""

from __future__ import annotations

import json
import time

import pytest

from awsrefs import FailureKind, ResolutionError, Resolver
from awsrefs.backends.agent import _status_miss
from awsrefs.backends.aws import classify_error
from tests.support.proxy import FaultConfig, FaultProxy, ProxyRequest

CREDENTIAL_ERRORS = [
    (403, "UnrecognizedClientException", "The security token included in the request is invalid."),
    (403, "InvalidClientTokenId", "The security token included in the request is invalid."),
    (403, "SignatureDoesNotMatch", "The request signature we calculated does not match."),
    (400, "ExpiredTokenException", "The security token included in the request is expired"),
    (400, "ExpiredToken", "The security token included in the request is expired"),
    (400, "InvalidSignatureException", "Signature expired: 20261129T100000Z is now earlier"),
]


def answering(operation: str, status: int, code: str, message: str, when=None):
    """A proxy hook answering every ``operation`` request (matching ``when``) with an error."""

    def answer(request: ProxyRequest) -> tuple[int, str, str] | None:
        if request.operation != operation:
            return None
        if when is not None and not when(json.loads(request.body or b"{}")):
            return None
        return status, code, message

    return answer


@pytest.mark.parametrize(("status", "code", "message"), CREDENTIAL_ERRORS)
def test_rejected_credentials_are_their_own_kind_and_never_served_stale(
    aws, canary, status, code, message
):
    aws.put_secret("app/db", {"password": canary})
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, ttl=0.0, retry_budget=5)
        assert r.get("secretsmanager:app/db:password") == canary
        proxy.configure(answer=answering("secretsmanager.GetSecretValue", status, code, message))
        with pytest.raises(ResolutionError) as caught:
            r.refresh("secretsmanager:app/db:password")
        with pytest.raises(ResolutionError):
            r.resolve({"PASSWORD": "secretsmanager:app/db:password"})
        r.close()
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.CREDENTIALS
    assert f"AWS rejected the credentials ({code})" in failure.reason
    for what in ("AWS_PROFILE", "clock", "region", "expired"):
        assert what in failure.reason
    assert "access denied" not in str(caught.value)
    assert r.stats.stale_served == 0
    # Not transient: one call per read, no retries within the 5 s budget.
    assert r.stats.calls["secretsmanager:GetSecretValue"] == 3


def test_no_credentials_at_all_is_a_credentials_failure(aws, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    with pytest.raises(ResolutionError) as caught:
        r.get("ssm:/app/x")
    r.close()
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.CREDENTIALS
    assert "NoCredentialsError" in failure.reason
    assert "AWS_PROFILE" in failure.reason


def test_secret_scheduled_for_deletion_is_not_found_and_optional_drops(aws, canary):
    aws.put_secret("app/old", {"password": canary})
    aws.put_secret("app/also-old", "tok-deleted-7f3e21ab")
    aws.put_secret("app/live", "tok-live-0c9d55e1")
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region, ttl=0.0)
    assert r.get("secretsmanager:app/old:password") == canary
    sm = aws.client("secretsmanager")
    sm.delete_secret(SecretId="app/old", RecoveryWindowInDays=7)
    sm.delete_secret(SecretId="app/also-old", RecoveryWindowInDays=7)

    # Batched (BatchGetSecretValue's Errors[]) and alone (GetSecretValue).
    settings = {
        "A": "optional:secretsmanager:app/old:password",
        "B": "optional:secretsmanager:app/also-old",
        "C": "secretsmanager:app/live",
    }
    assert r.resolve(settings) == {"C": "tok-live-0c9d55e1"}
    assert r.get("optional:secretsmanager:app/old:password") is None
    # Without optional: an error saying so, not the stale value.
    with pytest.raises(ResolutionError) as caught:
        r.refresh("secretsmanager:app/old:password")
    r.close()
    (failure,) = caught.value.failures
    assert failure.kind is FailureKind.NOT_FOUND
    assert "scheduled for deletion" in failure.reason
    assert r.stats.stale_served == 0


@pytest.mark.parametrize(
    ("code", "message", "kind", "shown"),
    [
        ("ValidationException", "Invalid label: bad", FailureKind.INVALID, "Invalid label: bad"),
        ("BrandNewException", "no idea", FailureKind.OTHER, "BrandNewException: no idea"),
    ],
)
def test_validation_and_unknown_errors_are_not_transient_nor_served_stale(
    aws, canary, code, message, kind, shown
):
    aws.put_parameter("/app/key", canary, type="SecureString")
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, ttl=0.0, retry_budget=5)
        assert r.get("ssm:/app/key") == canary
        proxy.configure(answer=answering("AmazonSSM.GetParameters", 400, code, message))
        with pytest.raises(ResolutionError) as caught:
            r.get("ssm:/app/key")
        r.close()
    (failure,) = caught.value.failures
    assert failure.kind is kind
    assert shown in failure.reason
    assert r.stats.stale_served == 0
    assert r.stats.calls["ssm:GetParameters"] == 2  # no retries within the budget


def test_throttling_and_5xx_stay_transient_and_are_served_stale(aws, canary):
    aws.put_parameter("/app/key", canary, type="SecureString")
    with FaultProxy(aws.endpoint_url) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region, ttl=0.0, max_attempts=1)
        assert r.get("ssm:/app/key") == canary
        for status, code in ((400, "ThrottlingException"), (503, "ServiceUnavailable")):
            proxy.configure(answer=answering("AmazonSSM.GetParameters", status, code, "busy"))
            time.sleep(0.01)
            assert r.refresh("ssm:/app/key") == canary
        r.close()
    assert r.stats.stale_served == 2


def test_ssm_kms_denial_names_kms_decrypt_on_the_key(aws):
    aws.put_parameter("/app/token", "kms-guarded-9a0e1b7c44", type="SecureString")
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    message = (
        "User: arn:aws:sts::123456789012:assumed-role/app/i-0 is not authorized to perform: "
        f"kms:Decrypt on resource: {key} because no identity-based policy allows the "
        "kms:Decrypt action"
    )
    ciphertext = (
        "The ciphertext refers to a customer master key that does not exist, does not exist "
        "in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400)"
    )
    for text, expected in ((message, f"needs kms:Decrypt on {key}"), (ciphertext, "KMS key")):
        answer = answering("AmazonSSM.GetParameters", 400, "AccessDeniedException", text)
        with FaultProxy(aws.endpoint_url, FaultConfig(answer=answer)) as proxy:
            r = Resolver(endpoint_url=proxy.url, region_name=aws.region)
            with pytest.raises(ResolutionError) as caught:
                r.get("ssm:/app/token")
            r.close()
        (failure,) = caught.value.failures
        assert failure.kind is FailureKind.ACCESS_DENIED
        assert expected in failure.reason
        assert "kms:Decrypt" in failure.reason
        assert "ssm:GetParameters" not in failure.reason


def test_batch_rejected_for_one_name_is_split_to_name_it(aws):
    for i in range(10):
        aws.put_parameter(f"/app/p{i}", f"value-{i}")
    settings = {f"P{i}": f"ssm:/app/p{i}" for i in range(9)}
    settings["BAD"] = "ssm:/app/p9"

    def bad_name(body: dict) -> bool:
        return "/app/p9" in body["Names"]

    answer = answering(
        "AmazonSSM.GetParameters", 400, "ValidationException", "Parameter name is invalid", bad_name
    )
    with FaultProxy(aws.endpoint_url, FaultConfig(answer=answer)) as proxy:
        r = Resolver(endpoint_url=proxy.url, region_name=aws.region)
        with pytest.raises(ResolutionError) as caught:
            r.resolve(settings)
        calls = r.stats.calls["ssm:GetParameters"]
        checked = {c.path: c.status for c in r.check(settings)}
        r.close()
    (failure,) = caught.value.failures
    assert (failure.path, failure.reference) == ("BAD", "ssm:/app/p9")
    assert failure.kind is FailureKind.INVALID
    assert checked == {**{f"P{i}": "OK" for i in range(9)}, "BAD": "invalid request"}
    # Bisection: the call for all ten, then two halves per level down to the bad name (at
    # most 9 calls), fewer than asking for each name on its own after the failed call (11).
    assert calls <= 9


def test_moto_rejecting_a_whole_batch_is_split(aws):
    # moto answers the whole GetParameters call with ParameterNotFound when one name is a
    # missing /aws/reference/secretsmanager/... one: the other nine must still resolve.
    for i in range(9):
        aws.put_parameter(f"/app/p{i}", f"value-{i}")
    settings = {f"P{i}": f"ssm:/app/p{i}" for i in range(9)}
    settings["REF"] = "optional:ssm:/aws/reference/secretsmanager/app/missing"
    r = Resolver(endpoint_url=aws.endpoint_url, region_name=aws.region)
    assert r.resolve(settings) == {f"P{i}": f"value-{i}" for i in range(9)}
    settings["REF"] = "ssm:/aws/reference/secretsmanager/app/missing"
    with pytest.raises(ResolutionError) as caught:
        r.resolve(settings)
    r.close()
    assert [f.path for f in caught.value.failures] == ["REF"]


# -- the classification as a table (pure) --------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "status", "kind"),
    [
        ("ThrottlingException", "Rate exceeded", 400, FailureKind.THROTTLED),
        ("", "", 429, FailureKind.THROTTLED),
        ("InternalFailure", "", 500, FailureKind.NETWORK),
        ("SomethingNew", "", 502, FailureKind.NETWORK),
        ("ValidationException", "bad", 400, FailureKind.INVALID),
        ("SomethingNew", "", 400, FailureKind.OTHER),
        ("ResourceNotFoundException", "", 400, FailureKind.NOT_FOUND),
        (
            "InvalidRequestException",
            "You can't perform this operation on the secret because it was marked for deletion.",
            400,
            FailureKind.NOT_FOUND,
        ),
        (
            "InvalidRequestException",
            "You tried to perform the operation on a secret that's currently marked deleted.",
            0,
            FailureKind.NOT_FOUND,
        ),
        ("InvalidRequestException", "The secret is a replica", 400, FailureKind.INVALID),
        ("ExpiredTokenException", "", 400, FailureKind.CREDENTIALS),
        ("AccessDeniedException", "", 400, FailureKind.ACCESS_DENIED),
        ("KMSDisabledException", "", 400, FailureKind.ACCESS_DENIED),
    ],
)
def test_classification(code, message, status, kind):
    miss = classify_error(
        code, message, status, action="ssm:GetParameters", what="it", where="ssm", region="r"
    )
    assert miss.kind is kind
    assert miss.transient is (kind in (FailureKind.THROTTLED, FailureKind.NETWORK))


def test_denials_name_what_aws_refused_and_kms_only_when_kms_refused():
    def reason(code: str, message: str) -> str:
        return classify_error(
            code, message, 400, action="ssm:GetParameters", what="it", where="ssm", region="r"
        ).reason

    param = "arn:aws:ssm:us-east-1:123456789012:parameter/app/kms/key"
    plain = f"User: u is not authorized to perform: ssm:GetParameters on resource: {param}"
    assert reason("AccessDeniedException", plain).startswith(
        f"the caller needs ssm:GetParameters on {param};"
    )
    assert "needs kms:Decrypt on the KMS key" in reason(
        "AccessDeniedException", "Access to KMS is not allowed"
    )
    assert "needs kms:Decrypt on the KMS key" in reason("DecryptionFailure", "")


def test_agent_uses_the_same_classification():
    def body(code: str, message: str = "") -> bytes:
        return json.dumps({"__type": code, "message": message}).encode()

    deleted = "You can't perform this operation on the secret because it was marked for deletion."
    cases = {
        (400, body("InvalidRequestException", deleted)): FailureKind.NOT_FOUND,
        (400, body("UnrecognizedClientException")): FailureKind.CREDENTIALS,
        (400, body("ValidationException")): FailureKind.INVALID,
        (400, body("Mystery")): FailureKind.OTHER,
        (503, body("ServiceUnavailable")): FailureKind.NETWORK,
        (403, body("Forbidden")): FailureKind.CONFIGURATION,  # the agent refused the token
        (404, b""): FailureKind.NOT_FOUND,
    }
    for (status, payload), kind in cases.items():
        miss = _status_miss(status, payload, "GetSecretValue", "secret 'x'", "127.0.0.1", 2773)
        assert miss.kind is kind, (status, payload)
