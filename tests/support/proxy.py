"""An HTTP proxy between boto3 and a moto server that adds latency and injects AWS-shaped faults.

boto3 is pointed at :attr:`FaultProxy.url` as its ``endpoint_url``; the proxy forwards each request
to the upstream moto server and, depending on its :class:`FaultConfig`, delays it, throttles it the
way SSM and Secrets Manager do (token buckets), answers 500/503, resets the connection, or leaves
the request hanging. The benchmark uses it for about 20 ms per AWS round trip; fault tests too.

Example::

    with FaultProxy(moto_url, FaultConfig(latency_s=0.02, throttle=aws_rates())) as proxy:
        ssm = boto3.client("ssm", endpoint_url=proxy.url, region_name="us-east-1", ...)
        ssm.get_parameters(Names=["/a"])
        proxy.configure(error_rate=1.0, error_status=(503,))
        assert proxy.totals()["forwarded"] == 1
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import random
import select
import socket
import struct
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = [
    "COUNTERS",
    "FaultConfig",
    "FaultProxy",
    "ProxyRequest",
    "Rate",
    "TokenBucket",
    "aws_rates",
    "default_classifier",
]

#: The counters kept per operation, in the order they happen to a request.
COUNTERS = ("received", "forwarded", "throttled", "errored", "reset", "timed_out", "upstream_error")

# Hop-by-hop headers (RFC 9110 section 7.6.1) are about one connection and are not forwarded;
# Content-Length is recomputed because we always send the full body.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
    }
)
# The handler writes its own Date and Server headers; the upstream's would be duplicates.
_NOT_FROM_UPSTREAM = _HOP_BY_HOP | {"date", "server"}

_Headers = list[tuple[str, str]]
_JSON_11 = "application/x-amz-json-1.1"
_ERROR_CODES = {500: "InternalFailure", 502: "BadGateway", 503: "ServiceUnavailable"}
_UPSTREAM_TIMEOUT_S = 30.0
_STOP_BUDGET_S = 1.5


@dataclass(frozen=True)
class Rate:
    """A token-bucket rate: ``per_second`` refill, up to ``burst`` tokens (defaults to the rate)."""

    per_second: float
    burst: float | None = None

    @property
    def capacity(self) -> float:
        """The bucket size: ``burst`` if given, else one second's worth of requests."""
        return self.per_second if self.burst is None else self.burst


def aws_rates() -> dict[str, Rate]:
    """The default AWS quotas, keyed by the bucket names :func:`default_classifier` returns.

    SSM's standard throughput (40/s) is shared by GetParameter, GetParameters and
    GetParametersByPath; BatchGetSecretValue allows about 100/s; GetSecretValue 10,000/s.

    Returns:
        A fresh dict, safe to edit, for :attr:`FaultConfig.throttle`.
    """
    return {
        "ssm": Rate(40.0),
        "secretsmanager:BatchGetSecretValue": Rate(100.0),
        "secretsmanager:GetSecretValue": Rate(10_000.0),
    }


@dataclass(frozen=True)
class ProxyRequest:
    """What the proxy read of one request, as handed to the throttle classifier."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def operation(self) -> str:
        """``X-Amz-Target`` (``AmazonSSM.GetParameters``) or, without it, ``"METHOD /path"``."""
        target = self.headers.get("x-amz-target")
        if target:
            return target
        return f"{self.method} {urllib.parse.urlsplit(self.path).path}"


_DEFAULT_BUCKETS = {
    "AmazonSSM.GetParameter": "ssm",
    "AmazonSSM.GetParameters": "ssm",
    "AmazonSSM.GetParametersByPath": "ssm",
    "secretsmanager.BatchGetSecretValue": "secretsmanager:BatchGetSecretValue",
    "secretsmanager.GetSecretValue": "secretsmanager:GetSecretValue",
}


def default_classifier(request: ProxyRequest) -> str | None:
    """Map a request to its throttle bucket as AWS shares quotas, or None for no throttling.

    Args:
        request: The request as read by the proxy.

    Returns:
        ``"ssm"`` for the three SSM read operations (one shared quota),
        ``"secretsmanager:BatchGetSecretValue"``, ``"secretsmanager:GetSecretValue"``, or None.
    """
    return _DEFAULT_BUCKETS.get(request.operation)


@dataclass
class FaultConfig:
    """What the proxy does to requests; change it while running with :meth:`FaultProxy.configure`.

    The three fault rates are exclusive slices of one random draw per request (reset first, then
    timeout, then error), so their sum should stay at or below 1.

    Attributes:
        latency_s: Added to every answered request, half before forwarding and half after.
        error_rate: Share of requests answered with one of ``error_status`` and an AWS JSON body.
        error_status: The statuses an injected error picks from (uniformly).
        reset_rate: Share of requests whose connection is reset (RST) without any response.
        timeout_rate: Share of requests never answered; dropped after ``hang_s`` or when the
            client closes the connection.
        hang_s: Upper bound on how long a "timed out" request is held.
        seed: Seed of the random stream, for reproducible fault sequences; None for random.
        throttle: Token buckets by name; a request is throttled when its bucket is empty.
            Buckets not listed here do not throttle. See :func:`aws_rates`.
        classify: Maps a request to a bucket name (or None).
        deny: IAM stand-in: returns the resource ARN a request is denied on (answered with
            AWS's AccessDeniedException naming the action and resource), or None to allow.
        answer: Returns an AWS error ``(status, code, message)`` to answer a request with
            instead of forwarding it (credentials rejected, a validation error...), or None.
    """

    latency_s: float = 0.0
    error_rate: float = 0.0
    error_status: tuple[int, ...] = (500, 503)
    reset_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    seed: int | None = None
    throttle: dict[str, Rate] = field(default_factory=dict)
    classify: Callable[[ProxyRequest], str | None] = default_classifier
    deny: Callable[[ProxyRequest], str | None] | None = None
    answer: Callable[[ProxyRequest], tuple[int, str, str] | None] | None = None


class TokenBucket:
    """A token bucket that starts full; not thread-safe on its own (the proxy holds a lock)."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        """Create a full bucket.

        Args:
            rate: Refill rate and capacity.
            clock: Monotonic time source in seconds (injectable for tests).
        """
        self.rate = rate
        self._clock = clock
        self._tokens = rate.capacity
        self._last = clock()

    def take(self) -> bool:
        """Take one token if there is one.

        Returns:
            True when the request may pass, False when it is throttled.
        """
        now = self._clock()
        self._tokens = min(
            self.rate.capacity, self._tokens + (now - self._last) * self.rate.per_second
        )
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when a client opens many connections at once
    # (parallel batches, fleets of processes); a dropped SYN costs a 1 s retransmit.
    request_queue_size = 1024
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so botocore's pooled connections are kept alive; every answer has Content-Length.
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every answer, swamping the latency we mean to add.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: request lines are noise in test output.
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _handle(self) -> None:
        proxy = self.server.proxy
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # botocore always sends Content-Length for these APIs; refuse rather than guess.
            self._send(411, [("Content-Type", "text/plain")], b"Content-Length required")
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = ProxyRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        op = request.operation
        proxy._count(op, "received")
        config, fate = proxy._decide(request)

        half = config.latency_s / 2
        if fate == "reset":
            proxy._sleep(half)
            proxy._count(op, "reset")
            self._reset()
            return
        if fate == "timeout":
            proxy._count(op, "timed_out")
            self._hang(config.hang_s)
            return

        proxy._sleep(half)
        if isinstance(fate, tuple) and fate[0] == "answer":
            proxy._count(op, "errored")
            status, headers, payload = _aws_error(*fate[1])
        elif isinstance(fate, tuple):
            proxy._count(op, "errored")
            service, _, action = op.partition(".")
            prefix = "ssm" if service == "AmazonSSM" else service
            status, headers, payload = _aws_error(
                400,
                "AccessDeniedException",
                f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
                f"{prefix}:{action} on resource: {fate[1]} because no identity-based policy "
                f"allows the {prefix}:{action} action",
            )
        elif fate == "throttled":
            proxy._count(op, "throttled")
            status, headers, payload = _aws_error(400, "ThrottlingException", "Rate exceeded")
        elif isinstance(fate, int):
            proxy._count(op, "errored")
            status, headers, payload = _aws_error(
                fate, _ERROR_CODES.get(fate, "InternalFailure"), "Injected fault"
            )
        else:
            try:
                status, headers, payload = proxy._forward(request)
                proxy._count(op, "forwarded")
            except (OSError, http.client.HTTPException) as exc:
                proxy._count(op, "upstream_error")
                status, headers, payload = _aws_error(
                    502, "BadGateway", f"proxy upstream failed: {type(exc).__name__}"
                )
        proxy._sleep(half)
        self._send(status, headers, payload)

    def _send(self, status: int, headers: _Headers, payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.server.proxy._stopping.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send RST instead of FIN: the client sees "connection reset".
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _hang(self, hang_s: float) -> None:
        # Hold the request unanswered until hang_s passes, the client hangs up, or stop().
        self.close_connection = True
        deadline = time.monotonic() + hang_s
        stopping = self.server.proxy._stopping
        while not stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.05))
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client gave up and closed its end
            except (OSError, ValueError):
                return


def _aws_error(status: int, code: str, message: str) -> tuple[int, _Headers, bytes]:
    """An error answer as the AWS JSON 1.1 protocol (SSM, Secrets Manager) shapes it."""
    body = json.dumps({"__type": code, "message": message}, separators=(",", ":")).encode()
    return status, [("Content-Type", _JSON_11), ("x-amzn-RequestId", str(uuid.uuid4()))], body


class FaultProxy:
    """A fault-injecting HTTP proxy on 127.0.0.1 in front of one upstream (a moto server).

    Use as a context manager or with :meth:`start` / :meth:`stop`. All methods are thread-safe.
    """

    def __init__(self, upstream: str, config: FaultConfig | None = None) -> None:
        """Create a stopped proxy.

        Args:
            upstream: Base URL of the upstream, e.g. ``http://127.0.0.1:5123`` (plain HTTP).
            config: Initial fault configuration; defaults to a transparent proxy.

        Raises:
            ValueError: If ``upstream`` is not an ``http://host:port`` URL.
        """
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self.config = config if config is not None else FaultConfig()
        self._lock = threading.Lock()
        self._random = random.Random(self.config.seed)
        self._buckets: dict[str, TokenBucket] = {}
        self._stats: dict[str, dict[str, int]] = {}
        self._connections: set[socket.socket] = set()
        self._accepted = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread.

        Returns:
            The proxy itself, for chaining.

        Raises:
            RuntimeError: If it is already running.
        """
        if self._server is not None:
            raise RuntimeError("FaultProxy is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        # A short poll interval keeps shutdown() quick.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FaultProxy:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop every open connection (hanging ones too), and wait briefly.

        Bounded: returns within about 1.5 s even if the upstream is stuck.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes latency sleeps and hanging requests
        server.shutdown()
        server.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # unblocks handlers waiting for keep-alive data
        deadline = time.monotonic() + _STOP_BUDGET_S
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    break
            time.sleep(0.01)
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the ``endpoint_url`` to give boto3."""
        if self._server is None:
            raise RuntimeError("FaultProxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- configuration -----------------------------------------------------------------------

    def configure(self, **changes: Any) -> FaultConfig:
        """Change several settings at once, atomically with respect to requests in flight.

        A new ``seed`` restarts the random stream; a new ``throttle`` refills every bucket.

        Args:
            **changes: FaultConfig field names and their new values.

        Returns:
            The new configuration.
        """
        with self._lock:
            self.config = dataclasses.replace(self.config, **changes)
            if "seed" in changes:
                self._random = random.Random(self.config.seed)
            if "throttle" in changes:
                self._buckets.clear()
            return self.config

    # -- statistics --------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters by operation (see :data:`COUNTERS`), as a fresh copy.

        Returns:
            ``{"AmazonSSM.GetParameters": {"received": 3, "forwarded": 2, ...}, ...}``.
        """
        with self._lock:
            return {op: dict(counts) for op, counts in self._stats.items()}

    def totals(self) -> dict[str, int]:
        """Counters summed over all operations.

        Returns:
            One count per name in :data:`COUNTERS`.
        """
        totals = dict.fromkeys(COUNTERS, 0)
        for counts in self.stats().values():
            for name, value in counts.items():
                totals[name] += value
        return totals

    @property
    def connections_accepted(self) -> int:
        """Client connections accepted since start (or the last :meth:`reset_stats`)."""
        with self._lock:
            return self._accepted

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._stats.clear()
            self._accepted = 0

    # -- internals used by the handler ----------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
                self._accepted += 1
            else:
                self._connections.discard(conn)

    def _count(self, op: str, name: str) -> None:
        with self._lock:
            counts = self._stats.setdefault(op, dict.fromkeys(COUNTERS, 0))
            counts[name] += 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _decide(
        self, request: ProxyRequest
    ) -> tuple[FaultConfig, str | int | tuple[str, Any] | None]:
        """Pick one request's fate: "throttled", "reset", "timeout", an error status,
        ("denied", resource), ("answer", (status, code, message)), or None."""
        with self._lock:
            config = self.config
            if config.answer is not None:
                error = config.answer(request)
                if error is not None:
                    return config, ("answer", error)
            if config.deny is not None:
                resource = config.deny(request)
                if resource is not None:
                    return config, ("denied", resource)
            bucket_name = config.classify(request) if config.throttle else None
            if bucket_name is not None and bucket_name in config.throttle:
                rate = config.throttle[bucket_name]
                bucket = self._buckets.get(bucket_name)
                if bucket is None or bucket.rate != rate:
                    bucket = self._buckets[bucket_name] = TokenBucket(rate)
                if not bucket.take():
                    return config, "throttled"
            if not (config.reset_rate or config.timeout_rate or config.error_rate):
                return config, None  # keep the seeded stream untouched when no faults are on
            draw = self._random.random()
            if draw < config.reset_rate:
                return config, "reset"
            if draw < config.reset_rate + config.timeout_rate:
                return config, "timeout"
            if draw < config.reset_rate + config.timeout_rate + config.error_rate:
                return config, self._random.choice(config.error_status)
            return config, None

    def _forward(self, request: ProxyRequest) -> tuple[int, _Headers, bytes]:
        conn = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=_UPSTREAM_TIMEOUT_S
        )
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            headers = {k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP}
            headers["content-length"] = str(len(request.body))
            conn.request(request.method, request.path, body=request.body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_FROM_UPSTREAM]
            return response.status, out, payload
        finally:
            conn.close()
