"""Tests cannot reach the internet: pytest runs with pytest-recording's --block-network."""

from __future__ import annotations

import socket

import pytest


def test_a_connection_to_the_internet_fails_at_once() -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed, so without the block this would hang, not pass.
    with socket.socket() as sock:
        sock.settimeout(2)
        with pytest.raises(RuntimeError, match="Network is disabled"):
            sock.connect(("192.0.2.1", 443))


def test_loopback_stays_open_for_the_tests_own_servers() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
