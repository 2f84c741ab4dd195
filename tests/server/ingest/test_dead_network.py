"""A network that goes silent both ways (a cable pulled, a partition) is reported after the read timeout, not
twice it (issue 21: 20.2 s with read_timeout_s=10): the session's end is not held up by the RTSP TEARDOWN that
the dead network never answers."""

from __future__ import annotations

import asyncio
import contextlib
import time

from tests.server.ingest.test_reconnect_probe import _config
from tests.server.ingest.test_worker import Counting
from tests.server.recording.conftest import wait_for
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.health import StreamState
from vms_server.ingest.worker import StreamWorker, WorkerOptions


class BlackHoleProxy:
    """Relays TCP both ways until `cut()`: then it keeps every socket open and passes nothing, like a pulled
    cable (no RST, no FIN)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.open = True
        self.server: asyncio.Server | None = None
        self.closed = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        self.open = False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        for end in (writer, up_writer):
            end.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if not self.open:
                    await self.closed.wait()  # swallowed: the far side never hears of it
                    break
                writer.write(data)
                await writer.drain()

    async def close(self) -> None:
        self.closed.set()
        if self.server is not None:
            self.server.close()
        await asyncio.sleep(0.05)  # the pipes see `closed` and end


async def test_a_silent_network_is_reported_after_the_read_timeout() -> None:
    read_timeout = 3.0
    async with SimulatorHandle.start(_config(0)) as sim:
        camera_port = int(sim.rtsp_url("cam1", "main").split(":")[2].split("/")[0])
        proxy = BlackHoleProxy(camera_port)
        port = await proxy.start()
        counting = Counting()
        worker = StreamWorker("cam", "main", lambda: f"rtsp://127.0.0.1:{port}/cam1/main",
                              WorkerOptions(open_timeout_s=5, read_timeout_s=read_timeout, backoff_initial_s=30,
                                            backoff_max_s=30))
        worker.add(counting)
        worker.start()
        try:
            await wait_for(lambda: counting.packets > 5, limit=20)
            proxy.cut()
            cut = time.monotonic()
            await wait_for(lambda: worker.health.state == StreamState.OFFLINE, limit=4 * read_timeout)
            assert time.monotonic() - cut < 1.7 * read_timeout, "declared down long after the read timeout"
        finally:
            await asyncio.to_thread(worker.stop_blocking, 2 * read_timeout)
            await proxy.close()
