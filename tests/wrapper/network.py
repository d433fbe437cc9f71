"""Real network parts for the proxy and CA tests: a private CA, a TLS API server, a proxy.

* :func:`api_script`: a keep-alive HTTP/1.1 server script (for :class:`hostile.HostileServer`,
  which counts connections and can wrap them in TLS) answering the usage operations, recording
  every request head.
* :class:`ForwardProxy`: the ``proxy.py`` package (``proxy-py``) run as a subprocess on
  127.0.0.1 with basic authentication; its access log tells which tunnels (CONNECT) it opened.
  proxy.py writes an access line when a tunnel closes, so :meth:`ForwardProxy.tunnels` waits
  (bounded) for the lines a test expects.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .hostile import read_head, send_slowly

if TYPE_CHECKING:
    from .hostile import Script

PROXY_USER = "proxy-user"
PROXY_PASSWORD = "pr0xy-S3CRET-pass"

CT_BODY = {"success": True, "cpuComputeTime": 90, "gpuComputeTime": 30, "totalComputeTime": 2}
METRICS_BODY = {
    "success": True,
    "metrics": {
        "totalJobsComputeTime": 10,
        "jobsComputeTimeCurrentYear": 2.5,
        "jobsComputeTimeCurrentYearSince": "2024-05-01T00:00:00Z",
        "cpuComputeTimeCurrentContract": 3600,
        "gpuComputeTimeCurrentContract": 90,
        "totalStorage": 1024,
        "projectCount": 3,
        "userCount": 12,
    },
}


def _body_for(path: str) -> bytes:
    if "/metrics" in path:
        return json.dumps(METRICS_BODY).encode()
    return json.dumps(CT_BODY).encode()


def api_script(heads: list[bytes], *, trickle: threading.Event | None = None) -> Script:
    """Answer every request of a connection (keep-alive) with the operation's JSON body.

    ``heads`` receives each request head. With ``trickle`` (a stop flag), the answer is a head
    alone (no body: without a deadline the call ends as a ResponseValidationError), sent 8 bytes
    every 0.25 s (about 4 s), until the flag is set.
    """

    def script(conn: socket.socket, number: int) -> None:
        while True:
            head = read_head(conn, timeout=10)
            if not head:
                return
            heads.append(head)
            path = head.split(b" ", 2)[1].decode()
            # Trickling: no body, so only a deadline kept by the sockets can end the call as a
            # timeout (a reader checking the time between chunks of a body gets none to check).
            body = b"" if trickle is not None else _body_for(path)
            answer = (
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"x-request-id: req-%d-%d\r\ncontent-length: %d\r\n\r\n%s"
                % (number, len(heads), len(body), body)
            )
            if trickle is None:
                conn.sendall(answer)
            else:
                # httpx's per-read timeout never trips on this; only the attempt's deadline can.
                send_slowly(conn, answer, every=0.25, stop=trickle, step=8)
                return

    return script


def server_context(cert: object, *, client_ca: object | None = None) -> ssl.SSLContext:
    """A server TLS context for a trustme ``LeafCert``; ``client_ca``: require a client cert."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)  # type: ignore[attr-defined]
    if client_ca is not None:
        client_ca.configure_trust(context)  # type: ignore[attr-defined]
        context.verify_mode = ssl.CERT_REQUIRED
    return context


_ACCESS = re.compile(rb"CONNECT (\S+):(\S+) - ")


class ForwardProxy:
    """proxy.py on 127.0.0.1, requiring ``PROXY_USER:PROXY_PASSWORD``; stop with :meth:`close`."""

    def __init__(self, directory: Path) -> None:
        self._log = directory / "proxy.log"
        port_file = directory / "proxy.port"
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--num-acceptors",
                "1",
                "--threaded",
                "--log-level",
                "INFO",
                "--log-file",
                str(self._log),
                "--basic-auth",
                f"{PROXY_USER}:{PROXY_PASSWORD}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline and self._process.poll() is None:
            if port_file.exists() and (text := port_file.read_text().strip()):
                break
            time.sleep(0.05)
        if not text:
            self.close()
            raise RuntimeError("proxy.py did not start within 30 s")
        self.port = int(text)

    def url(self, *, password: str = PROXY_PASSWORD) -> str:
        return f"http://{PROXY_USER}:{password}@127.0.0.1:{self.port}"

    def _targets(self) -> list[str]:
        if not self._log.exists():
            return []
        found = _ACCESS.findall(self._log.read_bytes())
        return [f"{host.decode()}:{port.decode()}" for host, port in found]

    def tunnels(self, target: str, *, at_least: int = 1, timeout: float = 10.0) -> int:
        """Return how many tunnels to ``target`` (``host:port``) the proxy has logged, waiting
        until there are ``at_least`` or ``timeout`` passes.

        Every test's server has a port of its own, so a late line of another test's tunnel
        (logged when that tunnel closed) is never counted.
        """
        deadline = time.monotonic() + timeout
        count = self._targets().count(target)
        while count < at_least and time.monotonic() < deadline:
            time.sleep(0.05)
            count = self._targets().count(target)
        return count

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
