"""The ``awsrefs`` command: ``check``, ``resolve``, ``exec`` and ``policy``.

Exit codes: 0 success, 1 a reference failed, 2 a usage or input error, 65 a value that
cannot be written as asked, 141 standard output closed early. Values are printed
only by ``resolve --reveal``; ``exec`` hands them to the program's environment and nowhere else.
One module per command, each declaring its ``COMMAND``; this one builds the parser from them
and dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import awsrefs
from awsrefs.cli import _check, _exec, _policy, _resolve
from awsrefs.cli._common import EXIT_PIPE, EXIT_USAGE, EXIT_VALUE, InputError, ValueUnfitError

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

exit codes: 0 all good, 1 a reference failed, 2 usage or input error, 65 a value cannot
  be written as asked, 141 the reader of standard output stopped early (| head);
  exec has more, see awsrefs exec --help
"""

# In the order the main help lists them.
_COMMANDS = (_check.COMMAND, _resolve.COMMAND, _exec.COMMAND, _policy.COMMAND)


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

    shared = {"inputs": inputs, "aws": aws}
    commands = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        subparser = commands.add_parser(
            command.name,
            parents=[shared[name] for name in command.parents],
            usage=command.usage,
            help=command.help,
            description=command.description,
            epilog=command.epilog,
            formatter_class=formatter,
        )
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``awsrefs`` command.

    Args:
        argv: The arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 success, 1 a reference failed, 2 a usage or input error, 65 a
        resolved value cannot be written as asked, 141 standard output closed early (a pipe
        into ``head``); ``exec`` adds its own when the program cannot start.
    """
    try:
        try:
            return _run(list(sys.argv[1:] if argv is None else argv))
        finally:
            sys.stdout.flush()  # inside the try: a reader gone early shows up here, not at exit
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_PIPE


def _run(arguments: list[str]) -> int:
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
    except ValueUnfitError as error:
        print(f"awsrefs {args.command_name}: {error}", file=sys.stderr)
        return EXIT_VALUE
    except KeyboardInterrupt:
        return 130
    return code


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit has nowhere to fail.

    The usual recipe for a reader that stopped early (``awsrefs check | head -1``): what is
    left unwritten is dropped, with no "Exception ignored" message at exit. (stderr is line
    buffered and every line awsrefs writes there ends, so nothing of it waits for the exit.)
    """
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced, as by pytest's capsys
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)
