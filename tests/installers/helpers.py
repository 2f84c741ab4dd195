"""Driving installed or bundled programs as site IT would: start them, wait for health, log in over HTTP or
over HTTPS trusting exactly the server's own self-signed certificate (`trust`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp

REPO = Path(__file__).resolve().parents[2]
_USED_CODES: dict[str, str] = {}
BUILD = Path(os.environ.get("VMS_BUILD_DIR", REPO / "build" / "installers"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TRUSTED: list[ssl.SSLContext] = []


def trust(certificate: Path) -> ssl.SSLContext:
    """Verify https:// servers against this one self-signed certificate from now on (name and all: it is
    valid for localhost and 127.0.0.1), as a client that pinned it would; returns the context."""
    context = ssl.create_default_context(cafile=str(certificate))
    _TRUSTED[:] = [context]
    return context


def http(method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body) for 4xx/5xx too. https:// needs `trust` first."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        context = _TRUSTED[0] if url.startswith("https://") and _TRUSTED else None
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def login(base: str, username: str, password: str, totp_secret: str | None = None) -> tuple[str, str | None]:
    """Password login, TOTP enrolment on first login (or the code of `totp_secret`): returns the access
    token and the TOTP secret for the next login."""
    status, body = http("POST", f"{base}/api/v1/auth/login", {"username": username, "password": password})
    assert status == 200, body
    if body["status"] == "ok":
        return str(body["access_token"]), totp_secret
    mfa_token = body["mfa_token"]
    if body["status"] == "mfa_enrollment_required":
        status, enrolment = http("POST", f"{base}/api/v1/auth/mfa/enroll", {"mfa_token": mfa_token})
        assert status == 200, enrolment
        totp_secret = enrolment["secret"]
    assert totp_secret, "MFA asked for a user whose TOTP secret the test does not know"
    code = pyotp.TOTP(totp_secret).now()
    while code == _USED_CODES.get(totp_secret):  # the server refuses a replayed code: wait for the next one
        time.sleep(1)
        code = pyotp.TOTP(totp_secret).now()
    _USED_CODES[totp_secret] = code
    status, body = http("POST", f"{base}/api/v1/auth/mfa/verify", {"mfa_token": mfa_token, "code": code})
    assert status == 200 and body["status"] == "ok", body
    return str(body["access_token"]), totp_secret


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if http("GET", f"{base}/health/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server not ready after {timeout} s:\n{log.read_text()[-4000:]}")


@contextmanager
def running(cmd: list[str], log: Path, env: dict[str, str] | None = None,
            user: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a program for the duration of the block; SIGTERM (then SIGKILL) on the way out."""
    full_env = {**os.environ, **(env or {})}
    with log.open("wb") as out:
        if user is None:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env)
        else:  # as a service user would run it: its own uid, gid and no supplementary groups
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env, user=user,
                                       group=user, extra_groups=[], cwd="/")
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for_file(path: Path, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if path.is_file() and path.stat().st_size:
            return json.loads(path.read_text())
        time.sleep(0.2)
    raise AssertionError(f"{path} not written after {timeout} s:\n{log.read_text()[-4000:]}")


def wait_online(base: str, token: str, camera_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll the camera's stream health until every stream is online; returns the streams."""
    deadline = time.monotonic() + timeout
    streams: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, body = http("GET", f"{base}/api/v1/cameras/{camera_id}/status", token=token)
        assert status == 200, body
        streams = body["streams"]
        if streams and all(s["state"] == "online" for s in streams):
            return streams
        time.sleep(0.5)
    raise AssertionError(f"camera streams not online: {streams}")
