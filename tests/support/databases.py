"""Throwaway PostgreSQL and MariaDB servers for the test suite.

Each session fixture starts one real server on first use (lazily: only when a test asks for it),
in a fresh temporary directory, listening on 127.0.0.1 only, on a free port, with password
authentication really enforced (PostgreSQL ``scram-sha-256``, MariaDB ``mysql_native_password``).
At the end of the session the server is stopped and its directory removed.

Usage::

    @pytest.mark.postgres
    def test_rotation(postgres_server):
        postgres_server.create_user("app", "old-password")
        postgres_server.set_password("app", "new-password")  # as the AWS rotation function does
        with postgres_server.connect("app", "new-password") as conn:
            ...

Tests that use a fixture are marked ``postgres`` / ``mariadb`` automatically (so ``-m "not
mariadb"`` works), but mark them explicitly anyway for readers.

Server binaries: PostgreSQL's ``initdb``/``pg_ctl`` from PATH or ``/usr/lib/postgresql/*/bin``
(Debian package ``postgresql``); MariaDB's ``mariadbd`` and ``mariadb-install-db`` (Debian package
``mariadb-server``). When they are missing the fixture skips with what to install, or fails when
``CI=true``. A server that is present but does not start always fails, with its log tail.

Running as root: PostgreSQL refuses to run as root, so ``initdb``/``pg_ctl`` run through
``runuser -u postgres`` and MariaDB gets ``--user=mysql``; when those system users do not exist
the servers run as ``nobody`` instead (the temporary directory is handed to that user).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

HOST = "127.0.0.1"
# Hang guards, not expectations: a busy machine may take long, a test must not fail for it.
START_TIMEOUT = 120.0  # seconds for a server to accept connections
STOP_TIMEOUT = 10.0  # seconds for a server to stop before it is killed
COMMAND_TIMEOUT = 300.0  # seconds for initdb / mariadb-install-db
CONNECT_TIMEOUT = 60  # seconds, for every client connection made here
PORT_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it

ADMIN_USER = "admin"
TEST_DATABASE = "awsrefs_test"

MYSQL_ACCESS_DENIED = 1045  # ER_ACCESS_DENIED_ERROR


@dataclasses.dataclass(frozen=True)
class DatabaseServer:
    """A running throwaway database server and the helpers tests use against it.

    Attributes:
        kind: ``"postgresql"`` or ``"mariadb"``.
        host: Always ``127.0.0.1``.
        port: The TCP port the server listens on.
        admin_user: A superuser that connects over TCP with ``admin_password``.
        admin_password: Its password (kept out of the repr).
        database: A database created for the tests; users made by ``create_user`` own it fully.
    """

    kind: str
    host: str
    port: int
    admin_user: str
    admin_password: str = dataclasses.field(repr=False)
    database: str

    def connect(
        self, user: str, password: str, *, database: str | None = None, **kwargs: Any
    ) -> Any:
        """Open a DB-API connection over TCP as ``user``.

        Args:
            user: Login name.
            password: Its password.
            database: Database to connect to; the test database by default.
            **kwargs: Passed on to ``psycopg.connect`` or ``pymysql.connect``.

        Returns:
            A psycopg 3 connection (PostgreSQL) or a pymysql connection (MariaDB).
        """
        db = database or self.database
        if self.kind == "postgresql":
            import psycopg

            kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
            return psycopg.connect(
                host=self.host, port=self.port, user=user, password=password, dbname=db, **kwargs
            )
        import pymysql

        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
        return pymysql.connect(
            host=self.host, port=self.port, user=user, password=password, database=db, **kwargs
        )

    def admin_connect(self, *, database: str | None = None) -> Any:
        """Open an autocommit connection as the admin user.

        Args:
            database: Database to connect to; the test database by default.

        Returns:
            A psycopg 3 connection (PostgreSQL) or a pymysql connection (MariaDB).
        """
        return self.connect(
            self.admin_user, self.admin_password, database=database, autocommit=True
        )

    def create_user(self, name: str, password: str, *, database: str | None = None) -> None:
        """Create a login user with full rights on a database.

        Args:
            name: User name (MariaDB: the account ``name@'%'``).
            password: Its password.
            database: Database it gets all privileges on; the test database by default.
        """
        db = database or self.database
        if self.kind == "postgresql":
            from psycopg import sql

            role = sql.Identifier(name)
            with self.admin_connect(database=db) as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                        role, sql.Literal(password)
                    )
                )
                conn.execute(
                    sql.SQL("GRANT ALL PRIVILEGES ON DATABASE {} TO {}").format(
                        sql.Identifier(db), role
                    )
                )
                # PostgreSQL 15 no longer lets everyone create tables in schema public.
                conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(role))
            return
        with self.admin_connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
            cur.execute(f"GRANT ALL PRIVILEGES ON {_mysql_ident(db)}.* TO %s@'%%'", (name,))

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password the way the AWS rotation functions do.

        PostgreSQL: ``ALTER ROLE name WITH PASSWORD '...'``; MariaDB: ``ALTER USER 'name'@'%'
        IDENTIFIED BY '...'``. Existing sessions stay open, as on a real server.

        Args:
            name: User name.
            password: The new password.
        """
        if self.kind == "postgresql":
            from psycopg import sql

            with self.admin_connect() as conn:
                conn.execute(
                    sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(password)
                    )
                )
            return
        with self.admin_connect() as conn, conn.cursor() as cur:
            cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (name, password))

    def create_database(self, name: str) -> str:
        """Create an empty database owned by the admin user.

        Args:
            name: Database name.

        Returns:
            The name, for chaining into ``create_user(..., database=...)``.
        """
        if self.kind == "postgresql":
            from psycopg import sql

            with self.admin_connect(database="postgres") as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return name
        with self.admin_connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {_mysql_ident(name)}")
        return name


def unique_name(prefix: str = "u") -> str:
    """Return a fresh name, for users and databases on the session-wide servers.

    Args:
        prefix: Start of the name (letters, digits, underscores).

    Returns:
        ``prefix`` followed by an underscore and 8 random hex digits.
    """
    return f"{prefix}_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[DatabaseServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with scram-sha-256 password auth."""
    with _run_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[DatabaseServer]:
    """A throwaway MariaDB server on 127.0.0.1 with mysql_native_password auth."""
    with _run_mariadb() as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a database server, directly or through another fixture."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_server" in names:
            item.add_marker(pytest.mark.postgres)
        if "mariadb_server" in names:
            item.add_marker(pytest.mark.mariadb)


# -- shared helpers -------------------------------------------------------------------------------


def _unavailable(message: str) -> NoReturn:
    # Under CI a missing server must be noticed, not silently skipped.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _mysql_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _service_user(preferred: str) -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(preferred)
    except KeyError:
        return "nobody"
    return preferred


@contextlib.contextmanager
def _temp_dir(prefix: str, owner: str | None) -> Iterator[Path]:
    # A short path: unix socket paths are limited to about 100 bytes. As root, the service user
    # must reach it too, and $TMPDIR may sit in root's home.
    base = "/tmp" if owner is not None and os.path.isdir("/tmp") else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _run(cmd: list[str], *, log: Path, cwd: Path, what: str) -> None:
    """Run a setup command with its output in ``log``; fail with the log tail."""
    # Output goes to a file, not a pipe: a daemon started by the command would keep a pipe open.
    with log.open("ab") as out:
        try:
            result = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what} took over {COMMAND_TIMEOUT:.0f}s:\n{_tail(log)}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{_tail(log)}", pytrace=False)


# -- PostgreSQL -----------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        bindir = Path(found).resolve().parent
        if (bindir / "pg_ctl").exists():
            return bindir
    dirs = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    dirs = [d for d in dirs if (d / "pg_ctl").exists()]
    if not dirs:
        return None
    # Newest major version: the directory above bin/ is the version number.
    return max(dirs, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    return cmd if user is None else ["runuser", "-u", user, "--", *cmd]


@contextlib.contextmanager
def _run_postgres() -> Iterator[DatabaseServer]:
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
            "/usr/lib/postgresql/*/bin: install the 'postgresql' package to run these tests"
        )
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg 3 is not installed: run `uv sync` with the dev group")
    user = _service_user("postgres")
    if user is not None and shutil.which("runuser") is None:
        _unavailable("running as root needs `runuser` (util-linux) to start PostgreSQL")

    with _temp_dir("awsrefs-pg-", user) as tmp:
        data, log, setup_log = tmp / "data", tmp / "server.log", tmp / "setup.log"
        password = secrets.token_urlsafe(24)
        pwfile = tmp / "pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        _run(
            _as_user(
                user,
                [
                    str(bindir / "initdb"),
                    f"--pgdata={data}",
                    f"--username={ADMIN_USER}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",  # also English server messages
                    "--no-sync",  # throwaway cluster: durability is not wanted
                ],
            ),
            log=setup_log,
            cwd=tmp,
            what="initdb",
        )
        pwfile.unlink()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# awsrefs test cluster\n"
                f"listen_addresses = '{HOST}'\n"
                f"unix_socket_directories = '{tmp}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "max_connections = 200\n"
                "shared_buffers = 32MB\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "wal_level = minimal\n"
                "max_wal_senders = 0\n"
                # A failed ALTER ROLE ... PASSWORD must not land in the log with its password.
                "log_min_error_statement = panic\n"
            )
        pg_ctl = str(bindir / "pg_ctl")
        port = 0
        try:
            for attempt in range(PORT_ATTEMPTS):
                port = _free_port()
                # -o goes through a shell inside pg_ctl; it carries only a number.
                cmd = [pg_ctl, f"--pgdata={data}", f"--log={log}", "-w", "-t", "30"]
                cmd += ["-o", f"-p {port}", "start"]
                try:
                    _run(_as_user(user, cmd), log=setup_log, cwd=tmp, what="pg_ctl start")
                    break
                except pytest.fail.Exception:
                    if attempt + 1 < PORT_ATTEMPTS and "already in use" in _tail(log):
                        continue
                    raise pytest.fail.Exception(
                        f"PostgreSQL did not start:\n{_tail(log)}\n{_tail(setup_log)}"
                    ) from None
            server = DatabaseServer(
                kind="postgresql",
                host=HOST,
                port=port,
                admin_user=ADMIN_USER,
                admin_password=password,
                database=TEST_DATABASE,
            )
            with server.admin_connect(database="postgres") as conn:
                conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
            # Password authentication must really be enforced, or rotation tests prove nothing.
            # libpq does not hand the SQLSTATE (28P01) of a failed connect to psycopg, so the
            # server's message is what identifies it (lc_messages is C: English).
            try:
                server.connect(ADMIN_USER, password + "x").close()
            except psycopg.OperationalError as exc:
                if "password authentication failed" not in str(exc):
                    pytest.fail(f"wrong password did not fail auth: {exc}", pytrace=False)
            else:
                pytest.fail("PostgreSQL accepted a wrong password", pytrace=False)
            yield server
        finally:
            _stop_postgres(pg_ctl, data, user, tmp)


def _stop_postgres(pg_ctl: str, data: Path, user: str | None, tmp: Path) -> None:
    if not (data / "postmaster.pid").exists():
        return
    cmd = _as_user(user, [pg_ctl, f"--pgdata={data}", "stop", "-m", "immediate", "-w", "-t", "10"])
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp,
            timeout=STOP_TIMEOUT + 5,
            check=False,
        )
    # Should pg_ctl have failed, kill the postmaster itself (first line of postmaster.pid).
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)


# -- MariaDB --------------------------------------------------------------------------------------


def _which(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    return None


@contextlib.contextmanager
def _run_mariadb() -> Iterator[DatabaseServer]:
    server_bin = _which("mariadbd", "mysqld")
    install_db = _which("mariadb-install-db", "mysql_install_db")
    if server_bin is None or install_db is None:
        _unavailable(
            "MariaDB server binaries (mariadbd, mariadb-install-db) not found: install the "
            "'mariadb-server' package to run these tests"
        )
    try:
        import pymysql
    except ImportError:
        _unavailable("pymysql is not installed: run `uv sync` with the dev group")
    user = _service_user("mysql")
    # Small and fast: a throwaway server does not need durability or a big buffer pool.
    tuning = [
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=8M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--skip-log-bin",
        "--skip-name-resolve",
    ]
    as_user = [] if user is None else [f"--user={user}"]

    with _temp_dir("awsrefs-my-", user) as tmp:
        data, sock, log = tmp / "data", tmp / "mysqld.sock", tmp / "server.log"
        _run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *as_user,
                *tuning,
            ],
            log=tmp / "setup.log",
            cwd=tmp,
            what="mariadb-install-db",
        )
        proc: subprocess.Popen[bytes] | None = None
        try:
            for attempt in range(PORT_ATTEMPTS):
                port = _free_port()
                with log.open("ab") as out:
                    proc = subprocess.Popen(
                        [
                            server_bin,
                            "--no-defaults",  # must come first
                            f"--datadir={data}",
                            f"--bind-address={HOST}",
                            f"--port={port}",
                            f"--socket={sock}",
                            f"--pid-file={tmp / 'mysqld.pid'}",
                            f"--tmpdir={tmp}",
                            "--max-connections=200",
                            *as_user,
                            *tuning,
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=tmp,
                    )
                if _wait_for_mariadb(proc, sock):
                    break
                _stop_process(proc)
                if attempt + 1 < PORT_ATTEMPTS and "already in use" in _tail(log):
                    continue
                pytest.fail(
                    f"MariaDB did not accept connections within {START_TIMEOUT:.0f}s:\n"
                    f"{_tail(log)}",
                    pytrace=False,
                )
            password = secrets.token_urlsafe(24)
            _secure_mariadb(sock, password)
            server = DatabaseServer(
                kind="mariadb",
                host=HOST,
                port=port,
                admin_user=ADMIN_USER,
                admin_password=password,
                database=TEST_DATABASE,
            )
            # Password authentication must really be enforced, or rotation tests prove nothing.
            try:
                server.connect(ADMIN_USER, password + "x").close()
            except pymysql.err.OperationalError as exc:
                if exc.args[0] != MYSQL_ACCESS_DENIED:
                    pytest.fail(f"wrong password gave error {exc.args[0]}, not 1045", pytrace=False)
            else:
                pytest.fail("MariaDB accepted a wrong password", pytrace=False)
            yield server
        finally:
            if proc is not None:
                _stop_process(proc)


def _wait_for_mariadb(proc: subprocess.Popen[bytes], sock: Path) -> bool:
    import pymysql

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if sock.exists():
            try:
                # Fresh install: root@localhost has no password until _secure_mariadb sets one.
                pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2).close()
            except pymysql.err.OperationalError:
                pass
            else:
                return True
        time.sleep(0.05)
    return False


def _secure_mariadb(sock: Path, password: str) -> None:
    """Leave only root@localhost (with a password) and the admin user, who logs in over TCP."""
    import pymysql

    conn = pymysql.connect(unix_socket=str(sock), user="root", autocommit=True)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT User, Host FROM mysql.user")
        keep = {("root", "localhost"), ("mariadb.sys", "localhost")}
        for account in cur.fetchall():
            if tuple(account) not in keep:
                # Passwordless root@127.0.0.1 and friends would let anyone in over TCP.
                cur.execute("DELETE FROM mysql.global_priv WHERE User = %s AND Host = %s", account)
        cur.execute("DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost'")
        cur.execute("FLUSH PRIVILEGES")
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (ADMIN_USER, password))
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%' WITH GRANT OPTION", (ADMIN_USER,))
        cur.execute(f"CREATE DATABASE {_mysql_ident(TEST_DATABASE)}")
        # Nobody needs root after this; a random password nobody knows closes the socket login.
        cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (secrets.token_urlsafe(24),))


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


#: Start a throwaway server outside pytest (``with run_postgres() as server: ...``); the demo
#: uses these. A missing server raises pytest's skip (or, under CI, fail) outcome.
run_postgres = _run_postgres
run_mariadb = _run_mariadb
