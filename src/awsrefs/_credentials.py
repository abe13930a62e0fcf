"""Database credentials read from a Secrets Manager secret, as the RDS templates store them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from awsrefs.errors import RefError

__all__ = ["Credentials", "CredentialsError"]


class CredentialsError(RefError, ValueError):
    """A secret that does not hold database credentials (not JSON, no username or password)."""


class _Extra(Mapping[str, Any]):
    """The secret's other keys: read-only, its values kept out of ``repr``.

    Unlike a ``MappingProxyType`` it can be pickled and deep-copied, so the credentials
    can too (``copy.deepcopy``, ``dataclasses.asdict``, a worker process).
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: <hidden>" for key in self._data) + "}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Extra, (self._data,))


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Database credentials read from one version of a Secrets Manager secret.

    The keys are those of the RDS rotation templates: ``username``, ``password``, ``host``,
    ``port``, ``dbname``, ``engine``; other keys are kept in ``extra``. The repr never shows
    the password or the values of ``extra``, also after ``copy.deepcopy`` or a pickle round
    trip. ``dataclasses.asdict`` gives every field, the password included, as a plain dict:
    it is an export of the values, like reading ``.password``.

    Attributes:
        username: Login name.
        password: Password.
        host: Server host, or None when the secret has none (RDS-managed master secrets).
        port: Server port, or None.
        dbname: Database name, or None.
        engine: ``postgres``, ``mysql``, ``mariadb``... as the secret says, or None.
        version_id: Secrets Manager version id these came from.
        stage: ``AWSCURRENT`` or ``AWSPENDING`` (``IAM``: the password is an IAM token, see
            :mod:`awsrefs.iam_auth`).
        extra: Other top-level keys of the secret (read-only; its repr hides the values).
        fetched_at: ``time.monotonic()`` when the secret version was fetched.
    """

    username: str
    password: str = dataclasses.field(repr=False)
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    engine: str | None = None
    version_id: str | None = None
    stage: str = "AWSCURRENT"
    extra: Mapping[str, Any] = dataclasses.field(default_factory=_Extra, repr=False, compare=False)
    fetched_at: float = dataclasses.field(default=0.0, compare=False)

    def __repr__(self) -> str:
        return (
            f"Credentials(username={self.username!r}, password=<hidden>, host={self.host!r}, "
            f"port={self.port!r}, dbname={self.dbname!r}, engine={self.engine!r}, "
            f"version_id={self.version_id!r}, stage={self.stage!r}, "
            f"extra_keys={sorted(self.extra)!r})"
        )

    @property
    def login(self) -> tuple[str, str, str | None, int | None, str | None]:
        """What a connection attempt depends on; equal logins succeed or fail together."""
        return (self.username, self.password, self.host, self.port, self.dbname)

    @classmethod
    def from_secret(
        cls,
        value: Any,
        *,
        secret: str = "the secret",  # noqa: S107 - a name for messages
        version_id: str | None = None,
        stage: str = "AWSCURRENT",
        fetched_at: float = 0.0,
    ) -> Credentials:
        """Build credentials from a secret's value.

        Args:
            value: The SecretString (JSON text) or an already decoded mapping.
            secret: The secret's name, for error messages.
            version_id: Its version id.
            stage: The staging label it was read by.
            fetched_at: When it was fetched (``time.monotonic()``).

        Raises:
            CredentialsError: Not a JSON object, no ``username``/``password`` text, or a
                ``port`` that is not a number. The message never contains values.
        """
        where = f"secret {secret!r} ({stage}, version {version_id})"
        data = value
        if isinstance(value, (str, bytes)):
            try:
                data = json.loads(value)
            except ValueError:
                data = None
        if not isinstance(data, Mapping):
            raise CredentialsError(
                f"{where} is not a JSON object; database credentials need at least "
                "'username' and 'password' keys (as the RDS rotation templates store them)"
            )
        missing = [k for k in ("username", "password") if not isinstance(data.get(k), str)]
        if missing:
            raise CredentialsError(
                f"{where} has no text value for {', '.join(map(repr, missing))} "
                f"(it has {_count_keys(len(data))}; key names are not shown, as they can be "
                "secrets themselves)"
            )
        port = data.get("port")
        if port is not None:
            if isinstance(port, str) and port.strip().isdigit():
                port = int(port)
            elif not isinstance(port, int) or isinstance(port, bool):
                raise CredentialsError(f"{where} has a 'port' that is not a number")
        known = ("username", "password", "host", "port", "dbname", "engine")
        host, dbname, engine = data.get("host"), data.get("dbname"), data.get("engine")
        return cls(
            username=data["username"],
            password=data["password"],
            host=str(host) if host not in (None, "") else None,
            port=port,
            dbname=str(dbname) if dbname not in (None, "") else None,
            engine=str(engine) if engine not in (None, "") else None,
            version_id=version_id,
            stage=stage,
            extra=_Extra({k: v for k, v in data.items() if k not in known}),
            fetched_at=fetched_at,
        )


def _count_keys(count: int) -> str:
    return "no keys" if count == 0 else f"{count} key" + ("" if count == 1 else "s")
