"""An independent RTSP server for interoperability tests: GStreamer's gst-rtsp-server serving a live test
pattern, H.264 (x264enc) or H.265 (x265enc), packetised by GStreamer's own RTP payloaders.

Run by Debian's Python (its GObject bindings are not in the virtualenv): `/usr/bin/python3 gst_rtsp_server.py
PORT CODEC`. Prints "ready" once it listens.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ENCODERS = {
    "h264": "x264enc tune=zerolatency key-int-max=10 bitrate=800 ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "h265": "x265enc tune=zerolatency key-int-max=10 bitrate=800 ! rtph265pay name=pay0 pt=96 config-interval=-1",
}


def main() -> None:
    port, codec = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=10/1 ! "
                       f"{ENCODERS[codec]} )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/test", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
