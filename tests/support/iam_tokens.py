"""RDS IAM authentication tokens a test can predict: the stand-in for RDS's token check.

PostgreSQL cannot verify a SigV4 signature as RDS does. A test freezes botocore's signing
clock (tokens are signed to the second, with the fixed credentials of the moto fixture),
computes the token the same way the code under test will (botocore's
``generate_db_auth_token``), and sets it as the user's password with ``ALTER ROLE``: the
database then accepts exactly that token and refuses any other. Moving the frozen clock makes
the next token differ, so a renewal is visible to the database too.
"""

from __future__ import annotations

import contextlib
import datetime
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.canary import register_secret

__all__ = ["FIRST_SIGNING", "SigningClock", "expected_token", "frozen_signing"]

FIRST_SIGNING = datetime.datetime(2026, 1, 1, 12, 0, 0)  # naive UTC, as botocore uses it


class SigningClock:
    """What botocore reads as "now" when signing; the test moves it."""

    def __init__(self, at: datetime.datetime) -> None:
        self.at = at

    def advance(self, seconds: float) -> None:
        self.at += datetime.timedelta(seconds=seconds)

    def __call__(self, remove_tzinfo: bool = True) -> datetime.datetime:
        return self.at if remove_tzinfo else self.at.replace(tzinfo=datetime.timezone.utc)


@contextlib.contextmanager
def frozen_signing(at: datetime.datetime = FIRST_SIGNING) -> Iterator[SigningClock]:
    """Freeze botocore's SigV4 signing time in this process for the block."""
    import botocore.auth

    clock = SigningClock(at)
    with pytest.MonkeyPatch.context() as patch:
        if hasattr(botocore.auth, "get_current_datetime"):
            patch.setattr(botocore.auth, "get_current_datetime", clock)
        else:  # botocore before 1.35 reads datetime.datetime.utcnow() in botocore.auth
            patch.setattr(botocore.auth, "datetime", _datetime_module_at(clock))
        yield clock


def _datetime_module_at(clock: SigningClock) -> types.ModuleType:
    """A copy of the datetime module whose ``datetime.utcnow()``/``now()`` read ``clock``."""

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls) -> datetime.datetime:
            return clock()

        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
            return clock() if tz is None else clock(remove_tzinfo=False).astimezone(tz)

    module = types.ModuleType("datetime")
    module.__dict__.update(vars(datetime))
    module.datetime = FrozenDatetime  # type: ignore[attr-defined]
    return module


def expected_token(host: str, port: int, user: str, region: str) -> str:
    """The token botocore signs now for ``user`` at ``host:port``; registered as a canary."""
    import botocore.session

    client: Any = botocore.session.get_session().create_client("rds", region_name=region)
    token: str = client.generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region
    )
    register_secret(token)
    return token
