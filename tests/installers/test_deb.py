"""The DEB packages installed for real on this machine (CI runs as root): first install creates the service
user, data directory and first admin; the unit's ExecStart serves the API; an upgrade keeps data and the
edited conffile (0640 root:vms); a backup restored by root serves the same users; remove keeps data; a reinstall
after remove leaves the unit unmasked and enabled; purge leaves nothing behind. lintian reports no errors."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shlex
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.installers.conftest import build_bundle
from tests.installers.helpers import REPO, free_port, http, login, running, trust, wait_ready

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(sys.platform != "linux" or shutil.which("dpkg-deb") is None, reason="needs dpkg"),
    pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() != 0, reason="installs packages: needs root"),
]
STATE = (Path("/var/lib/vms"), Path("/etc/vms"))
MASK = Path("/etc/systemd/system/vms-server.service")  # a link to /dev/null while masked
SYSTEMD_RUNNING = Path("/run/systemd/system").is_dir()


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if check:
        assert result.returncode == 0, f"{shlex.join(cmd)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def installed(package: str) -> bool:
    return "install ok installed" in sh("dpkg-query", "-W", "-f=${Status}", package, check=False).stdout


def build_deb(kind: str, bundle: Path, out: Path, revision: str) -> Path:
    """Fast gzip: the release default (xz) costs minutes on a 515 MB bundle and tests nothing more."""
    result = sh(sys.executable, str(REPO / "installers" / "deb" / "build_deb.py"), kind, "--bundle", str(bundle),
                "--out", str(out), "--revision", revision, "--compression", "gzip", "--level", "1")
    return Path(result.stdout.split(" (")[0].strip())


def lintian(deb: Path) -> subprocess.Popen[str]:
    """Started early and collected at the end: lintian reads every library in the bundle (a minute or two)."""
    return subprocess.Popen(["lintian", "--fail-on", "error", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def lintian_errors(process: subprocess.Popen[str]) -> list[str]:
    output, _ = process.communicate(timeout=600)
    return [line for line in output.splitlines() if line.startswith("E:")]


@pytest.fixture
def clean_machine() -> Iterator[None]:
    """Refuse to touch a machine that already has a VMS installed; purge ours whatever happens."""
    if installed("vms-server") or installed("vms-desktop") or any(p.exists() for p in STATE):
        pytest.skip("a VMS is installed here already (or /var/lib/vms, /etc/vms exist); not touching it")
    if shutil.which("lintian") is None:
        pytest.skip("lintian not installed (scripts/apt-packages.txt)")
    try:
        yield
    finally:
        for package in ("vms-server", "vms-desktop"):
            sh("dpkg", "--purge", package, check=False)
        for path in STATE:
            shutil.rmtree(path, ignore_errors=True)


def assert_config_readable_by_the_service_only(config: Path) -> None:
    """server.toml may hold the PostgreSQL password: 0640 root:vms."""
    mode = config.stat()
    assert mode.st_mode & 0o777 == 0o640 and mode.st_uid == 0 and grp.getgrgid(mode.st_gid).gr_name == "vms"


def exec_start() -> list[str]:
    unit = Path("/lib/systemd/system/vms-server.service").read_text()
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def start_installed_server(log: Path, port: int) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """The unit's ExecStart as its User (no systemd here); loopback, a free port and no LAN announcement via the
    environment."""
    env = {"VMS_SERVER__HOST": "127.0.0.1", "VMS_SERVER__PORT": str(port), "HOME": "/var/lib/vms",
           "VMS_DISCOVERY__ADVERTISE": "false"}  # the installed config announces the server; a test must not
    return running(exec_start(), log, env=env, user="vms")


def test_server_deb_install_upgrade_remove_purge(server_bundle: Path, tmp_path: Path, clean_machine: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The installed configuration as shipped: HTTPS with a self-signed certificate (not the tests' plain HTTP).
    monkeypatch.delenv("VMS_SERVER__TLS__MODE", raising=False)
    first = build_deb("server", server_bundle, tmp_path / "v1", "1")
    second = build_deb("server", server_bundle, tmp_path / "v2", "2")
    assert first.name.startswith("vms-server_") and first.name.endswith("-1_amd64.deb")
    lint = lintian(first)

    installing = sh("dpkg", "-i", str(first))
    out = installing.stdout
    assert "/etc/vms/initial-admin-password" in out
    if SYSTEMD_RUNNING:
        assert "First login: https://" in out
    else:  # a container: no login URL for a server that is not running
        assert "nothing was started" in out and "First login" not in out and "answer on https://" in out
    printed = out.split("fingerprint (operators compare it at first login):\nvms-server: ")[1].split("\n")[0]
    assert sh("vms-server", "--config", "/etc/vms/server.toml", "tls", "fingerprint").stdout.strip() == printed
    assert "home dir" not in (out + installing.stderr).lower(), installing.stderr
    secret_file = Path("/etc/vms/initial-admin-password")
    assert secret_file.stat().st_mode & 0o777 == 0o600 and secret_file.stat().st_uid == 0
    password = secret_file.read_text().strip()
    assert password not in out and len(password) >= 16
    data = Path("/var/lib/vms")
    assert pwd.getpwuid(data.stat().st_uid).pw_name == "vms" and grp.getgrnam("vms")
    assert data.stat().st_mode & 0o007 == 0 and (data / "vms.db").is_file()
    unit = Path("/lib/systemd/system/vms-server.service").read_text()
    for key in ("User=vms", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=vms"):
        assert key in unit
    if shutil.which("systemd-analyze"):  # the unit parses, and its ExecStart exists and is executable
        verify = sh("systemd-analyze", "verify", "/lib/systemd/system/vms-server.service", check=False)
        assert verify.returncode == 0 and "vms-server.service" not in verify.stderr, verify.stderr
    assert "/etc/vms/server.toml" in sh("dpkg-query", "--showformat=${Conffiles}", "-W", "vms-server").stdout
    assert sh("vms-server", "--version").stdout.startswith("vms-server ")
    config = Path("/etc/vms/server.toml")
    assert_config_readable_by_the_service_only(config)
    config.write_text(config.read_text() + "\n# edited by site IT\n")

    port = free_port()
    base = f"https://127.0.0.1:{port}"
    certificate = data / "tls" / "server.crt"
    context = trust(certificate)  # what a client pinning the printed fingerprint trusts
    served = hashlib.sha256(ssl.PEM_cert_to_DER_cert(certificate.read_text())).hexdigest()
    assert ":".join(served[i:i + 2] for i in range(0, 64, 2)).upper() == printed.upper()
    with start_installed_server(tmp_path / "run1.log", port) as server:
        wait_ready(base, server, tmp_path / "run1.log")
        with urllib.request.urlopen(f"{base}/", timeout=10, context=context) as page:  # a browser at the server
            assert page.status == 200 and "VMS server" in page.read().decode()
        assert f"listening on {base}" in (tmp_path / "run1.log").read_text()
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # no plain HTTP next to it: a TLS port
            # closes the connection on a plain request
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=10)
        token, totp = login(base, "admin", password)
        status, body = http("POST", f"{base}/api/v1/users",
                            {"username": "operator1", "password": "operator-Pa55word", "role": "viewer"}, token=token)
        assert status == 201, body

    out = sh("dpkg", "-i", str(second)).stdout
    assert "First login" not in out
    assert sh("dpkg-query", "-W", "-f=${Version}", "vms-server").stdout.endswith("-2")
    assert config.read_text().endswith("# edited by site IT\n")
    assert secret_file.read_text().strip() == password
    with start_installed_server(tmp_path / "run2.log", port) as server:
        wait_ready(base, server, tmp_path / "run2.log")
        token, _ = login(base, "admin", password, totp)
        status, users = http("GET", f"{base}/api/v1/users", token=token)
        assert status == 200 and "operator1" in {u["username"] for u in users["items"]}

    # Site IT's backup and restore, as root, as install.md says; the service user must own what comes back.
    made = sh("vms-server", "--config", str(config), "backup", "-o", str(tmp_path))
    archive = made.stdout.split("backup written: ")[1].split(" (")[0]
    sh("vms-server", "--config", str(config), "restore", "--force", archive)
    vms_uid = pwd.getpwnam("vms").pw_uid
    assert [p for p in data.rglob("*") if p.stat().st_uid != vms_uid] == [], "restored files not owned by vms"
    Path("/etc/vms/server.toml.from-backup").unlink()  # the backup's configuration, for site IT to compare
    with start_installed_server(tmp_path / "run3.log", port) as server:
        wait_ready(base, server, tmp_path / "run3.log")
        token, _ = login(base, "admin", password, totp)
        status, users = http("GET", f"{base}/api/v1/users", token=token)
        assert status == 200 and "operator1" in {u["username"] for u in users["items"]}

    sh("dpkg", "--remove", "vms-server")
    assert not Path("/usr/bin/vms-server").exists() and not Path("/usr/lib/vms-server").exists()
    assert (data / "vms.db").is_file() and config.is_file()
    assert MASK.is_symlink() and os.readlink(MASK) == "/dev/null", "remove masks the unit (as debhelper does)"
    # Reinstalling after `apt remove` (not purge) must leave a service that starts: unmasked and enabled.
    sh("dpkg", "-i", str(second))
    assert not MASK.is_symlink(), "the reinstall left vms-server.service masked"
    assert Path("/etc/systemd/system/multi-user.target.wants/vms-server.service").is_symlink(), "not enabled"
    assert_config_readable_by_the_service_only(config)
    assert config.read_text().endswith("# edited by site IT\n")
    purge = sh("dpkg", "--purge", "vms-server")
    assert "crontab" not in purge.stdout + purge.stderr
    assert not data.exists() and not Path("/etc/vms").exists()
    assert sh("getent", "passwd", "vms", check=False).returncode != 0
    assert not installed("vms-server")
    assert lintian_errors(lint) == []


def test_desktop_deb_installs_launcher_and_icon(tmp_path: Path, clean_machine: None) -> None:
    if sys.platform != "linux":
        pytest.skip("Linux only")
    bundle = build_bundle("desktop")
    deb = build_deb("desktop", bundle, tmp_path, "1")
    lint = lintian(deb)
    sh("dpkg", "-i", str(deb))
    entry = Path("/usr/share/applications/vms-desktop.desktop")
    assert "Exec=vms-desktop" in entry.read_text()
    assert Path("/usr/share/icons/hicolor/scalable/apps/vms-desktop.svg").is_file()
    forms = {p.name for p in Path("/usr/lib/vms-desktop").rglob("ui/forms/*.ui")}
    assert {"camera_dialog.ui", "user_dialog.ui", "csv_import_dialog.ui"} <= forms, forms  # the admin dialogs' forms
    assert list(Path("/usr/lib/vms-desktop").rglob("QtUiTools*")), "the loader of those forms is not shipped"
    if shutil.which("desktop-file-validate"):
        assert sh("desktop-file-validate", str(entry), check=False).returncode == 0
    help_text = subprocess.run(["/usr/bin/vms-desktop", "--help"], capture_output=True, text=True, timeout=120,
                               env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert help_text.returncode == 0 and "--server" in help_text.stdout
    sh("dpkg", "--purge", "vms-desktop")
    assert not entry.exists() and not Path("/usr/lib/vms-desktop").exists()
    assert lintian_errors(lint) == []
