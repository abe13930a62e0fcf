"""The throwaway database servers check passwords, rotate them like AWS does, and stay local."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from pathlib import Path

import pytest

from tests.support import databases
from tests.support.databases import DatabaseServer, unique_name


@pytest.fixture(
    params=[
        pytest.param("postgres_server", marks=pytest.mark.postgres, id="postgres"),
        pytest.param("mariadb_server", marks=pytest.mark.mariadb, id="mariadb"),
    ]
)
def server(request: pytest.FixtureRequest) -> DatabaseServer:
    return request.getfixturevalue(request.param)


def scalar(conn, query: str):
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchone()[0]


def login_error(server: DatabaseServer, user: str, password: str, database: str | None):
    """The driver's exception from a login attempt, or None when the login worked."""
    try:
        server.connect(user, password, database=database).close()
    except Exception as exc:
        return exc
    return None


def asyncpg_login_error(server: DatabaseServer, user: str, password: str, database: str | None):
    import asyncpg

    async def attempt() -> None:
        conn = await asyncpg.connect(
            host=server.host,
            port=server.port,
            user=user,
            password=password,
            database=database or server.database,
            timeout=60,
        )
        await conn.close()

    try:
        asyncio.run(attempt())
    except Exception as exc:
        return exc
    return None


def assert_login_rejected(
    server: DatabaseServer, user: str, password: str, database: str | None = None
) -> None:
    """The login fails with the server's real auth error, and no error text shows the password."""
    error = login_error(server, user, password, database)
    assert error is not None, "the login worked"
    assert password not in str(error)
    if server.kind == "postgresql":
        import asyncpg
        import psycopg

        # libpq keeps the SQLSTATE of a failed connect to itself: psycopg only has the message.
        assert isinstance(error, psycopg.OperationalError)
        assert "password authentication failed" in str(error)
        # asyncpg reads the server's ErrorResponse off the wire, SQLSTATE included.
        wire_error = asyncpg_login_error(server, user, password, database)
        assert isinstance(wire_error, asyncpg.PostgresError)
        assert wire_error.sqlstate == "28P01"
        assert password not in str(wire_error)
    else:
        import pymysql

        assert isinstance(error, pymysql.err.OperationalError)
        assert error.args[0] == 1045


def assert_login_works(
    server: DatabaseServer, user: str, password: str, database: str | None = None
) -> None:
    with contextlib.closing(server.connect(user, password, database=database)) as conn:
        assert whoami(server, conn) == user


def whoami(server: DatabaseServer, conn) -> str:
    if server.kind == "postgresql":
        return scalar(conn, "SELECT current_user")
    # CURRENT_USER() is the matched account, 'name@%'.
    return scalar(conn, "SELECT CURRENT_USER()").rsplit("@", 1)[0]


def test_admin_connects_to_the_test_database(server: DatabaseServer) -> None:
    with contextlib.closing(server.admin_connect()) as conn:
        current = (
            "SELECT current_database()" if server.kind == "postgresql" else "SELECT DATABASE()"
        )
        assert scalar(conn, current) == server.database
        assert whoami(server, conn) == server.admin_user


def test_repr_hides_the_admin_password(server: DatabaseServer) -> None:
    assert server.admin_password not in repr(server)
    assert server.host == "127.0.0.1"


def test_right_password_connects_with_full_rights(server: DatabaseServer) -> None:
    name, password = unique_name("app"), "right-" + os.urandom(8).hex()
    server.create_user(name, password)
    with contextlib.closing(server.connect(name, password)) as conn:
        assert whoami(server, conn) == name
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, v TEXT)")
            cur.execute(f"INSERT INTO {name} (id, v) VALUES (1, 'x')")
            cur.execute(f"SELECT v FROM {name}")
            assert cur.fetchone()[0] == "x"
        conn.commit()


def test_passwords_are_stored_hashed_with_the_expected_method(server: DatabaseServer) -> None:
    name, password = unique_name("app"), "stored-" + os.urandom(8).hex()
    server.create_user(name, password)
    with contextlib.closing(server.admin_connect()) as conn, conn.cursor() as cur:
        if server.kind == "postgresql":
            cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (name,))
            assert cur.fetchone()[0].startswith("SCRAM-SHA-256$")
        else:
            cur.execute(
                "SELECT plugin, authentication_string FROM mysql.user"
                " WHERE User = %s AND Host = '%%'",
                (name,),
            )
            plugin, stored = cur.fetchone()
            assert plugin == "mysql_native_password"
            assert password not in stored


def test_wrong_password_fails_with_the_auth_error(server: DatabaseServer) -> None:
    name, password = unique_name("app"), "right-" + os.urandom(8).hex()
    server.create_user(name, password)
    assert_login_rejected(server, name, password + "-wrong")
    assert_login_rejected(server, server.admin_user, "not-the-admin-password")


def test_set_password_rotates_like_aws(server: DatabaseServer) -> None:
    name = unique_name("app")
    old, new = "old-" + os.urandom(8).hex(), "new-" + os.urandom(8).hex()
    server.create_user(name, old)
    with contextlib.closing(server.connect(name, old)) as before:
        server.set_password(name, new)

        assert_login_rejected(server, name, old)
        assert_login_works(server, name, new)
        # Sessions opened before the change live on, as with a real rotation.
        assert whoami(server, before) == name


def test_quoting_of_odd_names_and_passwords(server: DatabaseServer) -> None:
    name = unique_name("Odd-Name'\"`x")
    password = "it's a \"pass`word\\ ;-- %s " + os.urandom(4).hex()
    database = server.create_database(unique_name("Odd-Db"))
    server.create_user(name, password, database=database)
    assert_login_works(server, name, password, database)
    server.set_password(name, password + "2")
    assert_login_rejected(server, name, password, database)
    assert_login_works(server, name, password + "2", database)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            # The kernel prints each 32-bit word of the address as a number in host byte order.
            words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
            packed = b"".join(struct.pack("=I", word) for word in words)
            family = socket.AF_INET if table == "tcp" else socket.AF_INET6
            found.add(socket.inet_ntop(family, packed))
    return found


def test_listens_on_loopback_only(server: DatabaseServer) -> None:
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(server.port) == {"127.0.0.1"}
    # Any wider bind (0.0.0.0, ::) would also answer on 127.0.0.2.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", server.port), timeout=5).close()


def test_fixture_users_are_marked_automatically(
    postgres_server: DatabaseServer, mariadb_server: DatabaseServer, request: pytest.FixtureRequest
) -> None:
    # Deliberately not marked: the plugin adds the marks, so `-m "not mariadb"` cannot miss a test.
    assert request.node.get_closest_marker("postgres") is not None
    assert request.node.get_closest_marker("mariadb") is not None


@pytest.mark.parametrize(
    ("runner", "finder", "package"),
    [
        (databases._run_postgres, "_pg_bindir", "postgresql"),
        (databases._run_mariadb, "_which", "mariadb-server"),
    ],
)
def test_missing_binaries_skip_locally_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, runner, finder: str, package: str
) -> None:
    monkeypatch.setattr(databases, finder, lambda *names: None)

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"install the '{package}' package"):
        runner().__enter__()

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"install the '{package}' package"):
        runner().__enter__()
