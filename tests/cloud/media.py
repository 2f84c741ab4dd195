"""A small real H.264 MP4 (moving pattern) for clip tests; browsers and PyAV can play it."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_mp4_blocking(path: Path, seconds: float = 3.0, fps: int = 10, width: int = 320, height: int = 240) -> Path:
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(int(seconds * fps)):
            frame = np.zeros((height, width, 3), dtype=np.uint8)
            x = (i * 8) % (width - 40)
            frame[80:160, x:x + 40] = (255, 200, 0)
            frame[:, :, 2] = (i * 5) % 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_jpeg_blocking(path: Path, width: int = 160, height: int = 120) -> Path:
    import cv2

    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[30:90, 40:120] = (0, 0, 255)
    assert cv2.imwrite(str(path), image)
    return path
