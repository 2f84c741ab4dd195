"""Playback: timeline queries, snapshots, fMP4 playback, MP4 export jobs and the live restream."""
