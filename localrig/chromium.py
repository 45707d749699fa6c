"""Real headless Chromium, shared by the demo's dashboard picture and the dashboard's tests: Debian's
``chromium`` driven through ``chromium-driver`` by selenium, with a new empty profile and no background
traffic (the rig is offline). Lives in localrig/ because the demo must not import from tests/."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync")
INSTALL = "scripts/setup.sh installs chromium and chromium-driver"


def missing(parts: Iterable[Path] = (CHROMIUM, CHROMEDRIVER)) -> str | None:
    """Why Chromium cannot run here (the parts not installed), or None when it can."""
    absent = [str(p) for p in parts if not p.exists()]
    return f"{', '.join(absent)} not installed ({INSTALL})" if absent else None


def start(profile: Path, size: tuple[int, int] = (1280, 900)) -> Any:
    """A selenium driver of a new Chromium whose profile is the empty directory ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*ARGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
