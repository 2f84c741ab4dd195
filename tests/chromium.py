"""Debian's headless Chromium driven by Playwright, for the tests that need a real browser (the HQ portal,
WebRTC live view)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@contextlib.asynccontextmanager
async def chromium(extra_flags: Sequence[str] = ()) -> AsyncIterator[Any]:
    """A launched browser, closed on exit; fails the test when Debian's chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing (scripts/apt-packages.txt)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra_flags])
        yield browser
        await browser.close()
