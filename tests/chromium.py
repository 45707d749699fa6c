"""Real headless Chromium for the dashboard's tests and benchmark: Debian's ``chromium`` driven through
``chromium-driver`` by selenium, with a new empty profile and no background traffic (the rig is offline)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium_present() -> None:
    """Chromium missing: fail in CI (the test must run there), skip with the reason elsewhere."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        why = f"{', '.join(missing)} not installed (scripts/setup.sh installs chromium and chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def start(profile: Path, size: tuple[int, int] = (1280, 900)) -> Any:
    """A selenium driver of a new Chromium whose profile is the empty directory ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*ARGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
