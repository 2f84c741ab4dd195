#!/usr/bin/env bash
# Regenerate docs/screenshots/*.png from the real client: `vms-desktop` as a child process on Xvfb, driven
# with xdotool against a test server with simulator cameras, captured with `xwd -root`
# (tests/desktop/test_screenshots.py, test_admin_screenshots.py, test_detection_screenshots.py). Needs xvfb, xdotool and x11-apps (scripts/apt-packages.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
VMS_UPDATE_SCREENSHOTS=1 QT_QPA_PLATFORM=offscreen .venv/bin/pytest -q -p no:cacheprovider \
    tests/desktop/test_screenshots.py tests/desktop/test_admin_screenshots.py \
    tests/desktop/test_detection_screenshots.py "$@"
ls -l docs/screenshots
