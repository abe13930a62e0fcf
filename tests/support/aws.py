"""A moto server reached over real HTTP, and a seeder for SSM parameters and secrets.

``moto_server`` (session) starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 with a free
port, points the AWS environment at fake credentials so nothing can reach real AWS, and
corrects moto emulator gaps where real AWS behaves differently (see :func:`moto_corrections`).
``aws`` (per test) resets moto's state and hands out an :class:`AwsSeeder`::

    def test_reads_password(aws):
        aws.put_parameter("/app/db-host", "db.internal")
        arn = aws.put_secret("app/db", {"username": "app", "password": "pw-7Hq2-current"})
        sm = aws.client("secretsmanager")
        assert json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["username"] == "app"

Every seeded secret and SecureString value is registered with :mod:`tests.support.canary`,
so a test whose output or failure text shows one of them fails.

While the server runs, ``AWS_ENDPOINT_URL`` points at it, so even a client built without
``endpoint_url`` lands on moto. moto's state is process-wide: ``mock_aws`` in the same
session sees (and its exit resets) the same backends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import pytest

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
BATCH_GET_SECRET_VALUE_MAX_IDS = 20  # AWS's limit for SecretIdList

# Hang guards, not expectations: a busy machine may take long, a test must not fail for it.
_START_TIMEOUT = 120.0
_HTTP_TIMEOUT = 120.0
# JSON keys whose values the seeder registers as secrets; other keys (host, username, port)
# appear in ordinary output and would raise false alarms.
_SENSITIVE_KEY_PARTS = ("password", "passwd", "secret", "token", "key", "credential", "private")


@dataclasses.dataclass(frozen=True)
class MotoServer:
    """Where the session's moto server listens."""

    endpoint_url: str
    region: str


# --- corrections of moto's emulation -------------------------------------------------------

_PARAMETER_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):ssm:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):parameter/(?P<rest>.+)",
    re.DOTALL,
)


class _SelectedParameter:
    """A parameter read as ``name:version`` or ``name:label``; real SSM reports the selector."""

    def __init__(self, parameter: Any, selector: str) -> None:
        self._parameter = parameter
        self._selector = selector

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._parameter, attr)

    def response_object(self, decrypt: bool = False, region: str | None = None) -> dict[str, Any]:
        response: dict[str, Any] = self._parameter.response_object(decrypt, region)
        response["Selector"] = self._selector
        return response


def _with_selector(parameter: Any, name: str) -> Any:
    if parameter is None or ":" not in name:
        return parameter
    return _SelectedParameter(parameter, ":" + name.split(":", 1)[1])


def _correct_get_parameter(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_parameter(self: Any, name: str) -> Any:
        from moto.ssm.models import ssm_backends

        match = _PARAMETER_ARN.fullmatch(name)
        if match is None:
            return _with_selector(original(self, name), name)
        # SSM is regional: an ARN of another region or partition names nothing here.
        if match["region"] != self.region_name or match["partition"] != self.partition:
            return None
        # Another account's ARN reads that account's parameter, as if shared through RAM.
        owner = (
            self
            if match["account"] == self.account_id
            else ssm_backends[match["account"]][self.region_name]
        )
        rest = match["rest"]
        # "parameter/abc" names "abc"; "parameter/a/b" names "/a/b".
        plain = "/" + rest if "/" in rest.split(":", 1)[0] else rest
        return _with_selector(original(owner, plain), plain)

    return get_parameter


def _correct_get_parameters(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_parameters(self: Any, names: list[str]) -> dict[str, Any]:
        from moto.ssm.exceptions import ParameterVersionNotFound

        if len(names) > 10:
            return original(self, names)  # raises AWS's ValidationException
        # moto's own loop looks ARNs up in its own account only; this one goes through the
        # corrected get_parameter. Keys stay as requested, so InvalidParameters echoes them.
        found: dict[str, Any] = {}
        for name in dict.fromkeys(names):
            try:
                parameter = self.get_parameter(name)
            except ParameterVersionNotFound:
                continue
            if parameter is not None:
                found[name] = parameter
        return found

    return get_parameters


def _correct_update_secret_version_stage(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update_secret_version_stage(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        from moto.secretsmanager.models import FakeSecret

        result: tuple[str, str] = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        # moto moves the label but not its default version, which GetSecretValue without a
        # stage and BatchGetSecretValue read; AWS serves whatever AWSCURRENT labels.
        if version_stage == "AWSCURRENT" and move_to_version_id:
            secret = self.secrets[secret_id]
            if isinstance(secret, FakeSecret):
                secret.set_default_version_id(move_to_version_id)
        return result

    return update_secret_version_stage


def _correct_batch_get_secret_value(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def batch_get_secret_value(
        self: Any,
        secret_id_list: list[str] | None = None,
        filters: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Any:
        from moto.secretsmanager.exceptions import ValidationException

        if secret_id_list and len(secret_id_list) > BATCH_GET_SECRET_VALUE_MAX_IDS:
            raise ValidationException(
                "1 validation error detected: Value at 'secretIdList' failed to satisfy "
                "constraint: Member must have length less than or equal to "
                f"{BATCH_GET_SECRET_VALUE_MAX_IDS}"
            )
        return original(self, secret_id_list, filters, max_results, next_token)

    return batch_get_secret_value


@contextlib.contextmanager
def moto_corrections() -> Iterator[None]:
    """Make moto's in-process backends behave like AWS where our code depends on it.

    Patched on the backend classes, so it applies to ``ThreadedMotoServer`` and ``mock_aws``
    alike while active; each corrected method keeps moto's as ``__wrapped__``.

    - Secrets Manager ``update_secret_version_stage`` moving AWSCURRENT also moves the
      secret's default version, so GetSecretValue without a stage and BatchGetSecretValue
      return the new value, as AWS does.
    - ``BatchGetSecretValue`` with more than 20 ``SecretIdList`` entries fails with
      ``ValidationException``, as AWS does.
    - SSM ``GetParameter``/``GetParameters`` accept parameter ARNs of any account in the
      request's region (another account's parameter is served as if shared through RAM; no
      share is checked), and an ARN of another region names nothing. The response ``Name``
      is the plain name and ``ARN`` the owner's ARN, as AWS returns them.
    - Parameters read as ``name:version`` or ``name:label`` carry ``Selector`` (``":3"``,
      ``":prod"``), as AWS returns them.
    """
    from moto.secretsmanager.models import SecretsManagerBackend
    from moto.ssm.models import SimpleSystemManagerBackend

    sm, ssm = SecretsManagerBackend, SimpleSystemManagerBackend
    corrections: list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
        (sm, "update_secret_version_stage", _correct_update_secret_version_stage),
        (sm, "batch_get_secret_value", _correct_batch_get_secret_value),
        (ssm, "get_parameter", _correct_get_parameter),
        (ssm, "get_parameters", _correct_get_parameters),
    ]
    with pytest.MonkeyPatch.context() as patch:
        for cls, name, correct in corrections:
            current = getattr(cls, name)
            if getattr(current, "_awsrefs_corrected", False):
                continue  # already active (nested use)
            corrected = correct(current)
            corrected._awsrefs_corrected = True  # type: ignore[attr-defined]
            patch.setattr(cls, name, corrected)
        yield


# --- the server ------------------------------------------------------------------------------


def _missing(what: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: a missing server is a failure)", pytrace=False)
    pytest.skip(f"{what}; install it with: uv sync (dev dependency moto[server])")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1 for the whole session, with fake AWS credentials."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        _missing(f"moto's server is not importable ({error})")

    empty = tmp_path_factory.mktemp("aws-config") / "none"
    with pytest.MonkeyPatch.context() as env, moto_corrections():
        # Fake credentials and no config files: nothing reaches a real account.
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", DEFAULT_REGION)
        env.setenv("AWS_CONFIG_FILE", str(empty))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_REGION",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_ENDPOINT_URL_SSM",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "MOTO_ACCOUNT_ID",  # would override the account moto derives per request
        ):
            env.delenv(name, raising=False)
        # werkzeug logs every request at INFO (noise in captured logs), and adds a stderr
        # handler of its own unless the logger already has one.
        werkzeug_log = logging.getLogger("werkzeug")
        saved_level, quiet = werkzeug_log.level, logging.NullHandler()
        werkzeug_log.setLevel(logging.WARNING)
        werkzeug_log.addHandler(quiet)

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        try:
            # start() waits without a timeout for the bind; bound it.
            starter = threading.Thread(target=server.start, daemon=True)
            starter.start()
            starter.join(_START_TIMEOUT)
            if starter.is_alive():
                pytest.fail(f"moto server did not start in {_START_TIMEOUT:.0f} s", pytrace=False)
            try:
                host, port = server.get_host_and_port()
                endpoint_url = f"http://{host}:{port}"
                # A client built without endpoint_url lands here too, never on real AWS.
                env.setenv("AWS_ENDPOINT_URL", endpoint_url)
                yield MotoServer(endpoint_url=endpoint_url, region=DEFAULT_REGION)
            finally:
                server.stop()
        finally:
            werkzeug_log.removeHandler(quiet)
            werkzeug_log.setLevel(saved_level)


def reset_moto(endpoint_url: str) -> None:
    """Drop every resource the moto server holds."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
        response.read()


# --- seeding -------------------------------------------------------------------------------

_clients: dict[tuple[str, str, str, str], BaseClient] = {}
_clients_lock = threading.Lock()


def _client(endpoint_url: str, service: str, region: str, account_id: str) -> Any:
    # Clients live for the session: building one costs ~60 ms, and moto's reset leaves
    # them valid. botocore clients are thread-safe.
    import boto3
    from botocore.config import Config

    key = (endpoint_url, service, region, account_id)
    with _clients_lock:
        if key not in _clients:
            client = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(
                    connect_timeout=5, read_timeout=_HTTP_TIMEOUT, retries={"max_attempts": 1}
                ),
            )
            if account_id != DEFAULT_ACCOUNT_ID:

                def as_account(request: Any, **_: Any) -> None:
                    request.headers["x-moto-account-id"] = account_id

                client.meta.events.register("before-sign", as_account)
            _clients[key] = client
        return _clients[key]


def register_secret(value: str | bytes) -> None:
    """Register ``value`` with the canary check (imported late: the plugin loads it itself)."""
    from tests.support import canary

    canary.register_secret(value)


def _register_secret_value(value: str | bytes | Mapping[str, Any]) -> None:
    if isinstance(value, Mapping):
        register_secret(json.dumps(value))
        for key, item in value.items():
            if isinstance(item, str) and any(p in str(key).lower() for p in _SENSITIVE_KEY_PARTS):
                register_secret(item)
    else:
        register_secret(value)


def _secret_payload(value: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"SecretBinary": value}
    if isinstance(value, Mapping):
        return {"SecretString": json.dumps(value)}
    return {"SecretString": value}


class AwsSeeder:
    """Creates SSM parameters and Secrets Manager secrets on the moto server for one test.

    Attributes:
        endpoint_url: The moto server's URL, for ``endpoint_url=`` of code under test.
        region: The default region (``us-east-1``).
        account_id: moto's default account (``123456789012``).
    """

    def __init__(self, endpoint_url: str, region: str = DEFAULT_REGION) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID

    def __repr__(self) -> str:
        return f"AwsSeeder(endpoint_url={self.endpoint_url!r}, region={self.region!r})"

    def client(
        self, service: str, region: str | None = None, *, account_id: str | None = None
    ) -> Any:
        """Return a boto3 client for ``service`` talking to the moto server.

        Args:
            service: ``"ssm"``, ``"secretsmanager"``, ...
            region: Defaults to :attr:`region`.
            account_id: Act as this account (moto's ``x-moto-account-id`` header), e.g. to
                seed a parameter "shared from another account".
        """
        region = region or self.region
        account_id = account_id or self.account_id
        return _client(self.endpoint_url, service, region, account_id)

    # SSM

    def put_parameter(
        self,
        name: str,
        value: str,
        *,
        type: Literal["String", "SecureString", "StringList"] = "String",
        region: str | None = None,
        labels: Iterable[str] | None = None,
        account_id: str | None = None,
    ) -> int:
        """Create or overwrite an SSM parameter; SecureString values become canary secrets.

        Args:
            name: ``/a/b`` or ``abc``.
            value: The value.
            type: SSM parameter type.
            region: Defaults to :attr:`region`.
            labels: Labels to attach to the new version.
            account_id: Owner account (default moto's), for "shared" parameters.

        Returns:
            The new version number.
        """
        if type == "SecureString":
            register_secret(value)
        ssm = self.client("ssm", region, account_id=account_id)
        version: int = ssm.put_parameter(Name=name, Value=value, Type=type, Overwrite=True)[
            "Version"
        ]
        if labels:
            ssm.label_parameter_version(Name=name, ParameterVersion=version, Labels=list(labels))
        return version

    def parameter_arn(
        self, name: str, region: str | None = None, *, account_id: str | None = None
    ) -> str:
        """Return the ARN of parameter ``name`` (``.../parameter/a/b`` for ``/a/b``)."""
        region = region or self.region
        account_id = account_id or self.account_id
        return f"arn:aws:ssm:{region}:{account_id}:parameter/{name.lstrip('/')}"

    # Secrets Manager

    def put_secret(
        self,
        name: str,
        value: str | bytes | Mapping[str, Any],
        *,
        region: str | None = None,
    ) -> str:
        """Create a secret (or, if it exists, put a new AWSCURRENT version).

        The value becomes a canary secret; for a mapping, so do the JSON text and the values
        of keys that look sensitive (``password``, ``secret``, ``token``, ``key``...), while
        ``host``, ``username``, ``port`` and the like stay unregistered.

        Args:
            name: Secret name.
            value: ``str`` -> SecretString, mapping -> JSON SecretString, ``bytes`` ->
                SecretBinary.
            region: Defaults to :attr:`region`.

        Returns:
            The secret's ARN.
        """
        _register_secret_value(value)
        sm = self.client("secretsmanager", region)
        try:
            arn: str = sm.create_secret(Name=name, **_secret_payload(value))["ARN"]
        except sm.exceptions.ResourceExistsException:
            arn = sm.put_secret_value(SecretId=name, **_secret_payload(value))["ARN"]
        return arn

    def put_secret_value(
        self,
        name: str,
        value: str | bytes | Mapping[str, Any],
        *,
        stages: Iterable[str] | None = None,
        region: str | None = None,
    ) -> str:
        """Add a version to an existing secret, as rotation's createSecret step does.

        Args:
            name: Secret name or ARN.
            value: As for :meth:`put_secret`.
            stages: Labels for the new version, e.g. ``["AWSPENDING"]``; default AWSCURRENT.
            region: Defaults to :attr:`region`.

        Returns:
            The new version id.
        """
        _register_secret_value(value)
        extra: dict[str, Any] = {} if stages is None else {"VersionStages": list(stages)}
        response = self.client("secretsmanager", region).put_secret_value(
            SecretId=name, **_secret_payload(value), **extra
        )
        version_id: str = response["VersionId"]
        return version_id

    def versions(self, name: str, *, region: str | None = None) -> dict[str, list[str]]:
        """Return ``{version_id: [stages]}`` for the secret's labelled versions."""
        described = self.client("secretsmanager", region).describe_secret(SecretId=name)
        return {k: list(v) for k, v in described.get("VersionIdsToStages", {}).items()}

    def move_stage(
        self,
        name: str,
        stage: str,
        *,
        to_version: str,
        from_version: str | None = None,
        region: str | None = None,
    ) -> None:
        """Move a staging label, as rotation's finishSecret step does for AWSCURRENT.

        Args:
            name: Secret name or ARN.
            stage: ``AWSCURRENT``, ``AWSPENDING``, or a custom label.
            to_version: Version id that gets the label.
            from_version: Version id that loses it; by default whichever version holds it
                now (AWS insists on it being named).
            region: Defaults to :attr:`region`.
        """
        if from_version is None:
            holders = [v for v, s in self.versions(name, region=region).items() if stage in s]
            from_version = next((v for v in holders if v != to_version), None)
        extra = {} if from_version is None else {"RemoveFromVersionId": from_version}
        self.client("secretsmanager", region).update_secret_version_stage(
            SecretId=name, VersionStage=stage, MoveToVersionId=to_version, **extra
        )

    def secret_arn(self, name: str, *, region: str | None = None) -> str:
        """Return the full ARN (with its random suffix) of secret ``name``."""
        arn: str = self.client("secretsmanager", region).describe_secret(SecretId=name)["ARN"]
        return arn


@pytest.fixture
def aws(moto_server: MotoServer) -> AwsSeeder:
    """A seeder bound to the session's moto server, whose state is reset for this test."""
    reset_moto(moto_server.endpoint_url)
    return AwsSeeder(moto_server.endpoint_url, moto_server.region)


__all__ = [
    "BATCH_GET_SECRET_VALUE_MAX_IDS",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "AwsSeeder",
    "MotoServer",
    "aws",
    "moto_corrections",
    "moto_server",
    "reset_moto",
]
