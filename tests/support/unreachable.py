"""An AWS endpoint that cannot be reached, which counts every attempt to reach it.

:class:`ClosingListener` accepts TCP connections on 127.0.0.1 and closes each at once without
a byte of answer: botocore sees a failure in transit (``ConnectionClosedError``) on every HTTP
attempt, and :attr:`ClosingListener.connections` counts the attempts made, whichever process
made them. The autouse fixture forgets the process's remembered outages (see
:mod:`awsrefs._fetch`) before each test, so one test's spent budget does not shorten another's.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from types import TracebackType

import pytest

__all__ = ["ClosingListener"]


class ClosingListener:
    """A TCP listener on 127.0.0.1 that closes every connection it accepts."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._count

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._count += 1
            conn.close()

    def __enter__(self) -> ClosingListener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture(autouse=True)
def _forget_outages() -> Iterator[None]:
    from awsrefs._fetch import OUTAGES

    OUTAGES.clear()
    yield
    OUTAGES.clear()
