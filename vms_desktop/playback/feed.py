"""Recorded video of one camera into a tile, paced by the layout's PlaybackClock.

The server streams fragmented MP4 from the requested start (contract 2); a thread opens it with PyAV,
decodes, and hands each picture over when the clock reaches it. Seeking opens a new request, which is the
contract's way to seek.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import threading
import time
import urllib.request
from typing import Any

import av
from PySide6.QtCore import QObject, Signal

from vms_desktop.client.api import ClientError, SessionExpired, VmsClient, retry_delays
from vms_desktop.events.models.event_model import parse_time
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.video.decoder import PictureScaler
from vms_desktop.video.frames import Frame, FrameSink
from vms_desktop.video.messages import http_status, playback_error, redact, retriable

logger = logging.getLogger(__name__)
LOOKAHEAD_US = 6 * 3600 * 1_000_000  # request this far; the stream ends where the recording ends
SERVED_LOOKUP_US = 3600 * 1_000_000  # where a stream from a gap begins: the next range within this
SERVED_LOOKUP_TIMEOUT_S = 3.0  # a silent server: play anyway (the playback request says why it fails)
START_HEADER = "X-Playback-Start"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SHOWN_HISTORY = 256  # times of the last pictures delivered, for stepping back a frame (a GOP or more)
PLAYBACK_TRIES = 6  # requests before "Playback failed": waits of 0.5, 1, 2, 4, 5 s (12.5 s) in between


def stream_start_us(headers: Any) -> int | None:
    """Wall time of a playback stream's first keyframe (its time zero) from `X-Playback-Start`, or None
    (an older server). The requested start is up to one GOP late for it: a stream begins at a keyframe."""
    value = headers.get(START_HEADER) if headers is not None else None
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()


class PlaybackFeed(QObject):
    sig_status = Signal(str, str)

    def __init__(self, client: VmsClient, camera_id: str, stream: str, sink: FrameSink,
                 clock: PlaybackClock) -> None:
        super().__init__()
        self.client = client
        self.camera_id = camera_id
        self.stream = stream
        self.sink = sink
        self.clock = clock
        self.target = (0, 0)
        self.open_timeout_s = 10.0  # no answer within this: "Server unreachable"
        self.max_tries = PLAYBACK_TRIES
        self._started = False  # a picture was delivered: a later failure is reported, not retried
        self.next_us = 0  # time of the decoded picture waiting for the clock: where "one frame on" goes
        self._shown_lock = threading.Lock()
        self._shown: collections.deque[int] = collections.deque(maxlen=SHOWN_HISTORY)  # delivered times
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scalers = threading.local()  # a PictureScaler per decoding thread: a seek starts a new thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[None] | None = None

    def _status(self, state: str, message: str) -> None:
        """From the playback thread: the signal is emitted on the UI thread, never here."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.sig_status.emit, state, message)

    def start(self) -> None:
        start_us = self.clock.position_us()
        self.sig_status.emit("loading", "opening the recording")
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # started outside the loop (scripts): statuses from the thread are dropped
            self._loop = None
            self._start_thread(start_us, start_us, self.clock.generation)
            return
        self._task = asyncio.ensure_future(self._begin(start_us, self.clock.generation))

    async def _begin(self, start_us: int, generation: int) -> None:
        served_us = await self.served_start(start_us)
        if not self._stop.is_set():
            self._start_thread(start_us, served_us, generation)

    async def served_start(self, start_us: int) -> int:
        """Where the stream asked for at `start_us` really begins: the fMP4's clock starts at 0 there.

        The server serves from the first recording at or after the requested moment; from a gap, that is
        the next range's start, which the recordings API tells. Stamping pictures from the requested start
        put the tile clock as far behind the burned-in clock as the gap was long (issue #26, defect 2).
        Inside a range the stream starts at the keyframe before `start_us`; the stream's `X-Playback-Start`
        header says exactly where, and wins over this (which only an older server leaves to stand)."""
        try:
            data = await asyncio.wait_for(self.client.request(
                "GET", f"/api/v1/cameras/{self.camera_id}/recordings",
                params={"start": iso(start_us), "end": iso(start_us + SERVED_LOOKUP_US)}), SERVED_LOOKUP_TIMEOUT_S)
        except (ClientError, TimeoutError) as exc:
            logger.debug("recordings of camera %s not available: %r", self.camera_id, exc)
            return start_us
        starts: list[int] = []
        for item in data.get("ranges", []) if isinstance(data, dict) else []:
            begin, end = (int(parse_time(str(item[k])).timestamp() * 1e6) for k in ("start", "end"))
            if end > start_us:
                starts.append(max(begin, start_us))
        return min(starts, default=start_us)

    def _start_thread(self, start_us: int, served_us: int, generation: int) -> None:
        params = {"start": iso(start_us), "end": iso(start_us + LOOKAHEAD_US), "stream": self.stream}
        self._thread = threading.Thread(target=self._run, args=(params, served_us, generation),
                                        name=f"playback-{self.camera_id[:8]}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    def frame_before(self, us: int) -> int | None:
        """The time of the latest picture this feed delivered before `us`: where "back one frame" seeks.
        None when `us` is this stream's first picture (the frame before is in an earlier GOP)."""
        with self._shown_lock:
            earlier = [t for t in self._shown if t < us]
        return max(earlier, default=None)

    def set_target_size(self, width: int, height: int) -> None:
        self.target = (max(1, width), max(1, height))

    def _token(self, *, refresh: bool) -> str:
        """From the playback thread: an access token good for this try, refreshed on the UI loop first when it
        ran out (or, `refresh`, when the server refused it). Each try asks anew: a tile retrying through a
        server restart used to keep the token of its first try, which had expired by then, and stopped at
        "Not authorised" once the server was back. Raises SessionExpired."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(
                self.client.refresh() if refresh else self.client.ensure_fresh(), loop)
            try:
                future.result(self.open_timeout_s)
            except SessionExpired:
                raise
            except (ClientError, TimeoutError) as exc:  # the request itself will tell what is wrong
                future.cancel()
                logger.debug("token refresh before playback of camera %s failed: %r", self.camera_id, exc)
        return self.client.tokens.access_token if self.client.tokens else ""

    def _open(self, params: dict[str, str], token: str) -> Any:
        """The HTTP response of the playback request (a file PyAV reads). Python's HTTP client rather than
        FFmpeg's: FFmpeg gives no access to response headers, and `X-Playback-Start` is needed; the token
        goes in a header, so it is in no URL or error text either. Over https the client's context checks the
        pinned certificate (or the CAs) before the header is sent. Raises HTTPError, URLError, OSError."""
        url = self.client.url(f"/api/v1/cameras/{self.camera_id}/playback.mp4", params)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - base_url is http(s) only
        return urllib.request.urlopen(request, timeout=self.open_timeout_s,  # noqa: S310
                                      context=self.client.ssl_context())

    def _run(self, params: dict[str, str], start_us: int, generation: int) -> None:
        """Open the stream; a refused or unanswered request is asked again with backoff before the tile
        gives up. Without this a tile whose request met the server's stream limit (503) stayed on its last
        live picture, looking live and frozen (issue #26, defect 3). A 401 is answered with one token
        refresh and an immediate new try, as the live view does."""
        delays = retry_delays()
        attempt, refresh, refreshed = 0, False, False
        while attempt < self.max_tries:
            attempt += 1
            try:
                token = self._token(refresh=refresh)
            except SessionExpired as exc:
                self._status("unauthorised", exc.message)
                return
            refresh = False
            try:
                with contextlib.closing(self._open(params, token)) as response, av.open(response) as container:
                    self._play(container, stream_start_us(response.headers) or start_us, generation)
                return
            except (av.error.FFmpegError, OSError) as exc:
                if self._stop.is_set():
                    return
                logger.debug("playback of camera %s failed (try %d of %d): %s", self.camera_id, attempt,
                             self.max_tries, redact(repr(exc)))
                if http_status(exc) == 401 and not refreshed and not self._started:
                    refresh, refreshed = True, True
                    attempt -= 1  # the refused try was the token's fault, not the server's
                    continue
                state, message = playback_error(exc)
                if self._started or not retriable(exc) or attempt == self.max_tries:
                    self._status(state, message)
                    return
                delay = next(delays)
                self._status("loading", f"{message}; retrying in {delay:g} s")
                if self._stop.wait(delay) or self.clock.generation != generation:
                    return

    def _play(self, container: Any, start_us: int, generation: int) -> None:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            wall_us = start_us + round(float(frame.time or 0.0) * 1e6)
            if not self._wait_until(wall_us, generation):
                return
            self.sink.stats.decoded += 1
            self._started = True
            with self._shown_lock:
                self._shown.append(wall_us)
            self._deliver(frame, wall_us)
        if not self._stop.is_set():
            self._status("no_recording", "the recording ends here")

    def _wait_until(self, wall_us: int, generation: int) -> bool:
        self.next_us = wall_us
        while True:
            if self._stop.is_set() or self.clock.generation != generation:
                return False
            ahead_us = wall_us - self.clock.position_us()
            if ahead_us <= 0:
                return True
            wait = ahead_us / 1e6 / max(self.clock.speed, 0.01) if self.clock.playing else 0.05
            time.sleep(min(wait, 0.05))

    def _deliver(self, frame: Any, wall_us: int) -> None:
        scaler: PictureScaler | None = getattr(self._scalers, "scaler", None)
        if scaler is None:
            scaler = self._scalers.scaler = PictureScaler()
        self.sink.offer(Frame(scaler.to_tile(frame, self.target), wall_us, frame.width, frame.height))

