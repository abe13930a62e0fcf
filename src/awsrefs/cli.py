"""The ``awsrefs`` command: ``check``, ``resolve``, ``exec`` and ``policy``.

Exit codes: 0 success, 1 a reference failed, 2 a usage or input error. Values are printed
only by ``resolve --reveal``; ``exec`` hands them to the program's environment and nowhere else.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import awsrefs
from awsrefs._inputs import (
    InputError,
    Setting,
    load_django_settings,
    load_environ,
    load_file,
    parse_env,
)

__all__ = ["main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_MIN_REASON = 20
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")

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

_CHECK_EPILOG = """\
examples:
  awsrefs check .env
  awsrefs check config.toml settings.yaml --format json
  awsrefs check --env
  awsrefs check --django-settings mysite.settings
"""

_RESOLVE_EPILOG = """\
examples:
  awsrefs resolve .env                   values hidden: <hidden, 24 chars>
  awsrefs resolve .env --reveal --format env > resolved.env
  awsrefs resolve config.toml --reveal --format json
"""

_EXEC_EPILOG = """\
examples:
  awsrefs exec -- gunicorn app:app
  awsrefs exec --env-file .env -- celery -A proj worker

References in the environment and the env files are resolved; the program replaces awsrefs
(same process id, its signals and exit code). Variables already in the environment win over
the env files. If a reference fails, the program is not started and the exit code is 1.
"""

_POLICY_EPILOG = """\
examples:
  awsrefs policy .env
  awsrefs policy config.toml --account 123456789012 --region eu-west-1
  awsrefs policy --env --kms-key arn:aws:kms:eu-west-1:123456789012:key/1234abcd-...
"""


# -- output helpers ---------------------------------------------------------------------------


def _colour_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def _paint(text: str, colour: str | None, enabled: bool) -> str:
    codes = {"green": "32", "red": "31", "yellow": "33", "bold": "1"}
    if not enabled or colour is None:
        return text
    return f"\033[{codes[colour]}m{text}\033[0m"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    stream: TextIO,
    *,
    colours: Sequence[str | None] = (),
) -> None:
    """Print aligned columns; on a terminal the last column is cut to the terminal width."""
    tty = stream.isatty()
    colour = _colour_enabled(stream)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    last = len(headers) - 1
    if tty:
        used = sum(widths[:last]) + 2 * last
        room = max(shutil.get_terminal_size().columns - used, _MIN_REASON)
        widths[last] = min(widths[last], room)
    stream.write(_paint(_line(headers, widths), "bold", colour) + "\n")
    for index, row in enumerate(rows):
        cells = list(row)
        if tty:
            cells[last] = _truncate(cells[last], widths[last])
        status_colour = colours[index] if index < len(colours) else None
        stream.write(_line(cells, widths, status_colour, colour) + "\n")


def _line(
    cells: Sequence[str], widths: Sequence[int], colour: str | None = None, enabled: bool = False
) -> str:
    out = []
    for i, cell in enumerate(cells):
        padding = "" if i == len(cells) - 1 else " " * (widths[i] - len(cell))
        # The status column (third) carries the row's colour.
        out.append((_paint(cell, colour, enabled) if i == 2 else cell) + padding)
    return "  ".join(out).rstrip()


# -- inputs -----------------------------------------------------------------------------------


def _gather(args: argparse.Namespace) -> list[Setting]:
    if not (args.files or args.env or args.django_settings):
        raise InputError("nothing to read: give FILEs, --env or --django-settings MODULE")
    settings: list[Setting] = []
    for name in args.files:
        settings.extend(load_file(name))
    if args.env:
        settings.extend(load_environ(os.environ))
    if args.django_settings:
        settings.extend(load_django_settings(args.django_settings))
    return settings


def _has_reference(setting: Setting) -> bool:
    try:
        item = awsrefs.parse(setting.text)
    except awsrefs.RefSyntaxError:
        return True
    if isinstance(item, awsrefs.Template):
        return bool(item.refs)  # a "literal:" escape holds no reference
    return item is not None


def _references(settings: list[Setting]) -> list[Setting]:
    return [s for s in settings if _has_reference(s)]


def _session(profile: str | None) -> Any:
    if profile is None:
        return None
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session(profile=profile)
    try:
        session.get_scoped_config()
    except botocore.exceptions.ProfileNotFound:
        raise InputError(f"no AWS profile named {profile!r} in the AWS config files") from None
    return session


def _resolver(args: argparse.Namespace) -> awsrefs.Resolver:
    budget = args.retry_budget
    if budget is None:
        # A check in a terminal or pipeline should answer soon; exec starts an application,
        # which waits through throttling like the application itself would.
        budget = 30.0 if args.command_name == "exec" else 5.0
    if budget < 0:
        raise InputError(f"--retry-budget must be >= 0 seconds, got {budget}")
    return awsrefs.Resolver(
        session=_session(args.profile),
        region_name=args.region,
        endpoint_url=args.endpoint_url,
        retry_budget=budget,
    )


def _keyed(settings: Sequence[Setting]) -> dict[str, str]:
    # Keys without dots, so the resolver's paths map straight back to settings.
    return {str(i): s.text for i, s in enumerate(settings)}


# -- check --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    setting: str
    reference: str
    status: str
    ok: bool
    kind: str | None
    reason: str


def _reason(failure: awsrefs.Failure) -> str:
    if failure.kind is awsrefs.FailureKind.CONFIGURATION and "region" in failure.reason:
        return failure.reason + " (here: --region)"
    return failure.reason


def _check_rows(resolver: awsrefs.Resolver, settings: list[Setting]) -> list[_Row]:
    rows = []
    for checked in resolver.check(_keyed(settings)):
        setting = settings[int(checked.path)]
        failure = checked.failure
        rows.append(
            _Row(
                setting.path,
                checked.reference,
                checked.status,
                checked.ok,
                failure.kind.value if failure else None,
                _reason(failure) if failure else "",
            )
        )
    return rows


def _failure_rows(settings: list[Setting], failures: Sequence[awsrefs.Failure]) -> list[_Row]:
    rows = []
    for failure in failures:
        where = settings[int(failure.path)].path if failure.path.isdigit() else failure.path
        kind = failure.kind.value
        rows.append(_Row(where, failure.reference, kind, False, kind, _reason(failure)))
    return rows


def _print_rows(rows: Sequence[_Row], stream: TextIO) -> None:
    def colour(row: _Row) -> str:
        if not row.ok:
            return "red"
        return "green" if row.status == "OK" else "yellow"

    _table(
        ("SETTING", "REFERENCE", "STATUS", "REASON"),
        [(r.setting, r.reference, r.status, r.reason) for r in rows],
        stream,
        colours=[colour(r) for r in rows],
    )


def _cmd_check(args: argparse.Namespace) -> int:
    settings = _references(_gather(args))
    rows = _check_rows(_resolver(args), settings) if settings else []
    failed = sum(not r.ok for r in rows)
    if args.format == "json":
        document = {
            "ok": failed == 0,
            "summary": {"references": len(rows), "ok": len(rows) - failed, "failed": failed},
            "references": [
                {
                    "setting": r.setting,
                    "reference": r.reference,
                    "status": r.status,
                    "ok": r.ok,
                    "kind": r.kind,
                    "reason": r.reason,
                }
                for r in rows
            ],
        }
        print(json.dumps(document, indent=2))
    elif not rows:
        print("no references found")
    else:
        _print_rows(rows, sys.stdout)
        noun = "reference" if len(rows) == 1 else "references"
        print(f"\n{len(rows)} {noun}: {len(rows) - failed} OK, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


# -- resolve -------------------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    """A resolved value as environment text (JSON values as JSON, bytes as UTF-8)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                "a binary secret is not UTF-8 text, so it cannot be put in an environment"
            ) from None
    return json.dumps(value)


def _masked(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<hidden, {len(value)} bytes>"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"<hidden, {len(text)} chars>"


def _shell_quote(value: str) -> str:
    """Quote for POSIX shells and .env readers alike (single quotes unless the value has one)."""
    if "'" not in value:
        return f"'{value}'"
    escaped = re.sub(r'([\\"$`])', r"\\\1", value)
    return f'"{escaped}"'


def _references_of(text: str) -> str:
    try:
        item = awsrefs.parse(text)
    except awsrefs.RefSyntaxError as error:
        return error.text
    if isinstance(item, awsrefs.Template):
        return " ".join(str(ref) for ref in item.refs)
    return str(item)


def _resolve_settings(
    args: argparse.Namespace, settings: list[Setting], stream: TextIO
) -> dict[str, Any] | None:
    """The resolved values by setting index, or None after printing what failed."""
    try:
        values: dict[str, Any] = _resolver(args).resolve(_keyed(settings))
    except awsrefs.ResolutionError as error:
        _print_rows(_failure_rows(settings, error.failures), stream)
        return None
    return values


def _cmd_resolve(args: argparse.Namespace) -> int:
    settings = _references(_gather(args))
    values = _resolve_settings(args, settings, sys.stderr) if settings else {}
    if values is None:
        return EXIT_FAILED
    rows: list[tuple[Setting, Any]] = []
    for index, setting in enumerate(settings):
        if str(index) in values:
            rows.append((setting, values[str(index)]))
    shown = [(s, v if args.reveal else _masked(v)) for s, v in rows]
    if args.format == "json":
        out = []
        for setting, value in shown:
            entry: dict[str, Any] = {"setting": setting.path, "name": setting.name}
            if isinstance(value, bytes):
                import base64

                entry["value"] = base64.b64encode(value).decode("ascii")
                entry["encoding"] = "base64"
            else:
                entry["value"] = value
            out.append(entry)
        print(json.dumps(out, indent=2))
    elif args.format == "env":
        for setting, value in shown:
            print(f"{setting.name}={_shell_quote(_as_text(value))}")
    elif not shown:
        print("no references found")
    else:
        _table(
            ("SETTING", "REFERENCE", "VALUE"),
            [(s.path, _references_of(s.text), _as_text(v)) for s, v in shown],
            sys.stdout,
        )
    if not args.reveal and shown:
        print("values hidden; add --reveal to show them", file=sys.stderr)
    return EXIT_OK


# -- exec --------------------------------------------------------------------------------------


def _cmd_exec(args: argparse.Namespace) -> int:
    command: list[str] = args.command
    if not command:
        raise InputError("no command: awsrefs exec [--env-file F] -- COMMAND [ARG ...]")
    environment = dict(os.environ)
    settings = load_environ(os.environ)
    for name in args.env_file:
        try:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{name}: cannot read: {error}") from None
        for key, value in parse_env(text, name):
            if key not in environment:  # the real environment wins, as with docker compose
                environment[key] = value
                settings.append(Setting(f"{name}:{key}", key, value))
    references = _references(settings)
    if references:
        values = _resolve_settings(args, references, sys.stderr)
        if values is None:
            print(f"awsrefs exec: {command[0]} was not started", file=sys.stderr)
            return EXIT_FAILED
        for index, setting in enumerate(references):
            if str(index) in values:
                environment[setting.name] = _as_text(values[str(index)])
            else:  # an optional reference whose target does not exist: unset
                del environment[setting.name]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, environment)  # noqa: S606 - that is the point
    except FileNotFoundError:
        print(f"awsrefs exec: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"awsrefs exec: permission denied: {command[0]}", file=sys.stderr)
        return 126


# -- policy --------------------------------------------------------------------------------------


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _default_region(args: argparse.Namespace) -> str:
    if args.region:
        return str(args.region)
    import botocore.session

    session = _session(args.profile) or botocore.session.get_session()
    region = session.get_config_variable("region")
    return str(region) if region else "*"


def _policy(
    refs: Sequence[awsrefs.SSMRef | awsrefs.SecretRef],
    region: str,
    account: str,
    kms_keys: Sequence[str],
) -> dict[str, Any]:
    """The least-privilege policy document for reading ``refs``."""
    parameters: set[str] = set()
    secrets: set[str] = set()
    current: dict[str, set[str]] = {}
    for ref in refs:
        if isinstance(ref, awsrefs.SSMRef):
            if ref.name.startswith("arn:"):
                parameters.add(ref.name)
            else:
                name = ref.name.lstrip("/")
                parameters.add(f"arn:{_partition(region)}:ssm:{region}:{account}:parameter/{name}")
            continue
        if ref.secret_id.startswith("arn:"):
            arn = ref.secret_id
            if _SECRET_SUFFIX.search(arn):
                secrets.add(arn)  # a full ARN, unless the name itself ends like a suffix:
            secrets.add(arn + "-??????")
        else:
            prefix = f"arn:{_partition(region)}:secretsmanager:{region}:{account}:secret:"
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


def _cmd_policy(args: argparse.Namespace) -> int:
    settings = _references(_gather(args))
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
        _print_rows(_failure_rows(settings, failures), sys.stderr)
        return EXIT_FAILED
    if not refs:
        raise InputError("no references found, so there is nothing to allow")
    account = args.account or "*"
    if account != "*" and not re.fullmatch(r"\d{12}", account):
        raise InputError(f"--account takes a 12-digit account id, not {account!r}")
    document = _policy(refs, _default_region(args), account, args.kms_key)
    print(json.dumps(document, indent=2))
    if not args.kms_key:
        print(
            "note: SecureString parameters and secrets encrypted with a customer managed KMS "
            "key also need kms:Decrypt on that key; add it with --kms-key KEY_ARN",
            file=sys.stderr,
        )
    return EXIT_OK


# -- argument parsing ----------------------------------------------------------------------------


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
        epilog=_CHECK_EPILOG,
        formatter_class=formatter,
    )
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.set_defaults(run=_cmd_check)

    resolve = commands.add_parser(
        "resolve",
        parents=[inputs, aws],
        help="print the resolved values (hidden unless --reveal)",
        description="Print the settings that hold references with their values.",
        epilog=_RESOLVE_EPILOG,
        formatter_class=formatter,
    )
    resolve.add_argument("--format", choices=("table", "env", "json"), default="table")
    resolve.add_argument("--reveal", action="store_true", help="show the values themselves")
    resolve.set_defaults(run=_cmd_resolve)

    run = commands.add_parser(
        "exec",
        parents=[aws],
        usage="awsrefs exec [-h] [--env-file F] [AWS options] -- COMMAND [ARG ...]",
        help="run a program with the references in its environment resolved",
        description="Resolve the environment's references, then become COMMAND.",
        epilog=_EXEC_EPILOG,
        formatter_class=formatter,
    )
    run.add_argument(
        "--env-file", action="append", default=[], metavar="F", help="add these variables"
    )
    run.set_defaults(run=_cmd_exec, command=[])

    policy = commands.add_parser(
        "policy",
        parents=[inputs, aws],
        help="print the least-privilege IAM policy for the references",
        description="Print the IAM policy that allows reading exactly these references.",
        epilog=_POLICY_EPILOG,
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
    policy.set_defaults(run=_cmd_policy)
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
