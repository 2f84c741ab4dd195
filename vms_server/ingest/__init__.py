"""Ingest: one worker thread per camera stream, demuxing RTSP with PyAV and fanning packets out."""
