"""The WiX sources built with wixl around a placeholder payload; the MSI tables are what Windows Installer
acts on, so checking them tests the installer logic (service, recovery and firewall actions, data folder,
shortcut, in-place upgrade) on every run. The real Windows bundle is built by .github/workflows/windows.yml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.installers.helpers import REPO

pytestmark = pytest.mark.skipif(shutil.which("wixl") is None or shutil.which("msiinfo") is None,
                                reason="needs wixl and msitools (scripts/apt-packages.txt)")

SERVER_UPGRADE_CODE = "{6E1B4F0A-3C57-4D0B-9A53-2F1C0E7B5A11}"
DESKTOP_UPGRADE_CODE = "{0D9F3A61-7B24-4C8E-8E15-5A6B7C8D9E0F}"


def build_msi(product: str, out: Path, version: str, port: int = 8080) -> Path:
    result = subprocess.run([sys.executable, str(REPO / "installers" / "windows" / "build_msi.py"), product,
                             "--placeholder", "--out", str(out), "--version", version, "--port", str(port)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    msi = Path(result.stdout.strip().splitlines()[-1])
    assert msi.is_file() and msi.name == f"vms-{product}-{version}-x64.msi"
    return msi


def table(msi: Path, name: str) -> list[dict[str, str]]:
    """Rows of an MSI table as dicts (msiinfo export: columns, types, keys, then tab-separated rows)."""
    text = subprocess.run(["msiinfo", "export", str(msi), name], capture_output=True, text=True, check=True).stdout
    lines = text.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def props(msi: Path) -> dict[str, str]:
    return {row["Property"]: row["Value"] for row in table(msi, "Property")}


def sequence(msi: Path) -> dict[str, tuple[int, str]]:
    return {r["Action"]: (int(r["Sequence"]), r["Condition"]) for r in table(msi, "InstallExecuteSequence")}


@pytest.fixture(scope="module")
def server_msis(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("msi")
    return build_msi("server", out, "0.1.0", port=8443), build_msi("server", out, "0.2.0", port=8443)


def test_server_msi_installs_a_restarting_service(server_msis: tuple[Path, Path]) -> None:
    msi = server_msis[0]
    [service] = table(msi, "ServiceInstall")
    assert service["Name"] == "VMSServer" and service["Component_"] == "ServiceExe"
    assert service["StartType"] == "2" and service["ServiceType"] == "16" and service["StartName"] == "LocalSystem"
    [control] = table(msi, "ServiceControl")
    # start on install, stop on install and uninstall, delete on uninstall
    assert int(control["Event"]) == 0x01 | 0x02 | 0x20 | 0x80 and control["Name"] == "VMSServer"
    files = {row["File"]: row for row in table(msi, "File")}
    assert files["ServiceExe"]["FileName"].endswith("vms-server-service.exe")

    actions = {row["Action"]: row for row in table(msi, "CustomAction")}
    configure = actions["ConfigureServer"]
    # 18 = run an installed file; 1024 deferred; 2048 as LocalSystem (no impersonation)
    assert int(configure["Type"]) & 0x3F == 18 and int(configure["Type"]) & 0xC00 == 0xC00
    assert configure["Source"] == "ServiceExe" and configure["Target"] == "configure --port [VMSPORT]"
    assert props(msi)["VMSPORT"] == "8443"
    steps = sequence(msi)
    assert steps["InstallServices"][0] < steps["ConfigureServer"][0] < steps["StartServices"][0]
    assert steps["ConfigureServer"][1] == "NOT REMOVE"
    assert steps["StopServices"][0] < steps["FirewallClose"][0] < steps["RemoveFiles"][0]
    assert "UPGRADINGPRODUCTCODE" in steps["FirewallClose"][1]


def test_server_msi_layout_keeps_data_unless_asked(server_msis: tuple[Path, Path]) -> None:
    msi = server_msis[0]
    dirs = {row["Directory"]: row for row in table(msi, "Directory")}
    assert dirs["INSTALLDIR"]["Directory_Parent"] == "VMSDIR" and dirs["INSTALLDIR"]["DefaultDir"] == "Server"
    assert dirs["VMSDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert dirs["DATADIR"]["Directory_Parent"] == "CommonAppDataFolder" and dirs["DATADIR"]["DefaultDir"] == "VMS"
    components = {row["Component"]: row for row in table(msi, "Component")}
    assert components["DataFolder"]["Directory_"] == "DATADIR"
    assert components["ServerConfig"]["Directory_"] == "DATADIR"
    assert {row["Component_"] for row in table(msi, "CreateFolder")} >= {"DataFolder"}
    remove_data = sequence(msi)["RemoveData"]
    assert 'REMOVEDATA="1"' in remove_data[1] and 'REMOVE="ALL"' in remove_data[1]
    assert "UPGRADINGPRODUCTCODE" in remove_data[1]
    # every payload file is in a component of its own, 64-bit (attribute 256)
    names = {row["FileName"].split("|")[-1] for row in table(msi, "File")}
    assert {"vms-server.exe", "vms-camsim.exe", "python311.dll", "0001_initial_schema.py", "server.toml"} <= names
    assert all(int(c["Attributes"]) & 256 for c in components.values())


def test_server_msi_upgrades_in_place(server_msis: tuple[Path, Path]) -> None:
    old, new = (props(m) for m in server_msis)
    assert old["UpgradeCode"] == new["UpgradeCode"] == SERVER_UPGRADE_CODE
    assert old["ProductCode"] != new["ProductCode"]
    assert (old["ProductVersion"], new["ProductVersion"]) == ("0.1.0", "0.2.0")
    upgrade = table(server_msis[1], "Upgrade")
    detect = next(r for r in upgrade if r["ActionProperty"] == "WIX_UPGRADE_DETECTED")
    assert detect["UpgradeCode"] == SERVER_UPGRADE_CODE and detect["VersionMax"] == "0.2.0"
    assert any(r["ActionProperty"] == "WIX_DOWNGRADE_DETECTED" for r in upgrade)
    assert "RemoveExistingProducts" in sequence(server_msis[1])
    # the same file keeps its component GUID across versions, so the upgrade replaces rather than duplicates
    guids = [{r["Component"]: r["ComponentId"] for r in table(m, "Component")} for m in server_msis]
    assert guids[0] == guids[1]


def test_desktop_msi_has_a_start_menu_shortcut(tmp_path: Path) -> None:
    msi = build_msi("desktop", tmp_path, "0.1.0")
    [shortcut] = table(msi, "Shortcut")
    assert shortcut["Directory_"] == "ProgramMenuDir" and shortcut["Target"] == "[#DesktopExe]"
    assert shortcut["Name"].split("|")[-1] == "VMS Desktop"
    dirs = {row["Directory"]: row for row in table(msi, "Directory")}
    assert dirs["ProgramMenuDir"]["Directory_Parent"] == "ProgramMenuFolder"
    assert dirs["INSTALLDIR"]["DefaultDir"] == "Desktop"
    assert props(msi)["UpgradeCode"] == DESKTOP_UPGRADE_CODE
    assert [r["Component_"] for r in table(msi, "RemoveFile")] == ["StartMenuShortcut"]
    assert not table(msi, "ServiceInstall")
