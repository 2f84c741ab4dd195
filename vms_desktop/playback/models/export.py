"""Export of a recorded range to MP4 (contract 2): queue it on the server, follow its progress, download;
one job per camera when several cameras export the same range."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from vms_desktop.client.api import ClientError, VmsClient
from vms_desktop.playback.feed import iso

logger = logging.getLogger(__name__)
POLL_S = 0.5


class ExportJob(QObject):
    sig_progress = Signal(float)  # 0..1
    sig_done = Signal(str)  # saved file
    sig_failed = Signal(str)

    def __init__(self, client: VmsClient) -> None:
        super().__init__()
        self.client = client
        self.state = "idle"
        self.export_id: str | None = None

    async def run(self, camera_id: str, start_us: int, end_us: int, target: Path, stream: str = "main") -> bool:
        """Returns True when the file was saved to `target`; emits progress all along."""
        self.state = "queued"
        try:
            job = await self.client.request("POST", "/api/v1/exports", {
                "camera_id": camera_id, "start": iso(start_us), "end": iso(end_us), "stream": stream})
            self.export_id = str(job["id"])
            while job["state"] in ("queued", "running"):
                self.state = str(job["state"])
                self.sig_progress.emit(float(job.get("progress") or 0.0) * 0.9)
                await asyncio.sleep(POLL_S)
                job = await self.client.request("GET", f"/api/v1/exports/{self.export_id}")
            if job["state"] != "done":
                raise ClientError(f"the server could not export this range: {job.get('error') or job['state']}")
            data = await self.client.get_bytes(f"/api/v1/exports/{self.export_id}/file")
            await asyncio.to_thread(_write_blocking, target, data)
        except ClientError as exc:
            self.state = "failed"
            self.sig_failed.emit(exc.message)
            return False
        self.state = "done"
        self.sig_progress.emit(1.0)
        self.sig_done.emit(str(target))
        return True


def _write_blocking(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


@dataclass(frozen=True)
class ExportTarget:
    camera_id: str
    name: str
    path: Path


class ExportBatch(QObject):
    """The same range of several cameras: one server export per camera (`POST /exports` takes one camera),
    up to `AT_ONCE` running side by side. Progress is their mean; the result names what failed and why."""

    # The server refuses a user's exports beyond `recording.export_max_active_per_user` (16 by default) with 429:
    # a whole 25-tile wall exported at once must queue here, not fail for nine of its cameras.
    AT_ONCE = 8

    sig_progress = Signal(float)  # 0..1, over every camera
    sig_status = Signal(str)

    def __init__(self, client: VmsClient, targets: list[ExportTarget]) -> None:
        super().__init__()
        self.client = client
        self.targets = targets
        self.jobs = [ExportJob(client) for _ in targets]
        self._progress = [0.0] * len(targets)
        self.failures: dict[str, str] = {}  # camera name -> why

    def _job_progress(self, index: int, value: float) -> None:
        self._progress[index] = value
        self.sig_progress.emit(sum(self._progress) / len(self._progress))

    def _job_done(self) -> None:
        finished = sum(job.state in ("done", "failed") for job in self.jobs)
        if len(self.jobs) > 1 and finished < len(self.jobs):
            self.sig_status.emit(f"Exporting {len(self.jobs)} cameras… {finished} finished")

    async def run(self, start_us: int, end_us: int) -> list[Path]:
        """Export every target; returns the files saved (the others are in `failures`)."""
        if len(self.targets) == 1:
            self.sig_status.emit(f"Exporting {self.targets[0].name}…")
        else:
            self.sig_status.emit(f"Exporting {len(self.targets)} cameras…")
        for index, (job, target) in enumerate(zip(self.jobs, self.targets, strict=True)):
            job.sig_progress.connect(functools.partial(self._job_progress, index))
            job.sig_failed.connect(functools.partial(self.failures.__setitem__, target.name))
            job.sig_done.connect(lambda _path: self._job_done())
            job.sig_failed.connect(lambda _message: self._job_done())
        gate = asyncio.Semaphore(self.AT_ONCE)

        async def one(job: ExportJob, target: ExportTarget) -> bool:
            async with gate:
                return await job.run(target.camera_id, start_us, end_us, target.path)

        results = await asyncio.gather(*(one(job, t) for job, t in zip(self.jobs, self.targets, strict=True)))
        saved = [t.path for t, ok in zip(self.targets, results, strict=True) if ok]
        self.sig_status.emit(self._summary(saved))
        return saved

    def _summary(self, saved: list[Path]) -> str:
        if len(self.targets) == 1:
            return f"Exported to {saved[0]}" if saved else f"Export failed: {next(iter(self.failures.values()))}"
        folder = self.targets[0].path.parent
        failed = "; ".join(f"{name} ({why})" for name, why in self.failures.items())
        if not failed:
            return f"Exported {len(saved)} cameras to {folder}"
        return f"Exported {len(saved)} of {len(self.targets)} cameras to {folder}; failed: {failed}"
