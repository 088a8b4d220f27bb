"""The Chromium the browser tests drive: Debian's (`apt-get install chromium`), another on the
PATH, or Playwright's own (`python -m playwright install chromium`); without one, the browser
tests skip, saying how to get one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def launch_chromium(driver):
    """A headless Chromium from a ``sync_playwright()`` driver; pytest.skip when there is none."""
    system = next((found for name in NAMES if (found := shutil.which(name))), None)
    if system is not None:
        return driver.chromium.launch(executable_path=system, args=CHROMIUM_ARGS)
    if Path(driver.chromium.executable_path).exists():
        return driver.chromium.launch(args=CHROMIUM_ARGS)
    pytest.skip("no Chromium to drive: install one with `sudo apt-get install chromium` "
                "or `python -m playwright install chromium`")
