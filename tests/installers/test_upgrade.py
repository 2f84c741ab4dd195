"""Upgrading a site from the previous release (issue 24), as site IT does it: the previous release's package,
built from its own sources and packaging scripts, is installed and records a camera; the new package is
installed over it; the service starts on the migrated database with the same users, the footage recorded before
the upgrade is still listed and decodable, an evidence lock survives, and recording goes on. The desktop
package is upgraded the same way: the new program answers, and no file of the old bundle is left behind.

The previous release is the commit named in `installers/previous-release` (releases are not tagged yet). CI runs
as root on a full clone; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.installers.conftest import build_bundle
from tests.installers.helpers import REPO, free_port, http, login, running, trust, wait_ready
from tests.installers.test_deb import (
    MASK,
    build_deb,
    clean_machine,  # noqa: F401 (the fixture, used by name)
    exec_start,
    installed,
    sh,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(sys.platform != "linux" or subprocess.run(["which", "dpkg-deb"], capture_output=True,
                                                                 check=False).returncode != 0, reason="needs dpkg"),
    pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() != 0, reason="installs packages: needs root"),
]
PREVIOUS = next(line for line in (REPO / "installers" / "previous-release").read_text().splitlines()
                if line and not line.startswith("#")).strip()


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def previous_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's files, from git."""
    if _git("cat-file", "-e", f"{PREVIOUS}^{{commit}}").returncode != 0:
        pytest.skip(f"the previous release {PREVIOUS[:12]} is not in this clone (a shallow clone?)")
    source = tmp_path_factory.mktemp("previous") / "src"
    source.mkdir()
    archive = _git("archive", "--format=tar", PREVIOUS)
    assert archive.returncode == 0, archive.stderr.decode()
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True, timeout=120)
    return source


def _previous_bundle(source: Path, name: str) -> Path:
    """A bundle of the previous release, built by its own script from its own sources."""
    # Its own packages first on the path: the venv's editable install points at the new sources.
    env = {**os.environ, "PYTHONPATH": str(source)}
    out = source.parent / "build"
    build = subprocess.run([sys.executable, str(source / "installers" / "build_bundle.py"), name, "--out", str(out)],
                           cwd=source, env=env, capture_output=True, text=True, timeout=1200, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    bundle = out / "dist" / f"vms-{name}"
    assert (bundle / f"vms-{name}").is_file()
    return bundle


def _previous_deb(source: Path, bundle: Path, out: Path, package: str = "server") -> Path:
    result = sh(sys.executable, str(source / "installers" / "deb" / "build_deb.py"), package, "--bundle",
                str(bundle), "--out", str(out), "--revision", "1", "--compression", "gzip", "--level", "1")
    return Path(result.stdout.split(" (")[0].strip())


def _serve(log: Path, port: int) -> Any:
    """The installed unit's command as the service user, with one simulated camera and short segments."""
    env = {"VMS_SERVER__HOST": "127.0.0.1", "VMS_SERVER__PORT": str(port), "HOME": "/var/lib/vms",
           "VMS_DISCOVERY__ADVERTISE": "false", "VMS_RECORDING__SEGMENT_SECONDS": "3"}
    return running([*exec_start(), "--simulate", "1"], log, env=env, user="vms")


def _until(check: Callable[[], Any], what: str, limit: float = 120) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {limit} s: {what}")


def _ranges(base: str, token: str, camera: str, start: dt.datetime,
            end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    query = f"start={quote(start.isoformat())}&end={quote(end.isoformat())}"
    status, body = http("GET", f"{base}/api/v1/cameras/{camera}/recordings?{query}", token=token)
    assert status == 200, body
    return [(dt.datetime.fromisoformat(r["start"]), dt.datetime.fromisoformat(r["end"])) for r in body["ranges"]]


def _recorded(base: str, token: str, camera: str, start: dt.datetime, end: dt.datetime) -> float:
    return sum((b - a).total_seconds() for a, b in _ranges(base, token, camera, start, end))


@pytest.mark.usefixtures("clean_machine")
def test_upgrade_from_the_previous_release_keeps_users_footage_and_locks(
        previous_source: Path, server_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The packages' own configuration: the previous release has no TLS setting at all (an unknown key stops it),
    # and the upgrade replaces the unchanged server.toml with this release's, which turns HTTPS on.
    monkeypatch.delenv("VMS_SERVER__TLS__MODE", raising=False)
    old = _previous_deb(previous_source, _previous_bundle(previous_source, "server"), tmp_path / "old")
    new = build_deb("server", server_bundle, tmp_path / "new", "2")
    sh("dpkg", "-i", str(old))
    password = Path("/etc/vms/initial-admin-password").read_text().strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = dt.datetime.now(dt.UTC)
    with _serve(tmp_path / "old.log", port) as server:
        wait_ready(base, server, tmp_path / "old.log", timeout=120)
        token, totp = login(base, "admin", password)

        def camera() -> str | None:
            items = http("GET", f"{base}/api/v1/cameras", token=token)[1]["items"]
            return str(items[0]["id"]) if items else None

        camera_id = _until(camera, "the simulated camera registered")
        _until(lambda: _recorded(base, token, camera_id, started, dt.datetime.now(dt.UTC)) >= 6,
               "six seconds recorded by the previous release")
        status, created = http("POST", f"{base}/api/v1/users", {"username": "operator1",
                                                                 "password": "operator-Pa55word", "role": "viewer"},
                               token=token)
        assert status == 201, created
        now = dt.datetime.now(dt.UTC)
        status, lock = http("POST", f"{base}/api/v1/evidence-locks", {
            "camera_id": camera_id, "start": started.isoformat(), "end": now.isoformat(), "reason": "case 7"},
                            token=token)
        assert status == 201, lock
    before_upgrade = dt.datetime.now(dt.UTC)

    installing = sh("dpkg", "-i", str(new))
    assert "First login" not in installing.stdout
    assert sh("dpkg-query", "-W", "-f=${Version}", "vms-server").stdout.endswith("-2")
    # HTTPS from this release on: the upgrade says so, with the fingerprint of the certificate now served.
    assert "served over HTTPS on https://" in installing.stdout, installing.stdout
    printed = installing.stdout.split("fingerprint (operators confirm it once): ")[1].split("\n")[0]
    assert sh("vms-server", "--config", "/etc/vms/server.toml", "tls", "fingerprint").stdout.strip() == printed
    context = trust(Path("/var/lib/vms/tls/server.crt"))
    base = f"https://127.0.0.1:{port}"
    with _serve(tmp_path / "new.log", port) as server:
        wait_ready(base, server, tmp_path / "new.log", timeout=120)  # ready: the schema is at this release's head
        token, _ = login(base, "admin", password, totp)
        users = {u["username"] for u in http("GET", f"{base}/api/v1/users", token=token)[1]["items"]}
        assert "operator1" in users
        recorded_before = _recorded(base, token, camera_id, started, before_upgrade)
        assert recorded_before >= 6, "the previous release's footage is listed after the upgrade"
        locks = http("GET", f"{base}/api/v1/evidence-locks", token=token)[1]["items"]
        assert [lock_["reason"] for lock_ in locks] == ["case 7"]
        first, last = _ranges(base, token, camera_id, started, before_upgrade)[0]
        middle = first + (last - first) / 2  # inside footage the previous release wrote
        request = urllib.request.Request(f"{base}/api/v1/cameras/{camera_id}/snapshot?at={quote(middle.isoformat())}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=60, context=context) as picture:  # from the old segments
            assert picture.status == 200 and picture.read(3) == b"\xff\xd8\xff"
        _until(lambda: _recorded(base, token, camera_id, before_upgrade, dt.datetime.now(dt.UTC)) >= 3,
               "recording goes on after the upgrade")
    assert not MASK.is_symlink() and installed("vms-server")


@pytest.mark.usefixtures("clean_machine")
def test_desktop_upgrade_from_the_previous_release(previous_source: Path, tmp_path: Path) -> None:
    """The operators' client: the new package replaces the previous one's program (its new options answer) and
    leaves nothing of the old bundle behind."""
    old = _previous_deb(previous_source, _previous_bundle(previous_source, "desktop"), tmp_path / "old", "desktop")
    new = build_deb("desktop", build_bundle("desktop"), tmp_path / "new", "2")
    sh("dpkg", "-i", str(old))
    sh("dpkg", "-i", str(new))
    assert sh("dpkg-query", "-W", "-f=${Version}", "vms-desktop").stdout.endswith("-2")
    after = {p.relative_to("/usr/lib/vms-desktop") for p in Path("/usr/lib/vms-desktop").rglob("*")}
    listed = {Path(line.removeprefix("/usr/lib/vms-desktop/")) for line in
              sh("dpkg-query", "-L", "vms-desktop").stdout.splitlines() if line.startswith("/usr/lib/vms-desktop/")}
    assert after <= listed, f"files no package owns: {sorted(map(str, after - listed))[:10]}"
    help_text = subprocess.run(["/usr/bin/vms-desktop", "--help"], capture_output=True, text=True, timeout=120,
                               env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert help_text.returncode == 0 and "--theme" in help_text.stdout  # an option the previous release lacks
    assert Path("/usr/share/applications/vms-desktop.desktop").is_file()
