"""Export of a recorded range to MP4 (contract 2): queue it on the server, follow its progress, download."""

from __future__ import annotations

import asyncio
import logging
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
