"""awsrefs.iam (the policy document) and awsrefs.report (the check table), as Python API."""

from __future__ import annotations

import io
import json

import awsrefs
import awsrefs.iam
import awsrefs.report
from awsrefs.errors import Failure, FailureKind

ACCOUNT = "123456789012"


def _statements(document):
    return {s["Sid"]: s for s in document["Statement"]}


def test_policy_names_each_reference_once_with_the_least_actions():
    refs = [
        awsrefs.parse("ssm:/app/db-host"),
        awsrefs.parse("ssm:/app/db-host:3"),  # same parameter, another version: same ARN
        awsrefs.parse("ssm:arn:aws:ssm:us-east-1:210987654321:parameter/shared/flag"),
        awsrefs.parse("secretsmanager:app/db:password"),
        awsrefs.parse("secretsmanager:app/stripe"),
        awsrefs.parse("secretsmanager:app/old::AWSPREVIOUS"),
    ]
    document = awsrefs.iam.policy(refs, region="eu-west-1", account=ACCOUNT)
    by_sid = _statements(document)
    assert document["Version"] == "2012-10-17"
    assert by_sid["ReadParameters"]["Resource"] == [
        "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db-host",
        "arn:aws:ssm:us-east-1:210987654321:parameter/shared/flag",
    ]
    prefix = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"
    assert by_sid["ReadSecrets"]["Resource"] == [
        f"{prefix}app/db-??????",
        f"{prefix}app/old-??????",
        f"{prefix}app/stripe-??????",
    ]
    # Two current secrets in one region are batched, which AWS authorizes only on "*".
    assert by_sid["BatchReadSecrets"]["Resource"] == "*"
    assert "DecryptWithKeys" not in by_sid
    json.dumps(document)  # ready to print


def test_policy_partitions_kms_keys_and_no_batch_for_one_secret():
    key = "arn:aws-cn:kms:cn-north-1:123456789012:key/1234"
    document = awsrefs.iam.policy(
        [awsrefs.parse("secretsmanager:one")], region="cn-north-1", kms_keys=[key, key]
    )
    by_sid = _statements(document)
    assert by_sid["ReadSecrets"]["Resource"] == [
        "arn:aws-cn:secretsmanager:cn-north-1:*:secret:one-??????"
    ]
    assert "BatchReadSecrets" not in by_sid
    assert by_sid["DecryptWithKeys"]["Resource"] == [key]
    assert awsrefs.iam.partition("us-gov-west-1") == "aws-us-gov"


def _results():
    missing = Failure("STRIPE", "secretsmanager:app/stripe:key", FailureKind.NOT_FOUND, "no such")
    return [
        awsrefs.Checked("DATABASES.default.HOST", "ssm:/app/db-host"),
        awsrefs.Checked("FLAGS", "optional:ssm:/app/flags", optional_missing=True),
        awsrefs.Checked("STRIPE", "secretsmanager:app/stripe:key", missing),
    ]


def test_report_table_is_aligned_and_summarised():
    results = _results()
    table = awsrefs.report.format_checks(results)
    lines = table.splitlines()
    assert lines[0].split() == ["SETTING", "REFERENCE", "STATUS", "REASON"]
    column = lines[0].index("REFERENCE")
    assert all(line[column - 2 : column] == "  " for line in lines[1:])
    assert lines[1].split() == ["DATABASES.default.HOST", "ssm:/app/db-host", "OK"]
    assert "OK (optional, missing)" in lines[2]
    assert lines[3].split() == [
        "STRIPE",
        "secretsmanager:app/stripe:key",
        "not",
        "found",
        "no",
        "such",
    ]
    assert awsrefs.report.summary(results) == "3 references: 2 OK, 1 failed"
    assert "\033[" not in table


def test_report_colours_and_width_only_when_asked():
    results = _results()
    painted = awsrefs.report.format_checks(results, colour=True, width=60)
    assert "\033[32mOK\033[0m" in painted
    assert "\033[31mnot found\033[0m" in painted
    # Cut to the width, the reason column still shows its start.
    long = [awsrefs.Checked("X", "ssm:/x", Failure("X", "ssm:/x", FailureKind.OTHER, "r" * 200))]
    cut = awsrefs.report.format_checks(long, width=60)
    assert max(len(line) for line in cut.splitlines()) <= 60
    assert cut.splitlines()[1].endswith("…")


def test_print_checks_to_a_file_keeps_lines_whole_and_uncoloured():
    stream = io.StringIO()
    awsrefs.report.print_checks(_results(), stream)
    text = stream.getvalue()
    assert "\033[" not in text
    assert text.endswith("\n\n3 references: 2 OK, 1 failed\n")
