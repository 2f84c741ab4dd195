"""WebRTC viewing sessions: one RTCPeerConnection per browser viewer, each a consumer of the camera's one
connection (the playback service's LiveTap), closed when the peer goes away, fails to connect, or at shutdown.

H.264 is passed through as the camera encoded it when the browser offers H.264. A browser without it, or a camera
that streams H.265 or MJPEG, is served VP8 transcoded per viewer (MAX_TRANSCODING at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.sdp import SessionDescription

from vms_common.errors import InvalidInput, NotFound, NotReady, RateLimited
from vms_server import keys
from vms_server.playback.keys import PLAYBACK
from vms_server.webrtc.ice import ice_servers
from vms_server.webrtc.keys import WEBRTC
from vms_server.webrtc.settings import IceSettings
from vms_server.webrtc.track import CameraTrack, TranscodingTrack

if TYPE_CHECKING:
    from vms_server.playback.service import PlaybackService

logger = logging.getLogger(__name__)
MAX_SESSIONS = 64  # each is an SRTP sender and an ICE agent on the event loop
MAX_TRANSCODING = 4  # each decodes and re-encodes the camera's pictures: CPU a small server cannot spare
TRANSCODABLE = ("h264", "hevc", "mjpeg")
CONNECT_TIMEOUT_S = 30.0  # an answer never used (the page closed, ICE failed silently) frees its slot
SERVER_TURN_USER = "vms-server"


@dataclass(eq=False)
class Session:
    id: uuid.UUID
    user_id: uuid.UUID
    camera_id: uuid.UUID
    pc: RTCPeerConnection
    track: CameraTrack

    @property
    def passthrough(self) -> bool:
        return not isinstance(self.track, TranscodingTrack)


def _offered_video_codecs(sdp: str) -> list[str]:
    """The video codec names of an offer; InvalidInput when it is not SDP aiortc can read."""
    try:
        description = SessionDescription.parse(sdp)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"the offer is not valid SDP: {exc}", code="webrtc_bad_offer") from None
    return [codec.name.upper() for media in description.media if media.kind == "video"
            for codec in media.rtp.codecs]


class WebRtcSessions:
    """Answers offers and owns the peer connections they create."""

    def __init__(self, settings: IceSettings, playback: PlaybackService) -> None:
        self.settings = settings
        self._playback = playback
        self._sessions: dict[uuid.UUID, Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def count(self) -> int:
        return len(self._sessions)

    def _configuration(self) -> RTCConfiguration:
        """The server's own ICE servers: STUN always; TURN when `turn_on_server` (aiortc uses the first of each)."""
        servers = ice_servers(self.settings, SERVER_TURN_USER).ice_servers
        if not self.settings.turn_on_server:
            servers = [s for s in servers if s.credential is None]
        return RTCConfiguration(iceServers=[RTCIceServer(urls=s.urls, username=s.username,
                                                         credential=s.credential) for s in servers])

    def _check_transcoding(self, offered: list[str], camera_codec: str) -> None:
        if "VP8" not in offered:
            raise InvalidInput("the browser offers neither H.264 nor VP8: use the HLS live view", code="webrtc_codec")
        if camera_codec not in TRANSCODABLE:
            raise InvalidInput(f"cannot send {camera_codec} over WebRTC", code="webrtc_codec")
        if sum(1 for s in self._sessions.values() if not s.passthrough) >= MAX_TRANSCODING:
            raise RateLimited(f"at most {MAX_TRANSCODING} WebRTC viewers that need transcoding at once (a browser "
                              "with H.264 and an H.264 camera need none)", retry_after=10)

    async def answer(self, camera_id: uuid.UUID, stream: str, offer: str, user_id: uuid.UUID) -> tuple[Session, str]:
        """Answer a browser's offer with the camera's stream: its H.264 passed through when both sides have
        H.264, else transcoded to VP8 (a few viewers at most). Raises InvalidInput (bad SDP, no video, no common
        codec), NotReady (camera not connected here or not streaming yet), RateLimited (too many)."""
        if len(self._sessions) >= MAX_SESSIONS:
            raise RateLimited(f"at most {MAX_SESSIONS} WebRTC viewers at once", retry_after=10)
        codecs = _offered_video_codecs(offer)
        if not codecs:
            raise InvalidInput("the offer has no video (add a recvonly video transceiver)", code="webrtc_bad_offer")
        tap = self._playback.tap(camera_id, stream)
        if tap.info is None:
            raise NotReady("the camera's stream is not online yet; try again shortly", code="not_ready")
        send = "H264" if "H264" in codecs and tap.info.codec == "h264" else "VP8"
        if send == "VP8":
            self._check_transcoding(codecs, tap.info.codec)
        pc = RTCPeerConnection(self._configuration())
        track = CameraTrack(tap) if send == "H264" else TranscodingTrack(tap, tap.info.codec)
        session = Session(uuid.uuid4(), user_id, camera_id, pc, track)
        self._sessions[session.id] = session
        try:
            # The sending transceiver exists before the offer is applied, so that the offer's video line binds
            # to it and the codec is negotiated from its preferences: the one codec chosen above (else the
            # browser's first choice, often VP8, would be answered whatever the track sends).
            transceiver = pc.addTransceiver(track, direction="sendonly")
            mime = f"video/{send}".lower()
            transceiver.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == mime])
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, OperationError) as exc:  # aiortc's words for an offer it cannot use
            await self.close(session.id)
            raise InvalidInput(f"cannot answer this offer: {exc}", code="webrtc_bad_offer") from None
        except BaseException:
            await self.close(session.id)
            raise
        self._watch(session)
        logger.info("webrtc viewer started", extra={"camera_id": str(camera_id), "session_id": str(session.id),
                                                    "codec": send, "passthrough": session.passthrough})
        return session, pc.localDescription.sdp

    def _watch(self, session: Session) -> None:
        @session.pc.on("connectionstatechange")
        async def _changed() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        async def _deadline() -> None:
            await asyncio.sleep(CONNECT_TIMEOUT_S)
            if session.pc.connectionState != "connected":
                logger.info("webrtc viewer never connected", extra={"session_id": str(session.id)})
                await self.close(session.id)

        task = asyncio.create_task(_deadline())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get(self, session_id: uuid.UUID) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound("no such WebRTC session")
        return session

    async def close(self, session_id: uuid.UUID) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        session.track.stop()
        await session.pc.close()
        logger.info("webrtc viewer ended", extra={"camera_id": str(session.camera_id),
                                                  "session_id": str(session.id), "frames": session.track.frames_sent})

    async def close_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for session_id in list(self._sessions):
            with contextlib.suppress(Exception):  # one broken peer must not keep the others open at shutdown
                await self.close(session_id)


async def webrtc_context(app: web.Application) -> AsyncIterator[None]:
    sessions = WebRtcSessions(app[keys.SETTINGS].network.ice, app[PLAYBACK])
    app[WEBRTC] = sessions
    yield
    await sessions.close_all()
