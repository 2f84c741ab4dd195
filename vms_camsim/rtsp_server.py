"""The asyncio RTSP server: one listener for every camera, ``rtsp://host:port/<camera>/<stream>``.

A connection reads requests (and skips interleaved RTCP the client sends), answers them, and owns
the sessions it set up. Bad input earns an error status, never an exception out of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping

from vms_camsim.camera import CameraRuntime
from vms_camsim.rtsp_proto import (
    MAX_BODY,
    MAX_HEADER_LINES,
    METHODS,
    Request,
    RtspError,
    Target,
    build_sdp,
    choose_transport,
    format_response,
    parse_head,
    parse_target,
)
from vms_camsim.rtsp_replay import ReplaySession
from vms_camsim.rtsp_session import Session, UdpSockets

log = logging.getLogger(__name__)

SESSION_TIMEOUT_S = 60
MAX_ERRORS = 20
Reply = tuple[int, dict[str, str], bytes]


class RtspConnection:
    """One client TCP connection."""

    def __init__(self, server: RtspServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        peer = writer.get_extra_info("peername")
        self.client_host: str = peer[0] if peer else "127.0.0.1"
        self.sessions: dict[str, Session | ReplaySession] = {}

    async def serve(self) -> None:
        """Answer requests until the client goes away, too many errors, or a session timeout."""
        errors = 0
        try:
            while errors < MAX_ERRORS and not self.writer.is_closing():
                timeout = self._idle_timeout()
                try:
                    request = await asyncio.wait_for(self._read_request(), timeout)
                except RtspError as exc:
                    errors += 1
                    cseq = exc.headers.pop("CSeq", None)
                    self.writer.write(format_response(exc.status, cseq, exc.headers))
                    continue
                if request is None:
                    break
                self.writer.write(self._respond(request))
                await self.writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            for session in self.sessions.values():
                session.close()
            self.writer.close()

    def _idle_timeout(self) -> float | None:
        """How long the client may stay silent. Only playing TCP-interleaved sessions may (their media keeps the
        connection busy); a connection with no session used to wait for ever, so idle sockets piled up."""
        if self.sessions and all(s.spec.tcp for s in self.sessions.values()):
            return None
        return SESSION_TIMEOUT_S * 2 if self.sessions else SESSION_TIMEOUT_S

    async def _read_request(self) -> Request | None:
        while True:
            first = await self.reader.read(1)
            if not first:
                return None
            if first == b"$":  # interleaved RTCP receiver reports from the client: skip
                head = await self.reader.readexactly(3)
                await self.reader.readexactly(int.from_bytes(head[1:3], "big"))
                continue
            if first in b"\r\n":
                continue
            break
        try:
            lines = [first + await self.reader.readuntil(b"\n")]
            while True:
                line = await self.reader.readuntil(b"\n")
                if line in (b"\r\n", b"\n"):
                    break
                lines.append(line)
                if len(lines) > MAX_HEADER_LINES:
                    raise RtspError(400, "too many header lines")
        except asyncio.LimitOverrunError as exc:
            self.writer.write(format_response(400, None, {}))
            raise ConnectionError("header line too long") from exc
        request = parse_head(lines)
        length = request.headers.get("content-length", "0").strip()
        # ASCII digits only: str.isdigit() accepts '²' or '٣', which int() then refuses with a ValueError.
        if not (length.isascii() and length.isdigit() and len(length) <= 10) or int(length) > MAX_BODY:
            raise RtspError(400, "bad Content-Length", {"CSeq": request.cseq})
        request.body = await self.reader.readexactly(int(length))
        return request

    def _respond(self, request: Request) -> bytes:
        try:
            status, headers, body = self._dispatch(request)
        except RtspError as exc:
            status, headers, body = exc.status, exc.headers, b""
        except ConnectionError:
            raise  # a camera whose network is down (SimulatorHandle.set_network): no answer at all
        except Exception:
            log.exception("internal error answering %s %s", request.method, request.url)
            status, headers, body = 500, {}, b""
        return format_response(status, request.cseq, headers, body)

    def _dispatch(self, request: Request) -> Reply:
        method = request.method
        if method not in METHODS:
            raise RtspError(501)
        if request.headers.get("require", "onvif-replay").strip().lower() != "onvif-replay":
            raise RtspError(551, headers={"Unsupported": request.headers["require"]})  # ONVIF replay only
        _unreachable(self.server.cameras.get(target.camera) if (target := parse_target(request.url)) else None)
        if method == "OPTIONS":
            return 200, {"Public": ", ".join(METHODS)}, b""
        session = self._session(request)
        camera, target = self._camera(request, session)
        if not camera.auth.check(method, request.headers.get("authorization")):
            raise RtspError(401, headers=camera.auth.challenge())
        handler = {"DESCRIBE": self._describe, "SETUP": self._setup, "PLAY": self._play,
                   "PAUSE": self._pause, "TEARDOWN": self._teardown}.get(method)
        if handler is not None:
            return handler(request, camera, target, session)
        if method == "SET_PARAMETER" and request.body.strip():
            raise RtspError(451)
        return 200, self._session_header(session), b""

    def _session(self, request: Request) -> Session | ReplaySession | None:
        value = request.headers.get("session")
        if value is None:
            return None
        session = self.sessions.get(value.split(";")[0].strip())
        if session is None:
            raise RtspError(454)
        return session

    def _camera(self, request: Request,
                session: Session | ReplaySession | None) -> tuple[CameraRuntime, Target | None]:
        target = parse_target(request.url)
        if isinstance(session, ReplaySession):
            replayed = self.server.cameras[session.card.camera]
            _unreachable(replayed)
            return replayed, target
        if session is not None and (target is None or target.camera == session.camera.name):
            _unreachable(session.camera)
            return session.camera, target
        if request.url == "*" or target is None:
            raise RtspError(404, "no such camera path")
        camera = self.server.cameras.get(target.camera)
        if camera is not None and target.stream == "replay" and camera.card is not None:
            return camera, target
        if camera is None or target.stream not in camera.feeds:
            raise RtspError(404, "no such camera or stream")
        return camera, target

    @staticmethod
    def _session_header(session: Session | ReplaySession | None) -> dict[str, str]:
        return {"Session": f"{session.id};timeout={SESSION_TIMEOUT_S}"} if session else {}

    def _describe(self, request: Request, camera: CameraRuntime, target: Target | None,
                  session: Session | ReplaySession | None) -> Reply:
        if target is None or target.track is not None:
            raise RtspError(404, "DESCRIBE needs a stream URL")
        accept = request.headers.get("accept", "application/sdp")
        if "application/sdp" not in accept and "*/*" not in accept:
            raise RtspError(406)
        feed = camera.feeds["main" if target.stream == "replay" else target.stream]
        stream = feed.stream
        sdp = build_sdp(self.server.public_host, f"{camera.name} {target.stream}", stream.codec, feed.params,
                        stream.fps, stream.bitrate_kbps)
        base = request.url.rstrip("/") + "/"
        return 200, {"Content-Type": "application/sdp", "Content-Base": base}, sdp.encode()

    def _setup(self, request: Request, camera: CameraRuntime, target: Target | None,
               session: Session | ReplaySession | None) -> Reply:
        if target is None or target.track not in (None, "trackID=0"):
            raise RtspError(404, "unknown track")
        if session is not None:
            raise RtspError(459, "one track per session")
        spec = choose_transport(request.headers.get("transport"))
        if not spec.tcp and self.server.udp is None:
            raise RtspError(461)
        if target.stream == "replay" and camera.card is not None:
            replay = ReplaySession(camera.card, camera.feeds["main"].stream.codec, spec, self.writer)
            self.sessions[replay.id] = replay
            return 200, {"Transport": f"RTP/AVP/TCP;unicast;interleaved={spec.channel}-{spec.channel + 1};"
                                      f"ssrc={replay.ssrc:08X}", **self._session_header(replay)}, b""
        transport = self.writer.transport
        assert isinstance(transport, asyncio.WriteTransport)
        session = Session(camera, target.stream, camera.feeds[target.stream], spec, transport,
                          self.client_host, self.server.udp)
        self.sessions[session.id] = session
        if spec.tcp:
            reply = f"RTP/AVP/TCP;unicast;interleaved={spec.channel}-{spec.channel + 1}"
        else:
            assert self.server.udp is not None
            rtp, rtcp = self.server.udp.ports
            reply = (f"RTP/AVP;unicast;client_port={spec.client_rtp_port}-{spec.client_rtcp_port};"
                     f"server_port={rtp}-{rtcp}")
        headers = {"Transport": f"{reply};ssrc={session.ssrc:08X}", **self._session_header(session)}
        return 200, headers, b""

    def _play(self, request: Request, camera: CameraRuntime, target: Target | None,
              session: Session | ReplaySession | None) -> Reply:
        if session is None:
            raise RtspError(454, "PLAY needs a session")
        if isinstance(session, ReplaySession):
            return 200, {**session.play(request.headers, request.cseq), **self._session_header(session)}, b""
        session.play()
        base = request.url.rstrip("/")
        track = base if base.endswith("trackID=0") else base + "/trackID=0"
        info = f"url={track};seq={session.seq};rtptime={session.rtp_time(session.play_started)}"
        return 200, {"Range": "npt=now-", "RTP-Info": info, **self._session_header(session)}, b""

    def _pause(self, request: Request, camera: CameraRuntime, target: Target | None,
               session: Session | ReplaySession | None) -> Reply:
        if session is None:
            raise RtspError(454, "PAUSE needs a session")
        session.pause()
        return 200, self._session_header(session), b""

    def _teardown(self, request: Request, camera: CameraRuntime, target: Target | None,
                  session: Session | ReplaySession | None) -> Reply:
        if session is None:
            raise RtspError(454, "TEARDOWN needs a session")
        session.close()
        del self.sessions[session.id]
        return 200, {}, b""


class RtspServer:
    """Listens for RTSP on TCP and sends UDP media from one shared port pair."""

    def __init__(self, cameras: Mapping[str, CameraRuntime], host: str, port: int, public_host: str) -> None:
        self.cameras, self.host, self.port, self.public_host = cameras, host, port, public_host
        self.udp: UdpSockets | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[RtspConnection] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Bind TCP and the UDP pair. Raises OSError when the port is taken."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=16_384)
        self.port = self._server.sockets[0].getsockname()[1]
        self.udp = _bind_udp_pair(self.host)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = RtspConnection(self, reader, writer)
        self._connections.add(connection)
        self._idle.clear()
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)
            if not self._connections:
                self._idle.set()

    def url(self, camera: str, stream: str) -> str:
        """The RTSP URL of a camera stream."""
        return f"rtsp://{self.public_host}:{self.port}/{camera}/{stream}"

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        # Aborting the sockets ends each connection's read loop normally; cancelling the handler
        # tasks instead makes asyncio's stream callback log a spurious CancelledError.
        for connection in list(self._connections):
            connection.writer.transport.abort()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), 5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self.udp is not None:
            self.udp.rtp.close()
            self.udp.rtcp.close()


def _unreachable(camera: CameraRuntime | None) -> None:
    """A camera whose network is down answers nothing: the connection is dropped (ConnectionError)."""
    if camera is not None and camera.network_down:
        raise ConnectionAbortedError(f"{camera.name}: network down")


def _bind_udp_pair(host: str) -> UdpSockets:
    """Bind an even/odd UDP port pair (RTP, RTCP) on ``host``."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 or port >= 65535:
            rtp.close()
            continue
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind((host, port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        for sock in (rtp, rtcp):
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        return UdpSockets(rtp, rtcp)
    raise OSError("could not bind a UDP port pair for RTP/RTCP")
