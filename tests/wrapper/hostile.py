"""A raw TCP server on 127.0.0.1 that misbehaves on purpose, for fault tests.

Each accepted connection is handed to a script, ``script(conn, request_number)``, which reads
what it likes and writes whatever bytes it likes (huge, slow, malformed). The server counts the
requests it saw and stops cleanly: every loop is bounded by timeouts, and ``close()`` shuts every
connection so a script blocked in ``sendall`` returns.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

Script = Callable[[socket.socket, int], None]

HEAD_LIMIT = 65_536


def read_head(conn: socket.socket, timeout: float = 5.0) -> bytes:
    """Read one request head (up to the blank line), bounded in size and time."""
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < HEAD_LIMIT:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def send_slowly(
    conn: socket.socket, data: bytes, *, every: float, stop: threading.Event, step: int = 1
) -> None:
    """Send ``data`` ``step`` bytes at a time, one step every ``every`` seconds, until stopped."""
    for start in range(0, len(data), step):
        if stop.wait(every):
            return
        conn.sendall(data[start : start + step])


class HostileServer:
    """Serves ``script`` on 127.0.0.1 until closed; ``requests`` counts connections handled."""

    def __init__(self, script: Script, *, tls: ssl.SSLContext | None = None) -> None:
        self._script = script
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.stop = threading.Event()
        self.requests = 0
        self.request_times: list[float] = []
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def base_url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.requests += 1
                self.request_times.append(time.monotonic())
                number = self.requests
                self._connections.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            if self._tls is not None:
                conn.settimeout(5)
                conn = self._tls.wrap_socket(conn, server_side=True)
            self._script(conn, number)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)


@contextlib.contextmanager
def hostile(script: Script, *, tls: ssl.SSLContext | None = None) -> Iterator[HostileServer]:
    """Run a :class:`HostileServer` for the duration of a ``with`` block."""
    server = HostileServer(script, tls=tls)
    try:
        yield server
    finally:
        server.close()


def answer(head: bytes, body: bytes = b"", status: str = "200 OK") -> Script:
    """A script that sends one fixed answer: ``head`` lines (without status line) and ``body``."""

    def script(conn: socket.socket, number: int) -> None:
        read_head(conn)
        conn.sendall(f"HTTP/1.1 {status}\r\n".encode() + head + b"\r\n" + body)

    return script


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then closed)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])
