"""The ``awsrefs`` command: ``check``, ``resolve``, ``exec`` and ``policy``.

Exit codes: 0 success, 1 a reference failed, 2 a usage or input error. Values are printed
only by ``resolve --reveal``; ``exec`` hands them to the program's environment and nowhere else.
One module per command; this one parses the arguments and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import awsrefs
from awsrefs.cli import _check, _exec, _policy, _resolve
from awsrefs.cli._common import EXIT_USAGE, InputError

__all__ = ["main"]

_MAIN_EPILOG = """\
examples:
  awsrefs check .env config.toml        table of every reference and its status
  awsrefs check --env --format json     the environment's references, as JSON
  awsrefs resolve .env --format env     values, masked unless --reveal
  awsrefs exec --env-file .env -- gunicorn app:app
                                        start a program with plain values
  awsrefs policy .env --account 123456789012
                                        least-privilege IAM policy for the references

exit codes: 0 all good, 1 a reference failed, 2 usage or input error
"""


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="awsrefs",
        description="Check, resolve and run with ssm: and secretsmanager: references.",
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"awsrefs {awsrefs.__version__}")

    aws = argparse.ArgumentParser(add_help=False)
    group = aws.add_argument_group("AWS")
    group.add_argument("--region", help="region for references that do not name one")
    group.add_argument("--profile", help="AWS profile from the AWS config files")
    group.add_argument("--endpoint-url", help="send AWS calls here (an emulator, a proxy)")
    group.add_argument(
        "--retry-budget",
        type=float,
        metavar="SECONDS",
        help="keep retrying throttled or unreachable AWS for this long (default: 5 for "
        "check and resolve, 30 for exec, which starts a program as an app would)",
    )

    inputs = argparse.ArgumentParser(add_help=False)
    group = inputs.add_argument_group("inputs")
    group.add_argument(
        "files", nargs="*", metavar="FILE", help=".env, .json, .toml, .yaml/.yml files"
    )
    group.add_argument("--env", action="store_true", help="the environment variables")
    group.add_argument(
        "--django-settings", metavar="MODULE", help="a Django settings module to import"
    )

    commands = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        parents=[inputs, aws],
        help="show every reference and whether it resolves (no values)",
        description="Show every reference and whether it resolves. Never shows values.",
        epilog=_check.EPILOG,
        formatter_class=formatter,
    )
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.set_defaults(run=_check.run)

    resolve = commands.add_parser(
        "resolve",
        parents=[inputs, aws],
        help="print the resolved values (hidden unless --reveal)",
        description="Print the settings that hold references with their values.",
        epilog=_resolve.EPILOG,
        formatter_class=formatter,
    )
    resolve.add_argument("--format", choices=("table", "env", "json"), default="table")
    resolve.add_argument("--reveal", action="store_true", help="show the values themselves")
    resolve.set_defaults(run=_resolve.run)

    run = commands.add_parser(
        "exec",
        parents=[aws],
        usage=_exec.USAGE,
        help="run a program with the references in its environment resolved",
        description="Resolve the environment's references, then become COMMAND.",
        epilog=_exec.EPILOG,
        formatter_class=formatter,
    )
    run.add_argument(
        "--env-file", action="append", default=[], metavar="F", help="add these variables"
    )
    run.set_defaults(run=_exec.run, command=[])

    policy = commands.add_parser(
        "policy",
        parents=[inputs, aws],
        help="print the least-privilege IAM policy for the references",
        description="Print the IAM policy that allows reading exactly these references.",
        epilog=_policy.EPILOG,
        formatter_class=formatter,
    )
    policy.add_argument("--account", help="12-digit account id for the ARNs (default: *)")
    policy.add_argument(
        "--kms-key",
        action="append",
        default=[],
        metavar="KEY_ARN",
        help="add kms:Decrypt on this key (customer managed keys)",
    )
    policy.set_defaults(run=_policy.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``awsrefs`` command.

    Args:
        argv: The arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 success, 1 a reference failed, 2 a usage or input error.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    # "exec ... -- COMMAND": everything after "--" belongs to COMMAND, untouched by argparse.
    if arguments[:1] == ["exec"] and "--" in arguments:
        split = arguments.index("--")
        arguments, command = arguments[:split], arguments[split + 1 :]
    args = _parser().parse_args(arguments)
    if args.command_name == "exec":
        args.command = command
    try:
        code: int = args.run(args)
    except InputError as error:
        print(f"awsrefs {args.command_name}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code
