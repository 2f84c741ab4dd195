"""A power cut under a recording (issue 21): what the disk holds at the cut, not what the page cache held.

The volume is an ext4 file system on a loop device. At the cut the recording process is frozen (SIGSTOP: it
writes and syncs nothing more) and the loop device's backing file is copied at once: the copy is the disk as the
power left it, without what was only in the page cache. The copy is mounted (ext4 replays its journal) and start-up
recovery runs on it; the footage lost must stay within the configured sync interval plus the fragment (GOP) that
was being written.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.recording.conftest import RECORDER_CHILD, frames_in, reconcile_rows, recording_settings
from vms_camsim.handle import SimulatorHandle
from vms_server.recording.config import VolumeConfig
from vms_server.recording.storage import VolumeSet

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("losetup") is None or
                                 shutil.which("mkfs.ext4") is None, reason="loop devices and mkfs need root")]

INTERVAL_S = 1.0
GOP_S = 1.0  # the test camera's keyframe interval: the fragment being written is lost whatever the policy

def run(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout.strip()


class LoopDisk:
    """An ext4 file system in a file, on a loop device, mounted."""

    def __init__(self, image: Path, mount_point: Path) -> None:
        self.image, self.mount_point = image, mount_point
        self.device: str | None = None

    def attach(self) -> None:
        self.mount_point.mkdir(exist_ok=True)
        self.device = run("losetup", "-f", "--show", str(self.image))
        run("mount", "-t", "ext4", self.device, str(self.mount_point))

    def detach(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount_point)], check=False, capture_output=True)
        if self.device is not None:
            subprocess.run(["losetup", "-d", self.device], check=False, capture_output=True)
            self.device = None


@pytest.fixture
def disks(tmp_path: Path) -> Iterator[tuple[LoopDisk, LoopDisk]]:
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(96 * 1024**2)
    run("mkfs.ext4", "-q", "-F", str(image))
    live = LoopDisk(image, tmp_path / "live")
    after = LoopDisk(tmp_path / "after-the-cut.img", tmp_path / "after")
    try:
        live.attach()
    except subprocess.CalledProcessError as exc:  # a container without loop devices
        pytest.skip(f"cannot attach a loop device here: {exc.stderr.strip()}")
    try:
        yield live, after
    finally:
        live.detach()
        after.detach()


async def test_a_power_cut_loses_at_most_the_sync_interval_and_the_fragment_being_written(
        sim: SimulatorHandle, tmp_path: Path, sqlite_url: str, disks: tuple[LoopDisk, LoopDisk]) -> None:
    live, after = disks
    camera_id = str(uuid.uuid4())
    child = subprocess.Popen([sys.executable, "-c", RECORDER_CHILD, sim.rtsp_url("cam1", "main"),
                              str(live.mount_point), camera_id, "2", str(INTERVAL_S)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        start_us = int(await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 30))
        await asyncio.sleep(7.5)  # three segments closed and renamed, a fourth being written
        os.kill(child.pid, signal.SIGSTOP)  # the power goes: nothing more is written or synced by the recorder
        cut_at = time.time()
        shutil.copyfile(live.image, after.image)  # the disk as it is now, without the page cache
    finally:
        child.kill()
        child.wait()
    live.detach()
    subprocess.run(["e2fsck", "-p", str(after.image)], check=False, capture_output=True)
    after.attach()

    _, rows = await reconcile_rows(recording_settings(tmp_path, sqlite_url).database_url,
                                   VolumeSet([VolumeConfig(path=after.mount_point, min_free_bytes=0)]))
    assert len(rows) >= 3
    assert rows[0].start_at.timestamp() == pytest.approx(start_us / 1e6, abs=0.01)  # the first file survived
    for row in rows:
        assert frames_in(after.mount_point / row.path) == row.frames  # all that is indexed decodes
    lost = cut_at - rows[-1].end_at.timestamp()
    # Generous for a loaded machine: the interval, a round of syncing, the GOP being written, scheduling.
    assert lost <= INTERVAL_S + GOP_S + 2.5, f"lost {lost:.2f} s"
    covered = sum(r.duration_s for r in rows)
    assert covered >= (cut_at - start_us / 1e6) - (INTERVAL_S + GOP_S + 2.5) - len(rows) * 0.3
