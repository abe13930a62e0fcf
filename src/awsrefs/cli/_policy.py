"""``awsrefs policy``: the least-privilege IAM policy for the references found."""

from __future__ import annotations

import argparse
import json
import re
import sys

import awsrefs
import awsrefs.iam
from awsrefs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    InputError,
    gather,
    print_failures,
    session,
)
from awsrefs.cli._common import references as find_settings

__all__ = ["COMMAND", "EPILOG", "run"]

EPILOG = """\
examples:
  awsrefs policy .env
  awsrefs policy config.toml --account 123456789012 --region eu-west-1
  awsrefs policy --env --kms-key arn:aws:kms:eu-west-1:123456789012:key/1234abcd-...
"""


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", help="12-digit account id for the ARNs (default: *)")
    parser.add_argument(
        "--kms-key",
        action="append",
        default=[],
        metavar="KEY_ARN",
        help="add kms:Decrypt on this key (customer managed keys)",
    )


def _default_region(args: argparse.Namespace) -> str:
    if args.region:
        return str(args.region)
    import botocore.session

    botocore_session = session(args.profile) or botocore.session.get_session()
    region = botocore_session.get_config_variable("region")
    return str(region) if region else "*"


def run(args: argparse.Namespace) -> int:
    """Print the policy document as JSON; exit 1 when a reference is malformed."""
    settings = find_settings(gather(args))
    refs: list[awsrefs.SSMRef | awsrefs.SecretRef] = []
    failures = []
    for index, setting in enumerate(settings):
        try:
            item = awsrefs.parse(setting.text)
        except awsrefs.RefSyntaxError as error:
            failures.append(
                awsrefs.Failure(str(index), error.text, awsrefs.FailureKind.SYNTAX, str(error))
            )
            continue
        if isinstance(item, awsrefs.Template):
            refs.extend(item.refs)
        elif item is not None:
            refs.append(item)
    if failures:
        print_failures(settings, failures, sys.stderr)
        return EXIT_FAILED
    if not refs:
        raise InputError("no references found, so there is nothing to allow")
    account = args.account or "*"
    if account != "*" and not re.fullmatch(r"\d{12}", account):
        raise InputError(f"--account takes a 12-digit account id, not {account!r}")
    document = awsrefs.iam.policy(
        refs, region=_default_region(args), account=account, kms_keys=args.kms_key
    )
    print(json.dumps(document, indent=2))
    if not args.kms_key:
        print(
            "note: SecureString parameters and secrets encrypted with a customer managed KMS "
            "key also need kms:Decrypt on that key; add it with --kms-key KEY_ARN",
            file=sys.stderr,
        )
    return EXIT_OK


COMMAND = Command(
    name="policy",
    help="print the least-privilege IAM policy for the references",
    description="Print the IAM policy that allows reading exactly these references.",
    epilog=EPILOG,
    parents=("inputs", "aws"),
    add_arguments=_add_arguments,
    run=run,
)
