"""A recording volume that goes away under a running server (issue 21: `umount -l`): recording stops writing
there instead of filling the root disk under the bare mount point, health says so, and it resumes when the
disk is back."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.recording.config import VolumeConfig
from vms_server.recording.keys import RECORDER
from vms_server.recording.storage import NoVolume, VolumeSet

pytestmark = pytest.mark.slow


def _mp4s(path: Path) -> list[Path]:
    return sorted(path.rglob("*.mp4"))


def test_a_replaced_directory_is_not_the_volume(tmp_path: Path) -> None:
    """Without root (no mount): the path swapped for an empty directory is refused, the other volume used."""
    one, two = tmp_path / "one", tmp_path / "two"
    volumes = VolumeSet([VolumeConfig(path=one, min_free_bytes=0), VolumeConfig(path=two, min_free_bytes=0)])
    assert {volumes.pick() for _ in range(3)} <= {one, two}
    one.rename(tmp_path / "one-away")
    one.mkdir()  # what is left where the disk was
    assert {volumes.pick() for _ in range(3)} == {two}
    assert "no longer the volume" in (volumes.volumes[0].misplaced or "")
    two.rename(tmp_path / "two-away")
    with pytest.raises(NoVolume, match="no recording volume is usable"):
        volumes.pick()
    one.rmdir()
    (tmp_path / "one-away").rename(one)  # the disk is back
    assert volumes.pick() == one and volumes.volumes[0].misplaced is None


def test_require_mount_refuses_a_bare_directory(tmp_path: Path) -> None:
    volumes = VolumeSet([VolumeConfig(path=tmp_path / "disk", min_free_bytes=0, require_mount=True)])
    with pytest.raises(NoVolume, match="not a mount point"):
        volumes.pick()
    assert not (tmp_path / "disk" / ".vms-volume").exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="mounting a tmpfs needs root")
async def test_a_volume_unmounted_under_the_server_takes_no_footage(
        tmp_path: Path, sqlite_url: str, aiohttp_client: Any, sim: SimulatorHandle) -> None:
    from vms_server.app import create_app

    disk, source = tmp_path / "disk", tmp_path / "source"
    disk.mkdir()
    source.mkdir()
    # The "disk": a tmpfs, bind-mounted where the volume is configured, so it can be unmounted there and come back.
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", f"vms-test-{uuid.uuid4().hex[:6]}",
                              str(source)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:  # root without CAP_SYS_ADMIN (some containers)
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["mount", "--bind", str(source), str(disk)], check=True)
        settings = recording_settings(tmp_path, sqlite_url, segment_seconds=1.0, volumes=[
            {"path": str(disk), "min_free_bytes": 0, "require_mount": True}])
        api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
        camera_id = uuid.UUID(await add_camera(api, sim.rtsp_url("cam1", "main")))
        await wait_for(lambda: len(_mp4s(disk)) >= 2, limit=30)
        subprocess.run(["umount", "-l", str(disk)], check=True)
        assert _mp4s(disk) == []  # the bare mount point
        service = api.client.app[RECORDER]
        await wait_for(lambda: "not recording" in (service.recorder(camera_id).error or ""), limit=15)
        assert _mp4s(disk) == [], "footage written into the bare mount point (the root disk)"
        health = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
        recording = next(c for c in health["components"] if c["name"] == "recording")
        assert not recording["ok"] and "no longer the volume" in recording["detail"]

        before = len(_mp4s(source))
        subprocess.run(["mount", "--bind", str(source), str(disk)], check=True)  # the disk is back
        await wait_for(lambda: len(_mp4s(source)) >= before + 2, limit=30)
        assert service.recorder(camera_id).error is None
    finally:
        for path in (disk, disk, source):
            subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
