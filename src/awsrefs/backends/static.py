"""A backend serving fixed values: for tests, with no AWS and no network."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from awsrefs._fetch import Stats
from awsrefs._grammar import SecretRef, SSMRef, parse
from awsrefs.backends import Fetched, Miss, Outcome
from awsrefs.errors import FailureKind

__all__ = ["StaticBackend"]


class StaticBackend:
    """Serves values from a mapping of reference text to value.

    Keys are references without ``optional:``; parameters map to text, secrets to text,
    bytes, or a dict (stored as its JSON). A stage or version id in the key pins that
    version: ``{"secretsmanager:db": {...}, "secretsmanager:db::AWSPENDING": {...}}``.
    Anything not in the mapping is "not found", exactly as a missing AWS resource.
    """

    parameter_batch_size = 10
    secret_batch_size = 20

    def __init__(
        self, values: Mapping[str, Any] | None = None, *, region: str = "us-east-1"
    ) -> None:
        self._region = region
        self._lock = threading.Lock()
        self._parameters: dict[str, str] = {}
        self._secrets: dict[tuple[str, str | None, str | None], str | bytes] = {}
        self.stats = Stats()
        for reference, value in (values or {}).items():
            self.set(reference, value)

    def set(self, reference: str, value: Any) -> None:
        """Add or replace the value served for ``reference``."""
        ref = parse(reference)
        if isinstance(ref, SSMRef):
            with self._lock:
                self._parameters[ref.api_name] = str(value)
        elif isinstance(ref, SecretRef) and ref.key is None:
            stored = value if isinstance(value, (str, bytes)) else json.dumps(value)
            stage = None if ref.stage == "AWSCURRENT" else ref.stage
            with self._lock:
                self._secrets[(ref.secret_id, stage, ref.version_id)] = stored
        else:
            raise ValueError(
                f"{reference!r}: give a parameter or a whole secret (a dict for JSON secrets), "
                "not a template or a single key"
            )

    def remove(self, reference: str) -> None:
        """Stop serving ``reference`` (it becomes "not found")."""
        ref = parse(reference)
        with self._lock:
            if isinstance(ref, SSMRef):
                self._parameters.pop(ref.api_name, None)
            elif isinstance(ref, SecretRef):
                stage = None if ref.stage == "AWSCURRENT" else ref.stage
                self._secrets.pop((ref.secret_id, stage, ref.version_id), None)

    def default_region(self) -> str | None:
        """The region this backend pretends to be in."""
        return self._region

    def can_batch_secrets(self, region: str | None) -> bool:
        """Always True: there is nothing to deny."""
        return True

    def after_fork(self) -> None:
        """Re-create the lock in a child process."""
        self._lock = threading.Lock()

    def get_parameters(self, region: str | None, names: Sequence[str]) -> dict[str, Outcome]:
        """Serve parameters from the mapping."""
        self.stats.add_call("ssm:GetParameters")
        with self._lock:
            return {n: self._found(self._parameters.get(n), f"no parameter {n!r}") for n in names}

    def get_current_secrets(
        self, region: str | None, secret_ids: Sequence[str]
    ) -> dict[str, Outcome]:
        """Serve current secret versions from the mapping."""
        self.stats.add_call("secretsmanager:BatchGetSecretValue")
        with self._lock:
            return {
                s: self._found(self._secrets.get((s, None, None)), f"no secret {s!r}")
                for s in secret_ids
            }

    def get_secret(
        self, region: str | None, secret_id: str, stage: str | None, version_id: str | None
    ) -> Outcome:
        """Serve one pinned or current secret version from the mapping."""
        self.stats.add_call("secretsmanager:GetSecretValue")
        stage = None if stage == "AWSCURRENT" else stage
        with self._lock:
            value = self._secrets.get((secret_id, stage, version_id))
        return self._found(value, f"no secret {secret_id!r} at that stage or version")

    def get_parameters_by_path(
        self, region: str | None, path: str, *, recursive: bool = True
    ) -> dict[str, Fetched] | Miss:
        """Serve every parameter whose name is under ``path`` (one level unless recursive)."""
        self.stats.add_call("ssm:GetParametersByPath")
        prefix = path.rstrip("/") + "/"
        with self._lock:
            return {
                name: Fetched(value, "static")
                for name, value in self._parameters.items()
                if name.startswith(prefix) and (recursive or "/" not in name[len(prefix) :])
            }

    @staticmethod
    def _found(value: str | bytes | None, missing: str) -> Outcome:
        if value is None:
            return Miss(FailureKind.NOT_FOUND, missing)
        return Fetched(value, "static")
