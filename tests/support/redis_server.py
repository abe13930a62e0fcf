"""A throwaway redis-server for the tests, with ACL users as ElastiCache RBAC has them.

``redis_server`` (session) starts ``redis-server`` (Debian package ``redis-server``) on first
use, on 127.0.0.1 and a free port, without persistence (``--save ''``), in a temporary
directory; the ``default`` user gets a random password, so every login is checked.
``redis_tls_server`` (session) is the same over TLS only (``rediss://``, as ElastiCache RBAC
requires): a throwaway CA and a certificate for 127.0.0.1 made at start-up, no plain port,
client certificates not asked for; its ``ca_file`` is the CA clients must trust.
``redis_cluster`` joins three servers in a Redis Cluster, ``redis_tls_cluster`` over TLS
only (the cluster bus too). At the end
of the session the server is stopped and its directory removed. A missing binary skips the
test, or fails it when ``CI=true``. Tests that use it are marked ``redis``::

    def test_login(redis_server):
        redis_server.set_user("app", "pw-1")              # ACL SETUSER app on >pw-1 ~* +@all
        redis_server.set_user("app", "pw-2", "pw-1")      # ElastiCache ModifyUser, both kept
        redis_server.kill_user("app")                     # CLIENT KILL USER app
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import HOST, PORT_ATTEMPTS, START_TIMEOUT, _free_port, _unavailable

__all__ = [
    "RedisCluster",
    "RedisServer",
    "make_tls_files",
    "no_retry",
    "redis_cluster",
    "redis_server",
    "redis_tls_cluster",
    "redis_tls_server",
    "run_redis",
    "run_redis_cluster",
]


@dataclasses.dataclass(frozen=True)
class RedisServer:
    """A running throwaway redis-server and the admin helpers tests use against it.

    Attributes:
        host: Always ``127.0.0.1``.
        port: The TCP port it listens on.
        admin_password: The ``default`` user's password (kept out of the repr).
        ca_file: Over TLS, the CA certificate that signed the server's; else None.
    """

    host: str
    port: int
    admin_password: str = dataclasses.field(repr=False)
    ca_file: str | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (``rediss://`` over TLS), without credentials."""
        scheme = "redis" if self.ca_file is None else "rediss"
        return f"{scheme}://{self.host}:{self.port}/0"

    def admin(self, **options: Any) -> Any:
        """A ``redis.Redis`` logged in as ``default`` (closed by the caller).

        Args:
            **options: More ``redis.Redis`` arguments (``retry=`` for :func:`no_retry`).
        """
        import redis

        tls = {} if self.ca_file is None else {"ssl": True, "ssl_ca_certs": self.ca_file}
        return redis.Redis(
            host=self.host, port=self.port, password=self.admin_password, socket_timeout=10,
            **tls, **options,
        )  # fmt: skip

    def set_user(self, name: str, *passwords: str) -> None:
        """Create or change a user: on, exactly these passwords, every key and command.

        ``ACL SETUSER name on resetpass >p1 >p2 ~* +@all``, what ElastiCache's ModifyUser with
        ``Passwords=[p1, p2]`` leaves on the server.
        """
        with contextlib.closing(self.admin()) as admin:
            admin.execute_command(
                "ACL", "SETUSER", name, "on", "resetpass", *(f">{p}" for p in passwords),
                "~*", "+@all",
            )  # fmt: skip

    def kill_user(self, name: str) -> int:
        """Close every connection logged in as ``name`` (``CLIENT KILL USER``); how many."""
        with contextlib.closing(self.admin()) as admin:
            return int(admin.execute_command("CLIENT", "KILL", "USER", name))


def make_tls_files(directory: Path, host: str = HOST) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``host``: (CA cert, cert, key) PEM files.

    With the extensions Python 3.13's default context checks (``VERIFY_X509_STRICT``: key
    identifiers, key usage), which a certificate without them fails there and only there.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not cert_sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("awsrefs test CA"))
        .issuer_name(name("awsrefs test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        # Client too: the cluster bus nodes present it to each other (tls-cluster yes).
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


@contextlib.contextmanager
def run_redis(
    extra_conf: str = "",
    *,
    tls: bool = False,
    tls_files: tuple[Path, Path, Path] | None = None,
    cluster: bool = False,
) -> Iterator[RedisServer]:
    """Start a throwaway redis-server; stop it and remove its directory on exit.

    With ``tls``, it listens over TLS only, with a certificate for 127.0.0.1 signed by a
    throwaway CA (``RedisServer.ca_file``): ``tls_files`` from :func:`make_tls_files`, or
    new ones. With ``cluster``, it is a cluster node (its cluster bus over TLS too, with
    ``tls``) on a port whose bus port, 10000 higher, is free as well.
    """
    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if binary is None:
        _unavailable("redis-server not found: install the 'redis-server' package")
    try:
        import redis
    except ImportError:
        _unavailable("redis (redis-py) is not installed: run `uv sync` with all packages")
    password = secrets.token_urlsafe(24)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(_tmpdir()))
        log = tmp / "redis.log"
        ca_file: str | None = None
        tls_conf = ""
        if tls:
            ca, cert, key = tls_files or make_tls_files(tmp)
            ca_file = str(ca)
            tls_conf = (
                f"tls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {ca}\n"
                "tls-auth-clients no\n"
            )
        if cluster:
            extra_conf += "cluster-enabled yes\ncluster-config-file nodes.conf\n"
            extra_conf += "tls-cluster yes\n" if tls else ""
        for attempt in range(PORT_ATTEMPTS):
            port = _cluster_node_port() if cluster else _free_port()
            (tmp / "nodes.conf").unlink(missing_ok=True)  # a failed attempt's node identity
            listen = f"port 0\ntls-port {port}" if tls else f"port {port}"
            # The password goes through a config file, not argv (visible in ps).
            conf = tmp / "redis.conf"
            conf.write_text(
                f"bind {HOST}\n{listen}\nsave ''\nappendonly no\ndir {tmp}\n"
                f"logfile {log}\ndaemonize no\nuser default on >{password} ~* &* +@all\n"
                f"{tls_conf}{extra_conf}"
            )
            conf.chmod(0o600)
            proc = subprocess.Popen(
                [binary, str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp,
            )
            stack.callback(_stop, proc)
            server = RedisServer(HOST, port, password, ca_file)
            if _wait(server, proc, redis):
                break
            _stop(proc)
            if attempt + 1 == PORT_ATTEMPTS:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                pytest.fail(f"redis-server did not start:\n{tail}", pytrace=False)
        # Authentication must really be enforced, or rotation tests prove nothing.
        tls_options = {} if ca_file is None else {"ssl": True, "ssl_ca_certs": ca_file}
        probe = redis.Redis(
            host=HOST, port=port, password=password + "x", socket_timeout=5, retry=no_retry(),
            **tls_options,
        )  # fmt: skip
        with contextlib.closing(probe), pytest.raises(redis.AuthenticationError):
            probe.ping()
        yield server


# Not the `random` module's stream: pytest-randomly reseeds it for every test, and the
# matrix cells running beside the suite would draw the same ports at the same moments.
_PORTS = random.SystemRandom()


def _cluster_node_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too, below the ephemeral range.

    Not ``_free_port()``: the kernel hands out ephemeral ports (32768-60999 here) in runs, and a
    node refuses a port above 55535, whose bus port would not exist; three attempts in a row once
    drew one. Ports 20000-22767 put the bus at 30000-32767, where no outgoing connection's port
    can take it either.
    """
    for _ in range(200):
        port = _PORTS.randint(20000, 22767)
        if all(_can_bind(p) for p in (port, port + 10000)):
            return port
    pytest.fail("no free port pair for a Redis Cluster node in 20000-32767", pytrace=False)


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def no_retry() -> Any:
    """A redis-py ``Retry`` that never retries.

    redis-py retries connection errors by default, a refused login among them (6.x: 3
    times after 1, 2 and 4 s, jittered; 8.x: 10 times, up to 1 s apart): a probe that
    expects the error would wait that out.
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


@contextlib.contextmanager
def _tmpdir() -> Iterator[str]:
    import tempfile

    path = tempfile.mkdtemp(prefix="awsrefs-redis-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _wait(server: RedisServer, proc: subprocess.Popen[bytes], redis: Any) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with contextlib.closing(server.admin(retry=no_retry())) as admin:
                admin.ping()
        except redis.ConnectionError:
            time.sleep(0.05)
        else:
            return True
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the redis-server (``-m "not redis"`` skips them)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if {"redis_server", "redis_tls_server", "redis_cluster", "redis_tls_cluster"} & set(names):
            item.add_marker(pytest.mark.redis)


@dataclasses.dataclass(frozen=True)
class RedisCluster:
    """A throwaway Redis Cluster of primaries; users are changed on every node, as ElastiCache
    applies ModifyUser to every node of a replication group."""

    nodes: tuple[RedisServer, ...]

    @property
    def url(self) -> str:
        """The first node's URL, without credentials."""
        return self.nodes[0].url

    @property
    def ca_file(self) -> str | None:
        """Over TLS, the CA certificate that signed every node's; else None."""
        return self.nodes[0].ca_file

    def set_user(self, name: str, *passwords: str) -> None:
        for node in self.nodes:
            node.set_user(name, *passwords)

    def kill_user(self, name: str) -> int:
        return sum(node.kill_user(name) for node in self.nodes)


@contextlib.contextmanager
def run_redis_cluster(size: int = 3, *, tls: bool = False) -> Iterator[RedisCluster]:
    """Start ``size`` redis-servers in cluster mode and join them (``redis-cli --cluster``).

    With ``tls``, every node (and the cluster bus) is TLS only, with certificates of one CA.
    """
    cli = shutil.which("redis-cli") or shutil.which("redis-cli", path="/usr/bin")
    if cli is None:
        _unavailable("redis-cli not found: install the 'redis-server' package (redis-tools)")
    with contextlib.ExitStack() as stack:
        tls_files = None
        tls_args: list[str] = []
        if tls:
            tls_files = make_tls_files(Path(stack.enter_context(_tmpdir())))
            tls_args = ["--tls", "--cacert", str(tls_files[0])]
        nodes = tuple(
            stack.enter_context(run_redis(tls=tls, tls_files=tls_files, cluster=True))
            for _ in range(size)
        )
        env = {**os.environ, "REDISCLI_AUTH": nodes[0].admin_password}
        # Every node gets the first one's admin password, for redis-cli.
        for node in nodes[1:]:
            with contextlib.closing(node.admin()) as admin:
                admin.execute_command(
                    "ACL", "SETUSER", "default", "resetpass", f">{env['REDISCLI_AUTH']}"
                )
        nodes = tuple(RedisServer(n.host, n.port, env["REDISCLI_AUTH"], n.ca_file) for n in nodes)
        addresses = [f"{n.host}:{n.port}" for n in nodes]
        result = subprocess.run(
            [cli, *tls_args, "--cluster", "create", *addresses,
             "--cluster-replicas", "0", "--cluster-yes"],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"redis-cli --cluster create failed:\n{result.stdout[-2000:]}")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            states = []
            for node in nodes:
                with contextlib.closing(node.admin()) as admin:
                    states.append(admin.execute_command("CLUSTER", "INFO"))
            if all(
                b"cluster_state:ok" in s if isinstance(s, bytes) else "cluster_state:ok" in str(s)
                for s in states
            ):
                break
            if time.monotonic() > deadline:
                pytest.fail("the Redis Cluster did not reach cluster_state:ok", pytrace=False)
            time.sleep(0.1)
        yield RedisCluster(nodes)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """Three redis-servers on 127.0.0.1 joined in a Redis Cluster (primaries only)."""
    with run_redis_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_tls_cluster() -> Iterator[RedisCluster]:
    """:func:`redis_cluster` over TLS only (``rediss://``, the nodes' ``ca_file``)."""
    with run_redis_cluster(tls=True) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server on 127.0.0.1 whose ``default`` user has a random password."""
    with run_redis() as server:
        yield server


@pytest.fixture(scope="session")
def redis_tls_server() -> Iterator[RedisServer]:
    """A throwaway redis-server on 127.0.0.1 over TLS only (``rediss://``, ``ca_file``)."""
    with run_redis(tls=True) as server:
        yield server
