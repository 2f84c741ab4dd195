"""The vms-camsim command line: help, clear errors, a real run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vms_camsim.cli import main


def test_help_explains_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--cameras", "--fleet", "--discovery-interface", "--drop-every", "rtsp://127.0.0.1:8554/cam1/main"):
        assert text in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--cameras", "0"], "--cameras must be between"),
    (["--main-size", "321x180", "--rtsp-port", "0"], "width and height must be even"),
    (["--main-codec", "mjpeg", "--main-size", "1924x1080"], "multiples of 8"),
    (["--fleet", "/nonexistent/fleet.yaml"], "cannot read fleet file"),
])
def test_bad_arguments_give_a_message_not_a_traceback(argv: list[str], message: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--main-codec", "vp9"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    truth = tmp_path / "truth"
    proc = subprocess.Popen([sys.executable, "-m", "vms_camsim", "--cameras", "2", "--scene", "fire",
                             "--main-size", "160x96", "--main-fps", "5", "--no-sub", "--loop-seconds", "2",
                             "--rtsp-port", "0", "--onvif-port", "0", "--ground-truth", str(truth),
                             "--ready-file", str(ready)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    info = json.loads(ready.read_text())
    assert set(info["cameras"]) == {"cam1", "cam2"}
    assert info["cameras"]["cam2"]["main"].endswith("/cam2/main")
    timeline = json.loads((truth / "cam1.json").read_text())
    assert any(e["label"] == "fire starts" for e in timeline["events"])
    proc.terminate()
    assert proc.wait(10) == 0
    assert b"Traceback" not in proc.stderr.read() if proc.stderr else True
