"""TLS listener pieces (issue #18): the self-signed certificate made once, served over a real socket, its
fingerprint the one a client sees; the site's own files checked at start."""
from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from vms_common.tls import (
    TlsError,
    TlsSection,
    ensure_certificate,
    fingerprint,
    generate_self_signed,
    server_context,
)


async def _serve(context: ssl.SSLContext) -> tuple[web.AppRunner, int]:
    app = web.Application()
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


async def test_self_signed_serves_https_with_the_printed_fingerprint(tmp_path: Path) -> None:
    tls = TlsSection(mode="self_signed", names=["vms.example.lan", "10.1.2.3"])
    printed = ensure_certificate(tls, tmp_path)
    assert printed is not None
    key_mode = stat.S_IMODE((tmp_path / "tls/server.key").stat().st_mode)
    assert key_mode == 0o600
    assert ensure_certificate(tls, tmp_path) == printed  # made once, not at every start
    context = server_context(tls, tmp_path)
    assert context is not None
    runner, port = await _serve(context)
    try:
        # Pinned (no CA): the client checks the fingerprint itself, as the desktop client does.
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{port}/health", ssl=False) as response:
                assert response.status == 200
            served = await asyncio.to_thread(ssl.get_server_certificate, ("127.0.0.1", port))
            assert fingerprint(served.encode()) == printed
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/health") as plain:
                    await plain.read()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # system CAs do not know it
                await session.get(f"https://127.0.0.1:{port}/health")
    finally:
        await runner.cleanup()


def test_files_mode_accepts_a_matching_pair_and_names_a_mismatch(tmp_path: Path) -> None:
    generate_self_signed(tmp_path / "a.crt", tmp_path / "a.key", ["site.example"])
    generate_self_signed(tmp_path / "b.crt", tmp_path / "b.key", ["site.example"])
    assert server_context(TlsSection(mode="files", cert_file=tmp_path / "a.crt", key_file=tmp_path / "a.key"),
                          tmp_path) is not None
    with pytest.raises(TlsError, match="does not match"):
        server_context(TlsSection(mode="files", cert_file=tmp_path / "a.crt", key_file=tmp_path / "b.key"),
                       tmp_path)
    with pytest.raises(TlsError, match="cannot read the certificate"):
        server_context(TlsSection(mode="files", cert_file=tmp_path / "none.crt", key_file=tmp_path / "a.key"),
                       tmp_path)
    with pytest.raises(TlsError, match="cert_file or key_file is not set"):
        server_context(TlsSection(mode="files"), tmp_path)
    assert server_context(TlsSection(), tmp_path) is None


@pytest.mark.slow
def test_vms_server_run_serves_https_with_the_fingerprint_init_printed(tmp_path: Path) -> None:
    """The real entry point: `init` prints the fingerprint, `run` answers HTTPS with that certificate only."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.server.test_cli import FAST_HASH, vms

    env = {"VMS_SERVER__TLS__MODE": "self_signed"}
    init = vms(tmp_path, "init", "--password", "Initial-Pass-1", env=env)
    assert init.returncode == 0, init.stderr
    printed = init.stdout.split("fingerprint (compare on first client login): ", 1)[1].split()[0]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    full_env = {**os.environ, **FAST_HASH, **env, "VMS_DATA_DIR": str(tmp_path)}
    full_env.pop("VMS_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--port", str(port)], env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # pinned below by fingerprint instead
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/health/ready", timeout=2,
                                            context=unverified) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("server over TLS did not start")
        assert fingerprint(ssl.get_server_certificate(("127.0.0.1", port)).encode()) == printed
        with pytest.raises((OSError, http.client.HTTPException)):  # plain HTTP: not answered
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=10).read()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert printed.encode() in err  # logged at start too


def test_run_refuses_a_missing_certificate_file_clearly(tmp_path: Path) -> None:
    from tests.server.test_cli import vms

    assert vms(tmp_path, "init", "--password", "Initial-Pass-1").returncode == 0
    env = {"VMS_SERVER__TLS__MODE": "files", "VMS_SERVER__TLS__CERT_FILE": str(tmp_path / "none.crt"),
           "VMS_SERVER__TLS__KEY_FILE": str(tmp_path / "none.key")}
    result = vms(tmp_path, "run", "--port", "1", env=env)
    assert result.returncode == 2 and "none.crt" in result.stderr and "Traceback" not in result.stderr


def test_tls_fingerprint_cli_prints_the_certificate_in_use(tmp_path: Path) -> None:
    from tests.server.test_cli import vms

    env = {"VMS_SERVER__TLS__MODE": "self_signed"}
    result = vms(tmp_path, "tls", "fingerprint", env=env)
    assert result.returncode == 0, result.stderr
    served = ensure_certificate(TlsSection(mode="self_signed"), tmp_path)
    assert result.stdout.strip() == served and len(served.split(":")) == 32
    off = vms(tmp_path, "tls", "fingerprint")
    assert off.returncode == 1 and "TLS is off" in off.stderr
