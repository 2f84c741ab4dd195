"""The cloud's key files are 0600 from creation, also when one is replaced (issue 20, finding 12).

Written first and chmod-ed after, a key was readable by every local user until the chmod, and for good when
the process stopped in between; the test makes chmod fail to stand for that moment.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vms_cloud_sync.backend.auth import load_signing_secret
from vms_cloud_sync.backend.licences import generate_signing_key, key_path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_files_are_never_readable_by_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_key = key_path(tmp_path)
    old_key.write_bytes(b"an older key")
    old_key.chmod(0o644)  # left readable by an older version

    def no_chmod(self: Path, mode: int) -> None:
        raise OSError("stopped before chmod")

    monkeypatch.setattr(Path, "chmod", no_chmod)
    old_umask = os.umask(0o022)
    try:
        load_signing_secret(tmp_path)
        generate_signing_key(tmp_path, overwrite=True)
    finally:
        os.umask(old_umask)
    assert _mode(tmp_path / "token.key") == 0o600
    assert _mode(old_key) == 0o600 and old_key.read_bytes() != b"an older key"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
