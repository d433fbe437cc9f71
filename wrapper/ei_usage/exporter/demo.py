"""The exporter's part of ``make demo``: serve FakeStudio's white label and show one scrape.

``python -m ei_usage.exporter.demo [SECONDS]`` (or :func:`main`) starts a FakeStudio on
loopback, runs ``ei-usage exporter`` against it on a free loopback port for a few seconds,
prints the usage metrics of one scrape, and stops the exporter with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from ei_usage.testing import DEMO_API_KEY, FakeStudio

_SHOWN = (
    "ei_usage_contract_compute_used_ratio",
    "ei_usage_contract_compute_used_seconds",
    "ei_usage_contract_compute_limit_seconds",
    "ei_usage_exporter_last_refresh_complete",
    "ei_usage_exporter_api_requests_total",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(url: str, timeout: float = 5.0) -> str:
    """Return the exposition at ``url`` (``http://127.0.0.1:PORT/metrics``)."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback
        return str(answer.read().decode())


def main(seconds: float = 3.0) -> int:
    """Run the demo for about ``seconds``; return 0, or 1 when no scrape came back."""
    with FakeStudio(api_key=DEMO_API_KEY, record_requests=False) as studio:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EI_")}
        env.update(EI_API_KEY=DEMO_API_KEY, EI_BASE_URL=studio.base_url)
        args = ["exporter", "--org", "1", "--listen", f"127.0.0.1:{port}", "--refresh", "1m"]
        print(f"$ ei-usage {' '.join(args)}   # against a FakeStudio on {studio.base_url}")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "ei_usage.cli", *args], env=env
        )
        url = f"http://127.0.0.1:{port}/metrics"
        text = ""
        try:
            deadline = time.monotonic() + max(seconds, 1.0) + 10
            while time.monotonic() < deadline:
                try:
                    text = scrape(url)
                except OSError:
                    text = ""
                if "ei_usage_exporter_last_refresh_complete{" in text:
                    break
                time.sleep(0.2)
            time.sleep(max(0.0, seconds - 1.0))
            print(f"$ curl -s {url} | grep -E '{'|'.join(_SHOWN)}'")
            for line in text.splitlines():
                if line.startswith(_SHOWN):
                    print(line)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    return 0 if text else 1


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
