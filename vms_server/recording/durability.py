"""Durability of footage against a power cut or a kernel crash, not only a killed process.

A fragment that FFmpeg has written sits in the page cache until the kernel writes it back (about 30 s on Linux):
a killed process loses nothing of it, a power cut loses all of it, and a directory entry not yet on the disk loses
the whole file. One thread (`Durability`) syncs every open segment with `fdatasync` every `fsync_interval_s`,
and the directories of new and renamed segments with `fsync`, so a power cut loses at most the interval plus the
time one round takes. The ingest threads never wait on the disk, except once per segment: a segment is synced
before it is renamed into place, so a final name never points at a file whose tail is still only in memory.

The index needs no sync of its own: start-up recovery (recovery.py) indexes every file that has no row, so a
row lost with the database's last transactions comes back from the file it describes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)
# Opening a directory to fsync it is POSIX only; Windows commits directory entries with the file (NTFS journal).
DIRECTORY_SYNC = hasattr(os, "O_DIRECTORY")


@dataclass
class DurabilityStats:
    """What syncing costs, for status and the durability benchmark."""

    rounds: int = 0
    file_syncs: int = 0
    dir_syncs: int = 0
    sync_s: float = 0.0  # time spent inside fdatasync/fsync, all threads together
    max_sync_s: float = 0.0  # the slowest single call
    max_round_s: float = 0.0  # the slowest round of the syncer: with the interval, the window a power cut can take
    errors: int = 0
    last_error: str | None = None


def _fdatasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


class SyncedFile:
    """A handle of its own on a segment being written (FFmpeg owns the writing one), so it can be synced from
    another thread and after FFmpeg has closed its handle."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        self.lock = threading.Lock()  # a sync in progress and the final close do not cross


class Durability:
    """Syncs open segments and new directory entries every `interval_s`. `interval_s == 0` turns it off: the
    operating system writes back when it likes (the behaviour before the policy existed). Thread-safe."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.stats = DurabilityStats()
        self._files: set[SyncedFile] = set()
        self._dirs: set[Path] = set()
        self._lock = threading.Lock()  # the sets; never held while syncing (ingest threads take it)
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="recording-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish with one last round (what was written before the stop is synced)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()
        self.sync_now()

    # --- called by segment writers (ingest threads) --------------------------------------------------
    def created(self, path: Path) -> SyncedFile | None:
        """A segment file was created: sync it from now on, and its directory entry (and the new directories
        above it, up to `root`) at the next round."""
        if not self.enabled:
            return None
        try:
            handle = SyncedFile(path)
        except OSError as exc:
            self._failed(path, exc)
            return None
        with self._lock:
            self._files.add(handle)
            self._dirs.add(path.parent)
        return handle

    def new_directories(self, paths: list[Path]) -> None:
        """Directories made for a segment: their entries in their parents must reach the disk too."""
        if self.enabled:
            with self._lock:
                self._dirs.update(p.parent for p in paths)

    def finish(self, handle: SyncedFile | None) -> None:
        """Sync a finished segment before it is renamed into place, and stop syncing it. Blocking."""
        if handle is None:
            return
        with self._lock:
            self._files.discard(handle)
        with handle.lock:
            fd, handle.fd = handle.fd, None
            if fd is None:
                return
            try:
                self._timed(fd, file=True)
            except OSError as exc:
                self._failed(handle.path, exc)
            finally:
                os.close(fd)

    def renamed(self, path: Path) -> None:
        """A segment got its final name: the directory entry is synced at the next round."""
        if self.enabled:
            with self._lock:
                self._dirs.add(path.parent)

    # --- the syncing thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            began = time.monotonic()
            self.sync_now()
            self.stats.max_round_s = max(self.stats.max_round_s, time.monotonic() - began)

    def sync_now(self) -> None:
        """One round: data of every open segment, then the directories that gained an entry. Blocking."""
        with self._lock:
            files = list(self._files)
            dirs, self._dirs = self._dirs, set()
        for handle in files:
            with handle.lock:  # not while finish() closes it
                if handle.fd is None:
                    continue
                try:
                    self._timed(handle.fd, file=True)
                except OSError as exc:
                    self._failed(handle.path, exc)
        for directory in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            self._sync_dir(directory)
        self.stats.rounds += 1

    def _sync_dir(self, directory: Path) -> None:
        if not DIRECTORY_SYNC:
            return
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            self._failed(directory, exc)
            return
        try:
            self._timed(fd, file=False)
        except OSError as exc:
            self._failed(directory, exc)
        finally:
            os.close(fd)

    def _timed(self, fd: int, file: bool) -> None:
        began = time.perf_counter()
        if file:
            _fdatasync(fd)
        else:
            os.fsync(fd)
        took = time.perf_counter() - began
        with self._stats_lock:
            stats = self.stats
            stats.sync_s += took
            stats.max_sync_s = max(stats.max_sync_s, took)
            if file:
                stats.file_syncs += 1
            else:
                stats.dir_syncs += 1

    def _failed(self, path: Path, exc: OSError) -> None:
        """A failed sync means the disk did not take the data: counted and logged; the write path notices the
        failing volume on its own (its next write fails too)."""
        with self._stats_lock:
            self.stats.errors += 1
            self.stats.last_error = f"sync of {path} failed: {exc}"
        logger.warning("recording: %s", self.stats.last_error)
