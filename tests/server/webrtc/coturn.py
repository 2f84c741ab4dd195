"""A real coturn (Debian's `turnserver`) on 127.0.0.1 and a free port, with `use-auth-secret`, for the tests.

Loopback peers are allowed because every peer of these tests is on this machine; a site never sets that."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aioice import stun
from aioice.utils import random_transaction_id

REALM = "vms.test"


@dataclass(frozen=True)
class Coturn:
    port: int
    secret: str
    log: Path

    @property
    def turn_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def stun_url(self) -> str:
        return f"stun:127.0.0.1:{self.port}"


def _free_port() -> int:
    """A port free for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def _answers_stun(port: int) -> bool:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST,
                           transaction_id=random_transaction_id())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data = sock.recv(2048)
        except OSError:
            return False
    return stun.parse_message(data).transaction_id == request.transaction_id


@contextlib.contextmanager
def running_coturn(directory: Path) -> Iterator[Coturn]:
    """Start turnserver and wait until it answers a STUN binding request; stop it on exit."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.fail("coturn is not installed: run scripts/setup-system.sh (Debian package coturn)")
    directory.mkdir(parents=True, exist_ok=True)
    port, secret = _free_port(), secrets.token_hex(16)
    relay_low = 40000 + (port % 200) * 100  # a range of its own per port: parallel test runs do not collide
    log = directory / "turnserver.log"
    config = directory / "turnserver.conf"  # the secret on the command line would be visible in `ps`
    # realm before the secret: coturn files the secret under the realm it has read so far
    config.write_text(f"realm={REALM}\nuse-auth-secret\nstatic-auth-secret={secret}\n")
    proc = subprocess.Popen(
        [binary, "-c", str(config), "--listening-ip=127.0.0.1", f"--listening-port={port}",
         "--relay-ip=127.0.0.1", f"--min-port={relay_low}", f"--max-port={relay_low + 99}",
         "--fingerprint", "--no-tls", "--no-dtls", "--no-cli",
         "--allow-loopback-peers", f"--userdb={directory / 'turndb'}", f"--log-file={log}", "--simple-log",
         "--no-stdout-log", f"--pidfile={directory / 'turnserver.pid'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers_stun(port):
            assert proc.poll() is None, f"turnserver exited: {log.read_text() if log.exists() else ''}"
            assert time.monotonic() < deadline, "turnserver did not answer STUN in 30 s"
        yield Coturn(port, secret, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
