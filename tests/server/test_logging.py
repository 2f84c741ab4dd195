"""Log format: a new user's terminal gets readable lines, journald and files get JSON, both with context."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SNIPPET = ("import logging; from vms_common.logsetup import configure_logging; configure_logging('INFO', 'auto'); "
           "logging.getLogger('vms.test').info('camera online', extra={'camera_id': 'c1', 'password': 'hunter2'})")


def _run_on_terminal() -> str:
    """stderr on a pseudo-terminal, as when a person runs the server in a shell."""
    master, slave = os.openpty()
    try:
        subprocess.run([sys.executable, "-c", SNIPPET], stderr=slave, check=True, timeout=60)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the terminal's other end is closed and drained
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode()
    finally:
        os.close(master)


def test_a_terminal_gets_one_readable_line_with_context() -> None:
    out = _run_on_terminal().strip()
    assert not out.startswith("{"), out
    assert "INFO" in out and "vms.test: camera online" in out and "camera_id=c1" in out
    assert "hunter2" not in out and "password=***" in out


def test_a_pipe_gets_json_lines() -> None:
    done = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True, check=True, timeout=60)
    line = json.loads(done.stderr.strip())
    assert line["msg"] == "camera online" and line["camera_id"] == "c1" and line["password"] == "***"
