"""Files that hold secrets are private from the moment they exist.

Writing first and chmod-ing after leaves a window in which the file has the umask's mode (0644 on most systems)
and any local user can read it; an existing file being replaced keeps its old mode. Create them 0600 instead.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write `data` to a new file of mode 0600; raises FileExistsError if `path` exists and not `overwrite`.

    With `overwrite`, the data goes to a private temporary file beside `path` that then replaces it, so readers
    never see a half-written or world-readable key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates files 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (for files a library then opens, e.g. SQLite's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
