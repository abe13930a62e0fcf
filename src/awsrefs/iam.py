"""Least-privilege IAM policies for reading a set of references.

>>> import awsrefs, awsrefs.iam
>>> refs = [awsrefs.parse("ssm:/myapp/prod/db-host")]
>>> document = awsrefs.iam.policy(refs, region="eu-west-1", account="123456789012")
>>> document["Statement"][0]["Resource"]
['arn:aws:ssm:eu-west-1:123456789012:parameter/myapp/prod/db-host']

The same document ``awsrefs policy`` prints; Django and Flask checks can offer it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from awsrefs._grammar import SecretRef, SSMRef

__all__ = ["partition", "policy"]

_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def partition(region: str) -> str:
    """The ARN partition of ``region``: ``aws``, ``aws-cn`` or ``aws-us-gov``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def policy(
    references: Iterable[SSMRef | SecretRef],
    *,
    region: str = "*",
    account: str = "*",
    kms_keys: Sequence[str] = (),
) -> dict[str, Any]:
    """The IAM policy document that allows reading exactly ``references``.

    Args:
        references: Parsed parameter and secret references (a template's ``.refs``).
        region: Region for references that do not name one in an ARN (``*``: any).
        account: 12-digit account id for those ARNs (``*``: any).
        kms_keys: Key ARNs to allow ``kms:Decrypt`` on (SecureStrings and secrets encrypted
            with a customer managed key need it).

    Returns:
        A policy document (``Version`` and ``Statement``), ready for ``json.dumps``.
    """
    parameters: set[str] = set()
    secrets: set[str] = set()
    current: dict[str, set[str]] = {}
    arn_prefix = f"arn:{partition(region)}"
    for ref in references:
        if isinstance(ref, SSMRef):
            if ref.name.startswith("arn:"):
                parameters.add(ref.name)
            else:
                name = ref.name.lstrip("/")
                parameters.add(f"{arn_prefix}:ssm:{region}:{account}:parameter/{name}")
            continue
        if ref.secret_id.startswith("arn:"):
            arn = ref.secret_id
            if _SECRET_SUFFIX.search(arn):
                secrets.add(arn)  # a full ARN, unless the name itself ends like a suffix:
            secrets.add(arn + "-??????")
        else:
            prefix = f"{arn_prefix}:secretsmanager:{region}:{account}:secret:"
            secrets.add(f"{prefix}{ref.secret_id}-??????")
        if ref.is_current:
            current.setdefault(ref.region or region, set()).add(ref.secret_id)
    statements: list[dict[str, Any]] = []
    if parameters:
        statements.append(_statement("ReadParameters", "ssm:GetParameters", sorted(parameters)))
    if secrets:
        statements.append(
            _statement("ReadSecrets", "secretsmanager:GetSecretValue", sorted(secrets))
        )
    # awsrefs batches two or more AWSCURRENT secrets of one region; AWS authorizes the batch
    # action only on "*" (and then GetSecretValue per secret, above).
    if any(len(ids) > 1 for ids in current.values()):
        statements.append(_statement("BatchReadSecrets", "secretsmanager:BatchGetSecretValue", "*"))
    if kms_keys:
        statements.append(_statement("DecryptWithKeys", "kms:Decrypt", sorted(set(kms_keys))))
    return {"Version": "2012-10-17", "Statement": statements}


def _statement(sid: str, action: str, resource: str | list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
