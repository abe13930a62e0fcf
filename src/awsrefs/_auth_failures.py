"""Is this database error a rejection of the credentials? Classified per driver, no imports.

Errors are classified by what they carry (``sqlstate``, ``pgcode``, ``args[0]``, class and
module names), never by importing a driver: PostgreSQL SQLSTATE 28P01/28000 and its
connect-time message (psycopg, psycopg2, asyncpg, pg8000), MySQL/MariaDB error 1045
(PyMySQL, mysqlclient, aiomysql, asyncmy, MySQL Connector, MariaDB Connector), and Redis's
WRONGPASS / NOAUTH replies (redis-py, valkey-py).
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["AUTH_SQLSTATES", "MYSQL_ACCESS_DENIED", "chain", "is_auth_failure"]

AUTH_SQLSTATES = frozenset({"28P01", "28000"})
"""SQLSTATEs of rejected credentials: invalid_password, invalid_authorization_specification."""

MYSQL_ACCESS_DENIED = 1045
"""MySQL/MariaDB ER_ACCESS_DENIED_ERROR."""

# psycopg and psycopg2 often leave the SQLSTATE unset for connect-time failures; the server's
# message is all there is (English unless the server sets lc_messages otherwise).
_PG_AUTH_MESSAGES = ("password authentication failed",)
_PG_MODULES = frozenset({"psycopg", "psycopg2", "asyncpg", "pg8000"})
_MYSQL_MODULES = frozenset({"pymysql", "MySQLdb", "aiomysql", "asyncmy", "mysql", "mariadb"})
_AUTH_CLASS_NAMES = frozenset({"InvalidPasswordError", "InvalidAuthorizationSpecificationError"})
# redis-py (and its fork valkey-py) map WRONGPASS, NOAUTH and "invalid password" replies to
# AuthenticationError, with the error code cut off; a ResponseError keeps the code in front.
_REDIS_MODULES = frozenset({"redis", "valkey"})
_REDIS_AUTH_CODES = ("WRONGPASS", "NOAUTH")
_CHAIN_LIMIT = 32


def is_auth_failure(exc: BaseException) -> bool:
    """Tell whether a driver error means "wrong user name or password".

    Looks at ``exc`` and what it wraps (SQLAlchemy's ``.orig``, ``__cause__``,
    ``__context__``). Recognised: SQLSTATE 28P01/28000 in ``sqlstate`` (psycopg 3, asyncpg,
    PyMySQL) or ``pgcode`` (psycopg2); asyncpg's ``InvalidPasswordError`` and
    ``InvalidAuthorizationSpecificationError``; PostgreSQL's connect-time message
    "password authentication failed" from psycopg and psycopg2, which often carry no
    SQLSTATE there; MySQL/MariaDB error 1045 from PyMySQL, mysqlclient, aiomysql, asyncmy
    and MySQL Connector; redis-py's ``AuthenticationError`` (WRONGPASS, NOAUTH) and a
    ``ResponseError`` that starts with those codes. Network errors (``OSError``: refused,
    reset, timed out) and everything else are not authentication failures.

    Args:
        exc: The exception a connection attempt raised.

    Returns:
        True for rejected credentials.
    """
    return any(_is_auth_one(error) for error in chain(exc))


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack and len(seen) < _CHAIN_LIMIT:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        for attr in ("__context__", "__cause__", "orig"):
            inner = getattr(error, attr, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def _is_auth_one(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return False
    for attr in ("sqlstate", "pgcode"):
        code = getattr(error, attr, None)
        if isinstance(code, str) and code in AUTH_SQLSTATES:
            return True
    module = type(error).__module__.partition(".")[0]
    if module in _PG_MODULES:
        if type(error).__name__ in _AUTH_CLASS_NAMES:
            return True
        text = str(error.args[0]) if error.args else ""
        return any(message in text for message in _PG_AUTH_MESSAGES)
    if module in _MYSQL_MODULES:
        code = getattr(error, "errno", None)
        if not isinstance(code, int) and error.args:
            code = error.args[0]
        return code == MYSQL_ACCESS_DENIED
    if module in _REDIS_MODULES:
        if type(error).__name__ == "AuthenticationError":
            return True
        text = str(error.args[0]) if error.args else ""
        return type(error).__name__ == "ResponseError" and text.startswith(_REDIS_AUTH_CODES)
    return False
